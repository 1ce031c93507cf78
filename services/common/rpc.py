"""The client side of Caisson's gRPC plumbing between the services (grpcio): channels, health
checks and the mapping of RpcErrors back to domain errors. Addresses and TLS settings are in
caisson.addresses. The CLI does not use this module: it speaks gRPC without grpcio
(caisson.cli.channel), whose import alone would cost each command more than its whole start."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc

from caisson import errors
from caisson.addresses import Address, TLSConfig, parse_address

MAX_MESSAGE = 64 * 1024 * 1024
OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    # A restarted peer (the daemon restarts a crashed executor in about a second) is found
    # again quickly instead of after gRPC's default backoff of up to two minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def channel(address: Address | str, tls: TLSConfig | None = None) -> grpc.Channel:
    addr = parse_address(address) if isinstance(address, str) else address
    if addr.scheme == "tcp" and tls is not None and tls.enabled:
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(tls.ca) if tls.ca else None,
            private_key=read(tls.key) if tls.key else None,
            certificate_chain=read(tls.cert) if tls.cert else None,
        )
        return grpc.secure_channel(addr.grpc_target(), creds, options=OPTIONS)
    return grpc.insecure_channel(addr.grpc_target(), options=OPTIONS)


def health_status(ch: grpc.Channel, service: str = "", timeout: float = 2.0) -> str:
    """ "SERVING", "NOT_SERVING" or "UNREACHABLE: reason"."""
    # Imported on first use: the CLI asks only after an UNAVAILABLE error.
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        resp = health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    except grpc.RpcError as e:
        return f"UNREACHABLE: {e.details() if hasattr(e, 'details') else e}"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)


def wait_healthy(
    ch: grpc.Channel, timeout: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health_status(ch, timeout=1.0) == "SERVING":
            return True
        if not alive():
            return False
        time.sleep(0.05)
    return False


def rpc_call(service: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for client calls to another service: RpcError -> domain error."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except grpc.RpcError as e:
                raise errors.from_rpc_error(e, service) from None

        return inner

    return deco


def stream_call(service: str, it: Iterable[Any]) -> Iterator[Any]:
    """Iterates a server stream from another service, mapping RpcError to domain errors."""
    try:
        yield from it
    except grpc.RpcError as e:
        raise errors.from_rpc_error(e, service) from None
