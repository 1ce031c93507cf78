"""The stdio pump with a fake stream (stdin forwarding, end of input, exit status, raw mode
restored on every way out, window resizes) and docker's --sig-proxy."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from caisson import server
from caisson.cli import attach
from caisson.cli.context import Context
from caisson_api.daemon.v1 import containers_pb2 as pb
from tests.unit import test_cli_containers_fake as fake
from tests.unit.test_cli_containers_fake import Daemon

daemon = fake.daemon  # the fixture
CAISSON = str(Path(sys.executable).with_name("caisson"))


def context(stdin: Any = None, stdout: Any = None, stderr: Any = None) -> Context:
    return Context(
        stdin or io.StringIO(),
        stdout or io.StringIO(),
        stderr or io.StringIO(),
        server.Address("unix", path="/nonexistent.sock"),
        None,
        "/nonexistent",
    )


Start = Callable[[Iterator[pb.AttachRequest]], Iterator[pb.AttachResponse]]


def echo_stream(seen: list[pb.AttachRequest], during: Callable[[], None] = lambda: None) -> Start:
    """A fake Attach: echoes stdin to stdout until the end of input, then exits 5."""

    def start(requests: Iterator[pb.AttachRequest]) -> Iterator[pb.AttachResponse]:
        seen.append(next(requests))
        yield pb.AttachResponse(attached="c1")
        yield pb.AttachResponse(stderr=b"ready\n")
        during()
        for req in requests:
            seen.append(req)
            kind = req.WhichOneof("request")
            if kind == "stdin":
                yield pb.AttachResponse(stdout=req.stdin)
            elif kind == "close_stdin":
                break
        yield pb.AttachResponse(exit=pb.ExitStatus(exit_code=5, started=True))

    return start


def test_pump_forwards_stdin_closes_at_eof_and_returns_the_exit() -> None:
    ctx = context(stdin=io.StringIO("abc\n"))
    seen: list[pb.AttachRequest] = []
    opened = pb.AttachOpen(container="c1", stdin=True, stdout=True, stderr=True)
    pump = attach.Pump(ctx, pb.AttachRequest, opened, stdin=True, tty=False)
    outcome = pump.run(echo_stream(seen))
    assert outcome.id == "c1" and outcome.exit == pb.ExitStatus(exit_code=5, started=True)
    assert ctx.stdout.getvalue() == "abc\n"  # type: ignore[attr-defined]
    assert ctx.stderr.getvalue() == "ready\n"  # type: ignore[attr-defined]
    assert seen[0].open == opened
    assert [r.WhichOneof("request") for r in seen[1:]] == ["stdin", "close_stdin"]


def test_pump_without_stdin_sends_only_the_open() -> None:
    ctx = context(stdin=io.StringIO("never read"))

    def start(requests: Iterator[pb.AttachRequest]) -> Iterator[pb.AttachResponse]:
        assert next(requests).WhichOneof("request") == "open"
        yield pb.AttachResponse(stdout=b"x")

    pump = attach.Pump(ctx, pb.AttachRequest, pb.AttachOpen(), stdin=False, tty=True)
    outcome = pump.run(start)
    assert outcome.exit is None and ctx.stdout.getvalue() == "x"  # type: ignore[attr-defined]
    assert ctx.stdin.read() == "never read"


def test_tty_output_has_one_stream() -> None:
    ctx = context()

    def start(requests: Iterator[pb.AttachRequest]) -> Iterator[pb.AttachResponse]:
        yield pb.AttachResponse(stderr=b"e")
        yield pb.AttachResponse(stdout=b"o")

    attach.Pump(ctx, pb.AttachRequest, pb.AttachOpen(), stdin=False, tty=True).run(start)
    assert ctx.stdout.getvalue() == "eo" and ctx.stderr.getvalue() == ""  # type: ignore[attr-defined]


@pytest.fixture
def terminal() -> Iterator[tuple[Any, int]]:
    """A pty: (the slave end as a file, the master fd)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    slave_file = os.fdopen(slave, "w")  # read through its fd, as the pump does
    try:
        yield slave_file, master
    finally:
        slave_file.close()
        os.close(master)


def _is_raw(fd: int) -> bool:
    lflag = termios.tcgetattr(fd)[3]
    return not lflag & (termios.ICANON | termios.ECHO)


