"""A running container's resource usage, in the terms of docker's stats.

Read from its cgroup (v1 controllers on v1 and hybrid hosts, the unified hierarchy on v2) and,
for the network, from /proc/PID/net/dev of its PID 1 (which shows the interfaces of the
container's network namespace). Memory usage leaves the page cache out as docker's CLI does
(v1: usage - total_inactive_file; v2: usage - inactive_file), and an unlimited container's
limit is the host's memory. CPU % needs the host's CPU time too: docker's sum of the first
seven fields of /proc/stat's "cpu" line.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from caisson.executor.cgroup_manager import Cgroup, CgroupV1

PROC = "/proc"
NANOS = 1_000_000_000


@dataclass(frozen=True)
class Sample:
    read_ns: int
    cpu_usage_ns: int
    system_cpu_ns: int
    online_cpus: int
    memory_usage: int
    memory_limit: int
    pids: int
    net_rx_bytes: int = 0
    net_tx_bytes: int = 0
    block_read_bytes: int = 0
    block_write_bytes: int = 0


# --- parsers (pure) ------------------------------------------------------------------------


def flat_keyed_ints(text: str) -> dict[str, int]:
    """memory.stat and the like: one "key value" per line."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[key] = int(value.strip())
    return out


def usage_without_cache(usage: int, memory_stat: dict[str, int]) -> int:
    """docker's calculateMemUsageUnixNoCache."""
    inactive = memory_stat.get("total_inactive_file")  # cgroup v1
    if inactive is not None and inactive < usage:
        return usage - inactive
    inactive = memory_stat.get("inactive_file")  # cgroup v2
    if inactive is not None and inactive < usage:
        return usage - inactive
    return usage


def host_memory(meminfo: str) -> int:
    """MemTotal of /proc/meminfo, in bytes."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def system_cpu_ns(proc_stat: str, clock_ticks: int) -> int:
    """docker's getSystemCPUUsage: user..softirq of the "cpu" line, in nanoseconds."""
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = sum(int(f) for f in fields[1:8])
            return ticks * NANOS // clock_ticks
    return 0


def net_dev(text: str) -> tuple[int, int]:
    """Received and sent bytes over the interfaces of /proc/PID/net/dev, loopback left out
    (docker counts the container's own interfaces)."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def blkio_v1(text: str) -> tuple[int, int]:
    """blkio.*io_service_bytes_recursive: "MAJ:MIN Read N" lines, summed per direction."""
    read = write = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        if fields[1].lower() == "read":
            read += int(fields[2])
        elif fields[1].lower() == "write":
            write += int(fields[2])
    return read, write


def io_stat_v2(text: str) -> tuple[int, int]:
    """io.stat: "MAJ:MIN rbytes=N wbytes=N ..." lines, summed."""
    read = write = 0
    for line in text.splitlines():
        for kv in line.split()[1:]:
            key, _, value = kv.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


# --- reading a container -------------------------------------------------------------------


def _cgroup_file(cg: Cgroup, controller: str, name: str) -> str:
    if isinstance(cg, CgroupV1):
        return os.path.join(controller, cg.parent, cg.id, name)
    return os.path.join(cg.parent, cg.id, name)


def _read(cg: Cgroup, controller: str, name: str) -> str:
    try:
        return cg.fs.read(_cgroup_file(cg, controller, name))
    except OSError:
        return ""


def _read_file(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def block_io(cg: Cgroup) -> tuple[int, int]:
    if isinstance(cg, CgroupV1):
        # The CFQ/BFQ counters when the scheduler keeps them, else the throttle layer's
        # (which counts every I/O), as runc reads them.
        for name in (
            "blkio.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        ):
            text = _read(cg, "blkio", name)
            if text.strip() and text.strip() != "Total 0":
                return blkio_v1(text)
        return 0, 0
    return io_stat_v2(_read(cg, "io", "io.stat"))


def collect(cg: Cgroup, pid: int, host_network: bool, proc: str = PROC) -> Sample:
    """One sample of container `cg` whose PID 1 is host pid `pid`. A host-network container
    has no interfaces of its own: its network I/O is 0, as docker shows it."""
    cg_stats = cg.stats()
    memory_stat = flat_keyed_ints(_read(cg, "memory", "memory.stat"))
    host_mem = host_memory(_read_file(os.path.join(proc, "meminfo")))
    limit = cg_stats.memory_limit
    if limit is None or (host_mem and limit > host_mem):
        limit = host_mem
    pids = cg_stats.pids_current or len(cg.procs())
    rx = tx = 0
    if not host_network and pid > 0:
        rx, tx = net_dev(_read_file(os.path.join(proc, str(pid), "net", "dev")))
    read, write = block_io(cg)
    return Sample(
        read_ns=time.time_ns(),
        cpu_usage_ns=cg_stats.cpu_usage_ns,
        system_cpu_ns=system_cpu_ns(
            _read_file(os.path.join(proc, "stat")), os.sysconf("SC_CLK_TCK")
        ),
        online_cpus=os.sysconf("SC_NPROCESSORS_ONLN"),
        memory_usage=usage_without_cache(cg_stats.memory_usage, memory_stat),
        memory_limit=limit,
        pids=pids,
        net_rx_bytes=rx,
        net_tx_bytes=tx,
        block_read_bytes=read,
        block_write_bytes=write,
    )
