"""caisson-monitor for real: the binary is built from monitor.c with the Makefile's command and
runs /bin/sh and busybox children; logs are compared byte for byte with docker's json-file
format, attach goes through the real socket, and a pty is a real pty."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from caisson import errors
from caisson.executor import jsonlog
from caisson.executor import monitor as m

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "services" / "executor" / "monitor.c"
ENTRY = re.compile(
    rb'\{"log":"(.*)","stream":"(stdout|stderr)",'
    rb'"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z"\}'
)
WAIT = 30.0  # seconds before a test gives up on an event (never an assertion on timing)

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


@pytest.fixture(scope="session", autouse=True)
def binary() -> Iterator[Path]:
    out = Path(tempfile.mkdtemp(prefix="caisson-monitor-bin-"))
    path = out / "caisson-monitor"
    cmd = ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(path), str(SOURCE)]
    subprocess.run(cmd, check=True)
    old = os.environ.get("CAISSON_MONITOR")
    os.environ["CAISSON_MONITOR"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            del os.environ["CAISSON_MONITOR"]
        else:
            os.environ["CAISSON_MONITOR"] = old
        shutil.rmtree(out)


class Procs:
    """The pids a test started, killed at its end if still the same processes."""

    def __init__(self) -> None:
        self.pids: list[tuple[int, bytes]] = []

    def add(self, pid: int) -> None:
        self.pids.append((pid, _start_time(pid)))

    def kill_all(self) -> None:
        for pid, started in self.pids:
            if started and _start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)


def _start_time(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[19]
    except (OSError, IndexError):
        return b""


@pytest.fixture
def procs() -> Iterator[Procs]:
    p = Procs()
    try:
        yield p
    finally:
        p.kill_all()


@pytest.fixture
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="caisson-monitor-"))
    try:
        yield d
    finally:
        shutil.rmtree(d)


Run = Callable[..., tuple[m.ExitStatus, Path]]


def init(argv: list[str]) -> list[str]:
    """argv behind the smallest init: like the executor's, it closes fd 3 as it execs, which
    tells the monitor the process started (a plain child holds fd 3 until it exits)."""
    return ["/bin/sh", "-c", 'exec "$@" 3>&-', "init", *argv]


@pytest.fixture
def run(tmp: Path, procs: Procs) -> Run:
    """Runs argv under a monitor in tmp/mon with a log at tmp/log.json; returns the exit
    status and the log path once the monitor is done."""

    def go(argv: list[str], raw: bool = False, **opts: object) -> tuple[m.ExitStatus, Path]:
        d = tmp / "mon"
        d.mkdir(exist_ok=True)
        log = tmp / "log.json"
        started = m.spawn(m.MonitorOptions(dir=d, log=log, **opts), argv if raw else init(argv))  # type: ignore[arg-type]
        procs.add(started.child_pid)
        procs.add(started.monitor_pid)
        return wait_exit(d), log

    return go


def wait_exit(d: Path) -> m.ExitStatus:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        status = m.read_exit(d)
        if status is not None and not (d / m.ATTACH_SOCKET).exists():
            return status
        time.sleep(0.01)
    raise AssertionError(f"no exit status in {d}")


def entries(log: Path) -> list[tuple[bytes, bytes]]:
    """(escaped log text, stream) of every line, each line checked against docker's format."""
    out = []
    for line in log.read_bytes().split(b"\n")[:-1]:
        match = ENTRY.fullmatch(line)
        assert match, line
        out.append((match.group(1), match.group(2)))
    return out


