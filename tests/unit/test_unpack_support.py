"""Layer tars built with Python's tarfile for the executor's unpack and snapshot tests.

(No tests here: the helpers the test_unpack*/test_snapshots*/test_executor* files share.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import threading
from dataclasses import dataclass, field

import zstandard

from caisson.content import ContentStore
from caisson.executor.syscalls import Syscalls

MTIME = 1_700_000_000
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
TAR = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPES = {"gzip": GZIP, "zstd": ZSTD, "tar": TAR}


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class E:
    """One tar entry."""

    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: float = MTIME
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    pax: dict[str, str] = field(default_factory=dict)

    def info(self) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(self.name)
        ti.type = self.type
        ti.mode = self.mode
        ti.uid, ti.gid = self.uid, self.gid
        ti.mtime = self.mtime
        ti.linkname = self.linkname
        ti.devmajor, ti.devminor = self.devmajor, self.devminor
        ti.size = len(self.data) if self.type == tarfile.REGTYPE else 0
        ti.pax_headers = dict(self.pax)
        return ti


def d(name: str, mode: int = 0o755, **kw: object) -> E:
    return E(name, tarfile.DIRTYPE, mode=mode, **kw)  # type: ignore[arg-type]


def f(name: str, data: bytes = b"", mode: int = 0o644, **kw: object) -> E:
    return E(name, tarfile.REGTYPE, data=data, mode=mode, **kw)  # type: ignore[arg-type]


def sym(name: str, target: str, **kw: object) -> E:
    return E(name, tarfile.SYMTYPE, linkname=target, mode=0o777, **kw)  # type: ignore[arg-type]


def hard(name: str, target: str, **kw: object) -> E:
    return E(name, tarfile.LNKTYPE, linkname=target, **kw)  # type: ignore[arg-type]


def make_tar(entries: list[E], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8") as tf:
        for e in entries:
            tf.addfile(e.info(), io.BytesIO(e.data) if e.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def compress(raw: bytes, kind: str) -> bytes:
    if kind == "gzip":
        return gzip.compress(raw, compresslevel=1)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


@dataclass(frozen=True)
class Blob:
    data: bytes
    digest: str
    diff_id: str
    media_type: str

    def stream(self) -> io.BytesIO:
        return io.BytesIO(self.data)


def blob(raw: bytes, kind: str = "gzip", media_type: str | None = None) -> Blob:
    data = compress(raw, kind)
    return Blob(data, digest(data), digest(raw), media_type or MEDIA_TYPES[kind])


def layer(entries: list[E], kind: str = "gzip", fmt: int = tarfile.PAX_FORMAT) -> Blob:
    return blob(make_tar(entries, fmt), kind)


def store(content: ContentStore, b: Blob) -> None:
    content.init()
    content.write(b.digest, b.data)


def tree(root: str) -> dict[str, tuple[int, int]]:
    """Every path under `root` (relative) with its mode and mtime: to prove nothing changed."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_mtime_ns)
    return out


class Gate:
    """Syscalls that hold the first mknod until released, counting them: lets a test keep an
    unpack in flight while it does something else."""

    def __init__(self, inner: Syscalls) -> None:
        self.inner = inner
        self.mknods = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def mknod(self, dir_fd: int, name: str, mode: int, device: int) -> None:
        self.mknods += 1
        self.entered.set()
        assert self.release.wait(30), "test never released the gate"
        self.inner.mknod(dir_fd, name, mode, device)

    def lchown(self, dir_fd: int, name: str, uid: int, gid: int) -> None:
        self.inner.lchown(dir_fd, name, uid, gid)

    def lsetxattr(self, dir_fd: int, name: str, key: str, value: bytes) -> None:
        self.inner.lsetxattr(dir_fd, name, key, value)
