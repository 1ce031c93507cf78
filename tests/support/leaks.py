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
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.services import Daemon

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
        # 10.240-254 only: 10.255/16 holds this machine kind's resolver (10.255.255.53).
        second, third = 240 + os.urandom(1)[0] % 15, os.urandom(1)[0]
        bip_net = ipaddress.ip_network(f"10.{second}.{third}.0/24")
        pool_second = 240 + (second - 240 + 8) % 15
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


def network_bridges(exec_root: str) -> dict[str, str]:
    """network id -> the bridge a daemon's executor made for it (its networks/*.pb records)."""
    from caisson_api.executor.v1 import networks_pb2

    out = {}
    d = os.path.join(exec_root, "networks")
    with contextlib.suppress(OSError):
        for name in os.listdir(d):
            if name.endswith(".pb"):
                spec = networks_pb2.NetworkSpec()
                with open(os.path.join(d, name), "rb") as f:
                    spec.ParseFromString(f.read())
                out[spec.id] = spec.bridge
    return out


def bridges_of(exec_root: str) -> set[str]:
    """The bridges a daemon's executor made (its networks/*.pb records name them)."""
    return set(network_bridges(exec_root).values())


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


def firewall_tags(table: str) -> set[str]:
    """The owner comments ("net:<id>", "ctr:<id>") on the rules and set elements of nftables
    table `table` (ip family); empty when the table does not exist."""
    out = subprocess.run(["nft", "-j", "list", "table", "ip", table], capture_output=True)
    if out.returncode != 0:
        return set()
    tags = set()
    with contextlib.suppress(ValueError):
        for item in json.loads(out.stdout or b"{}").get("nftables", []):
            rule = item.get("rule")
            if isinstance(rule, dict) and rule.get("comment"):
                tags.add(str(rule["comment"]))
            nft_set = item.get("set")
            if isinstance(nft_set, dict):
                for elem in nft_set.get("elem", []):
                    if isinstance(elem, dict) and elem.get("elem", {}).get("comment"):
                        tags.add(str(elem["elem"]["comment"]))
    return tags


def container_rules(table: str) -> set[str]:
    """The "ctr:<id>" tags still in `table`: rules of a container (its published ports)."""
    return {t for t in firewall_tags(table) if t.startswith("ctr:")}


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def settled_veths(bridges: set[str], timeout: float = 3.0) -> set[str]:
    """The veths still on `bridges` after up to `timeout` seconds: the kernel frees the veth of
    a namespace that went away asynchronously, so one may linger for a moment."""
    deadline = time.monotonic() + timeout
    while True:
        left = veths_on(bridges)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def host_routes() -> list[ipaddress.IPv4Network]:
    """The host's IPv4 routes (every table), default and loopback ones left out."""
    return _host_routes()


def free_test_subnet(prefix_len: int, avoid: list[str]) -> ipaddress.IPv4Network:
    """A random test-only IPv4 subnet of `prefix_len` in 10.240.0.0/12 (10.255/16 left out),
    overlapping neither the host's routes nor any network of `avoid` (a daemon's --bip and
    pool, subnets the test already uses)."""
    taken = host_routes() + [ipaddress.ip_network(a, strict=False) for a in avoid]
    size = 2 ** (32 - prefix_len)
    while True:
        base = int(ipaddress.IPv4Address("10.240.0.0")) + int.from_bytes(os.urandom(3)) % (
            15 * 2**16
        )
        net = ipaddress.ip_network(f"{ipaddress.IPv4Address(base - base % size)}/{prefix_len}")
        if not any(net.overlaps(t) for t in taken):
            return net


def network_reservations(d: Daemon) -> dict[str, dict[str, object]]:
    """network name -> its `Containers` (the IP reservations) as `network inspect` shows them,
    for every network that has any."""
    ids = d.cli("network", "ls", "-q").out.split()
    r = d.cli("network", "inspect", *ids)  # exit 1 if one went meanwhile; the rest are shown
    out: dict[str, dict[str, object]] = {}
    with contextlib.suppress(ValueError):
        for doc in json.loads(r.out or "[]"):
            if doc.get("Containers"):
                out[doc["Name"]] = doc["Containers"]
    return out


def network_leaks(d: Daemon) -> list[str]:
    """What the removed containers of daemon `d` left of their networking: veths on its
    bridges, "ctr:" rules in its nftables table, IP reservations. Call it once every container
    is removed (a netns bind mount would show in the mounts under the daemon's base)."""
    problems = []
    veths = settled_veths(bridges_of(d.exec_root) | {d.bridge})
    if veths:
        problems.append(f"veths left on the bridges: {sorted(veths)}")
    rules = container_rules(d.firewall_table)
    if rules:
        problems.append(f"nftables rules left in {d.firewall_table}: {sorted(rules)}")
    held = network_reservations(d)
    if held:
        problems.append(f"IP reservations left: {held}")
    return problems