def script(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return str(path)


def test_output_is_logged_per_stream_and_the_exit_code_recorded(run: Run) -> None:
    status, log = run(["/bin/sh", "-c", "echo out; echo err >&2; echo more; exit 3"])
    assert (status.exit_code, status.signal, status.started, status.error) == (3, 0, True, "")
    assert jsonlog.parse_time(status.finished_at) > 0
    got = entries(log)
    assert sorted(got) == sorted(
        [(b"out\\n", b"stdout"), (b"err\\n", b"stderr"), (b"more\\n", b"stdout")]
    )
    assert [e for e in got if e[1] == b"stdout"] == [
        (b"out\\n", b"stdout"),
        (b"more\\n", b"stdout"),
    ]


def test_escaping_is_go_encoding_json_byte_for_byte(run: Run, tmp: Path) -> None:
    data = (
        b'<a>&"\\\n'
        b"\x01\x1f\x7f\t\r\n"
        b"\xff\xc3\x28 \xe2\x80\xa8\xe2\x80\xa9 \xed\xa0\x80 \xf0\x9f\x98\x80 \xc3\xa9\n"
        b"no newline at the end"
    )
    (tmp / "data").write_bytes(data)
    status, log = run(["/bin/cat", str(tmp / "data")])
    assert status.exit_code == 0
    assert [e[0] for e in entries(log)] == [
        b'\\u003ca\\u003e\\u0026\\"\\\\\\n',
        b"\\u0001\\u001f\x7f\\t\\r\\n",
        b"\\ufffd\\ufffd( \\u2028\\u2029 \\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80 \xc3\xa9\\n",
        b"no newline at the end",
    ]


def test_a_long_line_is_split_in_16k_pieces(run: Run, tmp: Path) -> None:
    (tmp / "data").write_bytes(b"a" * 40960 + b"\nb\n")
    _, log = run(["/bin/cat", str(tmp / "data")])
    assert [e[0] for e in entries(log)] == [
        b"a" * 16384,
        b"a" * 16384,
        b"a" * 8192 + b"\\n",
        b"b\\n",
    ]


def test_signal_death_is_128_plus_the_signal(run: Run) -> None:
    status, _ = run(["/bin/sh", "-c", "kill -9 $$"])
    assert (status.exit_code, status.signal, status.started) == (137, 9, True)


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda tmp: str(tmp / "missing"), 127, "No such file or directory"),
        (
            lambda tmp: script(tmp, "plain", "true\n") and _chmod(tmp / "plain", 0o644),
            126,
            "Permission denied",
        ),
    ],
    ids=["not-found", "not-executable"],
)
def test_a_command_that_cannot_be_executed(
    tmp: Path, make: Callable[[Path], str], code: int, words: str
) -> None:
    d = tmp / "mon"
    d.mkdir()
    argv0 = make(tmp)
    with pytest.raises(m.StartFailed) as e:
        m.spawn(m.MonitorOptions(dir=d, log=tmp / "log.json"), [argv0])
    assert e.value.exit_code == code
    assert e.value.message == f"exec {argv0}: {words}"
    status = m.read_exit(d)
    assert status is not None
    assert (status.exit_code, status.started, status.error) == (code, False, e.value.message)
    assert not (d / m.ATTACH_SOCKET).exists()
    assert (tmp / "log.json").read_bytes() == b""


def _chmod(path: Path, mode: int) -> str:
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        (
            json.dumps({"exit_code": 126, "error": 'user "bob": café 😀'}),
            126,
            'user "bob": café 😀',
        ),
        ('{"error":"caf\u00e9 \\ud83d\\ude00 \\u00e9","exit_code":127}', 127, "café 😀 é"),
        # what would break the exit file's JSON is left out: a raw tab, a broken escape
        ('{"exit_code":1, "error":"a\tb\\x\\u12"}', 1, "abxu12"),
        ('{"error":"no code"}', 125, "no code"),
    ],
    ids=["python", "utf-8", "damaged", "no-code"],
)
def test_an_init_reports_its_setup_error_on_fd_3(
    tmp: Path, line: str, code: int, message: str
) -> None:
    d = tmp / "mon"
    d.mkdir()
    init = script(tmp, "init", "printf '%s\\n' \"$MSG\" >&$CAISSON_SYNC_FD\nexit 126\n")
    with pytest.raises(m.StartFailed) as e:
        m.spawn(m.MonitorOptions(dir=d), [init], {**os.environ, "MSG": line})
    assert (e.value.exit_code, e.value.message) == (code, message)
    status = m.read_exit(d)
    assert status is not None and not status.started
    assert (status.exit_code, status.error) == (code, message)


def test_an_init_that_closes_fd_3_has_started(run: Run, tmp: Path) -> None:
    init = script(tmp, "init", "exec 3>&-\necho up\nexit 5\n")
    status, log = run([init], raw=True)
    assert status.exit_code == 5 and status.started
    assert entries(log) == [(b"up\\n", b"stdout")]


