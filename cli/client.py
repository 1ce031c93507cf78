"""The connection to the daemon: where it is, TLS, the stubs, and how RPC errors read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from caisson import addresses, errors
from caisson.cli import channel as rpc
from caisson.cli import lazy
from caisson.cli.errors import CLIError, NotFound, UsageError

if TYPE_CHECKING:
    from types import ModuleType

    # Types only: the generated *_pb2_grpc modules import grpc, which the CLI never loads.
    from caisson_api.daemon.v1 import (
        containers_pb2,
        containers_pb2_grpc,
        daemon_pb2,
        daemon_pb2_grpc,
        networks_pb2,
        networks_pb2_grpc,
    )
else:
    containers_pb2 = lazy.module("caisson_api.daemon.v1.containers_pb2")
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")
    networks_pb2 = lazy.module("caisson_api.daemon.v1.networks_pb2")

DEFAULT_HOST = "unix:///run/caisson/caisson.sock"


class TLSOptions(NamedTuple):
    """Docker's TLS flags as given; resolved against the cert path when connecting."""

    tls: bool = False
    verify: bool = False
    cacert: str = ""
    cert: str = ""
    key: str = ""


def parse_host(text: str) -> addresses.Address:
    try:
        return addresses.parse_address(text)
    except errors.InvalidArgument as e:
        raise UsageError(str(e)) from None


def tls_config(opts: TLSOptions, cert_path: str) -> addresses.TLSConfig | None:
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
    return addresses.TLSConfig(ca=ca, cert=cert, key=key, verify=True)


class Daemon:
    """Stubs over one lazily opened channel, and the translation of RPC errors to CLI errors."""

    def __init__(self, address: addresses.Address, tls: addresses.TLSConfig | None = None) -> None:
        self.address = address
        self._tls = tls
        self._channel: rpc.Channel | None = None
        self._stubs: dict[str, Any] = {}

    @property
    def channel(self) -> rpc.Channel:
        if self._channel is None:
            try:
                self._channel = rpc.Channel(self.address, self._tls)
            except OSError as e:
                raise CLIError(f"could not load TLS files: {e.strerror}: {e.filename}") from None
        return self._channel

    def stub(self, module: ModuleType, service: str) -> Any:
        """The stub of one of the daemon's services, from its generated *_pb2 module."""
        key = f"{module.__name__}.{service}"
        if key not in self._stubs:
            descriptor = module.DESCRIPTOR.services_by_name[service]
            self._stubs[key] = rpc.stub(self.channel, descriptor)
        return self._stubs[key]

    @property
    def images(self) -> daemon_pb2_grpc.ImagesStub:
        return self.stub(daemon_pb2, "Images")  # type: ignore[no-any-return]

    @property
    def system(self) -> daemon_pb2_grpc.SystemStub:
        return self.stub(daemon_pb2, "System")  # type: ignore[no-any-return]

    @property
    def containers(self) -> containers_pb2_grpc.ContainersStub:
        return self.stub(containers_pb2, "Containers")  # type: ignore[no-any-return]

    @property
    def volumes(self) -> containers_pb2_grpc.VolumesStub:
        return self.stub(containers_pb2, "Volumes")  # type: ignore[no-any-return]

    @property
    def networks(self) -> networks_pb2_grpc.NetworksStub:
        return self.stub(networks_pb2, "Networks")  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    @contextmanager
    def calls(self) -> Iterator[None]:
        """Turns any RpcError raised inside into the CLIError the user should read."""
        try:
            yield
        except rpc.RpcError as e:
            raise self.error(e) from None

    def error(self, err: rpc.RpcError) -> CLIError:
        code, details = err.code(), err.details() or str(err.code())
        if isinstance(err, rpc.ConnectError):
            return CLIError(self._cannot_connect(details))
        if code == rpc.StatusCode.UNAVAILABLE and not self._reachable():
            return CLIError(self._not_running())
        message = f"Error response from daemon: {details}"
        return NotFound(message) if code == rpc.StatusCode.NOT_FOUND else CLIError(message)

    def _reachable(self) -> bool:
        """Tells the daemon's own UNAVAILABLE errors (a registry down) from losing the daemon."""
        return rpc.health_status(self.channel, timeout=2.0) == "SERVING"

    def _cannot_connect(self, details: str) -> str:
        if "Permission denied" in details:
            return (
                "permission denied while trying to connect to the Caisson daemon socket at "
                f"{self.address}"
            )
        if "No such file" in details or "Connection refused" in details:
            return self._not_running()
        return f"Cannot connect to the Caisson daemon at {self.address}: {details}"

    def _not_running(self) -> str:
        return f"Cannot connect to the Caisson daemon at {self.address}. Is the daemon running?"
