"""A container's stdio on the user's terminal: the pump that `run`, `start -a`, `attach` and
`exec` share.

The daemon's Attach and Exec calls are bidirectional streams of the same shape: the first
request opens, then stdin bytes, window sizes and the end of input go up while stdout, stderr
and finally the exit status come down. Output is written as bytes to the real stdout and
stderr; stdin is read in a thread so output never waits for input. With a tty and a terminal
on stdin the terminal is put in raw mode (and restored on every way out) and window changes
are sent as resizes, as docker's hijacked streams do.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from caisson.cli import channel as rpc
from caisson.cli import lazy
from caisson.cli.context import Context
from caisson.cli.errors import CLIError

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import containers_pb2 as pb
else:
    pb = lazy.module("caisson_api.daemon.v1.containers_pb2")

CHUNK = 32 * 1024
# docker's ForwardAllSignals skips the signals a terminal session needs for itself; these are
# the ones a user sends to a foreground program.
PROXIED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None


def is_terminal(stream: Any) -> bool:
    fd = _fileno(stream)
    return fd is not None and os.isatty(fd)


def terminal_size(*streams: Any) -> pb.Resize | None:
    """The window size of the first stream that is a terminal (docker asks stdout)."""
    for stream in streams:
        fd = _fileno(stream)
        if fd is not None and os.isatty(fd):
            try:
                size = os.get_terminal_size(fd)
            except OSError:
                continue
            return pb.Resize(rows=size.lines, cols=size.columns)
    return None


class BinaryWriter:
    """Writes container output as bytes to a text stream's buffer; an in-memory text stream
    (tests) gets it decoded, with characters split across chunks kept whole."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._buffer = getattr(stream, "buffer", None)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(self, data: bytes) -> None:
        if self._buffer is not None:
            self._stream.flush()
            self._buffer.write(data)
            self._buffer.flush()
        else:
            self._stream.write(self._decoder.decode(data))
            self._stream.flush()


def _byte_reader(stream: Any) -> Callable[[], bytes]:
    """A read of whatever stdin has now (not a full chunk), so typed lines go up at once."""
    fd = _fileno(stream)
    if fd is not None:
        return lambda: os.read(fd, CHUNK)
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        return lambda: bytes(buffer.read1(CHUNK))
    return lambda: str(stream.read(CHUNK)).encode()


@contextlib.contextmanager
def raw_terminal(stream: Any) -> Iterator[None]:
    """Raw mode on the terminal behind stream for the duration; restored however it ends."""
    import termios
    import tty

    fd = _fileno(stream)
    if fd is None or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _on_signals(signals: tuple[int, ...], handler: Callable[[int], None]) -> Iterator[None]:
    """Installs handler for signals (main thread only: Python's rule) and restores after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, lambda signum, _frame: handler(signum)) for s in signals}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextlib.contextmanager
def forward_signals(kill: Callable[[str], None]) -> Iterator[None]:
    """docker's --sig-proxy: signals the CLI receives go to the container. The handler only
    queues them; a thread makes the Kill calls, so no RPC runs inside a signal handler."""
    pending: queue.Queue[int | None] = queue.Queue()

    def worker() -> None:
        while (signum := pending.get()) is not None:
            with contextlib.suppress(CLIError):
                kill(signal.Signals(signum).name)

    thread = threading.Thread(target=worker, name="sig-proxy", daemon=True)
    thread.start()
    try:
        with _on_signals(PROXIED_SIGNALS, pending.put):
            yield
    finally:
        pending.put(None)


Request = Any  # pb.AttachRequest or pb.ExecRequest: the same oneof shape
Response = Any  # pb.AttachResponse or pb.ExecResponse


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


class Detached(Exception):
    """The user typed the detach keys: the session ends, the container runs on (exit 0)."""


def detach_sequence(keys: str) -> bytes:
    """docker's --detach-keys ("ctrl-p,ctrl-q", "a,ctrl-z") as the bytes to watch for."""
    out = bytearray()
    for key in (keys or DEFAULT_DETACH_KEYS).split(","):
        k = key.strip().lower()
        if len(k) == 1:
            out.append(ord(k))
        elif k.startswith("ctrl-") and len(k) == 6 and "a" <= k[5] <= "z":
            out.append(ord(k[5]) - ord("a") + 1)
        elif k.startswith("ctrl-") and len(k) == 6 and k[5] in _CTRL:
            out.append(_CTRL[k[5]])
        else:
            raise CLIError(f"Invalid detach keys ({keys}) provided")
    return bytes(out)