def test_the_child_sees_only_its_stdio_and_fd_3_and_default_signals(run: Run) -> None:
    status, log = run(
        [
            "/bin/sh",
            "-c",
            'ls /proc/$$/fd; echo "sync=$CAISSON_SYNC_FD"; grep SigIgn /proc/$$/status',
        ],
        raw=True,
    )
    assert status.exit_code == 0
    assert [e[0] for e in entries(log)] == [
        b"0\\n",
        b"1\\n",
        b"2\\n",
        b"3\\n",
        b"sync=3\\n",
        b"SigIgn:\\t0000000000000000\\n",
    ]


def test_held_descriptors_live_as_long_as_the_container_and_never_reach_it(
    tmp: Path, procs: Procs
) -> None:
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    d = tmp / "mon"
    d.mkdir()
    gate = tmp / "gate"
    argv = ["/bin/sh", "-c", f"ls /proc/$$/fd; while [ ! -e {gate} ]; do sleep 0.05; done"]
    try:
        opts = m.MonitorOptions(dir=d, log=tmp / "log.json", hold_fds=(held.fileno(),))
        started = m.spawn(opts, init(argv))
    finally:
        held.close()
    procs.add(started.child_pid)
    procs.add(started.monitor_pid)
    # The monitor holds the bound port: nobody else can take it while the container runs.
    with pytest.raises(OSError), socket.socket() as other:
        other.bind(("127.0.0.1", port))
    gate.touch()
    assert wait_exit(d).exit_code == 0
    assert [e[0] for e in entries(tmp / "log.json")] == [b"0\\n", b"1\\n", b"2\\n"]
    deadline = time.monotonic() + WAIT
    while True:  # the monitor exits after recording the status, closing what it held
        try:
            with socket.socket() as other:
                other.bind(("127.0.0.1", port))
            break
        except OSError:
            assert time.monotonic() < deadline, "the held port was never released"
            time.sleep(0.02)


def test_newpid_makes_the_child_pid_1(run: Run) -> None:
    status, log = run(["/bin/sh", "-c", "echo $$"], newpid=True)
    assert status.exit_code == 0
    assert entries(log) == [(b"1\\n", b"stdout")]


def test_rotation_keeps_max_file_files_under_max_size(run: Run, tmp: Path) -> None:
    loop = 'i=0; while [ $i -lt 300 ]; do echo "line $i $DOTS"; i=$((i+1)); done'
    status, log = run(
        ["/bin/sh", "-c", loop.replace("$DOTS", "." * 32)], log_max_size=2000, log_max_file=3
    )
    assert status.exit_code == 0
    names = sorted(p.name for p in tmp.iterdir() if p.name.startswith("log.json"))
    assert names == ["log.json", "log.json.1", "log.json.2"]
    lines = []
    for name in reversed(names):
        assert 0 < (tmp / name).stat().st_size <= 2000
        lines += [e[0] for e in entries(tmp / name)]
    n = len(lines)
    assert lines == [
        f"line {i} ................................\\n".encode() for i in range(300 - n, 300)
    ]


def test_a_single_log_file_is_truncated(run: Run, tmp: Path) -> None:
    loop = 'i=0; while [ $i -lt 100 ]; do echo "line $i"; i=$((i+1)); done'
    _, log = run(["/bin/sh", "-c", loop], log_max_size=1000, log_max_file=1)
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("log.json")) == ["log.json"]
    assert 0 < log.stat().st_size <= 1000
    assert entries(log)[-1] == (b"line 99\\n", b"stdout")


def test_no_log_option_writes_no_log(tmp: Path, procs: Procs) -> None:
    d = tmp / "mon"
    d.mkdir()
    started = m.spawn(m.MonitorOptions(dir=d), ["/bin/sh", "-c", "echo hi"])
    procs.add(started.monitor_pid)
    assert wait_exit(d).exit_code == 0
    assert sorted(p.name for p in d.iterdir()) == ["exit", "monitor.pid"]


def launch(
    tmp: Path, procs: Procs, argv: list[str], **opts: object
) -> tuple[m.Spawned, m.AttachClient]:
    """A wait-attach monitor with its first client attached, the child started."""
    d = tmp / "mon"
    d.mkdir(exist_ok=True)
    options = m.MonitorOptions(dir=d, log=tmp / "log.json", wait_attach=True, **opts)  # type: ignore[arg-type]
    spawned = m.launch(options, init(argv))
    procs.add(spawned.monitor_pid)
    client = m.AttachClient(d)
    procs.add(spawned.started(WAIT).child_pid)
    return spawned, client


