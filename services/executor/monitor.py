"""The executor's side of caisson-monitor (monitor.c), the process that owns one container
process's stdio, log and exit status, and outlives the executor and the daemon.

The monitor's contract:

    caisson-monitor --dir DIR [--log PATH [--log-max-size BYTES] [--log-max-file N]]
                    [--tty [--tty-size ROWSxCOLS]] [--stdin] [--wait-attach]
                    [--newpid | --join-pid PID] [--sync-fd N] -- PATH [ARG...]

- It detaches at once (its first process exits 0: `spawn` reaps it) and writes, in DIR,
  `monitor.pid`, `attach.sock` (a unix stream socket) and, once the child is gone, `exit`
  (`{"exit_code","signal","started","finished_at","error"}`); files appear by rename only.
- On the sync fd it writes JSON lines: `{"event":"listening","pid":MONITOR}`, then
  `{"event":"started","pid":CHILD}` or `{"event":"failed","exit_code":N,"error":"..."}`.
- The child (PATH, exec'd with execv) gets fd 3 and CAISSON_SYNC_FD=3: a line
  `{"error":"...","exit_code":N}` there means its setup failed; EOF means it exec'd. When PATH
  itself cannot be exec'd the exit code is 127 (not found) or 126. A child that is not such an
  init keeps fd 3 open (it is not close-on-exec for it), so "started" comes only when it exits.
- The log is docker's json-file format, rotated like docker's (`--log-max-size`, 0 =
  unlimited; `--log-max-file`, default 1 = truncate); jsonlog.py reads it.
- attach.sock frames, both ways: 1 byte type, 3 zero bytes, big-endian uint32 length, payload.
  Monitor to client: 1 stdout, 2 stderr, 5 exit (the exit JSON, last). Client to monitor:
  0 stdin, 3 resize (uint16 rows, cols), 4 close stdin.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from caisson import errors

PID_FILE = "monitor.pid"
EXIT_FILE = "exit"
ATTACH_SOCKET = "attach.sock"

FRAME_STDIN, FRAME_STDOUT, FRAME_STDERR, FRAME_RESIZE, FRAME_CLOSE_STDIN, FRAME_EXIT = range(6)
_HEADER = struct.Struct(">B3xI")
_STDIN_CHUNK = 64 * 1024  # well under the monitor's largest accepted frame (1 MiB)
_SUN_PATH_MAX = 107


def monitor_path() -> Path:
    """The caisson-monitor binary: next to the Python interpreter (where `make setup` builds
    it), or $CAISSON_MONITOR."""
    env = os.environ.get("CAISSON_MONITOR")
    path = Path(env) if env else Path(sys.executable).parent / "caisson-monitor"
    if not os.access(path, os.X_OK):
        raise errors.FailedPrecondition(f"caisson-monitor not found at {path}: run `make setup`")
    return path


@dataclass(frozen=True)
class MonitorOptions:
    dir: Path
    log: Path | None = None
    log_max_size: int = 0
    log_max_file: int = 1
    tty: bool = False
    tty_size: tuple[int, int] | None = None  # rows, cols
    # With tty: the child makes the terminal in its own devpts and sends the master back on
    # fd 3 (a unix socket then) with SCM_RIGHTS, as runc's --console-socket.
    console: bool = False
    stdin: bool = False
    wait_attach: bool = False
    newpid: bool = False
    join_pid: int | None = None
    # Descriptors the monitor keeps open until the container ends (published host ports).
    hold_fds: tuple[int, ...] = ()

    def args(self) -> list[str]:
        """The monitor's flags (paths made absolute: monitor_alive compares --dir)."""
        a = ["--dir", os.path.abspath(self.dir)]
        if self.log is not None:
            a += ["--log", os.path.abspath(self.log), "--log-max-size", str(self.log_max_size)]
            a += ["--log-max-file", str(self.log_max_file)]
        if self.tty:
            a.append("--tty")
            if self.tty_size:
                a += ["--tty-size", f"{self.tty_size[0]}x{self.tty_size[1]}"]
            if self.console:
                a.append("--console")
        if self.stdin:
            a.append("--stdin")
        if self.wait_attach:
            a.append("--wait-attach")
        if self.newpid:
            a.append("--newpid")
        if self.join_pid is not None:
            a += ["--join-pid", str(self.join_pid)]
        for fd in self.hold_fds:
            a += ["--hold-fd", str(fd)]
        return a


