"""What a daemon's containers leave on the host: mounts under its directories, cgroups of its
containers, monitor processes for its exec root. Tests compare these before and after, and
the harness sweeps them (only what belongs to the test's own daemon) when a test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class HostState:
    mounts: frozenset[str]
    cgroups: frozenset[str]
    monitors: frozenset[int]

    def __sub__(self, other: HostState) -> HostState:
        return HostState(
            self.mounts - other.mounts,
            self.cgroups - other.cgroups,
            self.monitors - other.monitors,
        )

    def empty(self) -> bool:
        return not (self.mounts or self.cgroups or self.monitors)


def mounts_under(base: str) -> set[str]:
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].replace("\\040", " ")
            if target == base or target.startswith(base.rstrip("/") + "/"):
                out.add(target)
    return out


def container_cgroups(ids: set[str], parent: str = "caisson") -> set[str]:
    """Cgroup directories named after one of `ids` under PARENT, in every hierarchy."""
    out = set()
    for hierarchy in os.listdir(CGROUP_ROOT):
        d = os.path.join(CGROUP_ROOT, hierarchy, parent)
        with contextlib.suppress(OSError):
            for name in os.listdir(d):
                if name in ids:
                    out.add(os.path.join(d, name))
    d = os.path.join(CGROUP_ROOT, parent)
    with contextlib.suppress(OSError):
        for name in os.listdir(d):
            if name in ids:
                out.add(os.path.join(d, name))
    return out


def monitors_for(exec_root: str) -> set[int]:
    """Pids of caisson-monitor processes whose --dir is under `exec_root`."""
    out = set()
    prefix = os.fsencode(exec_root.rstrip("/") + "/")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if not args or not args[0].endswith(b"caisson-monitor"):
            continue
        if any(
            a == b"--dir" and b.startswith(prefix) for a, b in zip(args, args[1:], strict=False)
        ):
            out.add(int(entry))
    return out


def container_ids(data_root: str) -> set[str]:
    with contextlib.suppress(OSError):
        return set(os.listdir(os.path.join(data_root, "containers")))
    return set()


def state(base: str, data_root: str, exec_root: str, known_ids: set[str]) -> HostState:
    ids = container_ids(data_root) | known_ids
    return HostState(
        frozenset(mounts_under(base)),
        frozenset(container_cgroups(ids)),
        frozenset(monitors_for(exec_root)),
    )


def sweep(base: str, data_root: str, exec_root: str) -> None:
    """Kills what a test's containers left running and unmounts what they left mounted."""
    ids = container_ids(data_root)
    for cg in container_cgroups(ids):
        procs = os.path.join(cg, "cgroup.procs")
        with contextlib.suppress(OSError), open(procs) as f:
            for pid in f.read().split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
    for pid in monitors_for(exec_root):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for target in sorted(mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)
    for cg in container_cgroups(ids):
        with contextlib.suppress(OSError):
            os.rmdir(cg)