def collect(client: m.AttachClient) -> dict[str, bytes]:
    out = {"stdout": b"", "stderr": b""}
    for stream, data in client:
        out[stream] += data
    return out


def test_attach_gets_every_frame_and_the_exit(tmp: Path, procs: Procs) -> None:
    _, client = launch(
        tmp, procs, ["/bin/sh", "-c", "echo first; echo oops >&2; echo last; exit 7"]
    )
    with client:
        out = collect(client)
    assert out == {"stdout": b"first\nlast\n", "stderr": b"oops\n"}
    assert client.exit_status is not None
    assert (client.exit_status.exit_code, client.exit_status.started) == (7, True)
    assert client.exit_status == m.read_exit(tmp / "mon")


def test_stdin_is_forwarded_and_closed(tmp: Path, procs: Procs) -> None:
    _, client = launch(tmp, procs, ["/bin/sh", "-c", "cat; echo done"], stdin=True)
    with client:
        client.send_stdin(b"hello\n" + b"x" * 200_000 + b"\n")
        client.close_stdin()
        out = collect(client)
    assert out["stdout"] == b"hello\n" + b"x" * 200_000 + b"\ndone\n"
    assert client.exit_status is not None and client.exit_status.exit_code == 0


def test_a_client_may_send_and_close_at_once(tmp: Path, procs: Procs) -> None:
    spawned, first = launch(tmp, procs, ["/bin/sh", "-c", "wc -c"], stdin=True)
    with m.AttachClient(tmp / "mon") as quick:
        quick.send_stdin(b"y" * 300_000)
        quick.close_stdin()
    with first:
        assert collect(first)["stdout"].split() == [b"300000"]


def test_a_client_that_half_closes_still_gets_the_output(tmp: Path, procs: Procs) -> None:
    _, client = launch(tmp, procs, ["/bin/sh", "-c", "read x; echo got $x"], stdin=True)
    with client:
        client.send_stdin(b"it\n")
        client._sock.shutdown(socket.SHUT_WR)
        assert collect(client)["stdout"] == b"got it\n"


def test_without_stdin_the_child_reads_dev_null(run: Run) -> None:
    status, log = run(["/bin/sh", "-c", "cat; readlink /proc/self/fd/0"])
    assert status.exit_code == 0
    assert entries(log) == [(b"/dev/null\\n", b"stdout")]


def test_tty_is_a_pty_with_its_size_and_resize(tmp: Path, procs: Procs) -> None:
    argv = ["/bin/sh", "-c", "tty; stty size; read x; stty size"]
    _, client = launch(tmp, procs, argv, tty=True, stdin=True, tty_size=(24, 80))
    with client:
        lines: list[bytes] = []
        buf = b""
        for stream, data in client:
            assert stream == "stdout"
            buf += data
            if b"24 80\r\n" in buf and not lines:
                lines.append(buf)
                client.resize(30, 100)
                client.send_stdin(b"go\n")
        assert re.match(rb"/dev/pts/\d+\r\n24 80\r\ngo\r\n30 100\r\n$", buf), buf
    assert client.exit_status is not None and client.exit_status.exit_code == 0
    assert [e[1] for e in entries(tmp / "log.json")] == [b"stdout"] * 4


def test_tty_close_stdin_sends_end_of_file(tmp: Path, procs: Procs) -> None:
    _, client = launch(
        tmp, procs, ["/bin/sh", "-c", "cat >/dev/null; echo eof"], tty=True, stdin=True
    )
    with client:
        client.send_stdin(b"abc\n")
        client.close_stdin()
        out = collect(client)
    assert out["stdout"].endswith(b"eof\r\n")
    assert client.exit_status is not None and client.exit_status.exit_code == 0


def test_wait_attach_loses_no_output(tmp: Path, procs: Procs) -> None:
    # The child starts only once the client is there: its very first bytes reach the client.
    _, client = launch(tmp, procs, ["/bin/echo", "right away"])
    with client:
        assert collect(client)["stdout"] == b"right away\n"