def test_raw_mode_during_a_tty_session_and_restored_after(terminal: tuple[Any, int]) -> None:
    tty_file, master = terminal
    before = termios.tcgetattr(tty_file.fileno())
    raw_inside: list[bool] = []

    def during() -> None:
        raw_inside.append(_is_raw(tty_file.fileno()))
        os.write(master, b"\x04")  # what the user types reaches the container as bytes

    seen: list[pb.AttachRequest] = []
    ctx = context(stdin=tty_file, stdout=io.StringIO())
    pump = attach.Pump(ctx, pb.AttachRequest, pb.AttachOpen(), stdin=True, tty=True)

    def start(requests: Iterator[pb.AttachRequest]) -> Iterator[pb.AttachResponse]:
        next(requests)
        during()
        for req in requests:
            if req.WhichOneof("request") == "stdin":
                seen.append(req)
                break
        yield pb.AttachResponse(exit=pb.ExitStatus(exit_code=0, started=True))

    pump.run(start)
    assert raw_inside == [True]
    assert seen[0].stdin == b"\x04"  # raw: ^D is a byte, not the end of input
    assert termios.tcgetattr(tty_file.fileno()) == before


def test_raw_mode_restored_when_the_stream_fails(terminal: tuple[Any, int]) -> None:
    tty_file, _ = terminal
    before = termios.tcgetattr(tty_file.fileno())
    ctx = context(stdin=tty_file)

    def start(requests: Iterator[pb.AttachRequest]) -> Iterator[pb.AttachResponse]:
        next(requests)
        assert _is_raw(tty_file.fileno())
        raise RuntimeError("the daemon went away")
        yield  # a generator

    pump = attach.Pump(ctx, pb.AttachRequest, pb.AttachOpen(), stdin=True, tty=True)
    with pytest.raises(RuntimeError):
        pump.run(start)
    assert termios.tcgetattr(tty_file.fileno()) == before


def test_window_changes_are_sent_as_resizes(terminal: tuple[Any, int]) -> None:
    tty_file, _ = terminal
    ctx = context(stdin=io.StringIO(), stdout=tty_file)
    assert attach.terminal_size(tty_file) == pb.Resize(rows=40, cols=120)
    resizes: list[pb.Resize] = []

    def start(requests: Iterator[pb.AttachRequest]) -> Iterator[pb.AttachResponse]:
        next(requests)
        fcntl.ioctl(tty_file.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        os.kill(os.getpid(), signal.SIGWINCH)
        for req in requests:
            if req.WhichOneof("request") == "resize":
                resizes.append(req.resize)
                break
        yield pb.AttachResponse(exit=pb.ExitStatus(started=True))

    previous = signal.getsignal(signal.SIGWINCH)
    attach.Pump(ctx, pb.AttachRequest, pb.AttachOpen(), stdin=False, tty=True).run(start)
    assert resizes == [pb.Resize(rows=50, cols=132)]
    assert signal.getsignal(signal.SIGWINCH) == previous


def test_forward_signals_kills_with_the_signal_name_and_restores_handlers() -> None:
    sent: list[str] = []
    done = threading.Event()

    def kill(name: str) -> None:
        sent.append(name)
        done.set()

    previous = signal.getsignal(signal.SIGUSR1)
    with attach.forward_signals(kill):
        os.kill(os.getpid(), signal.SIGUSR1)
        assert done.wait(10)
    assert sent == ["SIGUSR1"]
    assert signal.getsignal(signal.SIGUSR1) == previous


def test_run_proxies_signals_to_the_container(daemon: Daemon) -> None:
    daemon.state.hold = True  # the container runs until it is killed
    daemon.state.output = [("stdout", b"started\n")]

    def signal_when_attached() -> None:
        deadline = time.monotonic() + 30
        while not daemon.asked(pb.AttachRequest) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_when_attached, daemon=True).start()
    code, out, _ = daemon.run("run", "busybox", "sleep", "100")
    assert (code, out) == (0, "started\n")
    assert [k.signal for k in daemon.asked(pb.KillContainerRequest)] == ["SIGTERM"]


def test_run_it_through_a_real_terminal(daemon: Daemon, terminal: tuple[Any, int]) -> None:
    """The installed `caisson` on a pty: raw mode while attached, the window size sent with
    the open, and the terminal as it was once the container has exited."""
    tty_file, master = terminal
    before = termios.tcgetattr(tty_file.fileno())
    daemon.state.output = [("stdout", b"hello\r\n")]
    daemon.state.exit = pb.ExitStatus(exit_code=3, started=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAISSON_")}
    proc = subprocess.run(
        [CAISSON, "-H", daemon.host, "run", "-it", "busybox", "sh"],
        stdin=tty_file,
        stdout=tty_file,
        stderr=subprocess.PIPE,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert b"hello\r\n" in os.read(master, 65536)
    assert termios.tcgetattr(tty_file.fileno()) == before
    (req,) = daemon.asked(pb.AttachRequest)
    assert req.open.stdin and req.open.size == pb.Resize(rows=40, cols=120)
    create = daemon.asked(pb.CreateContainerRequest)[0]
    assert create.config.tty and create.config.open_stdin and create.config.stdin_once