@dataclass(frozen=True)
class Started:
    monitor_pid: int
    child_pid: int


class StartFailed(errors.FailedPrecondition):
    """The process never ran: its setup or its exec failed. `exit_code` is docker's (126: cannot
    be invoked, 127: not found, 125: the monitor itself failed)."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int
    signal: int
    started: bool
    finished_at: str  # RFC 3339 with nanoseconds, UTC
    error: str


class Spawned:
    """A monitor that is listening on attach.sock; `started()` waits for its child to run.
    Between the two a caller attaches (with wait_attach the child starts only then)."""

    def __init__(self, dir: Path, sync_fd: int, monitor_pid: int) -> None:
        self.dir = Path(dir)
        self.monitor_pid = monitor_pid
        self._fd = sync_fd
        self._buf = b""

    def started(self, timeout: float = 60.0) -> Started:
        """Waits for the child's start; raises StartFailed when it did not start."""
        try:
            event = self._event(time.monotonic() + timeout)
        finally:
            self.close()
        if event is None:
            status = read_exit(self.dir)
            if status is not None and not status.started:
                raise StartFailed(status.exit_code, status.error)
            raise errors.Internal("caisson-monitor ended before reporting the process's start")
        if event.get("event") == "failed":
            raise StartFailed(int(event.get("exit_code", 125)), str(event.get("error", "")))
        if event.get("event") != "started":
            raise errors.Internal(f"caisson-monitor sent an unexpected event: {event}")
        return Started(self.monitor_pid, int(event["pid"]))

    def _event(self, deadline: float) -> dict[str, Any] | None:
        """The next sync line (None at EOF); Internal when the monitor says nothing in time."""
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                raise errors.Internal(f"caisson-monitor for {self.dir} did not answer in time")
            chunk = os.read(self._fd, 4096)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            event = json.loads(line)
        except ValueError as e:
            raise errors.Internal(f"caisson-monitor sent a bad sync line: {line!r}") from e
        if not isinstance(event, dict):
            raise errors.Internal(f"caisson-monitor sent a bad sync line: {line!r}")
        return event

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Spawned:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def launch(
    options: MonitorOptions,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 10.0,
) -> Spawned:
    """Starts a monitor for `argv` and returns once it listens on attach.sock."""
    if not argv:
        raise errors.InvalidArgument("no command to run")
    binary = monitor_path()
    r, w = os.pipe()
    try:
        try:
            proc = subprocess.Popen(
                [str(binary), *options.args(), "--sync-fd", str(w), "--", *argv],
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                close_fds=True,
                pass_fds=(w, *options.hold_fds),
                start_new_session=True,
            )
        finally:
            os.close(w)
        spawned = Spawned(options.dir, r, 0)
    except BaseException:
        os.close(r)
        raise
    try:
        # The first process only checks the flags and forks the monitor: it exits at once and
        # is reaped after the monitor's first word, which does not wait for that exit (read in
        # this order, the word comes some 0.3 ms sooner). A first process that failed forked
        # nothing: its end closed the sync pipe, and its stderr says why.
        event = spawned._event(time.monotonic() + timeout)
        _, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise errors.Internal(err.decode(errors="replace").strip() or "caisson-monitor failed")
        if event is not None and event.get("event") == "failed":
            raise StartFailed(int(event.get("exit_code", 125)), str(event.get("error", "")))
        if event is None or event.get("event") != "listening":
            raise errors.Internal(f"caisson-monitor did not start listening: {event}")
        spawned.monitor_pid = int(event["pid"])
    except BaseException:
        spawned.close()
        raise
    return spawned


