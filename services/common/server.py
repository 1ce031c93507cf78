"""What every Caisson gRPC service shares: listen addresses, health, reflection, the domain
error interceptor, graceful stop on SIGTERM/SIGINT, and client channels."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from caisson import errors, logs

log = logs.get("caisson.server")

MAX_MESSAGE = 64 * 1024 * 1024
_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    # A restarted peer (the daemon restarts a crashed executor in about a second) is found
    # again quickly instead of after gRPC's default backoff of up to two minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True)
class TLSConfig:
    ca: str = ""
    cert: str = ""
    key: str = ""
    verify: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.cert or self.verify)


@dataclass(frozen=True)
class Address:
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


class _ErrorInterceptor(grpc.ServerInterceptor):
    """Turns domain errors into status codes, and anything else into INTERNAL (logged)."""

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method

        def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    return fn(request, context)
                except errors.CaissonError as e:
                    context.abort(e.code, str(e))
                except Exception as e:  # noqa: BLE001 - last line of defence
                    if isinstance(e, grpc.RpcError) or context.code() is not None:
                        raise
                    log.exception("unhandled error", method=method)
                    context.abort(grpc.StatusCode.INTERNAL, f"internal error: {e}")

            return inner

        def wrap_stream(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                try:
                    yield from fn(request, context)
                except errors.CaissonError as e:
                    context.abort(e.code, str(e))
                except Exception as e:  # noqa: BLE001
                    if isinstance(e, grpc.RpcError) or context.code() is not None:
                        raise
                    log.exception("unhandled error", method=method)
                    context.abort(grpc.StatusCode.INTERNAL, f"internal error: {e}")

            return inner

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap_unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap_stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                wrap_stream(handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                wrap_unary(handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


class Server:
    """A gRPC server with health + reflection that stops gracefully on SIGTERM/SIGINT."""

    def __init__(self, name: str, max_workers: int = 32) -> None:
        self.name = name
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name),
            interceptors=[_ErrorInterceptor()],
            options=_OPTIONS,
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        self._services: list[str] = [health.SERVICE_NAME, reflection.SERVICE_NAME]
        self._unix_paths: list[str] = []
        self._stopped = threading.Event()
        self._stop_hooks: list[Callable[[], None]] = []

    def add(
        self, register: Callable[[Any, grpc.Server], None], servicer: Any, full_name: str
    ) -> None:
        register(servicer, self.grpc)
        self._services.append(full_name)

    def on_stop(self, hook: Callable[[], None]) -> None:
        self._stop_hooks.append(hook)

    def listen(self, address: Address, tls: TLSConfig | None = None) -> None:
        if address.scheme == "unix":
            os.makedirs(os.path.dirname(address.path) or "/", exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address.path)
            self._unix_paths.append(address.path)
        if address.scheme == "tcp" and tls is not None and tls.enabled:
            creds = _server_credentials(tls)
            bound = self.grpc.add_secure_port(address.grpc_target(), creds)
        else:
            bound = self.grpc.add_insecure_port(address.grpc_target())
        if address.scheme == "tcp" and bound == 0:
            raise errors.Unavailable(f"cannot listen on {address}: address in use or not available")

    def start(self) -> None:
        reflection.enable_server_reflection(self._services, self.grpc)
        self.grpc.start()
        for path in self._unix_paths:
            with contextlib.suppress(OSError):
                os.chmod(path, 0o660)
        for svc in self._services:
            self.health.set(svc, health_pb2.HealthCheckResponse.SERVING)
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float = 5.0) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.grpc.stop(grace).wait()
        for hook in self._stop_hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stop hook failed", service=self.name)
        for path in self._unix_paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def trap_signals(self, on_hup: Callable[[], None] | None = None, grace: float = 5.0) -> None:
        def stop(signum: int, _frame: Any) -> None:
            log.info("signal received, stopping", signal=signal.Signals(signum).name)
            threading.Thread(target=self.stop, args=(grace,), daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if on_hup is not None:
            signal.signal(signal.SIGHUP, lambda *_: on_hup())

    def wait(self) -> None:
        # Polling keeps the main thread able to run Python signal handlers.
        while not self._stopped.wait(0.5):
            pass
        self.grpc.wait_for_termination()


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _server_credentials(tls: TLSConfig) -> grpc.ServerCredentials:
    if not (tls.cert and tls.key):
        raise errors.InvalidArgument("TLS needs --tlscert and --tlskey")
    ca = _read(tls.ca) if tls.ca else None
    if tls.verify and ca is None:
        raise errors.InvalidArgument("--tlsverify needs --tlscacert")
    return grpc.ssl_server_credentials(
        [(_read(tls.key), _read(tls.cert))],
        root_certificates=ca,
        require_client_auth=tls.verify,
    )


def channel(address: Address | str, tls: TLSConfig | None = None) -> grpc.Channel:
    addr = parse_address(address) if isinstance(address, str) else address
    if addr.scheme == "tcp" and tls is not None and tls.enabled:
        creds = grpc.ssl_channel_credentials(
            root_certificates=_read(tls.ca) if tls.ca else None,
            private_key=_read(tls.key) if tls.key else None,
            certificate_chain=_read(tls.cert) if tls.cert else None,
        )
        return grpc.secure_channel(addr.grpc_target(), creds, options=_OPTIONS)
    return grpc.insecure_channel(addr.grpc_target(), options=_OPTIONS)


def health_status(ch: grpc.Channel, service: str = "", timeout: float = 2.0) -> str:
    """ "SERVING", "NOT_SERVING" or "UNREACHABLE: reason"."""
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
