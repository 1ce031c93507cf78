"""What every Caisson gRPC service shares: health, reflection, the domain error interceptor
and graceful stop on SIGTERM/SIGINT. The client side (addresses, TLS settings, channels,
health checks, rpc_call) lives in caisson.rpc and is re-exported here for the services."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from caisson import errors, logs
from caisson.rpc import (
    MAX_MESSAGE,
    OPTIONS,
    Address,
    TLSConfig,
    channel,
    health_status,
    parse_address,
    read,
    rpc_call,
    stream_call,
    wait_healthy,
)

__all__ = [
    "MAX_MESSAGE",
    "Address",
    "Server",
    "TLSConfig",
    "channel",
    "health_status",
    "parse_address",
    "rpc_call",
    "stream_call",
    "wait_healthy",
]

log = logs.get("caisson.server")


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
            options=OPTIONS,
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        self._services: list[str] = [health.SERVICE_NAME, reflection.SERVICE_NAME]
        self._unix_paths: list[str] = []
        self._stopped = threading.Event()
        self._done = threading.Event()  # stop() has finished, its hooks included
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
        try:
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
        finally:
            self._done.set()

    def trap_signals(self, on_hup: Callable[[], None] | None = None, grace: float = 5.0) -> None:
        def stop(signum: int, _frame: Any) -> None:
            log.info("signal received, stopping", signal=signal.Signals(signum).name)
            threading.Thread(target=self.stop, args=(grace,), daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if on_hup is not None:
            signal.signal(signal.SIGHUP, lambda *_: on_hup())

    def wait(self) -> None:
        """Returns once stop() has run to its end (the process may exit then: a stop hook
        cut short by the exit would leave its cleanup half done)."""
        # Polling keeps the main thread able to run Python signal handlers.
        while not self._done.wait(0.5):
            pass
        self.grpc.wait_for_termination()


def _server_credentials(tls: TLSConfig) -> grpc.ServerCredentials:
    if not (tls.cert and tls.key):
        raise errors.InvalidArgument("TLS needs --tlscert and --tlskey")
    ca = read(tls.ca) if tls.ca else None
    if tls.verify and ca is None:
        raise errors.InvalidArgument("--tlsverify needs --tlscacert")
    return grpc.ssl_server_credentials(
        [(read(tls.key), read(tls.cert))],
        root_certificates=ca,
        require_client_auth=tls.verify,
    )