def test_a_client_that_does_not_read_is_dropped_without_stalling_the_log(
    tmp: Path, procs: Procs
) -> None:
    argv = ["/bin/sh", "-c", "head -c 8000000 /dev/zero | tr '\\0' x; echo"]
    spawned, stuck = launch(tmp, procs, argv)
    with stuck:
        status = wait_exit(tmp / "mon")  # never read from `stuck` meanwhile
        assert status.exit_code == 0
        got = sum(len(data) for _, data in stuck)
    assert got < 8_000_001  # dropped before the end
    logged = b"".join(e[0] for e in entries(tmp / "log.json"))
    assert logged == b"x" * 8_000_000 + b"\\n"


def test_many_clients_get_the_same_output(tmp: Path, procs: Procs) -> None:
    d = tmp / "mon"
    d.mkdir()
    script_path = script(tmp, "s", "read x\necho one; echo two >&2\n")
    spawned = m.launch(m.MonitorOptions(dir=d, stdin=True), init([script_path]))
    procs.add(spawned.monitor_pid)
    procs.add(spawned.started(WAIT).child_pid)
    clients = [m.AttachClient(d) for _ in range(3)]
    try:
        results: list[dict[str, bytes]] = [{} for _ in clients]
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, collect(clients[i])))
            for i in range(3)
        ]
        for t in threads:
            t.start()
        clients[0].send_stdin(b"go\n")
        for t in threads:
            t.join(WAIT)
        assert results == [{"stdout": b"one\n", "stderr": b"two\n"}] * 3
    finally:
        for c in clients:
            c.close()


def test_the_monitor_outlives_its_spawner_killed(tmp: Path, procs: Procs) -> None:
    d = tmp / "mon"
    d.mkdir()
    log = tmp / "log.json"
    loop = "i=0; while [ $i -lt 20 ]; do echo $i; i=$((i+1)); sleep 0.05; done; exit 4"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from caisson.executor import monitor as m\n"
        "d, log, loop = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]\n"
        "s = m.spawn(m.MonitorOptions(dir=d, log=log), ['/bin/sh', '-c', 'exec \"$@\" 3>&-',"
        " 'init', '/bin/sh', '-c', loop])\n"
        "c = m.AttachClient(d)\n"  # attached too: a client killed mid-stream is just dropped
        "print(s.monitor_pid, s.child_pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    spawner = subprocess.Popen(
        [sys.executable, "-c", code, str(d), str(log), loop], stdout=subprocess.PIPE
    )
    procs.add(spawner.pid)
    try:
        assert spawner.stdout is not None
        pids = spawner.stdout.readline().split()
        for pid in pids:
            procs.add(int(pid))
        assert m.monitor_alive(d)
        spawner.kill()
        spawner.wait()
        status = wait_exit(d)
    finally:
        spawner.kill()
        spawner.wait()
    assert status.exit_code == 4
    assert [e[0] for e in entries(log)] == [f"{i}\\n".encode() for i in range(20)]
    assert not m.monitor_alive(d)


def test_follow_reads_a_live_rotating_log_exactly_once(tmp: Path, procs: Procs) -> None:
    d = tmp / "mon"
    d.mkdir()
    log = tmp / "log.json"
    loop = (
        'i=0; while [ $i -lt 400 ]; do echo "entry $i"; i=$((i+1));'
        " [ $((i % 50)) = 0 ] && sleep 0.01; done"
    )
    options = m.MonitorOptions(dir=d, log=log, log_max_size=1500, log_max_file=10)
    spawned = m.launch(options, init(["/bin/sh", "-c", loop]))
    procs.add(spawned.monitor_pid)
    procs.add(spawned.started(WAIT).child_pid)
    got = [
        e.data
        for e in jsonlog.read_log(log, tail=0, follow=True, stop=lambda: m.read_exit(d) is not None)
    ]
    # tail=0 skips what was there when reading began; what follows comes once, in order
    first = int(got[0].split()[1]) if got else 400
    assert got == [f"entry {i}\n".encode() for i in range(first, 400)]


def test_monitor_alive_checks_the_process_is_this_dirs_monitor(tmp: Path, procs: Procs) -> None:
    d = tmp / "mon"
    d.mkdir()
    assert not m.monitor_alive(d)  # no pid file
    spawned = m.launch(m.MonitorOptions(dir=d, stdin=True), init(["/bin/sh", "-c", "read x"]))
    procs.add(spawned.monitor_pid)
    procs.add(spawned.started(WAIT).child_pid)
    assert m.read_monitor_pid(d) == spawned.monitor_pid
    assert m.monitor_alive(d)
    other = tmp / "other"
    other.mkdir()
    (other / m.PID_FILE).write_text(f"{spawned.monitor_pid}\n")  # a monitor, but not this dir's
    assert not m.monitor_alive(other)
    (other / m.PID_FILE).write_text(f"{os.getpid()}\n")  # a live process, not a monitor
    assert not m.monitor_alive(other)
    with m.AttachClient(d) as c:
        c.close_stdin()
        assert list(c) == []
    wait_exit(d)
    assert not m.monitor_alive(d)


