"""A container's cgroup: create it, limit it, watch it, freeze it, empty it, remove it.

Two implementations behind one interface, like libcontainer's fs and fs2 managers:
- `CgroupV1`: one directory per controller, /sys/fs/cgroup/<controller>/<parent>/<id>
  (used on v1 and hybrid hosts, where the v2 mount has no controllers to offer);
- `CgroupV2`: one directory in the unified hierarchy, /sys/fs/cgroup/<parent>/<id>, with the
  controllers it needs enabled in every ancestor's cgroup.subtree_control.

Every file access goes through `CgroupFS` (a root path plus plain file operations), so the
logic runs unchanged against a fake tree in a temp dir. Values are checked before any write and
refused with Docker's wording; the kernel's own refusals name the file and the value.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from caisson.errors import (
    AlreadyExists,
    CaissonError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
)
from caisson.executor.cgroups import CGROUP_ROOT, detect_mode

DEFAULT_PARENT = "caisson"
MIN_MEMORY = 6 * 1024 * 1024  # docker refuses less: a container cannot even start below it
CFS_PERIOD = 100_000  # microseconds; docker's period for --cpus
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids")
SETTLE_TIMEOUT = 5.0  # seconds to wait for freezing, thawing, processes to exit
_POLL = 0.01
# docker's (runc's) allow-list: mknod of anything, and use of the standard nodes only. Without
# it, CAP_MKNOD (a default capability) lets a container make and open a host disk's node.
DEFAULT_DEVICES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",  # null
    "c 1:5 rwm",  # zero
    "c 1:7 rwm",  # full
    "c 1:8 rwm",  # random
    "c 1:9 rwm",  # urandom
    "c 5:0 rwm",  # tty
    "c 5:1 rwm",  # console
    "c 5:2 rwm",  # ptmx
    "c 136:* rwm",  # pts
    "c 10:200 rwm",  # net/tun
)


@dataclass(frozen=True)
class Resources:
    """The limits of `docker run`. None leaves a limit as it is (unset on a new cgroup)."""

    memory: int | None = None  # bytes (--memory)
    memory_swap: int | None = None  # memory + swap, bytes; -1 unlimited (--memory-swap)
    cpu_quota: int | None = None  # microseconds per period; -1 unlimited (--cpus)
    cpu_period: int | None = None  # microseconds
    cpu_shares: int | None = None  # relative weight, 2..262144 (--cpu-shares)
    cpuset_cpus: str | None = None  # "0-2,4" (--cpuset-cpus)
    pids_limit: int | None = None  # <= 0 unlimited (--pids-limit)
    # Device access rules ("c 1:3 rwm"); DEFAULT_DEVICES for a container, ("a",) for a
    # privileged one: v1's devices.allow, v2's eBPF device program (devicefilter.py).
    devices: tuple[str, ...] | None = None

    def validate(self, update: bool = False) -> None:
        """Refuses what docker refuses, with its words, before anything is written. An update
        may set a swap limit alone: it applies to the memory limit already in place."""
        if self.memory is not None and 0 < self.memory < MIN_MEMORY:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        if self.memory is not None and self.memory < 0 and self.memory != -1:
            raise InvalidArgument(f"invalid memory limit {self.memory}")
        if self.memory_swap is not None and self.memory_swap not in (0, -1):
            if not update and (not self.memory or self.memory < 0):
                raise InvalidArgument(
                    "You should always set the Memory limit when using Memoryswap limit, see usage"
                )
            if self.memory and self.memory_swap < self.memory:
                raise InvalidArgument(
                    "Minimum memoryswap limit should be larger than memory limit, see usage"
                )
        if self.cpu_period is not None and not 1000 <= self.cpu_period <= 1_000_000:
            raise InvalidArgument(
                "CPU cfs period can not be less than 1ms (i.e. 1000) "
                "or larger than 1s (i.e. 1000000)"
            )
        if self.cpu_quota is not None and self.cpu_quota != -1 and self.cpu_quota < 1000:
            raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
        if self.cpu_shares is not None and self.cpu_shares < 0:
            raise InvalidArgument(f"invalid cpu shares {self.cpu_shares}")
        if self.cpuset_cpus is not None:
            parse_cpuset(self.cpuset_cpus)


def cpus_to_cfs(cpus: float, ncpu: int | None = None) -> tuple[int, int]:
    """`--cpus` as (quota, period) in microseconds, as docker converts NanoCPUs."""
    n = ncpu or os.cpu_count() or 1
    nano = round(cpus * 1e9)
    if nano < 0 or nano > n * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
        )
    return nano * CFS_PERIOD // 1_000_000_000, CFS_PERIOD


def parse_cpuset(value: str) -> set[int]:
    """The CPUs of a list like "0-2,4"; docker's message when it is not one."""
    cpus: set[int] = set()
    if value == "":
        return cpus
    for part in value.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise InvalidArgument(f"Invalid value {value} for cpuset cpus")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        cpus.update(range(lo, hi + 1))
    return cpus


