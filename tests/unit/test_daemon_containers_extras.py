"""The daemon's logic for top (ps output filtered by the container's pids), stats rounds and
container prune filters, as docker 20.10's daemon."""

from __future__ import annotations

import datetime
import os
import subprocess
import tempfile
import threading

import pytest

from caisson import errors
from caisson.daemon import containerprune, containerstats, top
from caisson.daemon.containerrecord import ContainerRecord, State
from caisson_api.daemon.v1 import containers_pb2 as api
from caisson_api.executor.v1 import containers_pb2 as xpb

PS_EF = """\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root        4242    4200  0 10:01 ?        00:00:00 sh -c sleep 301 & sleep 302 & wait
root        4243    4242  0 10:01 ?        00:00:00 sleep 301
root        4300       1  0 10:02 ?        00:00:00 caisson-daemon --data-root /x
"""
PS_THREADS = """\
USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root      4242  0.0  0.0   1000   100 ?        -    10:01   0:00 app --serve
root         -  0.0    -      -     - -        Sl   10:01   0:00 -
root      4300  0.0  0.0   1000   100 ?        -    10:01   0:00 other
root         -  0.0    -      -     - -        Sl   10:01   0:00 -
"""


def rec(
    n: int, name: str, status: str = "exited", labels: dict[str, str] | None = None
) -> ContainerRecord:
    return ContainerRecord(
        id=f"{n:064x}",
        name=name,
        created=float(n * 100),
        image="x",
        image_id="sha256:" + "a" * 64,
        config=api.ContainerConfig(image="x", labels=labels or {}),
        host_config=api.HostConfig(),
        path="sh",
        args=[],
        state=State(status=status),
    )


# --- top -----------------------------------------------------------------------------------


def test_rows_of_the_container_pids_with_the_command_kept_whole() -> None:
    t = top.parse(PS_EF, [4242, 4243])
    assert t.titles == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert [p[1] for p in t.processes] == ["4242", "4243"]
    assert t.processes[0][-1] == "sh -c sleep 301 & sleep 302 & wait"
    assert all(len(p) == len(t.titles) for p in t.processes)


def test_thread_rows_follow_their_process() -> None:
    t = top.parse(PS_THREADS, [4242])
    assert [p[1] for p in t.processes] == ["4242", "-"]


def test_ps_output_without_a_pid_column_is_an_error() -> None:
    with pytest.raises(errors.Internal, match="Couldn't find PID field in ps output"):
        top.parse("USER COMMAND\nroot x\n", [1])
    with pytest.raises(errors.Internal, match="Unexpected pid 'abc'"):
        top.parse("PID CMD\nabc x\n", [1])


def test_ps_args_as_docker() -> None:
    assert top.ps_args([]) == "-ef"
    assert top.ps_args(["aux"]) == "aux"
    assert top.ps_args(["-o", "pid,comm"]) == "-o pid,comm"
    top.validate("-eo pid=PID,comm")
    with pytest.raises(errors.InvalidArgument, match='specifying "uid=PID" is not allowed'):
        top.validate("ae -o uid=PID")


def test_ps_runs_with_the_pids_then_without_them_when_refused() -> None:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        if "-q" in argv:
            return subprocess.CompletedProcess(argv, 1, "", "error: -q with forest\n")
        return subprocess.CompletedProcess(argv, 0, PS_EF, "")

    t = top.top("-ef f", [4243], run=run)
    assert calls == [["ps", "-ef", "f", "-q", "4243"], ["ps", "-ef", "f"]]
    assert [p[1] for p in t.processes] == ["4243"]

    def failing(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "error: unknown option\nusage...\n")

    with pytest.raises(errors.Internal, match="^ps: error: unknown option$"):
        top.top("--bogus", [1], run=failing)


def test_the_real_ps_shows_this_process() -> None:
    t = top.top("-ef", [os.getpid()])
    assert t.titles[:2] == ["UID", "PID"]
    assert [p[1] for p in t.processes] == [str(os.getpid())]


