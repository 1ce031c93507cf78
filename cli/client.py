"""The connection to the daemon: where it is, TLS, the stubs, and how RPC errors read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from caisson import errors
from caisson.cli import lazy
from caisson.cli.errors import CLIError, NotFound, UsageError

if TYPE_CHECKING:
    import grpc

    from caisson import rpc
    from caisson_api.daemon.v1 import daemon_pb2_grpc
else:
    grpc = lazy.module("grpc")
    rpc = lazy.module("caisson.rpc")
    daemon_pb2_grpc = lazy.module("caisson_api.daemon.v1.daemon_pb2_grpc")

DEFAULT_HOST = "unix:///run/caisson/caisson.sock"
# grpc-core's wording when no connection could be made at all (no socket, refused, TLS).
_CONNECT_FAILED = "failed to connect to all addresses"


class TLSOptions(NamedTuple):
    """Docker's TLS flags as given; resolved against the cert path when connecting."""

    tls: bool = False
    verify: bool = False
    cacert: str = ""
    cert: str = ""
    key: str = ""


def parse_host(text: str) -> rpc.Address:
    try:
        return rpc.parse_address(text)
    except errors.InvalidArgument as e:
        raise UsageError(str(e)) from None


def tls_config(opts: TLSOptions, cert_path: str) -> rpc.TLSConfig | None:
    """Docker's rules: --tlsverify implies --tls; ca.pem/cert.pem/key.pem in the cert path are
    used when present and no file was named. gRPC always verifies the server's certificate
    (against the CA, else the system roots): plain --tls cannot skip that check."""
    if not (opts.tls or opts.verify):
        return None

    def pick(given: str, name: str) -> str:
        if given:
            return given
        default = os.path.join(cert_path, name)
        return default if os.path.exists(default) else ""

    ca, cert, key = (
        pick(opts.cacert, "ca.pem"),
        pick(opts.cert, "cert.pem"),
        pick(opts.key, "key.pem"),
    )
    if bool(cert) != bool(key):
        raise UsageError("--tlscert and --tlskey must be given together")
    for flag, path in (("--tlscacert", ca), ("--tlscert", cert), ("--tlskey", key)):
        if path and not os.path.isfile(path):
            raise CLIError(f"could not read {flag} file {path!r}: no such file")
    return rpc.TLSConfig(ca=ca, cert=cert, key=key, verify=True)


class Daemon:
    """Stubs over one lazily opened channel, and the translation of RPC errors to CLI errors."""

    def __init__(self, address: rpc.Address, tls: rpc.TLSConfig | None = None) -> None:
        self.address = address
        self._tls = tls
        self._channel: grpc.Channel | None = None

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            try:
                self._channel = rpc.channel(self.address, self._tls)
            except OSError as e:
                raise CLIError(f"could not load TLS files: {e.strerror}: {e.filename}") from None
        return self._channel

    @property
    def images(self) -> daemon_pb2_grpc.ImagesStub:
        return daemon_pb2_grpc.ImagesStub(self.channel)

    @property
    def system(self) -> daemon_pb2_grpc.SystemStub:
        return daemon_pb2_grpc.SystemStub(self.channel)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    @contextmanager
    def calls(self) -> Iterator[None]:
        """Turns any RpcError raised inside into the CLIError the user should read."""
        try:
            yield
        except grpc.RpcError as e:
            raise self.error(e) from None

    def error(self, err: grpc.RpcError) -> CLIError:
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        details = (err.details() if hasattr(err, "details") else "") or str(code)
        if code == grpc.StatusCode.UNAVAILABLE and (
            details.startswith(_CONNECT_FAILED) or not self._reachable()
        ):
            return CLIError(self._cannot_connect(details))
        message = f"Error response from daemon: {details}"
        return NotFound(message) if code == grpc.StatusCode.NOT_FOUND else CLIError(message)

    def _reachable(self) -> bool:
        """Tells the daemon's own UNAVAILABLE errors (a registry down) from losing the daemon."""
        return rpc.health_status(self.channel, timeout=2.0) == "SERVING"

    def _cannot_connect(self, details: str) -> str:
        _, _, last = details.partition("last error: ")
        if "Permission denied" in details:
            return (
                "permission denied while trying to connect to the Caisson daemon socket at "
                f"{self.address}"
            )
        if not last or "No such file" in last or "Connection refused" in last:
            return f"Cannot connect to the Caisson daemon at {self.address}. Is the daemon running?"
        return f"Cannot connect to the Caisson daemon at {self.address}: {last}"
