"""Container stats as docker computes them: the parsers on real file formats, and a whole
sample from fake cgroup v1 and v2 trees and a fake /proc in a temp dir."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from caisson.executor import stats
from caisson.executor.cgroup_manager import CgroupFS, open_cgroup

GIB = 1 << 30
NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       8    0    0    0     0       0          0
  eth1:     500       2    0    0    0     0          0         0      300       1    0    0    0     0       0          0
"""  # noqa: E501
PROC_STAT = "cpu  100 20 30 400 5 6 7 8 0 0\ncpu0 50 10 15 200 2 3 3 4 0 0\nintr 1\n"
MEMINFO = "MemTotal:        8000000 kB\nMemFree:         4000000 kB\n"


def test_memory_usage_leaves_the_page_cache_out() -> None:
    assert stats.usage_without_cache(1000, {"total_inactive_file": 300}) == 700  # v1
    assert stats.usage_without_cache(1000, {"inactive_file": 400}) == 600  # v2
    # v1's memory.stat has both: the hierarchical total wins.
    assert stats.usage_without_cache(1000, {"inactive_file": 1, "total_inactive_file": 300}) == 700
    assert stats.usage_without_cache(1000, {"total_inactive_file": 5000}) == 1000
    assert stats.usage_without_cache(1000, {}) == 1000


def test_parsers() -> None:
    assert stats.net_dev(NET_DEV) == (2000, 1000)  # loopback left out
    assert stats.system_cpu_ns(PROC_STAT, 100) == 568 * 10_000_000  # user..softirq
    assert stats.host_memory(MEMINFO) == 8_000_000 * 1024
    blkio = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n"
    assert stats.blkio_v1(blkio) == (4097, 8192)
    assert stats.io_stat_v2(
        "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n"
    ) == (
        101,
        202,
    )
    assert stats.flat_keyed_ints("cache 10\ntotal_inactive_file 4\nbad x\n") == {
        "cache": 10,
        "total_inactive_file": 4,
    }


@pytest.fixture
def tree() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="caisson-stats-") as d:
        os.makedirs(f"{d}/proc/4242/net")
        put(f"{d}/proc/4242/net/dev", NET_DEV)
        put(f"{d}/proc/stat", PROC_STAT)
        put(f"{d}/proc/meminfo", MEMINFO)
        yield d


def put(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def v1_container(root: str, limit: str) -> None:
    base = f"{root}/cg"
    for c in ("memory", "cpuacct", "pids", "blkio"):
        os.makedirs(f"{base}/{c}/caisson/c1")
    put(f"{base}/memory/caisson/c1/memory.usage_in_bytes", "10000000\n")
    put(f"{base}/memory/caisson/c1/memory.limit_in_bytes", limit)
    put(f"{base}/memory/caisson/c1/memory.stat", "cache 5\ntotal_inactive_file 2000000\n")
    put(f"{base}/memory/caisson/c1/cgroup.procs", "4242\n4243\n")
    put(f"{base}/cpuacct/caisson/c1/cpuacct.usage", "123456789\n")
    put(f"{base}/cpuacct/caisson/c1/cgroup.procs", "4242\n4243\n")
    put(f"{base}/pids/caisson/c1/pids.current", "2\n")
    put(f"{base}/pids/caisson/c1/cgroup.procs", "4242\n4243\n")
    put(f"{base}/blkio/caisson/c1/cgroup.procs", "4242\n4243\n")
    # No CFQ counters (the kernel's scheduler keeps none): the throttle layer's are used.
    put(f"{base}/blkio/caisson/c1/blkio.io_service_bytes_recursive", "Total 0\n")
    put(
        f"{base}/blkio/caisson/c1/blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n",
    )


def test_a_v1_sample(tree: str) -> None:
    v1_container(tree, "67108864\n")
    cg = open_cgroup("c1", "caisson", mode="v1", fs=CgroupFS(f"{tree}/cg"))
    s = stats.collect(cg, 4242, host_network=False, proc=f"{tree}/proc")
    assert s.memory_usage == 8_000_000 and s.memory_limit == 64 << 20
    assert s.cpu_usage_ns == 123456789 and s.pids == 2
    assert (s.net_rx_bytes, s.net_tx_bytes) == (2000, 1000)
    assert (s.block_read_bytes, s.block_write_bytes) == (4096, 512)
    assert s.system_cpu_ns > 0 and s.online_cpus >= 1 and s.read_ns > 0


def test_an_unlimited_container_shows_the_host_memory_and_host_network_no_io(tree: str) -> None:
    v1_container(tree, "9223372036854771712\n")
    cg = open_cgroup("c1", "caisson", mode="v1", fs=CgroupFS(f"{tree}/cg"))
    s = stats.collect(cg, 4242, host_network=True, proc=f"{tree}/proc")
    assert s.memory_limit == 8_000_000 * 1024
    assert (s.net_rx_bytes, s.net_tx_bytes) == (0, 0)


def test_a_v2_sample(tree: str) -> None:
    base = f"{tree}/cg/caisson/c1"
    put(f"{base}/memory.current", "10000000\n")
    put(f"{base}/memory.max", "max\n")
    put(f"{base}/memory.stat", "anon 1\nfile 9\ninactive_file 3000000\n")
    put(f"{base}/cpu.stat", "usage_usec 5000\nuser_usec 3000\n")
    put(f"{base}/pids.current", "0\n")  # no pids controller here: counted from cgroup.procs
    put(f"{base}/cgroup.procs", "4242\n4243\n4244\n")
    put(f"{base}/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n")
    cg = open_cgroup("c1", "caisson", mode="v2", fs=CgroupFS(f"{tree}/cg"))
    s = stats.collect(cg, 4242, host_network=False, proc=f"{tree}/proc")
    assert s.memory_usage == 7_000_000 and s.memory_limit == 8_000_000 * 1024
    assert s.cpu_usage_ns == 5_000_000 and s.pids == 3
    assert (s.block_read_bytes, s.block_write_bytes) == (100, 200)


def test_a_vanished_process_has_no_network_io(tree: str) -> None:
    v1_container(tree, "67108864\n")
    cg = open_cgroup("c1", "caisson", mode="v1", fs=CgroupFS(f"{tree}/cg"))
    s = stats.collect(cg, 999999, host_network=False, proc=f"{tree}/proc")
    assert (s.net_rx_bytes, s.net_tx_bytes) == (0, 0)
    assert s.memory_limit == GIB // 16
