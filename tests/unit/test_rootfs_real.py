"""The rootfs steps for real, as root: an overlay of directories made here (merged view,
whiteouts, writes to the upper, many layers, unmount leaving nothing), and prepare_rootfs in a
child made with `unshare --mount --pid ...` on a busybox rootfs, probed from inside with
busybox. Every mount of the child lives in its own mount namespace and goes with it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from caisson.executor import rootfs as r
from caisson.executor.syscalls import RealSyscalls

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts)"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare"),
]


def mountpoints(under: str = "/") -> list[str]:
    """Mount points (of this test's tree only, when `under` is given: other tests or engines
    on the host may mount and unmount meanwhile)."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    prefix = under.rstrip("/") + "/"
    return [p for p in points if under == "/" or p == under or p.startswith(prefix)]


@pytest.fixture
def base() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="caisson-rootfs-")
    try:
        yield d
    finally:
        for m in reversed(mountpoints()):  # a failed test must not leave a mount behind
            if m.startswith(d):
                RealSyscalls().umount2(m, r.MNT_DETACH)
        shutil.rmtree(d)


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def test_overlay_merges_whiteouts_writes_and_unmounts(base: str) -> None:
    top, bottom = os.path.join(base, "top"), os.path.join(base, "bottom")
    upper, work, merged = (os.path.join(base, n) for n in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        os.mkdir(d)
    write(f"{bottom}/a", "bottom a")
    write(f"{bottom}/b", "bottom b")
    write(f"{bottom}/gone", "hidden by a whiteout")
    write(f"{top}/a", "top a")
    os.mknod(f"{top}/gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))  # overlayfs whiteout
    sc = RealSyscalls()
    before = mountpoints(base)
    r.mount_overlay(sc, [top, bottom], upper, work, merged)
    try:
        assert merged in mountpoints()
        assert sorted(os.listdir(merged)) == ["a", "b"]
        assert read(f"{merged}/a") == "top a"
        assert read(f"{merged}/b") == "bottom b"
        write(f"{merged}/new", "written")
        os.unlink(f"{merged}/b")
        assert read(f"{upper}/new") == "written"
        assert stat.S_ISCHR(os.lstat(f"{upper}/b").st_mode)  # the deletion, in the upper
        assert read(f"{bottom}/b") == "bottom b"  # lowers untouched
    finally:
        r.unmount(sc, merged)
    assert mountpoints(base) == before
    r.unmount(sc, merged)  # again: nothing mounted, no error


def test_overlay_of_many_layers_and_read_only(base: str) -> None:
    snaps = os.path.join(base, "snapshots")
    lowers = []
    for i in range(50):
        d = os.path.join(snaps, f"{i:064x}", "fs")
        write(f"{d}/layer{i}", str(i))
        lowers.append(d)
    lowers.reverse()  # top first
    assert len(r.overlay_data(lowers, "", "")) >= r.PAGE_SIZE
    upper, work, merged = (os.path.join(snaps, "c", n) for n in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        os.makedirs(d)
    sc = RealSyscalls()
    cwd = os.getcwd()
    r.mount_overlay(sc, lowers, upper, work, merged)
    try:
        assert os.getcwd() == cwd
        assert len(os.listdir(merged)) == 50
    finally:
        r.unmount(sc, merged)
    r.mount_overlay(sc, lowers[:2], "", "", merged, readonly=True)
    try:
        assert sorted(os.listdir(merged)) == ["layer48", "layer49"]
        with pytest.raises(OSError, match="Read-only file system"):
            write(f"{merged}/x", "x")
    finally:
        r.unmount(sc, merged)
    assert merged not in mountpoints()


CHILD = """
import os, sys
from caisson.executor import rootfs as r
from caisson.executor.syscalls import RealSyscalls

base, probe = sys.argv[1], sys.argv[2]
spec = r.RootfsSpec(
    rootfs=base + "/root",
    readonly=True,
    shm_size=8 << 20,
    binds=(r.BindMount(base + "/data", "/data", readonly=True),),
    tmpfs=(r.TmpfsMount("/run", ("size=1m",)),),
    hostname_file=base + "/hostname",
)
r.prepare_rootfs(RealSyscalls(), spec)
os.execv("/bin/busybox", ["sh", "-c", probe])
"""

PROBE = """
echo pid=$$
echo root=$(busybox ls /)
for n in null zero full random urandom tty; do test -c /dev/$n && echo dev=$n; done
echo ptmx=$(busybox readlink /dev/ptmx) fd=$(busybox readlink /dev/fd)
echo hostname=$(busybox cat /etc/hostname)
echo data=$(busybox cat /data/hello)
echo keys=$(busybox wc -c < /proc/keys)
echo acpi=$(busybox ls -A /proc/acpi 2>/dev/null | busybox wc -l)
echo x 2>/dev/null > /proc/sys/kernel/hostname || echo procsys=ro
busybox touch /x 2>/dev/null || echo rootfs=ro
busybox touch /data/x 2>/dev/null || echo data=ro
busybox touch /run/x && echo run=rw
busybox touch /dev/shm/x && echo shm=rw
busybox grep -q ' /sys sysfs ro,' /proc/mounts && echo sys=ro
busybox grep -c ' /dev/pts devpts ' /proc/mounts
"""


def test_prepare_rootfs_in_a_new_mount_namespace(base: str) -> None:
    root = os.path.join(base, "root")
    os.makedirs(f"{root}/bin")
    shutil.copy("/bin/busybox", f"{root}/bin/busybox")
    os.symlink("busybox", f"{root}/bin/sh")
    write(f"{base}/data/hello", "hi")
    write(f"{base}/hostname", "box")
    script = os.path.join(base, "child.py")
    write(script, CHILD)
    before = mountpoints(base)
    out = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--ipc", "--uts", "--net"]
        + [sys.executable, script, base, PROBE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert "pid=1" in lines
    assert out.stdout.splitlines()[1] == "root=bin data dev etc proc run sys"
    for n in ("null", "zero", "full", "random", "urandom", "tty"):
        assert f"dev={n}" in lines
    assert "ptmx=pts/ptmx" in lines and "fd=/proc/self/fd" in lines
    assert "hostname=box" in lines and "data=hi" in lines
    if os.path.exists("/proc/keys"):
        assert "keys=0" in lines  # masked: /dev/null over it
    assert "acpi=0" in lines  # masked dir (empty tmpfs) or absent
    for want in ("procsys=ro", "rootfs=ro", "data=ro", "run=rw", "shm=rw", "sys=ro"):
        assert want in lines, out.stdout
    assert lines[-1] == "1"  # one devpts, the container's own
    assert mountpoints(base) == before  # nothing leaked to the host namespace
    assert not os.path.exists(f"{root}/x") and os.listdir(f"{root}/dev") == []
