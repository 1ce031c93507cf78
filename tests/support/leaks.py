"""What a daemon's containers leave on the host: mounts under its directories, cgroups of its
containers, monitor processes for its exec root. Tests compare these before and after, and
the harness sweeps them (only what belongs to the test's own daemon) when a test fails."""

from __future__ import annotations

import contextlib
import ipaddress
import json
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


def test_network_names() -> tuple[str, str, str]:
    """A bridge name, its address/prefix and a /16 pool for user networks, all test-only:
    in 10.240.0.0/12, away from the routes the host has."""
    taken = _host_routes()
    while True:
        tag = os.urandom(4).hex()
        second, third = 240 + os.urandom(1)[0] % 16, os.urandom(1)[0]
        bip_net = ipaddress.ip_network(f"10.{second}.{third}.0/24")
        pool_second = 240 + (second - 240 + 8) % 16
        pool = ipaddress.ip_network(f"10.{pool_second}.0.0/16")
        if not any(bip_net.overlaps(r) or pool.overlaps(r) for r in taken):
            return f"cst{tag}", f"10.{second}.{third}.1/24", str(pool)


def _host_routes() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "-j", "route", "show", "table", "all"], capture_output=True)
    routes = []
    with contextlib.suppress(ValueError):
        for r in json.loads(out.stdout or b"[]"):
            dst = r.get("dst", "")
            if dst and dst != "default" and not dst.startswith(("127.", "broadcast")):
                with contextlib.suppress(ValueError):
                    routes.append(ipaddress.ip_network(dst, strict=False))
    return routes


def bridges_of(exec_root: str) -> set[str]:
    """The bridges a daemon's executor made (its networks/*.pb records name them)."""
    from caisson_api.executor.v1 import networks_pb2

    out = set()
    d = os.path.join(exec_root, "networks")
    with contextlib.suppress(OSError):
        for name in os.listdir(d):
            if name.endswith(".pb"):
                spec = networks_pb2.NetworkSpec()
                with open(os.path.join(d, name), "rb") as f:
                    spec.ParseFromString(f.read())
                out.add(spec.bridge)
    return out


def veths_on(bridges: set[str]) -> set[str]:
    """Host interfaces enslaved to one of `bridges` (the host ends of containers' veths)."""
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True)
    with contextlib.suppress(ValueError):
        return {
            link["ifname"]
            for link in json.loads(out.stdout or b"[]")
            if link.get("master") in bridges
        }
    return set()


def sweep_network(exec_root: str, bridge: str, table: str) -> None:
    """Removes a test daemon's bridges (their veths go with them) and its nftables table."""
    for name in bridges_of(exec_root) | {bridge}:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
    subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True, check=False)


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
