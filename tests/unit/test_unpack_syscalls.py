"""The privileged calls unpack makes, seen through the recording syscalls (no root needed):
owners before modes, device nodes and whiteouts as mknod, opaque dirs and allowed xattrs as
lsetxattr, and nothing privileged for what needs no privilege."""

from __future__ import annotations

import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator

import pytest
from test_unpack_support import E, d, f, hard, layer, sym

from caisson.executor.syscalls import Call, RecordingSyscalls
from caisson.executor.unpack import Layer, unpack_layer


@pytest.fixture
def dest() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="caisson-fake-") as base:
        path = os.path.join(base, "fs")
        os.mkdir(path)
        yield path


def run(entries: list[E], dest: str) -> RecordingSyscalls:
    b = layer(entries)
    rec = RecordingSyscalls()
    unpack_layer(b.stream(), Layer(b.digest, b.media_type, b.diff_id), dest, rec)
    return rec


def test_privileged_calls_are_recorded(dest: str) -> None:
    rec = run(
        [
            d("dev", uid=0, gid=0),
            E("dev/tty", tarfile.CHRTYPE, mode=0o620, devmajor=5, devminor=0, gid=5),
            E("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0),
            f("bin/ping", b"elf", mode=0o4755, uid=0, gid=0),
            f(
                "bin/cap",
                b"elf",
                pax={
                    "SCHILY.xattr.security.capability": "\x01\x00",
                    "SCHILY.xattr.security.selinux": "label",
                    "SCHILY.xattr.user.k": "v",
                },
            ),
            f("home/u/file", b"x", uid=1000, gid=1000),
            f("etc/.wh.motd", uid=2, gid=3),
            f("opt/.wh..wh..opq"),
            sym("lnk", "/nowhere", uid=9, gid=9),
            hard("ping2", "bin/ping"),
        ],
        dest,
    )

    def one(op: str, rel: str) -> Call:
        calls = rec.find(op, os.path.join(dest, rel) if rel != "." else dest)
        assert len(calls) == 1, (op, rel, rec.calls)
        return calls[0]

    assert one("mknod", "dev/tty").args == (stat.S_IFCHR | 0o600, os.makedev(5, 0))
    assert one("mknod", "dev/sda").args == (stat.S_IFBLK | 0o600, os.makedev(8, 0))
    assert one("mknod", "etc/motd").args == (stat.S_IFCHR, os.makedev(0, 0))
    assert one("lchown", "etc/motd").args == (2, 3)
    assert one("lchown", "home/u/file").args == (1000, 1000)
    assert one("lchown", "lnk").args == (9, 9)
    assert one("lsetxattr", "opt").args == ("trusted.overlay.opaque", b"y")
    cap = os.path.join(dest, "bin/cap")
    assert {c.args for c in rec.calls if c.op == "lsetxattr" and c.path == cap} == {
        ("security.capability", b"\x01\x00"),
        ("user.k", b"v"),
    }
    # the setuid bit survives because chmod comes after chown
    assert stat.S_IMODE(os.stat(os.path.join(dest, "bin/ping")).st_mode) == 0o4755
    assert os.stat(os.path.join(dest, "ping2")).st_ino == os.stat(dest + "/bin/ping").st_ino
    # a hardlink shares the target's inode: no owner change of its own
    assert rec.find("lchown", os.path.join(dest, "ping2")) == []
    assert os.listdir(os.path.join(dest, "etc")) == ["motd"]


def test_fifo_needs_no_privilege(dest: str) -> None:
    rec = run([E("pipe", tarfile.FIFOTYPE, mode=0o640)], dest)
    st = os.lstat(os.path.join(dest, "pipe"))
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    assert [c.op for c in rec.calls] == ["lchown"]