def spawn(
    options: MonitorOptions,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 60.0,
) -> Started:
    """Starts `argv` under a monitor and waits for it to run. With wait_attach use `launch`,
    attach, then `started()`: here nobody would attach."""
    if options.wait_attach:
        raise ValueError("wait_attach needs launch(): attach before started()")
    return launch(options, argv, env, timeout=min(timeout, 10.0)).started(timeout)


def read_exit(dir: Path) -> ExitStatus | None:
    """The recorded exit of the monitor's child, None while there is none."""
    path = Path(dir) / EXIT_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return _exit_status(data, str(path))


def _exit_status(data: bytes, where: str) -> ExitStatus:
    try:
        d = json.loads(data)
        return ExitStatus(
            exit_code=int(d["exit_code"]),
            signal=int(d["signal"]),
            started=bool(d["started"]),
            finished_at=str(d["finished_at"]),
            error=str(d["error"]),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise errors.DataLoss(f"unreadable exit status in {where}") from e


def read_monitor_pid(dir: Path) -> int | None:
    try:
        return int((Path(dir) / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def monitor_alive(dir: Path) -> bool:
    """Whether the monitor of `dir` still runs. The pid alone could be a recycled one: the
    process must also be a caisson-monitor for this very --dir (a zombie has no cmdline)."""
    pid = read_monitor_pid(dir)
    if pid is None:
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not args or not args[0].endswith(b"caisson-monitor"):
        return False
    want = os.fsencode(os.path.abspath(dir))
    return any(a == b"--dir" and b == want for a, b in zip(args, args[1:], strict=False))


class Output(NamedTuple):
    stream: str  # "stdout" | "stderr"
    data: bytes


class AttachClient:
    """One connection to a monitor's attach.sock. Iterating yields the output from now on until
    the child is gone; then `exit_status` holds its exit (None if the monitor vanished without
    one). One thread may read while another sends."""

    def __init__(self, dir: Path) -> None:
        self.dir = Path(dir)
        self.exit_status: ExitStatus | None = None
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _connect(self._sock, self.dir / ATTACH_SOCKET)
        except OSError as e:
            self._sock.close()
            raise errors.Unavailable(
                f"cannot attach to {self.dir}: {e.strerror or e} (is the process running?)"
            ) from e
        self._reader = self._sock.makefile("rb", buffering=65536)

    def __iter__(self) -> Iterator[Output]:
        while True:
            try:
                header = self._reader.read(_HEADER.size)
                kind, length = _HEADER.unpack(header)
                payload = self._reader.read(length)
            except (OSError, ValueError, struct.error):  # closed, here or by the monitor
                break
            if len(payload) < length:
                break
            if kind == FRAME_STDOUT:
                yield Output("stdout", payload)
            elif kind == FRAME_STDERR:
                yield Output("stderr", payload)
            elif kind == FRAME_EXIT:
                self.exit_status = _exit_status(payload, str(self.dir / ATTACH_SOCKET))
                return
        self.exit_status = read_exit(self.dir)

    def send_stdin(self, data: bytes) -> None:
        for i in range(0, len(data), _STDIN_CHUNK):
            self._send(FRAME_STDIN, data[i : i + _STDIN_CHUNK])

    def close_stdin(self) -> None:
        self._send(FRAME_CLOSE_STDIN, b"")

    def resize(self, rows: int, cols: int) -> None:
        self._send(FRAME_RESIZE, struct.pack(">HH", rows, cols))

    def _send(self, kind: int, payload: bytes) -> None:
        try:
            with self._lock:
                self._sock.sendall(_HEADER.pack(kind, len(payload)) + payload)
        except OSError as e:
            raise errors.Unavailable(f"attach to {self.dir}: {e.strerror or e}") from e

    def close(self) -> None:
        """Ends the connection; a thread blocked reading it sees the end."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._reader.close()
        self._sock.close()

    def __enter__(self) -> AttachClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(sock: socket.socket, path: Path) -> None:
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        sock.connect(str(path))
        return
    # A longer path does not fit a sockaddr_un: reach it through the directory's descriptor.
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)