class Outcome:
    """What a stdio session ended with: the id the daemon named first (the container for
    attach, the exec id for exec) and the exit status, None when the stream ended without."""

    def __init__(self) -> None:
        self.id = ""
        self.exit: pb.ExitStatus | None = None


class Pump:
    """One stdio session over an Attach or Exec stream."""

    def __init__(
        self,
        ctx: Context,
        request_type: type,
        open_message: Any,
        *,
        stdin: bool,
        tty: bool,
        detach_keys: str = "",
    ) -> None:
        self._ctx = ctx
        self._request_type = request_type
        self._open = open_message
        self._stdin = stdin
        self._tty = tty
        # Watched for on a terminal's input only, as docker does.
        self._detach = detach_sequence(detach_keys) if tty and stdin else b""
        self._detached = threading.Event()
        self._call: Any = None
        self._requests: queue.Queue[Request | None] = queue.Queue()

    def requests(self) -> Iterator[Request]:
        yield self._request_type(open=self._open)
        while (item := self._requests.get()) is not None:
            yield item

    def _feed_stdin(self) -> None:
        read = _byte_reader(self._ctx.stdin)
        held = b""  # the start of the detach sequence, held back until it is told apart
        while True:
            try:
                data = read()
            except (OSError, ValueError):
                data = b""
            if not data:
                # End of input: the container's stdin is closed (`echo hi | run -i cat`).
                self._requests.put(self._request_type(close_stdin=True))
                return
            if self._detach:
                data, held = self._scan(held + data)
                if held == self._detach:
                    self._detached.set()
                    if self._call is not None:
                        self._call.cancel()
                    return
            if data:
                self._requests.put(self._request_type(stdin=data))

    def _scan(self, data: bytes) -> tuple[bytes, bytes]:
        """(what to send, what to hold): the whole sequence, or a prefix of it that ends the
        data, is held; everything else goes to the container."""
        seq = self._detach
        i = data.find(seq)
        if i >= 0:
            return data[:i], seq
        for n in range(min(len(seq) - 1, len(data)), 0, -1):
            if data.endswith(seq[:n]):
                return data[:-n], seq[:n]
        return data, b""

    def _resize(self, _signum: int) -> None:
        size = terminal_size(self._ctx.stdout, self._ctx.stdin)
        if size is not None:
            self._requests.put(self._request_type(resize=size))

    def run(self, start: Callable[[Iterator[Request]], Iterator[Response]]) -> Outcome:
        """Streams until the daemon ends the call; RPC errors come out as rpc.RpcError."""
        outcome = Outcome()
        out = BinaryWriter(self._ctx.stdout)
        # A tty has one output stream; the daemon sends it as stdout, but be safe.
        err = out if self._tty else BinaryWriter(self._ctx.stderr)
        call = start(self.requests())
        self._call = call
        raw = self._tty and self._stdin and is_terminal(self._ctx.stdin)
        resize = self._tty and is_terminal(self._ctx.stdout)
        try:
            with (
                raw_terminal(self._ctx.stdin) if raw else contextlib.nullcontext(),
                _on_signals((signal.SIGWINCH,), self._resize)
                if resize
                else contextlib.nullcontext(),
            ):
                if self._stdin:
                    threading.Thread(target=self._feed_stdin, name="stdin", daemon=True).start()
                for response in call:
                    kind = response.WhichOneof("response")
                    if kind in ("attached", "started"):
                        outcome.id = getattr(response, kind)
                    elif kind == "stdout":
                        out.write(response.stdout)
                    elif kind == "stderr":
                        err.write(response.stderr)
                    elif kind == "exit":
                        outcome.exit = response.exit
        except KeyboardInterrupt:
            call.cancel()
            raise
        except rpc.RpcError:
            if self._detached.is_set():
                raise Detached() from None
            raise
        finally:
            # Ends the request stream, so gRPC's sending thread does not wait on it forever.
            self._requests.put(None)
        return outcome
