"""The cgroup v2 device filter: rules parsed as docker writes them, and the eBPF program
loaded for real (the kernel's verifier checks it) on this host's v2 mount, with a process in
the cgroup opening devices through it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from caisson.errors import InvalidArgument
from caisson.executor import devicefilter
from caisson.executor.cgroup_manager import DEFAULT_DEVICES, CgroupFS, Resources, open_cgroup

UNIFIED = next(
    (
        p
        for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")
        if os.path.exists(f"{p}/cgroup.procs") and os.path.exists(f"{p}/cgroup.controllers")
    ),
    "",
)
# Opens each path given and prints ok or the errno name, from inside the cgroup.
PROBE = """
import os, sys, errno
with open(sys.argv[1] + "/cgroup.procs", "w") as f:
    f.write(str(os.getpid()))
for path in sys.argv[2:]:
    try:
        os.close(os.open(path, os.O_RDONLY))
        print(path, "ok")
    except OSError as e:
        print(path, errno.errorcode[e.errno])
"""


def test_rules_are_parsed_as_docker_writes_them() -> None:
    assert devicefilter.parse("c 1:3 rwm") == devicefilter.Rule("c", 1, 3, 7)
    assert devicefilter.parse("b *:* m") == devicefilter.Rule("b", -1, -1, 1)
    assert devicefilter.parse("c 136:* rw") == devicefilter.Rule("c", 136, -1, 6)
    assert devicefilter.parse("a") == devicefilter.Rule("a", -1, -1, 7)
    for bad in ("x 1:3 rwm", "c 1:3 rwx", "c 1 rwm", "c a:b rwm", ""):
        with pytest.raises(InvalidArgument, match="invalid device rule"):
            devicefilter.parse(bad)


def test_the_program_is_whole_instructions_ending_in_deny() -> None:
    code = devicefilter.program([devicefilter.parse(r) for r in DEFAULT_DEVICES])
    assert len(code) % 8 == 0
    # mov32 r0, 0; exit
    assert code[-16:] == bytes([0xB4, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])


@pytest.mark.skipif(os.geteuid() != 0 or not UNIFIED, reason="needs root and a cgroup2 mount")
def test_a_container_cgroup_allows_only_the_standard_devices() -> None:
    parent = f"caisson-test-{secrets.token_hex(4)}"
    cg = open_cgroup("ctr", parent, mode="v2", fs=CgroupFS(UNIFIED))
    try:
        cg.create(Resources(devices=DEFAULT_DEVICES))
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                PROBE,
                f"{UNIFIED}/{parent}/ctr",
                "/dev/null",
                "/dev/zero",
                "/dev/cpu_dma_latency",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split("\n")
        assert out[:3] == ["/dev/null ok", "/dev/zero ok", "/dev/cpu_dma_latency EPERM"], out
    finally:
        if cg.exists():
            cg.kill_all()
            cg.remove()
        cg.remove_parent()
