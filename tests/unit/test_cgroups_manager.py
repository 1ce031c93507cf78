"""The cgroup manager against fake v1 and v2 trees in a temp dir.

The fake behaves like the kernel where the logic depends on it: mkdir creates a controller's
files, rmdir refuses while processes remain, cgroup.procs appends, freezing shows in
freezer.state / cgroup.events, subtree_control decides a child's controllers. Every write is
recorded so that tests assert what would reach the kernel, in order.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
from collections.abc import Iterator

import pytest

from caisson.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from caisson.executor import cgroup_manager as cm
from caisson.executor.cgroup_manager import (
    CgroupFS,
    CgroupV1,
    CgroupV2,
    Resources,
    cpus_to_cfs,
    open_cgroup,
    shares_to_weight,
)

UNLIMITED = "9223372036854771712"
MB = 1024 * 1024

V1_FILES: dict[str, dict[str, str]] = {
    "memory": {
        "memory.limit_in_bytes": UNLIMITED,
        "memory.memsw.limit_in_bytes": UNLIMITED,
        "memory.usage_in_bytes": "0",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    },
    "cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1"},
    "cpuacct": {"cpuacct.usage": "0"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": "", "cpuset.effective_cpus": ""},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "freezer": {"freezer.state": "THAWED"},
    "devices": {},
    "blkio": {},
}

V2_FILES: dict[str, dict[str, str]] = {
    "memory": {
        "memory.max": "max",
        "memory.swap.max": "max",
        "memory.current": "0",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    },
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000", "cpu.stat": "usage_usec 0\n"},
    "cpuset": {"cpuset.cpus": "", "cpuset.cpus.effective": "0-3"},
    "pids": {"pids.max": "max", "pids.current": "0"},
}


class FakeTree(CgroupFS):
    """A cgroup mount in a temp dir that reacts to writes as the kernel would."""

    def __init__(self, root: str, v2: bool, controllers: tuple[str, ...] | None = None) -> None:
        super().__init__(root)
        self.v2 = v2
        self.writes: list[tuple[str, str]] = []
        self.refuse: dict[str, int] = {}  # file name -> errno the "kernel" answers
        self.killed: list[int] = []
        self.immortal: set[int] = set()
        os.makedirs(root)
        if v2:
            offered = (
                controllers if controllers is not None else ("cpu", "cpuset", "memory", "pids")
            )
            self._files("", {"cgroup.controllers": " ".join(offered), "cgroup.subtree_control": ""})
            self._files("", {"cgroup.procs": "", "cpuset.cpus.effective": "0-3"})
        else:
            for c in controllers if controllers is not None else tuple(V1_FILES):
                os.mkdir(self.path(c))
                self._files(c, {"cgroup.procs": "", **V1_FILES[c]})
                if c == "cpuset":
                    self._files(c, {"cpuset.cpus": "0-3", "cpuset.mems": "0"})
                    self._files(c, {"cpuset.effective_cpus": "0-3"})

    def _files(self, rel: str, files: dict[str, str]) -> None:
        for name, content in files.items():
            with open(self.path(os.path.join(rel, name)), "w") as f:
                f.write(content)

    def mkdir(self, rel: str) -> None:
        os.mkdir(self.path(rel))
        files = {"cgroup.procs": ""}
        if self.v2:
            parent = os.path.dirname(rel)
            enabled = self.read(os.path.join(parent, "cgroup.subtree_control")).split()
            files.update(
                {
                    "cgroup.controllers": " ".join(enabled),
                    "cgroup.subtree_control": "",
                    "cgroup.events": "populated 0\nfrozen 0\n",
                    "cgroup.freeze": "0",
                    "cgroup.kill": "",
                }
            )
            for c in enabled:
                files.update(V2_FILES[c])
        else:
            files.update(V1_FILES[rel.split("/")[0]])
        self._files(rel, files)

    def rmdir(self, rel: str) -> None:
        if self.subdirs(rel) or self.read(os.path.join(rel, "cgroup.procs")).strip():
            raise OSError(errno.EBUSY, "Device or resource busy")
        shutil.rmtree(self.path(rel))

    def write(self, rel: str, data: str) -> None:
        name = os.path.basename(rel)
        if name in self.refuse:
            raise OSError(self.refuse[name], os.strerror(self.refuse[name]))
        self.writes.append((rel, data))
        d = os.path.dirname(rel)
        if name == "cgroup.procs":
            self._files(d, {name: self.read(rel) + data + "\n"})
        elif name == "cgroup.subtree_control":
            enabled = set(self.read(rel).split()) | {w[1:] for w in data.split()}
            self._files(d, {name: " ".join(sorted(enabled))})
        elif name == "cgroup.freeze":
            self._files(d, {"cgroup.events": f"populated 0\nfrozen {data}\n"})
        elif name == "cgroup.kill":
            for pid in self._pids(d):
                self.kill(pid, signal.SIGKILL)
        else:
            self._files(d, {name: data})

    def _pids(self, rel: str) -> list[int]:
        return [int(p) for p in self.read(os.path.join(rel, "cgroup.procs")).split()]

    def kill(self, pid: int, sig: int) -> None:
        """Stands in for os.kill: the process leaves every cgroup.procs as it dies."""
        assert sig == signal.SIGKILL
        self.killed.append(pid)
        if pid in self.immortal:
            return
        for dirpath, _, names in os.walk(self.root):
            if "cgroup.procs" in names:
                path = os.path.join(dirpath, "cgroup.procs")
                with open(path) as f:
                    left = [p for p in f.read().split() if p != str(pid)]
                with open(path, "w") as f:
                    f.write("".join(p + "\n" for p in left))

    def written(self, suffix: str) -> list[str]:
        return [v for r, v in self.writes if r.endswith(suffix)]

    def leftovers(self) -> list[str]:
        # The parent stays, shared by every container as docker's /docker does.
        return [d for d, _, _ in os.walk(self.root) if d.endswith("/ctr")]


@pytest.fixture
def v1(tmp_path: object) -> FakeTree:
    return FakeTree(os.path.join(str(tmp_path), "cg"), v2=False)


@pytest.fixture
def v2(tmp_path: object) -> FakeTree:
    return FakeTree(os.path.join(str(tmp_path), "cg"), v2=True)


@pytest.fixture(autouse=True)
def short_settle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(cm, "SETTLE_TIMEOUT", 0.2)
    yield


def v1_cgroup(fs: FakeTree, parent: str = "caisson") -> CgroupV1:
    cg = open_cgroup("ctr", parent, mode="hybrid", fs=fs, kill=fs.kill)
    assert isinstance(cg, CgroupV1)
    return cg


def v2_cgroup(fs: FakeTree, parent: str = "caisson") -> CgroupV2:
    cg = open_cgroup("ctr", parent, mode="v2", fs=fs, kill=fs.kill)
    assert isinstance(cg, CgroupV2)
    return cg


ALL = Resources(
    memory=64 * MB,
    memory_swap=128 * MB,
    cpu_quota=150_000,
    cpu_period=100_000,
    cpu_shares=512,
    cpuset_cpus="1-2",
    pids_limit=5,
)

# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (Resources(memory=4 * MB), "Minimum memory limit allowed is 6MB"),
        (
            Resources(memory_swap=128 * MB),
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            Resources(memory=64 * MB, memory_swap=32 * MB),
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (Resources(cpuset_cpus="abc"), "Invalid value abc for cpuset cpus"),
        (Resources(cpuset_cpus="3-1"), "Invalid value 3-1 for cpuset cpus"),
        (Resources(cpu_quota=500), "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
        (Resources(cpu_period=10), "CPU cfs period can not be less than 1ms"),
        (Resources(cpu_shares=-1), "invalid cpu shares -1"),
    ],
)
def test_values_docker_refuses(resources: Resources, message: str, v1: FakeTree) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        v1_cgroup(v1).create(resources)
    assert v1.writes == [] and v1.leftovers() == []


def test_cpus_to_cfs() -> None:
    assert cpus_to_cfs(1.5, 2) == (150_000, 100_000)
    assert cpus_to_cfs(0.01, 2) == (1000, 100_000)
    with pytest.raises(InvalidArgument, match="Range of CPUs is from 0.01 to 2.00, as there"):
        cpus_to_cfs(3, 2)


def test_shares_to_weight_as_runc() -> None:
    assert [shares_to_weight(s) for s in (2, 1024, 262144)] == [1, 39, 10000]


@pytest.mark.parametrize("bad", ["", "a/../b", "../x", "a//b"])
def test_bad_names(bad: str, v1: FakeTree) -> None:
    with pytest.raises(InvalidArgument, match="invalid cgroup"):
        open_cgroup(bad, mode="v1", fs=v1)
    with pytest.raises(InvalidArgument, match="invalid cgroup parent"):
        open_cgroup("ctr", bad or "/", mode="v1", fs=v1)


def test_mode_picks_the_implementation(v1: FakeTree) -> None:
    assert isinstance(open_cgroup("c", mode="v1", fs=v1), CgroupV1)
    assert isinstance(open_cgroup("c", mode="hybrid", fs=v1), CgroupV1)
    assert isinstance(open_cgroup("c", mode="v2", fs=v1), CgroupV2)
    assert isinstance(open_cgroup("c", fs=v1), CgroupV1)  # detected from the tree
    with pytest.raises(FailedPrecondition, match="no cgroup filesystem"):
        open_cgroup("c", mode="none", fs=v1)


# -- v1 -------------------------------------------------------------------------------------


def test_v1_create_writes_every_limit(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(ALL)
    assert sorted(cg.dirs()) == sorted(f"{c}/caisson/ctr" for c in cm.V1_CONTROLLERS)
    # memsw must never be below the limit: from unlimited, the limit comes down first.
    assert [r for r, _ in v1.writes if "memory" in r] == [
        "memory/caisson/ctr/memory.limit_in_bytes",
        "memory/caisson/ctr/memory.memsw.limit_in_bytes",
    ]
    assert v1.written("ctr/memory.limit_in_bytes") == [str(64 * MB)]
    assert v1.written("ctr/memory.memsw.limit_in_bytes") == [str(128 * MB)]
    assert v1.written("ctr/cpu.shares") == ["512"]
    assert v1.written("ctr/cpu.cfs_period_us") == ["100000"]
    assert v1.written("ctr/cpu.cfs_quota_us") == ["150000"]
    assert v1.written("ctr/pids.max") == ["5"]
    # cpuset: parent and child inherit cpus and mems before the child's own cpus.
    assert v1.written("caisson/cpuset.cpus") == ["0-3"]
    assert v1.written("caisson/cpuset.mems") == ["0"]
    assert v1.written("ctr/cpuset.mems") == ["0"]
    assert v1.written("ctr/cpuset.cpus") == ["0-3", "1-2"]


def test_v1_lowering_memory_writes_the_limit_first(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources(memory=100 * MB, memory_swap=200 * MB))
    v1.writes.clear()
    cg.set(Resources(memory=50 * MB, memory_swap=60 * MB))
    assert [os.path.basename(r) for r, _ in v1.writes] == [
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
    ]
    v1.writes.clear()
    cg.set(Resources(memory=200 * MB, memory_swap=400 * MB))  # growing: memsw first
    assert [os.path.basename(r) for r, _ in v1.writes] == [
        "memory.memsw.limit_in_bytes",
        "memory.limit_in_bytes",
    ]
    v1.writes.clear()
    cg.set(Resources(memory=-1))  # unlimited memory: unlimited swap too, swap first
    assert v1.writes == [
        ("memory/caisson/ctr/memory.memsw.limit_in_bytes", "-1"),
        ("memory/caisson/ctr/memory.limit_in_bytes", "-1"),
    ]
    v1.writes.clear()
    cg.set(Resources(pids_limit=0))
    assert v1.writes == [("pids/caisson/ctr/pids.max", "max")]


def test_v1_without_swap_accounting_ignores_swap(v1: FakeTree) -> None:
    os.remove(v1.path("memory/memory.memsw.limit_in_bytes"))
    del V1_FILES["memory"]["memory.memsw.limit_in_bytes"]
    try:
        v1_cgroup(v1).create(Resources(memory=64 * MB, memory_swap=128 * MB))
    finally:
        V1_FILES["memory"]["memory.memsw.limit_in_bytes"] = UNLIMITED
    assert [r for r, _ in v1.writes if "memory" in r] == [
        "memory/caisson/ctr/memory.limit_in_bytes"
    ]


def test_v1_processes_stats_oom(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources(memory=64 * MB))
    cg.add_process(4242)
    assert v1.written("ctr/cgroup.procs") == ["4242"] * len(cm.V1_CONTROLLERS)
    assert cg.procs() == [4242]
    v1._files("memory/caisson/ctr", {"memory.usage_in_bytes": "1000"})
    v1._files("cpuacct/caisson/ctr", {"cpuacct.usage": "777"})
    v1._files("pids/caisson/ctr", {"pids.current": "1"})
    assert cg.stats() == cm.Stats(
        memory_usage=1000, memory_limit=64 * MB, cpu_usage_ns=777, pids_current=1
    )
    assert not cg.oom_killed()
    v1._files(
        "memory/caisson/ctr",
        {"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"},
    )
    assert cg.oom_killed()


def test_v1_unlimited_memory_has_no_limit_in_stats(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources())
    assert cg.stats().memory_limit is None


def test_v1_freeze_thaw_kill_remove(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources())
    cg.add_process(11)
    cg.add_process(12)
    cg.freeze()
    cg.thaw()
    assert v1.written("ctr/freezer.state") == ["FROZEN", "THAWED"]
    v1.writes.clear()
    cg.kill_all()
    # frozen while killed so that nothing forks behind our back; thawed so that they die.
    assert v1.written("ctr/freezer.state") == ["FROZEN", "THAWED"]
    assert v1.killed == [11, 12] and cg.procs() == []
    cg.remove()
    cg.remove_parent()
    assert v1.leftovers() == [] and not cg.exists()


def test_v1_remove_names_the_busy_dir_and_removes_the_others(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources())
    v1._files("pids/caisson/ctr", {"cgroup.procs": "99\n"})
    with pytest.raises(FailedPrecondition, match=r"pids/caisson/ctr: processes still in it \(99\)"):
        cg.remove()
    assert cg.dirs() == ["pids/caisson/ctr"]
    v1._files("pids/caisson/ctr", {"cgroup.procs": ""})
    cg.remove()
    cg.remove_parent()
    assert v1.leftovers() == []


def test_v1_kill_all_gives_up_on_a_process_that_stays(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources())
    cg.add_process(7)
    v1.immortal.add(7)
    with pytest.raises(cm.Internal, match="timed out waiting for its processes to exit"):
        cg.kill_all()
    assert v1.written("ctr/freezer.state")[-1] == "THAWED"


def test_v1_kernel_refusal_names_the_file_and_leaves_nothing(v1: FakeTree) -> None:
    v1.refuse["memory.limit_in_bytes"] = errno.EBUSY
    cg = v1_cgroup(v1)
    with pytest.raises(FailedPrecondition) as e:
        cg.create(Resources(memory=64 * MB))
    path = v1.path("memory/caisson/ctr/memory.limit_in_bytes")
    assert str(e.value) == f"cannot write '{64 * MB}' to {path}: Device or resource busy"
    assert cg.dirs() == []


def test_v1_cpus_not_available(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    with pytest.raises(
        InvalidArgument, match="Requested CPUs are not available - requested 2-5, available: 0-3"
    ):
        cg.create(Resources(cpuset_cpus="2-5"))
    assert v1.leftovers() == []


def test_v1_existing_cgroup_is_not_adopted(v1: FakeTree) -> None:
    v1_cgroup(v1).create(Resources())
    with pytest.raises(AlreadyExists, match="cgroup caisson/ctr already exists"):
        v1_cgroup(v1).create(Resources())
    assert v1_cgroup(v1).exists()


def test_v1_missing_controller(tmp_path: object) -> None:
    fs = FakeTree(os.path.join(str(tmp_path), "cg"), v2=False, controllers=("memory", "cpu"))
    cg = v1_cgroup(fs)
    with pytest.raises(FailedPrecondition, match="--pids-limit needs the pids cgroup controller"):
        cg.create(Resources(pids_limit=3))
    assert fs.leftovers() == []
    cg.create(Resources(memory=64 * MB))  # what is there is enough without pids
    assert sorted(cg.dirs()) == ["cpu/caisson/ctr", "memory/caisson/ctr"]


def test_v1_nested_parent(v1: FakeTree) -> None:
    cg = v1_cgroup(v1, parent="caisson-test/sub")
    cg.create(Resources(cpuset_cpus="0"))
    assert v1.isdir("memory/caisson-test/sub/ctr")
    assert v1.read("cpuset/caisson-test/sub/cpuset.cpus") == "0-3"
    cg.remove()
    cg.remove_parent()
    assert not v1.exists("memory/caisson-test")


# -- v2 -------------------------------------------------------------------------------------


def test_v2_create_enables_controllers_and_writes_every_limit(v2: FakeTree) -> None:
    cg = v2_cgroup(v2)
    cg.create(ALL)
    assert cg.dirs() == ["caisson/ctr"]
    assert v2.written("cgroup.subtree_control") == ["+cpu +cpuset +memory +pids"] * 2
    assert v2.read("caisson/ctr/cgroup.controllers") == "cpu cpuset memory pids"
    assert v2.written("ctr/memory.max") == [str(64 * MB)]
    assert v2.written("ctr/memory.swap.max") == [str(64 * MB)]  # memswap - memory
    assert v2.written("ctr/cpu.weight") == [str(shares_to_weight(512))]
    assert v2.written("ctr/cpu.max") == ["150000 100000"]
    assert v2.written("ctr/cpuset.cpus") == ["1-2"]
    assert v2.written("ctr/pids.max") == ["5"]


def test_v2_updates(v2: FakeTree) -> None:
    cg = v2_cgroup(v2)
    cg.create(Resources(memory=64 * MB))
    v2.writes.clear()
    cg.set(Resources(memory_swap=96 * MB))  # against the memory limit already set
    cg.set(Resources(memory=-1, memory_swap=-1, cpu_quota=-1, pids_limit=-1))
    assert v2.writes == [
        ("caisson/ctr/memory.swap.max", str(32 * MB)),
        ("caisson/ctr/memory.max", "max"),
        ("caisson/ctr/memory.swap.max", "max"),
        ("caisson/ctr/cpu.max", "max 100000"),
        ("caisson/ctr/pids.max", "max"),
    ]


def test_v2_controller_the_host_lacks(tmp_path: object) -> None:
    fs = FakeTree(os.path.join(str(tmp_path), "cg"), v2=True, controllers=("memory",))
    cg = v2_cgroup(fs)
    with pytest.raises(FailedPrecondition, match="--pids-limit needs the pids cgroup controller"):
        cg.create(Resources(memory=64 * MB, pids_limit=3))
    assert fs.leftovers() == []
    cg.create(Resources(memory=64 * MB))
    assert fs.written("cgroup.subtree_control") == ["+memory"] * 2


def test_v2_processes_stats_oom(v2: FakeTree) -> None:
    cg = v2_cgroup(v2)
    cg.create(Resources(memory=64 * MB))
    cg.add_process(4242)
    assert cg.procs() == [4242]
    v2._files("caisson/ctr", {"memory.current": "1000", "pids.current": "1"})
    v2._files("caisson/ctr", {"cpu.stat": "usage_usec 5\nuser_usec 3\nsystem_usec 2\n"})
    assert cg.stats() == cm.Stats(
        memory_usage=1000, memory_limit=64 * MB, cpu_usage_ns=5000, pids_current=1
    )
    assert not cg.oom_killed()
    v2._files("caisson/ctr", {"memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"})
    assert cg.oom_killed()


def test_v2_freeze_thaw_kill_remove(v2: FakeTree) -> None:
    cg = v2_cgroup(v2)
    cg.create(Resources())
    cg.add_process(11)
    cg.freeze()
    assert "frozen 1" in v2.read("caisson/ctr/cgroup.events")
    cg.thaw()
    assert v2.written("ctr/cgroup.freeze") == ["1", "0"]
    cg.kill_all()
    assert v2.written("ctr/cgroup.kill") == ["1"] and cg.procs() == []
    cg.remove()
    cg.remove_parent()
    assert v2.leftovers() == []


def test_v2_kill_all_without_cgroup_kill(v2: FakeTree) -> None:
    cg = v2_cgroup(v2)
    cg.create(Resources())
    os.remove(v2.path("caisson/ctr/cgroup.kill"))  # kernels before 5.14
    cg.add_process(11)
    cg.add_process(12)
    cg.kill_all()
    assert v2.killed == [11, 12] and cg.procs() == []


def test_v2_cpus_not_available(v2: FakeTree) -> None:
    with pytest.raises(InvalidArgument, match="Requested CPUs are not available"):
        v2_cgroup(v2).create(Resources(cpuset_cpus="7"))
    assert v2.leftovers() == []


def test_v1_devices_deny_all_then_allow_dockers_list(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources(devices=cm.DEFAULT_DEVICES))
    assert v1.written("ctr/devices.deny") == ["a"]
    assert v1.written("ctr/devices.allow") == list(cm.DEFAULT_DEVICES)
    assert "c 1:3 rwm" in cm.DEFAULT_DEVICES and "c 136:* rwm" in cm.DEFAULT_DEVICES


def test_v1_privileged_devices_allow_all(v1: FakeTree) -> None:
    cg = v1_cgroup(v1)
    cg.create(Resources(devices=("a",)))
    assert v1.written("ctr/devices.deny") == []
    assert v1.written("ctr/devices.allow") == ["a"]
