"""The HTTP/2 client side (RFC 9113) that caisson.cli.channel runs gRPC over: framing, HPACK
(RFC 7541), one connection per socket with a reader thread, a queue of events per stream and
flow control both ways. Written for the CLI's start-up time: it loads only C modules
(`_socket`, `_queue`) and threading, and ssl only when a TLS connection is opened."""

from __future__ import annotations

import _socket
import contextlib
import threading
import time
from _queue import Empty, SimpleQueue
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterable

    Event = tuple[int, object, bool, int]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 section 6). Stream events reuse DATA, HEADERS and RST_STREAM.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
CLOSED = -1  # stream event: the connection failed or was closed; the value says why
WAKE = -2  # stream event: someone else ended the stream (Stream.close); nothing to read

END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Error codes (RFC 9113 section 7).
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR = 0, 1, 3, 6
REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, ENHANCE_YOUR_CALM, INADEQUATE_SECURITY = 7, 8, 9, 11, 12

DEFAULT_WINDOW = 65535
DEFAULT_MAX_FRAME = 16384
MAX_WINDOW = 2**31 - 1
# What we let the server send before it needs a WINDOW_UPDATE: large, so that a big response
# costs few updates; a stream's window is given back as its reader takes the data, so a
# reader that stops also stops the server (see Stream.get).
STREAM_WINDOW = 16 << 20
CONNECTION_WINDOW = 64 << 20
# Large DATA frames mean fewer trips through the reader loop (Python) for big messages.
MAX_FRAME = 1 << 20
RECV_SIZE = 256 << 10
# At most this much is handed to one send call, so other streams and control frames are not
# held back behind one large upload.
SEND_BATCH = 256 << 10
_NOSIGNAL = _socket.MSG_NOSIGNAL  # the CLI restores SIGPIPE's default action


class ConnectFailed(Exception):
    """No HTTP/2 connection could be made; the message is the reason."""


class ConnectionLost(Exception):
    """An established connection ended; `local` when we closed it ourselves."""

    def __init__(self, reason: str, local: bool = False) -> None:
        super().__init__(reason)
        self.local = local


class HPACKError(Exception):
    pass


class _ProtocolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _frame(ftype: int, flags: int, sid: int, payload: bytes | memoryview = b"") -> bytes:
    head = len(payload) << 48 | ftype << 40 | flags << 32 | sid
    return head.to_bytes(9, "big") + payload


def _settings(*pairs: tuple[int, int]) -> bytes:
    return _frame(
        SETTINGS, 0, 0, b"".join(k.to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in pairs)
    )


def _window_update(sid: int, increment: int) -> bytes:
    return _frame(WINDOW_UPDATE, 0, sid, increment.to_bytes(4, "big"))


def describe(error: OSError) -> str:
    """The system's (or the TLS library's) words for why a socket operation failed."""
    if isinstance(error, TimeoutError):
        return "timed out"
    verify = getattr(error, "verify_message", None)  # ssl.SSLCertVerificationError
    if verify:
        return f"TLS handshake failed: certificate verify failed: {verify}"
    if hasattr(error, "library"):  # ssl.SSLError: "[SSL: CODE] words (_ssl.c:NNN)"
        text = str(error)
        words = text.partition("] ")[2].rpartition(" (_ssl")[0]
        return f"TLS error: {words or text}"
    return error.strerror or str(error)


# -- HPACK -----------------------------------------------------------------------------------

STATIC_TABLE = (
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
)
_STATIC_FIELD: dict[tuple[str, str], int] = {}
_STATIC_NAME: dict[str, int] = {}
for _i, _field in enumerate(STATIC_TABLE, 1):
    _STATIC_FIELD.setdefault(_field, _i)
    _STATIC_NAME.setdefault(_field[0], _i)

# RFC 7541 Appendix B: the code lengths in bits of symbols 0..255 and EOS (256). The code is
# canonical: the codes of one length are consecutive numbers in symbol order, following the
# shorter ones, so the codes themselves follow from the lengths (see _huffman_tables).
HUFFMAN_LENGTHS = (
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,  # 0
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,  # 16
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,  # 32 ' '
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,  # 48 '0'
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  # 64 '@'
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,  # 80 'P'
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,  # 96 '`'
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,  # 112 'p'
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,  # 128
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,  # 144
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,  # 160
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,  # 176
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,  # 192
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,  # 208
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,  # 224
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,  # 240
    30,  # EOS
)  # fmt: skip
_huffman: tuple[list[int], list[int], list[list[int]]] | None = None