# --- stats ---------------------------------------------------------------------------------


def test_stats_rounds_leave_out_what_is_not_running() -> None:
    records = [rec(1, "a", "running"), rec(2, "b", "exited"), None, rec(3, "c", "running")]

    def sample(cid: str) -> xpb.StatsResponse:
        if cid == records[3].id:  # type: ignore[union-attr]
            raise errors.FailedPrecondition("stopped meanwhile")
        return xpb.StatsResponse(memory_usage=5, memory_limit=10, pids=2)

    rounds = list(containerstats.rounds(lambda: records, sample, False, threading.Event()))
    assert len(rounds) == 1
    (only,) = rounds[0]
    assert (only.name, only.memory_usage, only.memory_limit, only.pids) == ("/a", 5, 10, 2)


def test_stats_stream_until_stopped() -> None:
    stopped = threading.Event()
    got = []
    for r in containerstats.rounds(lambda: [], lambda cid: xpb.StatsResponse(), True, stopped, 0):
        got.append(r)
        if len(got) == 3:
            stopped.set()
    assert got == [[], [], []]


# --- prune ---------------------------------------------------------------------------------


def test_until_takes_durations_dates_and_unix_times() -> None:
    now = 1_700_000_000.0
    assert containerprune.timestamp("10m", now) == now - 600
    assert containerprune.timestamp("1h30m", now) == now - 5400
    assert containerprune.timestamp("1.5h", now) == now - 5400
    assert containerprune.timestamp("1699999999", now) == 1_699_999_999
    assert containerprune.timestamp("1699999999.5", now) == 1_699_999_999.5
    assert containerprune.timestamp("2023-11-14T22:13:20Z", now) == 1_700_000_000
    local = datetime.datetime(2023, 11, 14).timestamp()
    assert containerprune.timestamp("2023-11-14", now) == local
    with pytest.raises(
        errors.InvalidArgument, match='failed to parse value as time or duration: "soon"'
    ):
        containerprune.timestamp("soon", now)


def test_prune_filters_are_checked() -> None:
    with pytest.raises(errors.InvalidArgument, match="Invalid filter 'name'"):
        containerprune.parse(["name=x"])
    with pytest.raises(errors.InvalidArgument, match="more than one until filter"):
        containerprune.parse(["until=1", "until=2"])
    f = containerprune.parse(["label=a", "label!=b=1", "until=10m"], now=1000.0)
    assert (f.until, f.labels, f.not_labels) == (400.0, ("a",), ("b=1",))


def test_prune_selects_stopped_containers_by_filters() -> None:
    records = [
        rec(1, "old", labels={"a": "1"}),
        rec(2, "running", "running", labels={"a": "1"}),
        rec(3, "paused", "paused"),
        rec(4, "created", "created", labels={"a": "2", "b": "1"}),
        rec(5, "new", labels={"a": "1"}),
    ]

    def names(*filters: str) -> list[str]:
        f = containerprune.parse(list(filters), now=10_000.0)
        return [r.name for r in containerprune.selected(records, f)]

    assert names() == ["old", "created", "new"]
    assert names("until=450") == ["old", "created"]  # created before the time
    assert names("label=a=1") == ["old", "new"]
    assert names("label=a", "label!=b=1") == ["old", "new"]
    assert names("label=b") == ["created"]


def test_the_writable_layer_size_counts_files_once() -> None:
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/upper/sub")
        with open(f"{d}/upper/sub/f", "wb") as f:
            f.write(b"x" * 1000)
        os.link(f"{d}/upper/sub/f", f"{d}/upper/hard")
        os.symlink("sub/f", f"{d}/upper/link")
        r = rec(1, "x")
        r.rootfs = f"{d}/rootfs"
        assert containerprune.writable_layer_size(r) == 1000 + len("sub/f")
        r.rootfs = ""
        assert containerprune.writable_layer_size(r) == 0
