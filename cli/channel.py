"""gRPC calls for the CLI without grpcio: `import grpc` alone costs more than the rest of the
CLI's start-up. Runs over caisson.cli.http2 and mirrors the part of grpcio's client API the
CLI uses: multicallables taking (request, timeout=, metadata=), response iterators with
cancel()/code()/details(), RpcError with code()/details(). Stubs are built from protobuf
service descriptors, so the generated *_pb2_grpc modules (which import grpc) are not needed.
The gRPC wire protocol: github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md."""

from __future__ import annotations

import enum
import threading
import time
from collections import deque

from caisson.cli import http2

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterable
    from typing import Any, Protocol

    from google.protobuf.descriptor import ServiceDescriptor

    class AddressLike(Protocol):
        scheme: str  # "unix" or "tcp"
        path: str
        host: str
        port: int

    class TLSLike(Protocol):
        ca: str
        cert: str
        key: str
        verify: bool

    Serializer = Callable[[Any], bytes]
    Deserializer = Callable[[bytes], Any]
    Metadata = Iterable[tuple[str, str | bytes]]

MAX_MESSAGE = 64 * 1024 * 1024  # as caisson.rpc.MAX_MESSAGE, both directions
# How long a connection attempt may take when the call has no deadline (grpc's minimum).
CONNECT_TIMEOUT = 20.0


class StatusCode(enum.IntEnum):
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    def __str__(self) -> str:
        return f"StatusCode.{self.name}"  # as grpc's


class RpcError(Exception):
    """A call that ended with a status other than OK."""

    def __init__(self, code: StatusCode, details: str) -> None:
        super().__init__(code, details)
        self._code = code
        self._details = details

    def code(self) -> StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def __str__(self) -> str:
        return f"{self._code.name}: {self._details}"


class ConnectError(RpcError):
    """No connection to the server could be made at all (no socket, refused, TLS handshake
    failed, not an HTTP/2 server), as opposed to a server's own UNAVAILABLE status."""

    def __init__(self, details: str) -> None:
        super().__init__(StatusCode.UNAVAILABLE, details)


# PROTOCOL-HTTP2.md: RST_STREAM error codes; anything else is INTERNAL.
_RESET_CODES = {
    http2.REFUSED_STREAM: StatusCode.UNAVAILABLE,
    http2.CANCEL: StatusCode.CANCELLED,
    http2.ENHANCE_YOUR_CALM: StatusCode.RESOURCE_EXHAUSTED,
    http2.INADEQUATE_SECURITY: StatusCode.PERMISSION_DENIED,
}
# http-grpc-status-mapping.md: HTTP statuses of responses without grpc-status; others UNKNOWN.
_HTTP_CODES = {
    400: StatusCode.INTERNAL,
    401: StatusCode.UNAUTHENTICATED,
    403: StatusCode.PERMISSION_DENIED,
    404: StatusCode.UNIMPLEMENTED,
    429: StatusCode.UNAVAILABLE,
    502: StatusCode.UNAVAILABLE,
    503: StatusCode.UNAVAILABLE,
    504: StatusCode.UNAVAILABLE,
}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _unpercent(text: str) -> str:
    """grpc-message's percent-encoding undone; malformed escapes are kept as they are."""
    if "%" not in text:
        return text
    first, *rest = text.encode("latin-1").split(b"%")
    out = bytearray(first)
    for part in rest:
        if len(part) >= 2 and part[0] in _HEX and part[1] in _HEX:
            out.append(int(part[:2], 16))
            out += part[2:]
        else:
            out += b"%" + part
    return out.decode("utf-8", "replace")