def _huffman_tables() -> tuple[list[int], list[int], list[list[int]]]:
    """For each code length n: the first code of that length, the first code past them, and
    their symbols in code order. Built on first use: most responses have no Huffman strings."""
    global _huffman
    if _huffman is None:
        symbols: list[list[int]] = [[] for _ in range(31)]
        for symbol, n in enumerate(HUFFMAN_LENGTHS):
            symbols[n].append(symbol)
        first, end, code = [0] * 31, [0] * 31, 0
        for n in range(1, 31):
            code = (code + len(symbols[n - 1])) << 1
            first[n], end[n] = code, code + len(symbols[n])
            code = first[n]
        _huffman = first, end, symbols
    return _huffman


def huffman_decode(data: bytes) -> bytes:
    first, end, symbols = _huffman_tables()
    out = bytearray()
    bits = 0  # undecoded bits, the oldest highest
    count = 0
    for byte in data:
        bits = bits << 8 | byte
        count += 8
        while count >= 5:
            # A canonical code's prefix of n bits is a whole code iff it is below end[n];
            # otherwise it is at least end[n], the start of a longer code.
            for n in range(5, min(count, 30) + 1):
                code = bits >> (count - n)
                if code < end[n]:
                    symbol = symbols[n][code - first[n]]
                    if symbol == 256:
                        raise HPACKError("EOS symbol in a Huffman string")
                    out.append(symbol)
                    count -= n
                    bits &= (1 << count) - 1
                    break
            else:
                break  # a longer code: wait for the next byte
    # What is left must be padding: fewer than 8 bits, all ones (a prefix of EOS).
    if count > 7 or bits != (1 << count) - 1:
        raise HPACKError("invalid Huffman string padding")
    return bytes(out)


