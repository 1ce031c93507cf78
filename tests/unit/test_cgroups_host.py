"""The cgroup manager on this host's real cgroups (root only), with real child processes.

Each test works under its own parent, caisson-test-<random>, kills only the processes it
started (and their children, through the cgroup), and removes every directory it made even
when it fails; the last check is that no directory of that parent is left in any hierarchy.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from caisson.errors import FailedPrecondition, InvalidArgument
from caisson.executor import cgroup_manager
from caisson.executor.cgroup_manager import Cgroup, CgroupFS, CgroupV1, Resources, open_cgroup
from caisson.executor.cgroups import detect_mode
from tests.support.cgroups import host_cgroup, leftovers

MB = 1024 * 1024

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(detect_mode() not in ("v1", "hybrid", "v2"), reason="no cgroups"),
]


@pytest.fixture
def cgroup() -> Iterator[Cgroup]:
    with host_cgroup("ctr") as cg:
        yield cg


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as f:
        line = next(x for x in f if x.startswith("State:"))
    return line.split()[1]


def _wait_for(cond: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _controller_file(cg: Cgroup, name: str) -> str:
    rel = os.path.join(cg.parent, cg.id, name)
    if isinstance(cg, CgroupV1):
        rel = os.path.join(name.partition(".")[0], rel)
    with open(cg.fs.path(rel)) as f:
        return f.read().strip()


def test_lifecycle_of_a_real_process(cgroup: Cgroup) -> None:
    child = subprocess.Popen(["sleep", "300"])
    try:
        cgroup.create(
            Resources(
                memory=64 * MB,
                memory_swap=64 * MB,
                cpu_shares=512,
                cpu_quota=50_000,
                cpu_period=100_000,
                cpuset_cpus="0",
                pids_limit=10,
            )
        )
        cgroup.add_process(child.pid)
        assert cgroup.procs() == [child.pid]
        assert _controller_file(cgroup, "pids.max") == "10"
        stats = cgroup.stats()
        assert stats.memory_limit == 64 * MB
        assert stats.pids_current == 1
        assert stats.cpu_usage_ns >= 0
        assert not cgroup.oom_killed()

        cgroup.set(Resources(memory=32 * MB, memory_swap=32 * MB, pids_limit=0))
        assert cgroup.stats().memory_limit == 32 * MB
        assert _controller_file(cgroup, "pids.max") == "max"

        cgroup.freeze()
        assert _state(child.pid) == "D"  # frozen tasks show as uninterruptible sleep
        cgroup.thaw()
        _wait_for(lambda: _state(child.pid) == "S", "thawed sleep is sleeping again")

        cgroup.kill_all()
        assert child.wait(timeout=10) == -9
        assert cgroup.procs() == []
        cgroup.remove()
        assert not cgroup.exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_pids_limit_stops_forks(cgroup: Cgroup) -> None:
    # The shell waits for a line, so that it is in the cgroup before it forks anything.
    script = "read _; for i in 1 2 3 4 5 6 7 8; do sleep 300 >/dev/null 2>&1 & done; echo end"
    shell = subprocess.Popen(
        ["/bin/sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        cgroup.create(Resources(pids_limit=5))
        cgroup.add_process(shell.pid)
        _, err = shell.communicate("\n", timeout=30)
        assert "fork" in err.lower()
        assert 0 < cgroup.stats().pids_current <= 5
        assert int(_controller_file(cgroup, "pids.events").split()[1]) > 0  # "max N" refusals
        cgroup.kill_all()
        assert cgroup.procs() == []
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()


def test_oom_kill_is_reported(cgroup: Cgroup) -> None:
    cgroup.create(Resources(memory=16 * MB, memory_swap=16 * MB))
    hog = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline(); b = bytearray(200 << 20)"],
        stdin=subprocess.PIPE,
    )
    try:
        cgroup.add_process(hog.pid)
        assert hog.stdin is not None
        hog.stdin.write(b"\n")
        hog.stdin.close()
        assert hog.wait(timeout=30) == -9
        assert cgroup.oom_killed()
    finally:
        if hog.poll() is None:
            hog.kill()
            hog.wait()


def test_remove_with_a_live_process_names_the_cgroup(
    cgroup: Cgroup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cgroup_manager, "SETTLE_TIMEOUT", 0.2)
    child = subprocess.Popen(["sleep", "300"])
    try:
        cgroup.create(Resources())
        cgroup.add_process(child.pid)
        with pytest.raises(FailedPrecondition, match=f"{cgroup.parent}/ctr.*processes still in it"):
            cgroup.remove()
        assert cgroup.procs() == [child.pid]
    finally:
        child.kill()
        child.wait()


def test_unavailable_cpus_are_refused_before_anything_is_made(cgroup: Cgroup) -> None:
    with pytest.raises(InvalidArgument, match="Requested CPUs are not available - requested 0-63"):
        cgroup.create(Resources(cpuset_cpus="0-63"))
    assert not cgroup.exists()


@pytest.mark.skipif(
    not os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"), reason="no hybrid v2 mount"
)
def test_v2_on_the_hybrid_unified_mount() -> None:
    # The unified mount offers no resource controller here, but cgroup.procs, cgroup.freeze,
    # cgroup.kill and cpu.stat are core v2 files: the v2 lifecycle runs for real on it.
    parent = f"caisson-test-{secrets.token_hex(4)}"
    cg = open_cgroup("ctr", parent, mode="v2", fs=CgroupFS("/sys/fs/cgroup/unified"))
    child = subprocess.Popen(["sleep", "300"])
    try:
        cg.create(Resources())
        cg.add_process(child.pid)
        assert cg.procs() == [child.pid]
        assert cg.stats().cpu_usage_ns >= 0
        cg.freeze()
        with open(f"/sys/fs/cgroup/unified/{parent}/ctr/cgroup.events") as f:
            assert "frozen 1" in f.read().split("\n")
        assert _state(child.pid) == "S"  # v2 freezing parks tasks in the signal path
        assert cg.procs() == [child.pid]
        cg.thaw()
        cg.kill_all()
        assert child.wait(timeout=10) == -9
        cg.remove()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        try:
            if cg.exists():
                cg.kill_all()
                cg.remove()
        finally:
            cg.remove_parent()
            assert leftovers(parent) == [] and leftovers(f"unified/{parent}") == []
