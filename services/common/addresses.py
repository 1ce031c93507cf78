"""Where a gRPC peer is (unix:///PATH, tcp://HOST:PORT) and the TLS files to reach it with.
Apart from caisson.rpc so that the CLI, which speaks gRPC without grpcio, can parse -H."""

from __future__ import annotations

from typing import NamedTuple

from caisson import errors


class TLSConfig(NamedTuple):
    ca: str = ""
    cert: str = ""
    key: str = ""
    verify: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.cert or self.verify)


class Address(NamedTuple):
    scheme: str  # "unix" or "tcp"
    path: str = ""  # unix
    host: str = ""  # tcp
    port: int = 0

    def grpc_target(self) -> str:
        if self.scheme == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        if self.scheme == "unix":
            return True
        if self.host == "localhost":
            return True
        # Imported here: only the daemon asks, and the CLI would pay for it at every start.
        import ipaddress

        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        return f"tcp://{self.grpc_target()}"


def parse_address(text: str) -> Address:
    """unix:///path, /path, tcp://host:port. fd:// is handled by the daemon."""
    if text.startswith("unix://"):
        path = text[len("unix://") :]
        if not path.startswith("/"):
            raise errors.InvalidArgument(
                f"invalid address {text!r}: unix socket path must be absolute"
            )
        return Address("unix", path=path)
    if text.startswith("/"):
        return Address("unix", path=text)
    if text.startswith("tcp://"):
        hostport = text[len("tcp://") :].rstrip("/")
        host, sep, port = hostport.rpartition(":")
        if not sep or not port.isdigit():
            raise errors.InvalidArgument(f"invalid address {text!r}: expected tcp://HOST:PORT")
        host = host.strip("[]") or "0.0.0.0"
        return Address("tcp", host=host, port=int(port))
    raise errors.InvalidArgument(
        f"invalid address {text!r}: expected unix:///PATH or tcp://HOST:PORT"
    )