def test_attach_works_with_a_directory_path_longer_than_a_socket_address(
    tmp: Path, procs: Procs
) -> None:
    d = tmp / ("x" * 60) / ("y" * 60)
    d.mkdir(parents=True)
    spawned = m.launch(m.MonitorOptions(dir=d, wait_attach=True), ["/bin/echo", "long"])
    procs.add(spawned.monitor_pid)
    with m.AttachClient(d) as c:
        spawned.started(WAIT)
        assert list(c) == [("stdout", b"long\n")]


def test_errors_are_clear(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.Unavailable, match="cannot attach to .*is the process running"):
        m.AttachClient(tmp)
    (tmp / m.EXIT_FILE).write_text("{not json")
    with pytest.raises(errors.DataLoss, match="unreadable exit status"):
        m.read_exit(tmp)
    with pytest.raises(errors.Internal, match="--dir .*No such file or directory"):
        m.launch(m.MonitorOptions(dir=tmp / "missing"), ["/bin/true"])
    monkeypatch.setenv("CAISSON_MONITOR", str(tmp / "nope"))
    with pytest.raises(
        errors.FailedPrecondition, match="caisson-monitor not found at .*nope: run `make setup`"
    ):
        m.monitor_path()


def test_bad_usage_is_refused_before_detaching(binary: Path) -> None:
    for args in (["--", "/bin/true"], ["--dir", "/tmp"], ["--dir", "/tmp", "--bogus", "--", "x"]):
        result = subprocess.run([str(binary), *args], capture_output=True)
        assert result.returncode == 2
        assert result.stderr.startswith(b"caisson-monitor: ")


def test_mode_of_written_files(run: Run) -> None:
    status, log = run(["/bin/true"])
    assert status.exit_code == 0
    assert stat.S_IMODE(log.stat().st_mode) == 0o640
    assert json.loads((log.parent / "mon" / "exit").read_text())["exit_code"] == 0


def test_join_pid_runs_the_child_in_that_pid_namespace(tmp: Path, procs: Procs) -> None:
    first = tmp / "first"
    first.mkdir()
    options = m.MonitorOptions(dir=first, stdin=True, newpid=True)
    target = m.spawn(options, init(["/bin/sh", "-c", "read x"]))
    procs.add(target.monitor_pid)
    procs.add(target.child_pid)
    status, log = run_in(
        tmp,
        procs,
        ["/bin/sh", "-c", "readlink /proc/self/ns/pid; echo $$"],
        join_pid=target.child_pid,
    )
    ns = os.readlink(f"/proc/{target.child_pid}/ns/pid")
    assert ns != os.readlink("/proc/self/ns/pid")
    (link, _), (pid, _) = entries(log)
    assert link == ns.encode() + b"\\n"
    assert pid != b"1\\n"  # pid 1 is the target's process
    with m.AttachClient(first) as c:
        c.close_stdin()
        assert list(c) == []


def run_in(tmp: Path, procs: Procs, argv: list[str], **opts: object) -> tuple[m.ExitStatus, Path]:
    d = tmp / "mon"
    d.mkdir(exist_ok=True)
    options = m.MonitorOptions(dir=d, log=tmp / "log.json", **opts)  # type: ignore[arg-type]
    started = m.spawn(options, init(argv))
    procs.add(started.monitor_pid)
    procs.add(started.child_pid)
    return wait_exit(d), tmp / "log.json"


def test_a_log_that_cannot_be_opened_fails_the_start(tmp: Path) -> None:
    d = tmp / "mon"
    d.mkdir()
    with pytest.raises(m.StartFailed) as e:
        m.spawn(m.MonitorOptions(dir=d, log=tmp / "no" / "log.json"), ["/bin/true"])
    assert e.value.exit_code == 125
    assert e.value.message == "caisson-monitor: open the log: No such file or directory"