def shares_to_weight(shares: int) -> int:
    """cgroup v2 cpu.weight for v1 cpu.shares, runc's linear mapping of [2, 262144]."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


@dataclass(frozen=True)
class Stats:
    memory_usage: int  # bytes
    memory_limit: int | None  # bytes; None when unlimited
    cpu_usage_ns: int
    pids_current: int


class CgroupFS:
    """Plain file operations under a root (the cgroup mount point). Paths are relative."""

    def __init__(self, root: str = CGROUP_ROOT) -> None:
        self.root = root
        self._v1_controllers: tuple[str, ...] | None = None

    def v1_controllers(self) -> tuple[str, ...]:
        """The v1 controllers mounted under the root, each real hierarchy once (cpu and cpuacct
        are often one hierarchy mounted twice: cpu,cpuacct + symlinks). Looked up once: the
        mounts do not change under a running executor, and every container operation asks."""
        if self._v1_controllers is None:
            seen: set[str] = set()
            found = []
            for c in V1_CONTROLLERS:
                if not self.isdir(c):
                    continue
                real = os.path.realpath(self.path(c))
                if real not in seen:
                    seen.add(real)
                    found.append(c)
            self._v1_controllers = tuple(found)
        return self._v1_controllers

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def exists(self, rel: str) -> bool:
        return os.path.exists(self.path(rel))

    def isdir(self, rel: str) -> bool:
        return os.path.isdir(self.path(rel))

    def read(self, rel: str) -> str:
        with open(self.path(rel)) as f:
            return f.read()

    def write(self, rel: str, data: str) -> None:
        # One write() per value, no truncation: cgroup files take each write as one command.
        fd = os.open(self.path(rel), os.O_WRONLY)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def mkdir(self, rel: str) -> None:
        os.mkdir(self.path(rel))

    def rmdir(self, rel: str) -> None:
        os.rmdir(self.path(rel))

    def subdirs(self, rel: str) -> list[str]:
        with os.scandir(self.path(rel)) as it:
            return [e.name for e in it if e.is_dir(follow_symlinks=False)]


def _check_name(what: str, value: str) -> None:
    parts = value.split("/")
    if not value or any(p in ("", ".", "..") for p in parts):
        raise InvalidArgument(f"invalid cgroup {what} {value!r}")


class Cgroup:
    """The operations both hierarchies offer; `open_cgroup` picks the implementation."""

    def __init__(
        self,
        id: str,
        parent: str = DEFAULT_PARENT,
        fs: CgroupFS | None = None,
        kill: Callable[[int, int], None] = os.kill,
    ) -> None:
        _check_name("id", id)
        _check_name("parent", parent)
        self.id = id
        self.parent = parent
        self.fs = fs or CgroupFS()
        self._kill = kill

    # -- the interface -------------------------------------------------------------------

    def create(self, resources: Resources) -> None:
        raise NotImplementedError

    def set(self, resources: Resources) -> None:
        raise NotImplementedError

    def add_process(self, pid: int) -> None:
        raise NotImplementedError

    def procs(self) -> list[int]:
        raise NotImplementedError

    def stats(self) -> Stats:
        raise NotImplementedError

    def oom_killed(self) -> bool:
        return self.oom_kills() > 0

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer has killed in this cgroup since it was made."""
        raise NotImplementedError

    def freeze(self) -> None:
        raise NotImplementedError

    def frozen(self) -> bool:
        """True while paused (frozen or freezing)."""
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def kill_all(self) -> None:
        raise NotImplementedError

    def dirs(self) -> list[str]:
        """This cgroup's directories, relative to the fs root, that exist now."""
        raise NotImplementedError

    def exists(self) -> bool:
        return bool(self.dirs())

    # -- shared steps --------------------------------------------------------------------

    def _discard(self) -> None:
        # A create that failed half-way leaves nothing; its own error is the one to report.
        with contextlib.suppress(CaissonError):
            self.remove()

    def _refuse_existing(self) -> None:
        # Another container's cgroup (or a leftover) must not be adopted, nor removed on error.
        if self.exists():
            raise AlreadyExists(f"cgroup {self.parent}/{self.id} already exists")

    def remove(self) -> None:
        """Removes every directory, retrying while processes finish exiting; the busy ones
        are named in the error only after every other one is gone."""
        busy: list[str] = []
        for rel in self.dirs():
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while True:
                try:
                    self.fs.rmdir(rel)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        raise _os_error(e, f"cannot remove cgroup {self.fs.path(rel)}") from e
                    if time.monotonic() > deadline:
                        busy.append(self.fs.path(rel))
                        break
                    time.sleep(_POLL)
        if busy:
            raise FailedPrecondition(
                f"cannot remove cgroup {', '.join(busy)}: processes still in it "
                f"({' '.join(map(str, self.procs())) or 'none listed'})"
            )

    def remove_parent(self) -> None:
        """Removes the parent directories if nothing else is in them (tests, clean uninstall)."""
        for rel in self._parent_dirs():
            try:
                self.fs.rmdir(rel)
            except FileNotFoundError:
                pass
            except OSError as e:
                if e.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                    raise _os_error(e, f"cannot remove cgroup {self.fs.path(rel)}") from e

    def _parent_dirs(self) -> list[str]:
        raise NotImplementedError

    def _mkdir(self, rel: str) -> None:
        """Creates a cgroup dir unless it is there (another container may share a parent)."""
        if self.fs.isdir(rel):
            return
        try:
            self.fs.mkdir(rel)
        except FileExistsError:
            pass
        except OSError as e:
            raise _os_error(e, f"cannot create cgroup {self.fs.path(rel)}") from e

    def _write(self, rel: str, value: str) -> None:
        try:
            self.fs.write(rel, value)
        except OSError as e:
            raise _os_error(e, f"cannot write {value!r} to {self.fs.path(rel)}") from e

    def _read(self, rel: str) -> str:
        try:
            return self.fs.read(rel).strip()
        except OSError as e:
            raise _os_error(e, f"cannot read {self.fs.path(rel)}") from e

    def _read_int(self, rel: str) -> int:
        text = self._read(rel)
        try:
            return int(text)
        except ValueError:
            raise Internal(f"unexpected content {text!r} in {self.fs.path(rel)}") from None

    def _wait_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while not done():
            if time.monotonic() > deadline:
                raise Internal(f"cgroup {self.parent}/{self.id}: timed out {what}")
            time.sleep(_POLL)

    def _signal_all(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                self._kill(pid, signal.SIGKILL)


def _os_error(e: OSError, what: str) -> CaissonError:
    if e.errno == errno.ENOENT:
        return FailedPrecondition(f"{what}: no such file or directory")
    if e.errno in (errno.EINVAL, errno.EBUSY, errno.EPERM, errno.EACCES, errno.ENOSPC):
        return FailedPrecondition(f"{what}: {e.strerror}")
    return Internal(f"{what}: {e.strerror or e}")


def _flat_keyed(text: str) -> dict[str, str]:
    """Files like memory.events or cgroup.events: one "key value" per line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out[key] = value.strip()
    return out


def _pids(text: str) -> list[int]:
    return [int(line) for line in text.split()]


class CgroupV1(Cgroup):
    """One directory per controller: <controller>/<parent>/<id>."""

    def _controllers(self) -> tuple[str, ...]:
        return self.fs.v1_controllers()

    def _rel(self, controller: str, name: str = "") -> str:
        return os.path.join(controller, self.parent, self.id, name)

    def _need(self, controller: str, what: str) -> str:
        if not self.fs.isdir(controller):
            raise FailedPrecondition(
                f"{what} needs the {controller} cgroup controller (not mounted)"
            )
        return controller

    def dirs(self) -> list[str]:
        return [
            self._rel(c).rstrip("/") for c in self._controllers() if self.fs.isdir(self._rel(c))
        ]

    def _parent_dirs(self) -> list[str]:
        out = []
        for c in self._controllers():
            parts = self.parent.split("/")
            out += [os.path.join(c, *parts[:n]) for n in range(len(parts), 0, -1)]
        return out

    def create(self, resources: Resources) -> None:
        resources.validate()
        self._check_cpus_available(resources)
        self._refuse_existing()
        try:
            for c in self._controllers():
                self._make_dirs(c)
            self.set(resources)
        except BaseException:
            self._discard()
            raise

    def _make_dirs(self, controller: str) -> None:
        rel = controller
        for part in [*self.parent.split("/"), self.id]:
            rel = os.path.join(rel, part)
            self._mkdir(rel)
            if controller == "cpuset":
                # A new cpuset has no cpus and no mems, and refuses tasks until given some:
                # inherit the parent's, as runc does.
                parent = os.path.dirname(rel)
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if self._read(os.path.join(rel, f)) == "":
                        self._write(os.path.join(rel, f), self._read(os.path.join(parent, f)))

    def _check_cpus_available(self, resources: Resources) -> None:
        if not resources.cpuset_cpus:
            return
        self._need("cpuset", "--cpuset-cpus")
        effective = "cpuset/cpuset.effective_cpus"
        available = self._read(effective if self.fs.exists(effective) else "cpuset/cpuset.cpus")
        _check_cpus(resources.cpuset_cpus, available)

    def set(self, resources: Resources) -> None:
        resources.validate(update=True)
        r = resources
        if r.memory is not None or r.memory_swap not in (None, 0):
            self._set_memory(r.memory, r.memory_swap)
        if r.cpu_shares:
            self._write(
                self._rel(self._need("cpu", "--cpu-shares"), "cpu.shares"), str(r.cpu_shares)
            )
        if r.cpu_period is not None:
            self._write(
                self._rel(self._need("cpu", "--cpus"), "cpu.cfs_period_us"), str(r.cpu_period)
            )
        if r.cpu_quota is not None:
            self._write(
                self._rel(self._need("cpu", "--cpus"), "cpu.cfs_quota_us"), str(r.cpu_quota)
            )
        if r.cpuset_cpus:
            self._check_cpus_available(r)
            self._write(self._rel("cpuset", "cpuset.cpus"), r.cpuset_cpus)
        if r.pids_limit is not None:
            limit = "max" if r.pids_limit <= 0 else str(r.pids_limit)
            self._write(self._rel(self._need("pids", "--pids-limit"), "pids.max"), limit)
        if r.devices is not None and self.fs.isdir(self._rel("devices")):
            if r.devices == ("a",):
                self._write(self._rel("devices", "devices.allow"), "a")
            else:
                self._write(self._rel("devices", "devices.deny"), "a")
                for rule in r.devices:
                    self._write(self._rel("devices", "devices.allow"), rule)

    def _set_memory(self, memory: int | None, swap: int | None) -> None:
        self._need("memory", "--memory")
        limit = self._rel("memory", "memory.limit_in_bytes")
        memsw = self._rel("memory", "memory.memsw.limit_in_bytes")
        if memory == -1 and not swap:
            swap = -1  # unlimited memory means unlimited swap too
        if not swap or not self.fs.exists(memsw):
            # Without swap accounting there is no memsw file; docker ignores the swap limit.
            if memory is not None:
                self._write(limit, str(memory))
            return
        if memory is None:
            self._write(memsw, str(swap))
            return
        # memsw must stay >= the memory limit at every step: raise memsw first when growing.
        current = self._read_int(limit)
        if swap == -1 or current < swap:
            self._write(memsw, str(swap))
            self._write(limit, str(memory))
        else:
            self._write(limit, str(memory))
            self._write(memsw, str(swap))

    def add_process(self, pid: int) -> None:
        for c in self._controllers():
            self._write(self._rel(c, "cgroup.procs"), str(pid))

    def procs(self) -> list[int]:
        pids: set[int] = set()
        for c in self._controllers():
            if self.fs.isdir(self._rel(c)):
                pids.update(_pids(self._read(self._rel(c, "cgroup.procs"))))
        return sorted(pids)

    def stats(self) -> Stats:
        memory_limit: int | None = None
        memory_usage = 0
        if self.fs.isdir(self._rel("memory")):
            memory_usage = self._read_int(self._rel("memory", "memory.usage_in_bytes"))
            memory_limit = self._read_int(self._rel("memory", "memory.limit_in_bytes"))
            # "Unlimited" is the largest page-aligned long the kernel can store.
            if memory_limit >= (1 << 62):
                memory_limit = None
        cpu = self._rel("cpuacct", "cpuacct.usage")
        pids = self._rel("pids", "pids.current")
        return Stats(
            memory_usage=memory_usage,
            memory_limit=memory_limit,
            cpu_usage_ns=self._read_int(cpu) if self.fs.exists(cpu) else 0,
            pids_current=self._read_int(pids) if self.fs.exists(pids) else 0,
        )

    def oom_kills(self) -> int:
        control = self._rel("memory", "memory.oom_control")
        if not self.fs.exists(control):
            return 0
        fields = _flat_keyed(self._read(control))
        # oom_kill counts kills (kernel 4.13+); under_oom only shows an OOM in progress.
        return max(int(fields.get("oom_kill", "0")), int(fields.get("under_oom") == "1"))

    def _freezer_state(self) -> str:
        return self._read(self._rel(self._need("freezer", "pause"), "freezer.state"))

    def frozen(self) -> bool:
        if not self.fs.isdir(self._rel("freezer")):
            return False
        return self._freezer_state() != "THAWED"

    def freeze(self) -> None:
        state = self._rel(self._need("freezer", "pause"), "freezer.state")

        # The kernel may stop at FREEZING when a task is busy; writing again retries it.
        def frozen() -> bool:
            if self._freezer_state() == "FROZEN":
                return True
            self._write(state, "FROZEN")
            return False

        self._write(state, "FROZEN")
        self._wait_until(frozen, "freezing")

    def thaw(self) -> None:
        self._write(self._rel(self._need("freezer", "unpause"), "freezer.state"), "THAWED")
        self._wait_until(lambda: self._freezer_state() == "THAWED", "thawing")

    def kill_all(self) -> None:
        if not self.procs():
            return  # the usual case (the container ended): nothing can fork, nothing to freeze
        # Frozen first, so that no process forks a child we would miss, as runc does.
        freezer = self.fs.isdir(self._rel("freezer"))
        if freezer:
            self.freeze()
        try:
            self._signal_all(self.procs())
        finally:
            if freezer:
                self.thaw()
        self._wait_empty()

    def _wait_empty(self) -> None:
        def empty() -> bool:
            pids = self.procs()
            self._signal_all(pids)
            return not pids

        self._wait_until(empty, "waiting for its processes to exit")


def _check_cpus(requested: str, available: str) -> None:
    if not parse_cpuset(requested) <= parse_cpuset(available):
        raise InvalidArgument(
            f"Requested CPUs are not available - requested {requested}, available: {available}"
        )


class CgroupV2(Cgroup):
    """One directory in the unified hierarchy: <parent>/<id>."""

    def _rel(self, name: str = "") -> str:
        return os.path.join(self.parent, self.id, name)

    def dirs(self) -> list[str]:
        return [self._rel().rstrip("/")] if self.fs.isdir(self._rel()) else []

    def _parent_dirs(self) -> list[str]:
        parts = self.parent.split("/")
        return [os.path.join(*parts[:n]) for n in range(len(parts), 0, -1)]

    def _has(self, name: str) -> bool:
        return self.fs.exists(self._rel(name))

    def _need(self, name: str, what: str) -> str:
        if not self._has(name):
            controller = name.partition(".")[0]
            raise FailedPrecondition(
                f"{what} needs the {controller} cgroup controller, not available in "
                f"{self.fs.path(self._rel())}"
            )
        return self._rel(name)

    def create(self, resources: Resources) -> None:
        resources.validate()
        if resources.cpuset_cpus:
            effective = "cpuset.cpus.effective"
            if not self.fs.exists(effective):
                raise FailedPrecondition("--cpuset-cpus needs the cpuset cgroup controller")
            _check_cpus(resources.cpuset_cpus, self._read(effective))
        self._refuse_existing()
        try:
            self._make_dirs()
            self.set(resources)
        except BaseException:
            self._discard()
            raise

    def _make_dirs(self) -> None:
        rel = ""
        for part in [*self.parent.split("/"), self.id]:
            # A controller is usable in a child only once enabled in every ancestor's
            # subtree_control; enable those the host offers (in v2 a missing one is no error
            # until a limit needs it).
            offered = set(self._read(os.path.join(rel, "cgroup.controllers")).split())
            enabled = set(self._read(os.path.join(rel, "cgroup.subtree_control")).split())
            wanted = [c for c in V2_CONTROLLERS if c in offered and c not in enabled]
            if wanted:
                self._write(
                    os.path.join(rel, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted)
                )
            rel = os.path.join(rel, part)
            self._mkdir(rel)

    def set(self, resources: Resources) -> None:
        resources.validate(update=True)
        r = resources
        if r.memory is not None:
            limit = "max" if r.memory == -1 else str(r.memory)
            self._write(self._need("memory.max", "--memory"), limit)
        if r.memory_swap not in (None, 0):
            swap = self._need("memory.swap.max", "--memory-swap")
            if r.memory_swap == -1:
                self._write(swap, "max")
            else:
                memory = r.memory if r.memory is not None else self._current_memory_max()
                if memory is None:
                    raise InvalidArgument(
                        "You should always set the Memory limit when using Memoryswap limit, "
                        "see usage"
                    )
                self._write(swap, str(r.memory_swap - memory))
        if r.cpu_shares:
            self._write(
                self._need("cpu.weight", "--cpu-shares"), str(shares_to_weight(r.cpu_shares))
            )
        if r.cpu_quota is not None or r.cpu_period is not None:
            quota = "max" if r.cpu_quota in (None, -1) else str(r.cpu_quota)
            self._write(self._need("cpu.max", "--cpus"), f"{quota} {r.cpu_period or CFS_PERIOD}")
        if r.cpuset_cpus:
            self._write(self._need("cpuset.cpus", "--cpuset-cpus"), r.cpuset_cpus)
        if r.pids_limit is not None:
            limit = "max" if r.pids_limit <= 0 else str(r.pids_limit)
            self._write(self._need("pids.max", "--pids-limit"), limit)
        if r.devices is not None and r.devices != ("a",):
            # v2 has no devices.allow: an eBPF program on the cgroup decides.
            from caisson.executor import devicefilter

            try:
                devicefilter.attach(self.fs.path(self._rel()), list(r.devices))
            except OSError as e:
                raise _os_error(e, "restricting devices") from None

    def _current_memory_max(self) -> int | None:
        value = self._read(self._rel("memory.max"))
        return None if value == "max" else int(value)

    def add_process(self, pid: int) -> None:
        self._write(self._rel("cgroup.procs"), str(pid))

    def procs(self) -> list[int]:
        if not self.fs.isdir(self._rel()):
            return []
        return sorted(_pids(self._read(self._rel("cgroup.procs"))))

    def stats(self) -> Stats:
        memory_usage = (
            self._read_int(self._rel("memory.current")) if self._has("memory.current") else 0
        )
        memory_limit = self._current_memory_max() if self._has("memory.max") else None
        cpu_usage_ns = 0
        if self._has("cpu.stat"):
            usage = _flat_keyed(self._read(self._rel("cpu.stat"))).get("usage_usec", "0")
            cpu_usage_ns = int(usage) * 1000
        return Stats(
            memory_usage=memory_usage,
            memory_limit=memory_limit,
            cpu_usage_ns=cpu_usage_ns,
            pids_current=self._read_int(self._rel("pids.current"))
            if self._has("pids.current")
            else 0,
        )

    def oom_kills(self) -> int:
        if not self._has("memory.events"):
            return 0
        return int(_flat_keyed(self._read(self._rel("memory.events"))).get("oom_kill", "0"))

    def _frozen(self) -> str:
        return _flat_keyed(self._read(self._rel("cgroup.events"))).get("frozen", "0")

    def frozen(self) -> bool:
        return self.fs.exists(self._rel("cgroup.events")) and self._frozen() == "1"

    def freeze(self) -> None:
        self._write(self._need("cgroup.freeze", "pause"), "1")
        self._wait_until(lambda: self._frozen() == "1", "freezing")

    def thaw(self) -> None:
        self._write(self._need("cgroup.freeze", "unpause"), "0")
        self._wait_until(lambda: self._frozen() == "0", "thawing")

    def kill_all(self) -> None:
        if self._has("cgroup.kill"):
            # Kernel 5.14+: one write kills every process, forks racing it included.
            self._write(self._rel("cgroup.kill"), "1")

        def empty() -> bool:
            pids = self.procs()
            self._signal_all(pids)
            return not pids

        self._wait_until(empty, "waiting for its processes to exit")


def open_cgroup(
    id: str,
    parent: str = DEFAULT_PARENT,
    *,
    mode: str | None = None,
    fs: CgroupFS | None = None,
    kill: Callable[[int, int], None] = os.kill,
) -> Cgroup:
    """The cgroup of container `id` (created by `create`, or found again after a restart).

    `mode` is what `detect_mode` says of the host; hybrid hosts use their v1 controllers, and
    the v2 implementation is rooted at the unified mount."""
    fs = fs or CgroupFS()
    mode = mode or detect_mode(fs.root)
    if mode in ("v1", "hybrid"):
        return CgroupV1(id, parent, fs, kill)
    if mode == "v2":
        return CgroupV2(id, parent, fs, kill)
    raise FailedPrecondition(f"no cgroup filesystem mounted at {fs.root}")
