"""Layer unpack for real (root): every entry kind round-trips; whiteouts become overlayfs'
form; gzip, zstd and plain tar; the DiffID is checked; corrupt input is a clear error."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator

import pytest
from test_unpack_support import (
    MTIME,
    Blob,
    E,
    blob,
    d,
    digest,
    f,
    hard,
    layer,
    make_tar,
    sym,
)

from caisson import errors
from caisson.executor.syscalls import RealSyscalls
from caisson.executor.unpack import Layer, Unpacked, unpack_layer

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (owners, device nodes, xattrs)"),
]


@pytest.fixture
def dest() -> Iterator[str]:
    base = tempfile.mkdtemp(prefix="caisson-unpack-")
    path = os.path.join(base, "fs")
    os.mkdir(path)
    yield path
    shutil.rmtree(base)


def unpack(b: Blob, dest: str, diff_id: str | None = None) -> Unpacked:
    return unpack_layer(
        b.stream(), Layer(b.digest, b.media_type, diff_id or b.diff_id), dest, RealSyscalls()
    )


CAP = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_bind_service+ep


def test_every_entry_kind_round_trips(dest: str) -> None:
    long_dir = "l" * 120
    entries = [
        E("./", tarfile.DIRTYPE, mode=0o751, mtime=MTIME - 5),
        d("tmp", mode=0o1777, uid=1, gid=2, mtime=MTIME - 1),
        f("tmp/suid", b"#!/bin/sh\n", mode=0o4755, uid=1000, gid=1001, mtime=MTIME + 1),
        f("tmp/sgid", b"x", mode=0o2711, uid=0, gid=50),
        hard("tmp/suid-link", "tmp/suid"),
        sym("tmp/passwd", "/etc/passwd", uid=7, gid=8, mtime=MTIME + 2),
        sym("tmp/rel", "../tmp/suid"),
        d("dev"),
        E("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        E("dev/loop9", tarfile.BLKTYPE, mode=0o660, devmajor=7, devminor=9, gid=6),
        E("fifo", tarfile.FIFOTYPE, mode=0o620, uid=3),
        f(
            "caps",
            b"bin",
            mode=0o755,
            pax={
                "SCHILY.xattr.user.color": "blue",
                "SCHILY.xattr.trusted.note": "t",
                "SCHILY.xattr.security.capability": CAP.decode("utf-8", "surrogateescape"),
                "SCHILY.xattr.security.selinux": "system_u:object_r:bin_t:s0",
                "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
            },
        ),
        f("nanos", b"n", pax={"mtime": "1700000000.123456789", "atime": "1600000000.5"}),
        d(f"{long_dir}/{long_dir}"),
        f(f"{long_dir}/{long_dir}/{'n' * 150}.txt", b"long"),
        f("ünïcödé/文件 名.txt", "données".encode()),
        f("big", os.urandom(3 * 1024 * 1024 + 17), mode=0o600),
    ]
    b = layer(entries)
    result = unpack(b, dest)
    assert result.diff_id == b.diff_id
    assert result.compression == "gzip"
    # docker's size: regular files plus each symlink's target length
    assert result.size == sum(len(e.data) for e in entries if e.type == tarfile.REGTYPE) + sum(
        len(e.linkname.encode()) for e in entries if e.type == tarfile.SYMTYPE
    )

    def st(p: str) -> os.stat_result:
        return os.lstat(os.path.join(dest, p))

    root = st(".")
    assert stat.S_IMODE(root.st_mode) == 0o751 and root.st_mtime_ns == (MTIME - 5) * 10**9
    t = st("tmp")
    assert stat.S_IMODE(t.st_mode) == 0o1777 and (t.st_uid, t.st_gid) == (1, 2)
    assert t.st_mtime_ns == (MTIME - 1) * 10**9  # set after its entries were created
    s = st("tmp/suid")
    assert stat.S_IMODE(s.st_mode) == 0o4755 and (s.st_uid, s.st_gid) == (1000, 1001)
    assert s.st_mtime_ns == (MTIME + 1) * 10**9
    assert stat.S_IMODE(st("tmp/sgid").st_mode) == 0o2711 and st("tmp/sgid").st_gid == 50
    link = st("tmp/suid-link")
    assert link.st_ino == s.st_ino and s.st_nlink == 2
    p = st("tmp/passwd")
    assert stat.S_ISLNK(p.st_mode) and (p.st_uid, p.st_gid) == (7, 8)
    assert os.readlink(os.path.join(dest, "tmp/passwd")) == "/etc/passwd"
    assert p.st_mtime_ns == (MTIME + 2) * 10**9
    assert os.readlink(os.path.join(dest, "tmp/rel")) == "../tmp/suid"
    null = st("dev/null")
    assert stat.S_ISCHR(null.st_mode) and stat.S_IMODE(null.st_mode) == 0o666
    assert (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    loop = st("dev/loop9")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9) and loop.st_gid == 6
    fifo = st("fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o620
    assert fifo.st_uid == 3
    caps = os.path.join(dest, "caps")
    assert os.getxattr(caps, "user.color") == b"blue"
    assert os.getxattr(caps, "trusted.note") == b"t"
    assert os.getxattr(caps, "security.capability") == CAP
    names = os.listxattr(caps)
    assert "security.selinux" not in names and "trusted.overlay.redirect" not in names
    n = st("nanos")
    assert n.st_mtime_ns == 1_700_000_000_123_456_789 and n.st_atime_ns == 1_600_000_000_500_000_000
    with open(os.path.join(dest, long_dir, long_dir, "n" * 150 + ".txt"), "rb") as fh:
        assert fh.read() == b"long"
    with open(os.path.join(dest, "ünïcödé", "文件 名.txt"), "rb") as fh:
        assert fh.read() == "données".encode()
    with open(os.path.join(dest, "big"), "rb") as fh:
        assert fh.read() == entries[-1].data


def test_gnu_long_names(dest: str) -> None:
    name = "g" * 90 + "/" + "h" * 200
    b = layer([f(name, b"gnu"), sym("s" * 150, "t" * 300)], fmt=tarfile.GNU_FORMAT)
    unpack(b, dest)
    with open(os.path.join(dest, name), "rb") as fh:
        assert fh.read() == b"gnu"
    assert os.readlink(os.path.join(dest, "s" * 150)) == "t" * 300


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs GNU tar to write a sparse file")
def test_sparse_file_keeps_its_holes(dest: str) -> None:
    with tempfile.TemporaryDirectory() as src:
        path = os.path.join(src, "sparse")
        with open(path, "wb") as fh:
            fh.seek(64 * 1024 * 1024)
            fh.write(b"middle")
            fh.truncate(128 * 1024 * 1024)
        raw = subprocess.run(
            ["tar", "--sparse", "--format=posix", "-C", src, "-cf", "-", "sparse"],
            check=True,
            capture_output=True,
        ).stdout
    unpack(blob(raw, "gzip"), dest)
    out = os.path.join(dest, "sparse")
    st = os.stat(out)
    assert st.st_size == 128 * 1024 * 1024
    assert st.st_blocks * 512 < 1024 * 1024  # holes, not 128 MiB of zeros
    with open(out, "rb") as fh:
        fh.seek(64 * 1024 * 1024 - 2)
        assert fh.read(8) == b"\0\0middle"


def test_whiteouts_become_overlay_whiteouts(dest: str) -> None:
    b = layer(
        [
            d("etc"),
            f("etc/.wh.motd", uid=0),
            d("opt"),
            f("opt/.wh..wh..opq"),
            f("opt/new", b"n"),
            f(".wh.gone-dir"),
            f(".wh..wh.plnk/123.456", b"aufs hardlink bookkeeping"),
        ]
    )
    unpack(b, dest)
    wh = os.lstat(os.path.join(dest, "etc", "motd"))
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert stat.S_ISCHR(os.lstat(os.path.join(dest, "gone-dir")).st_mode)
    assert os.getxattr(os.path.join(dest, "opt"), "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(os.path.join(dest, "opt"))) == ["new"]
    assert sorted(os.listdir(dest)) == ["etc", "gone-dir", "opt"]  # no .wh.* left, no aufs dir


def test_later_entry_replaces_earlier_one(dest: str) -> None:
    b = layer(
        [
            f("a", b"first"),
            sym("a", "/etc/hostname"),  # symlink over file
            d("b"),
            f("b/inner", b"x"),
            f("b", b"file over dir"),  # the dir and its contents go
            sym("c", "/etc"),
            f("c", b"file over symlink"),  # replaces the link, does not write through it
            d("e", mode=0o700),
            d("e", mode=0o755, uid=5),  # dir over dir: merged, metadata from the later one
        ]
    )
    unpack(b, dest)
    assert os.readlink(os.path.join(dest, "a")) == "/etc/hostname"
    with open(os.path.join(dest, "b"), "rb") as fh:
        assert fh.read() == b"file over dir"
    with open(os.path.join(dest, "c"), "rb") as fh:
        assert fh.read() == b"file over symlink"
    e = os.lstat(os.path.join(dest, "e"))
    assert stat.S_IMODE(e.st_mode) == 0o755 and e.st_uid == 5


def test_hardlink_with_absolute_target_resolves_inside_the_layer(dest: str) -> None:
    b = layer([d("etc"), f("etc/passwd", b"root:x:0:0"), hard("copy", "/etc/passwd")])
    unpack(b, dest)
    a, c = os.lstat(os.path.join(dest, "etc/passwd")), os.lstat(os.path.join(dest, "copy"))
    assert a.st_ino == c.st_ino
    assert os.stat("/etc/passwd").st_ino != c.st_ino


@pytest.mark.parametrize("kind", ["gzip", "zstd", "tar"])
def test_compressions(dest: str, kind: str) -> None:
    data = os.urandom(200_000)
    b = layer([f("x", data), f("y", b"\0" * 5_000_000)], kind=kind)
    result = unpack(b, dest)
    assert result.compression == kind
    with open(os.path.join(dest, "x"), "rb") as fh:
        assert fh.read() == data


def test_compression_is_sniffed_not_taken_from_the_media_type(dest: str) -> None:
    raw = make_tar([f("x", b"y")])
    b = blob(raw, "zstd", media_type="application/vnd.docker.image.rootfs.diff.tar.gzip")
    assert unpack(b, dest).compression == "zstd"


def test_multi_member_gzip(dest: str) -> None:
    raw = make_tar([f("x", os.urandom(100_000)), f("y", b"z")])
    data = gzip.compress(raw[:60_000]) + gzip.compress(raw[60_000:])
    unpack(Blob(data, digest(data), digest(raw), "application/x-gzip"), dest)
    assert os.path.getsize(os.path.join(dest, "x")) == 100_000


def test_empty_layer(dest: str) -> None:
    result = unpack(layer([]), dest)
    assert result.size == 0 and os.listdir(dest) == []


def test_diff_id_mismatch_is_data_loss(dest: str) -> None:
    b = layer([f("x", b"y")])
    wrong = "sha256:" + "ab" * 32
    with pytest.raises(errors.DataLoss) as ei:
        unpack(b, dest, diff_id=wrong)
    msg = str(ei.value)
    assert b.digest in msg and b.diff_id in msg and wrong in msg


def test_corrupt_gzip_is_invalid(dest: str) -> None:
    good = layer([f("x", os.urandom(300_000))])
    data = bytearray(good.data)
    data[len(data) // 2] ^= 0xFF
    bad = Blob(bytes(data), digest(bytes(data)), good.diff_id, good.media_type)
    with pytest.raises(errors.InvalidArgument, match="cannot decompress"):
        unpack(bad, dest)


def test_truncated_layer_is_invalid(dest: str) -> None:
    raw = make_tar([f("x", os.urandom(300_000))])[:100_000]
    with pytest.raises(errors.InvalidArgument, match="truncated"):
        unpack(blob(raw, "tar"), dest)


def test_unsupported_compression_is_named(dest: str) -> None:
    data = b"BZh91AY&SY" + b"\0" * 100
    with pytest.raises(errors.InvalidArgument, match="bzip2"):
        unpack(Blob(data, digest(data), digest(b""), "application/x-bzip2"), dest)


def test_not_a_tar_is_invalid(dest: str) -> None:
    data = b"this is not a tar archive at all" * 40
    with pytest.raises(errors.InvalidArgument, match="not a valid tar"):
        unpack(Blob(data, digest(data), digest(data), "application/octet-stream"), dest)


def test_unpacked_layers_stack_with_overlayfs() -> None:
    """The whiteout form is what overlayfs reads: mount two snapshots and look."""
    base = tempfile.mkdtemp(prefix="caisson-overlay-")
    lower, upper, merged = (os.path.join(base, n) for n in ("lower", "upper", "merged"))
    for p in (lower, upper, merged):
        os.mkdir(p)
    try:
        unpack(
            layer([f("etc/a", b"a"), f("etc/b", b"b"), f("opt/x", b"x"), f("gone", b"g")]),
            lower,
        )
        unpack(
            layer([f("etc/.wh.a"), f("opt/.wh..wh..opq"), f("opt/y", b"y"), f(".wh.gone")]),
            upper,
        )
        mounted = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={upper}:{lower}", merged],
            capture_output=True,
            text=True,
        )
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount overlayfs here: {mounted.stderr.strip()}")
        try:
            assert sorted(os.listdir(merged)) == ["etc", "opt"]
            assert sorted(os.listdir(os.path.join(merged, "etc"))) == ["b"]
            assert sorted(os.listdir(os.path.join(merged, "opt"))) == ["y"]
        finally:
            subprocess.run(["umount", merged], check=True)
    finally:
        shutil.rmtree(base)