def _timeout_header(seconds: float) -> str:
    """grpc-timeout: at most 8 digits, rounded up, in the finest unit that fits."""
    for unit, per_second in (("m", 1000), ("S", 1), ("M", 1 / 60), ("H", 1 / 3600)):
        value = -int(-seconds * per_second // 1)
        if value < 10**8:
            return f"{max(value, 1)}{unit}"
    return "99999999H"


def _metadata(metadata: Metadata) -> list[tuple[str, str]]:
    import binascii

    headers = []
    for key, value in metadata:
        key = key.lower()
        if key.endswith("-bin"):
            raw = value.encode() if isinstance(value, str) else value
            value = binascii.b2a_base64(raw, newline=False).decode("ascii")
        elif not isinstance(value, str):
            raise TypeError(f"metadata {key!r}: a str value is needed (or a key ending in -bin)")
        headers.append((key, value))
    return headers


def _tls_context(tls: TLSLike) -> ssl.SSLContext:
    """As grpc's secure_channel: the server's certificate always checked, against the CA file
    or the system's roots, and its name; a client certificate when one is given."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # HTTP/2 over TLS needs 1.2 or later
    if tls.ca:
        context.load_verify_locations(cafile=tls.ca)
    else:
        context.load_default_certs()
    if tls.cert:
        context.load_cert_chain(tls.cert, tls.key or None)
    context.set_alpn_protocols(["h2"])
    return context


class Channel:
    """Calls to one server over one HTTP/2 connection, opened at the first call and shared by
    every thread; a new one is opened when it failed or the server is going away."""

    def __init__(self, address: AddressLike, tls: TLSLike | None = None) -> None:
        self._context = None
        if address.scheme == "unix":
            self._target: str | tuple[str, int] = address.path
            self._name = f"unix:{address.path}"
            authority = "localhost"
        else:
            self._target = (address.host, address.port)
            host = f"[{address.host}]" if ":" in address.host else address.host
            self._name = authority = f"{host}:{address.port}"
            if tls is not None and (tls.cert or tls.verify):
                # Made here, so that unreadable files (OSError) fail where grpc's did.
                self._context = _tls_context(tls)
        scheme = "https" if self._context is not None else "http"
        self._headers = [
            (":method", "POST"),
            (":scheme", scheme),
            (":authority", authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("user-agent", "caisson-cli"),
        ]
        self._lock = threading.Lock()
        self._connection: http2.Connection | None = None
        self._draining: list[http2.Connection] = []  # replaced ones, closed by close()
        self._closed = False

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ends the connection; calls still running fail with CANCELLED."""
        with self._lock:
            self._closed = True
            connections = [*self._draining, self._connection]
            self._connection, self._draining = None, []
        for conn in connections:
            if conn is not None:
                conn.close()

    def unary_unary(
        self,
        method: str,
        request_serializer: Serializer | None = None,
        response_deserializer: Deserializer | None = None,
    ) -> UnaryUnary:
        return UnaryUnary(self, method, request_serializer, response_deserializer)

    def unary_stream(
        self,
        method: str,
        request_serializer: Serializer | None = None,
        response_deserializer: Deserializer | None = None,
    ) -> UnaryStream:
        return UnaryStream(self, method, request_serializer, response_deserializer)

    def stream_unary(
        self,
        method: str,
        request_serializer: Serializer | None = None,
        response_deserializer: Deserializer | None = None,
    ) -> StreamUnary:
        return StreamUnary(self, method, request_serializer, response_deserializer)

    def stream_stream(
        self,
        method: str,
        request_serializer: Serializer | None = None,
        response_deserializer: Deserializer | None = None,
    ) -> StreamStream:
        return StreamStream(self, method, request_serializer, response_deserializer)

    def _connect(self, deadline: float | None) -> http2.Connection:
        with self._lock:
            if self._closed:
                raise ValueError("Cannot invoke RPC on closed channel!")
            conn = self._connection
            if conn is not None:
                if conn.usable:
                    return conn
                self._draining.append(conn)
                self._connection = None
            timeout = CONNECT_TIMEOUT
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    raise RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
            try:
                conn = http2.connect(self._target, timeout, self._context)
            except http2.ConnectFailed as e:
                if deadline is not None and time.monotonic() >= deadline:
                    raise RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
                raise ConnectError(f"connect {self._name}: {e}") from None
            self._connection = conn
            return conn

    def _start(
        self,
        path: str,
        request: bytes | None,
        timeout: float | None,
        metadata: Metadata | None,
        deserialize: Deserializer | None,
    ) -> Call:
        """A call sending request as its only message, or none yet (request streams)."""
        headers = [(":path", path), *self._headers]
        deadline = None
        if timeout is not None:
            deadline = time.monotonic() + timeout
            headers.append(("grpc-timeout", _timeout_header(timeout)))
        if metadata:
            headers += _metadata(metadata)
        body = b""
        if request is not None:
            if len(request) > MAX_MESSAGE:
                raise RpcError(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"Sent message larger than max ({len(request)} vs. {MAX_MESSAGE})",
                )
            body = _message(request)
        block = http2.encode_headers(headers)
        conn = self._connect(deadline)
        try:
            stream = conn.open(block, body, end=request is not None, deadline=deadline)
        except TimeoutError:
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
        return Call(stream, deadline, deserialize)


def _message(data: bytes) -> bytes:
    """gRPC's length-prefixed message, uncompressed."""
    return b"\0" + len(data).to_bytes(4, "big") + data


def _identity(data: Any) -> Any:
    return data


class Call:
    """A call in progress: its response messages (iterate) and its final status. Iterating
    raises RpcError when the status is not OK, as grpc's response iterators do."""

    def __init__(
        self,
        stream: http2.Stream | None,
        deadline: float | None,
        deserialize: Deserializer | None,
    ) -> None:
        self._stream = stream
        self._deadline = deadline
        self._deserialize = deserialize or _identity
        self._lock = threading.Lock()
        self._error: RpcError | None = None  # the final status, OK included
        self._headers = False  # response headers received
        self._buffer = bytearray()  # received bytes of messages not yet complete
        self._messages: deque[bytes] = deque()

    @classmethod
    def failed(cls, error: RpcError) -> Call:
        """A call that could not start: as grpc's, it raises when iterated, not when made."""
        call = cls(None, None, None)
        call._error = error
        return call

    def __iter__(self) -> Call:
        return self

    def __next__(self) -> Any:
        while not self._messages:
            if self._error is not None:
                if self._error.code() == StatusCode.OK:
                    raise StopIteration
                raise self._error
            self._receive()
        message = self._messages.popleft()
        try:
            return self._deserialize(message)
        except Exception:
            self._finish(RpcError(StatusCode.INTERNAL, "Exception deserializing response!"))
            raise self._error from None  # type: ignore[misc]

    def cancel(self) -> bool:
        """Ends the call with CANCELLED unless it already ended; any thread may call it."""
        return self._finish(RpcError(StatusCode.CANCELLED, "Locally cancelled by application!"))

    def code(self) -> StatusCode:
        """The final status code, waiting for it (the messages before it are kept)."""
        return self._status().code()

    def details(self) -> str:
        return self._status().details()

    def _status(self) -> RpcError:
        while self._error is None:
            self._receive()
        return self._error

    def _unary(self) -> Any:
        responses = list(self)
        if len(responses) != 1:
            raise RpcError(
                StatusCode.INTERNAL, f"expected one response message, got {len(responses)}"
            )
        return responses[0]

    def _send_requests(self, requests: Iterable[Any], serialize: Serializer) -> None:
        """Sends the request stream, then half-closes; runs in a thread of its own so that the
        caller can read responses meanwhile, as grpc does."""
        try:
            for request in requests:
                if self._error is not None:
                    return
                data = serialize(request)
                if len(data) > MAX_MESSAGE:
                    self._finish(
                        RpcError(
                            StatusCode.RESOURCE_EXHAUSTED,
                            f"Sent message larger than max ({len(data)} vs. {MAX_MESSAGE})",
                        )
                    )
                    return
                if not self._stream.send(_message(data)):
                    return
            self._stream.send(b"", end=True)
        except Exception:
            self._finish(RpcError(StatusCode.UNKNOWN, "Exception iterating requests!"))

    def _finish(self, error: RpcError) -> bool:
        """Sets the final status if none was set yet; then the stream is let go (reset if it
        is still open, which also wakes a thread waiting in _receive)."""
        with self._lock:
            if self._error is not None:
                return False
            self._error = error
        if self._stream is not None:
            self._stream.close()
        return True

    def _receive(self) -> None:
        """Waits for the next event of the stream and applies it."""
        timeout = None
        if self._deadline is not None:
            timeout = self._deadline - time.monotonic()
        event = self._stream.get(timeout) if timeout is None or timeout > 0 else None
        if event is None:
            self._finish(RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"))
            return
        kind, value, end, _ = event
        if kind == http2.DATA:
            if not self._headers:
                self._finish(RpcError(StatusCode.INTERNAL, "DATA before response headers"))
                return
            self._buffer += value  # type: ignore[arg-type]
            self._split()
            if end:
                self._finish(RpcError(StatusCode.INTERNAL, "the server sent no trailers"))
        elif kind == http2.HEADERS:
            self._on_headers(dict(value), end)  # type: ignore[call-overload]
        elif kind == http2.RST_STREAM:
            code = _RESET_CODES.get(value, StatusCode.INTERNAL)  # type: ignore[call-overload]
            self._finish(RpcError(code, f"Received RST_STREAM with error code {value}"))
        elif kind == http2.CLOSED:
            assert isinstance(value, http2.ConnectionLost)
            if value.local:
                self._finish(RpcError(StatusCode.CANCELLED, "Channel closed!"))
            else:
                self._finish(RpcError(StatusCode.UNAVAILABLE, str(value)))

    def _split(self) -> None:
        """Moves the complete messages out of the buffer."""
        buf = self._buffer
        while len(buf) >= 5:
            length = int.from_bytes(buf[1:5], "big")
            if buf[0]:
                # We never send grpc-accept-encoding, so a compressed message is an error.
                self._finish(RpcError(StatusCode.INTERNAL, "compressed message received"))
                return
            if length > MAX_MESSAGE:
                self._finish(
                    RpcError(
                        StatusCode.RESOURCE_EXHAUSTED,
                        f"Received message larger than max ({length} vs. {MAX_MESSAGE})",
                    )
                )
                return
            if len(buf) < 5 + length:
                return
            with memoryview(buf) as view:
                self._messages.append(bytes(view[5 : 5 + length]))
            del buf[: 5 + length]

    def _on_headers(self, headers: dict[str, str], end: bool) -> None:
        if self._headers:  # trailers
            self._on_status(headers)
            return
        self._headers = True
        if end and "grpc-status" in headers:  # trailers-only
            self._on_status(headers)
        elif headers.get(":status") != "200":
            status = headers.get(":status", "")
            code = _HTTP_CODES.get(int(status) if status.isdigit() else 0, StatusCode.UNKNOWN)
            self._finish(RpcError(code, f"Received http2 header with status: {status}"))
        elif not headers.get("content-type", "").startswith("application/grpc"):
            content_type = headers.get("content-type", "")
            self._finish(RpcError(StatusCode.UNKNOWN, f"unexpected content-type {content_type!r}"))
        elif end:
            self._on_status(headers)

    def _on_status(self, trailers: dict[str, str]) -> None:
        status = trailers.get("grpc-status", "")
        if not status.isdigit():
            self._finish(RpcError(StatusCode.UNKNOWN, f"invalid grpc-status {status!r}"))
            return
        number = int(status)
        code = StatusCode(number) if number <= StatusCode.UNAUTHENTICATED else StatusCode.UNKNOWN
        if code == StatusCode.OK and self._buffer:
            self._finish(RpcError(StatusCode.INTERNAL, "the server sent an incomplete message"))
            return
        self._finish(RpcError(code, _unpercent(trailers.get("grpc-message", ""))))


class _MultiCallable:
    def __init__(
        self,
        channel: Channel,
        method: str,
        serialize: Serializer | None,
        deserialize: Deserializer | None,
    ) -> None:
        self._channel = channel
        self._method = method
        self._serialize = serialize or _identity
        self._deserialize = deserialize

    def _call(self, request: Any, timeout: float | None, metadata: Metadata | None) -> Call:
        return self._channel._start(
            self._method, self._serialize(request), timeout, metadata, self._deserialize
        )

    def _stream(
        self, requests: Iterable[Any], timeout: float | None, metadata: Metadata | None
    ) -> Call:
        try:
            call = self._channel._start(self._method, None, timeout, metadata, self._deserialize)
        except RpcError as e:
            return Call.failed(e)
        threading.Thread(
            target=call._send_requests,
            args=(requests, self._serialize),
            name="caisson-grpc-requests",
            daemon=True,
        ).start()
        return call


class UnaryUnary(_MultiCallable):
    def __call__(
        self, request: Any, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Any:
        return self._call(request, timeout, metadata)._unary()


class UnaryStream(_MultiCallable):
    def __call__(
        self, request: Any, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Call:
        try:
            return self._call(request, timeout, metadata)
        except RpcError as e:
            return Call.failed(e)


class StreamUnary(_MultiCallable):
    def __call__(
        self,
        request_iterator: Iterable[Any],
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Any:
        return self._stream(request_iterator, timeout, metadata)._unary()


class StreamStream(_MultiCallable):
    def __call__(
        self,
        request_iterator: Iterable[Any],
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Call:
        return self._stream(request_iterator, timeout, metadata)


def stub(channel: Channel, service: ServiceDescriptor) -> Any:
    """An object with one multicallable per method of the service, taking and returning its
    protobuf messages: what a generated *Stub class gives, without importing grpc."""
    import types

    from google.protobuf import message_factory

    kinds = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }
    methods = {}
    for method in service.methods:
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        make = kinds[method.client_streaming, method.server_streaming]
        path = f"/{service.full_name}/{method.name}"
        methods[method.name] = make(path, request.SerializeToString, response.FromString)
    return types.SimpleNamespace(**methods)


_SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def health_status(channel: Channel, service: str = "", timeout: float = 2.0) -> str:
    """ "SERVING", "NOT_SERVING" or "UNREACHABLE: reason", from grpc.health.v1.Health/Check.
    The messages are encoded by hand: HealthCheckRequest is `string service = 1`,
    HealthCheckResponse `ServingStatus status = 1` (an enum, so a varint)."""
    request = b""
    if service:
        name = service.encode()
        length = bytearray()
        n = len(name)
        while n >= 0x80:
            length.append(n & 0x7F | 0x80)
            n >>= 7
        length.append(n)
        request = b"\x0a" + length + name
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    try:
        response = check(request, timeout=timeout)
    except RpcError as e:
        return f"UNREACHABLE: {e.details() or e.code().name}"
    status = 0
    if response[:1] == b"\x08":
        for shift, byte in enumerate(response[1:6]):
            status |= (byte & 0x7F) << (7 * shift)
            if not byte & 0x80:
                break
    return _SERVING_STATUS.get(status, "UNKNOWN")