def _decode_int(data: bytes, pos: int, prefix: int) -> tuple[int, int]:
    if pos >= len(data):
        raise HPACKError("truncated header block")
    limit = (1 << prefix) - 1
    value = data[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        if pos >= len(data):
            raise HPACKError("truncated header block")
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise HPACKError("integer too large in header block")


def _decode_string(data: bytes, pos: int) -> tuple[str, int]:
    huffman = pos < len(data) and data[pos] & 0x80
    length, pos = _decode_int(data, pos, 7)
    end = pos + length
    if end > len(data):
        raise HPACKError("truncated header block")
    raw = data[pos:end]
    # latin-1 keeps one character per octet: entry sizes count octets.
    return (huffman_decode(raw) if huffman else raw).decode("latin-1"), end


class Decoder:
    """The HPACK decoding state of one connection: the dynamic table that the peer's encoder
    fills. Every header block must be decoded, in the order received."""

    def __init__(self, max_size: int = 4096) -> None:
        self._max_size = max_size  # our SETTINGS_HEADER_TABLE_SIZE
        self._limit = max_size  # the encoder's choice, at most _max_size
        self._size = 0
        self.table: list[tuple[str, str]] = []  # newest first

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        pos = 0
        while pos < len(block):
            byte = block[pos]
            if byte & 0x80:  # indexed field
                index, pos = _decode_int(block, pos, 7)
                headers.append(self._field(index))
            elif byte & 0xE0 == 0x20:  # dynamic table size update
                if headers:
                    raise HPACKError("table size update after a header field")
                self._limit, pos = _decode_int(block, pos, 5)
                if self._limit > self._max_size:
                    raise HPACKError(f"table size {self._limit} above {self._max_size}")
                self._evict(0)
            else:  # literal: with incremental indexing (01), without or never indexed (000x)
                indexing = bool(byte & 0x40)
                index, pos = _decode_int(block, pos, 6 if indexing else 4)
                if index:
                    name = self._field(index)[0]
                else:
                    name, pos = _decode_string(block, pos)
                value, pos = _decode_string(block, pos)
                headers.append((name, value))
                if indexing:
                    self._add(name, value)
        return headers

    def _field(self, index: int) -> tuple[str, str]:
        if index <= len(STATIC_TABLE):
            if index == 0:
                raise HPACKError("header index 0")
            return STATIC_TABLE[index - 1]
        dynamic = index - len(STATIC_TABLE) - 1
        if dynamic >= len(self.table):
            raise HPACKError(f"header index {index} out of range")
        return self.table[dynamic]

    def _add(self, name: str, value: str) -> None:
        size = len(name) + len(value) + 32
        self._evict(size)
        if size <= self._limit:
            self.table.insert(0, (name, value))
            self._size += size

    def _evict(self, room: int) -> None:
        while self.table and self._size + room > self._limit:
            name, value = self.table.pop()
            self._size -= len(name) + len(value) + 32


def _encode_int(value: int, prefix: int, flags: int) -> bytes:
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_string(text: str) -> bytes:
    raw = text.encode("ascii")
    return _encode_int(len(raw), 7, 0) + raw


def encode_headers(headers: Iterable[tuple[str, str]]) -> bytes:
    """A header block that leaves the peer's dynamic table alone: static-table indexes, or
    literals without indexing, no Huffman. Blocks made this way can be concatenated."""
    out = bytearray()
    for name, value in headers:
        index = _STATIC_FIELD.get((name, value))
        if index:
            out += _encode_int(index, 7, 0x80)
            continue
        index = _STATIC_NAME.get(name, 0)
        out += _encode_int(index, 4, 0)
        if not index:
            out += _encode_string(name)
        out += _encode_string(value)
    return bytes(out)


# -- transports ------------------------------------------------------------------------------


def _open_socket(address: str | tuple[str, int], timeout: float) -> _socket.socket:
    """A connected stream socket: a unix socket path, or (host, port) over TCP."""
    if isinstance(address, str):
        targets = [(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, "", address)]
    else:
        targets = _socket.getaddrinfo(address[0], address[1], 0, _socket.SOCK_STREAM)
    error: OSError = OSError(f"no address for {address}")
    for family, kind, proto, _, sockaddr in targets:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as e:
            sock.close()
            error = e
            continue
        if family != _socket.AF_UNIX:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise error


class _Plain:
    pending = False  # bytes waiting to be sent that no write asked for (see _TLS)

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.sendall(data, _NOSIGNAL)

    def recv(self) -> bytes:
        return self.sock.recv(RECV_SIZE)


class _TLS(_Plain):
    """TLS through memory buffers, with the socket I/O done here: an ssl.SSLSocket must not be
    read by one thread while another writes to it, and this connection does both. The TLS
    state itself is only touched under a lock held for no I/O."""

    def __init__(self, sock: _socket.socket, context: ssl.SSLContext, hostname: str) -> None:
        import ssl

        super().__init__(sock)
        self._ssl = ssl
        self._lock = threading.Lock()
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._eof = False  # the peer ended TLS: no more data, even if the socket stays open
        self._tls = context.wrap_bio(self._in, self._out, server_hostname=hostname)
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if self._out.pending:
                    sock.sendall(self._out.read(), _NOSIGNAL)
                data = sock.recv(RECV_SIZE)
                if not data:
                    raise ConnectFailed("connection closed during the TLS handshake") from None
                self._in.write(data)
        if self._out.pending:
            sock.sendall(self._out.read(), _NOSIGNAL)
        if self._tls.selected_alpn_protocol() != "h2":
            raise ConnectFailed("the TLS server did not agree to HTTP/2 (ALPN h2)")

    @property
    def pending(self) -> bool:  # type: ignore[override]
        return self._out.pending > 0

    def send(self, data: bytes) -> None:
        # Called under the connection's write lock, which keeps the records in order.
        with self._lock:
            if data:
                self._tls.write(data)
            records = self._out.read()
        if records:
            self.sock.sendall(records, _NOSIGNAL)

    def recv(self) -> bytes:
        ssl = self._ssl
        while not self._eof:
            data = self.sock.recv(RECV_SIZE)
            chunks = []
            with self._lock:
                if data:
                    self._in.write(data)
                else:
                    self._in.write_eof()
                try:
                    while chunk := self._tls.read(RECV_SIZE):
                        chunks.append(chunk)
                except ssl.SSLWantReadError:
                    pass
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    self._eof = True
            if chunks or not data:
                return b"".join(chunks)
        return b""


# -- connections -----------------------------------------------------------------------------


def connect(
    address: str | tuple[str, int], timeout: float, context: ssl.SSLContext | None = None
) -> Connection:
    """An HTTP/2 connection to a unix socket path or (host, port), with TLS when a context is
    given; raises ConnectFailed. The server's first SETTINGS frame is waited for, so a peer
    that does not speak HTTP/2 is found here rather than by the first call."""
    try:
        sock = _open_socket(address, timeout)
        try:
            transport = _Plain(sock) if context is None else _TLS(sock, context, address[0])
            conn = Connection(transport)
            conn._handshake()
        except BaseException:
            sock.close()
            raise
    except OSError as e:
        raise ConnectFailed(describe(e)) from None
    except _ProtocolError as e:
        raise ConnectFailed(f"HTTP/2 protocol error: {e}") from None
    sock.settimeout(None)
    conn._reader.start()
    return conn


class Stream:
    """One request/response exchange. Its events, (kind, value, end_stream, flow-controlled
    size), come from the reader thread and are taken by one thread at a time."""

    def __init__(self, conn: Connection, sid: int, window: int) -> None:
        self.conn = conn
        self.id = sid
        self.events: SimpleQueue[Event] = SimpleQueue()
        self.send_window = window
        self.sent_end = False
        self.received_end = False
        self.reset = False  # RST_STREAM sent or received: no frame of ours may follow
        self.closed = False  # Stream.close called: nothing more to send
        self._taken = 0  # bytes taken from the events and not yet given back to the window

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when the timeout passes."""
        try:
            event = self.events.get(True, timeout)
        except Empty:
            return None
        if event[0] == DATA and not self.received_end:
            self._taken += event[3]
            if self._taken >= STREAM_WINDOW // 4:
                self.conn._write(_window_update(self.id, self._taken), self)
                self._taken = 0
        return event

    def send(self, data: bytes, end: bool = False, deadline: float | None = None) -> bool:
        """Sends data as the peer's windows allow, waiting for them to open; False when the
        stream or the connection ended first (its events say why) or the deadline passed."""
        conn = self.conn
        view = memoryview(data)
        if not view and not end:
            return True
        while True:
            with conn._cond:
                while True:
                    if self.closed or self.reset or self.received_end or conn._error is not None:
                        return False
                    n = min(len(view), self.send_window, conn._send_window, SEND_BATCH)
                    if n > 0 or not view:
                        break
                    timeout = None if deadline is None else deadline - time.monotonic()
                    if timeout is not None and timeout <= 0:
                        return False
                    conn._cond.wait(timeout)
                self.send_window -= n
                conn._send_window -= n
                last = n == len(view)
                if last and end:
                    self.sent_end = True
                size = conn._max_frame
            # An empty DATA frame when there is nothing left to send but END_STREAM.
            frames = []
            for i in range(0, n or 1, size):
                j = min(i + size, n)
                flags = END_STREAM if last and end and j == n else 0
                frames.append(_frame(DATA, flags, self.id, view[i:j]))
            if not conn._write(b"".join(frames), self):
                return False
            if last:
                return True
            view = view[n:]

    def close(self) -> None:
        """Ends the exchange: resets the stream unless both sides ended it, and wakes the
        thread waiting for its events."""
        conn = self.conn
        with conn._cond:
            self.closed = True
            conn._remove(self)
            conn._cond.notify_all()  # a sender waiting for window stops
            if self.reset or (self.sent_end and self.received_end):
                return
            code = NO_ERROR if self.received_end else CANCEL
        conn._write(_frame(RST_STREAM, 0, self.id, code.to_bytes(4, "big")), self, reset=True)
        self.events.put((WAKE, None, True, 0))


class Connection:
    """A client connection: streams opened by any thread, frames read by one reader thread."""

    def __init__(self, transport: _Plain) -> None:
        self._transport = transport
        # Lock order: _wlock, then _cond. The reader thread never waits for _wlock while the
        # connection is up: what it has to send goes through _control (see _flush).
        self._wlock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._control: deque[bytes] = deque()
        self._streams: dict[int, Stream] = {}
        self._next_id = 1
        self._opening = 0
        self._send_window = DEFAULT_WINDOW
        self._peer_window = DEFAULT_WINDOW
        self._max_frame = DEFAULT_MAX_FRAME
        self._max_streams = MAX_WINDOW
        self._received = 0  # connection-level bytes not yet given back
        self._error: ConnectionLost | None = None
        self._goaway = False
        self._decoder = Decoder()
        self._continued: tuple[int, int, bytearray] | None = None  # HEADERS awaiting CONTINUATION
        self._buffer = bytearray()
        self._reader = threading.Thread(target=self._read, name="caisson-h2-reader", daemon=True)

    @property
    def usable(self) -> bool:
        """Whether new streams may be opened (not failed, closed or told to go away)."""
        return self._error is None and not self._goaway

    def close(self) -> None:
        self._fail(ConnectionLost("the channel was closed", local=True))
        if self._reader.is_alive() and self._reader is not threading.current_thread():
            self._reader.join()

    def open(
        self, block: bytes, body: bytes = b"", end: bool = False, deadline: float | None = None
    ) -> Stream:
        """A new stream: HEADERS with the header block, then body (END_STREAM after it when
        end). Waits for the peer's stream limit; TimeoutError when the deadline passes first."""
        with self._cond:
            while self._error is None and len(self._streams) + self._opening >= self._max_streams:
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    raise TimeoutError
                self._cond.wait(timeout)
            self._opening += 1
        with self._wlock:
            with self._cond:
                self._opening -= 1
                stream = Stream(self, self._next_id, self._peer_window)
                if self._error is not None:
                    stream.events.put((CLOSED, self._error, True, 0))
                    return stream
                self._next_id += 2
                self._streams[stream.id] = stream
                inline = len(body) <= min(stream.send_window, self._send_window, self._max_frame)
                if inline:
                    stream.send_window -= len(body)
                    self._send_window -= len(body)
                    stream.sent_end = end
                size = self._max_frame
            # HEADERS, then CONTINUATION frames if the block is larger than a frame.
            frames = []
            for i in range(0, len(block) or 1, size):
                ftype, flags = (
                    (CONTINUATION, 0) if i else (HEADERS, END_STREAM if end and not body else 0)
                )
                if i + size >= len(block):
                    flags |= END_HEADERS
                frames.append(_frame(ftype, flags, stream.id, block[i : i + size]))
            if body and inline:
                frames.append(_frame(DATA, END_STREAM if end else 0, stream.id, body))
            error = self._send(b"".join(frames))
        if error is not None:
            self._fail(error)
        elif body and not inline:
            stream.send(body, end, deadline)
        self._flush()
        return stream

    # -- writing

    def _send(self, data: bytes) -> ConnectionLost | None:
        """Sends data after the pending control frames; under _wlock."""
        if self._control:
            parts = []
            while self._control:
                parts.append(self._control.popleft())
            data = b"".join(parts) + data
        try:
            self._transport.send(data)
        except OSError as e:
            return ConnectionLost(describe(e))
        return None

    def _write(self, data: bytes, stream: Stream | None = None, reset: bool = False) -> bool:
        """Sends data unless the connection failed, or stream was reset (nothing may follow a
        RST_STREAM; reset=True marks the one that does the resetting)."""
        with self._wlock:
            if self._error is not None or (stream is not None and stream.reset):
                return False
            if reset:
                stream.reset = True  # type: ignore[union-attr]
            error = self._send(data)
        if error is not None:
            self._fail(error)
            return False
        self._flush()
        return True

    def _flush(self) -> None:
        """Sends the queued control frames unless another thread is writing: that one sends
        them after its own data (it checks again once it has let go of the lock)."""
        while (self._control or self._transport.pending) and self._wlock.acquire(blocking=False):
            try:
                if self._error is not None:
                    self._control.clear()
                    return
                error = self._send(b"")
            finally:
                self._wlock.release()
            if error is not None:
                self._fail(error)
                return

    def _fail(self, error: ConnectionLost) -> None:
        """Ends the connection (the first reason wins): every open stream gets a CLOSED event
        and the socket is shut down, which also ends the reader thread."""
        with self._cond:
            if self._error is not None:
                return
            self._error = error
            streams = list(self._streams.values())
            self._streams.clear()
            self._cond.notify_all()
            with contextlib.suppress(OSError):  # already disconnected
                self._transport.sock.shutdown(_socket.SHUT_RDWR)
        for stream in streams:
            stream.events.put((CLOSED, error, True, 0))

    def _remove(self, stream: Stream) -> None:
        """Under _cond: the stream no longer counts against the peer's limit."""
        if self._streams.pop(stream.id, None) is not None:
            self._cond.notify_all()

    # -- reading

    def _handshake(self) -> None:
        self._transport.send(
            PREFACE
            + _settings((2, 0), (4, STREAM_WINDOW), (5, MAX_FRAME))  # ENABLE_PUSH, windows, frame
            + _window_update(0, CONNECTION_WINDOW - DEFAULT_WINDOW)
        )
        buf = bytearray()
        length = 0
        while len(buf) < 9 + length:
            data = self._transport.recv()
            if not data:
                if buf:
                    raise ConnectFailed("the peer is not an HTTP/2 server")
                # Over TLS, most likely a client certificate the server does not accept.
                tls = isinstance(self._transport, _TLS)
                raise ConnectFailed(
                    "connection closed by the peer" + (" after the TLS handshake" if tls else "")
                )
            buf += data
            if len(buf) >= 9:
                head = int.from_bytes(buf[:9], "big")
                length = head >> 48
                # The server's connection preface is a SETTINGS frame.
                not_settings = head >> 32 & 0xFFFF != SETTINGS << 8 or head & 0xFFFFFFFF
                if not_settings or length % 6 or length > DEFAULT_MAX_FRAME:
                    raise ConnectFailed("the peer is not an HTTP/2 server")
        self._on_settings(0, bytes(buf[9 : 9 + length]))
        self._transport.send(self._control.popleft())
        self._buffer = buf[9 + length :]

    def _read(self) -> None:
        buf = self._buffer
        error = ConnectionLost("socket closed by the server")
        try:
            while True:
                pos, size = 0, len(buf)
                with memoryview(buf) as view:
                    while size - pos >= 9:
                        head = int.from_bytes(view[pos : pos + 9], "big")
                        length = head >> 48
                        if length > MAX_FRAME:
                            raise _ProtocolError(FRAME_SIZE_ERROR, f"{length} byte frame")
                        end = pos + 9 + length
                        if end > size:
                            break
                        self._on_frame(
                            head >> 40 & 0xFF,
                            head >> 32 & 0xFF,
                            head & 0x7FFFFFFF,
                            bytes(view[pos + 9 : end]),
                        )
                        pos = end
                del buf[:pos]
                self._flush()
                data = self._transport.recv()
                if not data:
                    break
                buf += data
        except _ProtocolError as e:
            error = ConnectionLost(f"HTTP/2 protocol error: {e}")
            self._control.append(
                _frame(GOAWAY, 0, 0, (0).to_bytes(4, "big") + e.code.to_bytes(4, "big"))
            )
            self._flush()
        except OSError as e:
            error = ConnectionLost(describe(e))
        except Exception as e:  # a bug here must not leave callers waiting forever
            error = ConnectionLost(f"HTTP/2 reader failed: {e!r}")
        self._fail(error)
        # Writers check _error under _wlock before touching the socket.
        with self._wlock:
            self._transport.sock.close()

    def _on_frame(self, ftype: int, flags: int, sid: int, payload: bytes) -> None:
        if self._continued is not None and ftype != CONTINUATION:
            raise _ProtocolError(PROTOCOL_ERROR, "header block interrupted")
        if ftype == DATA:
            self._on_data(flags, sid, payload)
        elif ftype == HEADERS:
            if flags & PADDED:
                payload = self._unpad(payload)
            if flags & PRIORITY_FLAG:
                payload = payload[5:]
            if flags & END_HEADERS:
                self._on_headers(flags, sid, payload)
            else:
                self._continued = (sid, flags, bytearray(payload))
        elif ftype == CONTINUATION:
            if self._continued is None or self._continued[0] != sid:
                raise _ProtocolError(PROTOCOL_ERROR, "unexpected CONTINUATION")
            self._continued[2].extend(payload)
            if flags & END_HEADERS:
                _, first_flags, block = self._continued
                self._continued = None
                self._on_headers(first_flags, sid, bytes(block))
        elif ftype == RST_STREAM:
            if len(payload) != 4:
                raise _ProtocolError(FRAME_SIZE_ERROR, "RST_STREAM size")
            stream = self._streams.get(sid)
            if stream is not None:
                with self._cond:
                    stream.reset = True
                    self._remove(stream)
                stream.events.put((RST_STREAM, int.from_bytes(payload, "big"), True, 0))
        elif ftype == SETTINGS:
            self._on_settings(flags, payload)
        elif ftype == PING:
            if len(payload) != 8:
                raise _ProtocolError(FRAME_SIZE_ERROR, "PING size")
            if not flags & ACK:
                self._control.append(_frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            self._on_goaway(payload)
        elif ftype == WINDOW_UPDATE:
            if len(payload) != 4:
                raise _ProtocolError(FRAME_SIZE_ERROR, "WINDOW_UPDATE size")
            increment = int.from_bytes(payload, "big") & 0x7FFFFFFF
            with self._cond:
                if sid == 0:
                    self._send_window += increment
                elif (stream := self._streams.get(sid)) is not None:
                    stream.send_window += increment
                self._cond.notify_all()
        elif ftype == PUSH_PROMISE:
            raise _ProtocolError(PROTOCOL_ERROR, "PUSH_PROMISE with push disabled")
        # PRIORITY and unknown frame types are ignored.

    def _on_data(self, flags: int, sid: int, payload: bytes) -> None:
        size = len(payload)
        self._received += size
        if self._received >= CONNECTION_WINDOW // 4:
            self._control.append(_window_update(0, self._received))
            self._received = 0
        stream = self._streams.get(sid)
        if stream is None or stream.received_end:
            return  # a stream we reset or closed: its window no longer matters
        if flags & PADDED:
            payload = self._unpad(payload)
        stream.events.put((DATA, payload, bool(flags & END_STREAM), size))
        if flags & END_STREAM:
            self._ended(stream)

    def _on_headers(self, flags: int, sid: int, block: bytes) -> None:
        try:
            headers = self._decoder.decode(block)
        except HPACKError as e:
            raise _ProtocolError(COMPRESSION_ERROR, str(e)) from None
        stream = self._streams.get(sid)
        if stream is None:
            return
        stream.events.put((HEADERS, headers, bool(flags & END_STREAM), 0))
        if flags & END_STREAM:
            self._ended(stream)

    def _ended(self, stream: Stream) -> None:
        with self._cond:
            stream.received_end = True
            if stream.sent_end:
                self._remove(stream)
            self._cond.notify_all()  # a sender waiting for window stops

    def _on_settings(self, flags: int, payload: bytes) -> None:
        if flags & ACK:
            return
        if len(payload) % 6:
            raise _ProtocolError(FRAME_SIZE_ERROR, "SETTINGS size")
        with self._cond:
            for i in range(0, len(payload), 6):
                key = int.from_bytes(payload[i : i + 2], "big")
                value = int.from_bytes(payload[i + 2 : i + 6], "big")
                if key == 3:  # MAX_CONCURRENT_STREAMS
                    self._max_streams = value
                elif key == 4:  # INITIAL_WINDOW_SIZE: applies to open streams too
                    if value > MAX_WINDOW:
                        raise _ProtocolError(FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large")
                    for stream in self._streams.values():
                        stream.send_window += value - self._peer_window
                    self._peer_window = value
                elif key == 5:  # MAX_FRAME_SIZE
                    if not DEFAULT_MAX_FRAME <= value < 1 << 24:
                        raise _ProtocolError(PROTOCOL_ERROR, f"MAX_FRAME_SIZE {value}")
                    self._max_frame = value
            self._cond.notify_all()
        self._control.append(_frame(SETTINGS, ACK, 0))

    def _on_goaway(self, payload: bytes) -> None:
        """The server takes no new streams and names the last one it will finish; the later
        ones were not processed and fail now."""
        if len(payload) < 8:
            raise _ProtocolError(FRAME_SIZE_ERROR, "GOAWAY size")
        last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        code = int.from_bytes(payload[4:8], "big")
        reason = f"GOAWAY with error code {code}"
        if len(payload) > 8:
            reason += ": " + payload[8:].decode("utf-8", "replace")
        error = ConnectionLost(f"the server is going away ({reason})")
        with self._cond:
            self._goaway = True
            dropped = [s for sid, s in self._streams.items() if sid > last]
            for stream in dropped:
                stream.reset = True  # never seen by the server: nothing more to send on it
                self._remove(stream)
        for stream in dropped:
            stream.events.put((CLOSED, error, True, 0))

    @staticmethod
    def _unpad(payload: bytes) -> bytes:
        if not payload or payload[0] >= len(payload):
            raise _ProtocolError(PROTOCOL_ERROR, "bad padding")
        return payload[1 : len(payload) - payload[0]]
