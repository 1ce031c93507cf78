"""Applies a layer's tar entries to an empty directory, treating the tar as hostile.

This runs as root on input from the internet, so it never uses tarfile's extraction helpers and
never resolves a path through the kernel's path walk from the snapshot root. Every entry name is
resolved lexically (a leading "/" is dropped, as docker does; a ".." that climbs above the root
is refused), then its parent directories are opened one component at a time with O_NOFOLLOW,
and the entry itself is created with an *at call on the parent's fd. A symlink is never
followed while extracting: an entry whose parent is a symlink, a hardlink whose target is not
an earlier entry of this layer, or a directory entry over a symlink of this layer fails the
layer with InvalidArgument.

Whiteouts become what overlayfs reads (the layer is one overlay lowerdir, unpacked on its own
into an empty dir, like docker's overlay2): `.wh.NAME` -> a 0/0 character device NAME;
`.wh..wh..opq` -> xattr trusted.overlay.opaque=y on its directory.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from caisson import errors, logs
from caisson.executor.layerstream import LayerStream
from caisson.executor.rmtree import remove_at
from caisson.executor.syscalls import Syscalls

log = logs.get("caisson.executor.extract")

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
# aufs bookkeeping at the layer root (.wh..wh.plnk, .wh..wh.aufs): not content, skipped.
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX_PREFIX = "SCHILY.xattr."

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_OPEN_DIRS = 256
PATH_MAX = 4096
_MAX_TIME = 2**62 // 1_000_000_000  # seconds: what a nanosecond timespec can hold

Parts = tuple[str, ...]
T = TypeVar("T")


def entry_parts(name: str) -> Parts | None:
    """The components of `name` below the root, or None when it climbs out of the root."""
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(comp)
    return tuple(parts)


def xattr_allowed(key: str) -> bool:
    """user.* and trusted.* (but not overlayfs' own trusted.overlay.*: only whiteout
    conversion may set those) and file capabilities; not SELinux labels or other security.*"""
    if key.startswith("trusted.overlay."):
        return False
    return key.startswith(("user.", "trusted.")) or key == "security.capability"


class Hostile(Exception):
    """An entry that would write outside the snapshot; becomes InvalidArgument."""


class _ThroughSymlink(Exception):
    def __init__(self, parts: Parts) -> None:
        super().__init__("/".join(parts))
        self.parts = parts


class _NotADirectory(Exception):
    def __init__(self, parts: Parts) -> None:
        super().__init__("/".join(parts))
        self.parts = parts


class _Dirs:
    """Directory fds below the root, each reached from its parent's fd with O_NOFOLLOW, cached
    by path (tar entries come grouped by directory)."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self._open: dict[Parts, int] = {}

    def get(self, parts: Parts, create: bool) -> int | None:
        """The fd of directory `parts`, creating missing ones (0755, like docker) when
        `create`; None when one is missing and not `create`."""
        if not parts:
            return self.root_fd
        fd = self._open.get(parts)
        if fd is not None:
            return fd
        # Walk from the parent when it is open (the usual case: a new subdirectory), else from
        # the root. Only the directory asked for stays open: a deep path costs no fds.
        start = len(parts) - 1 if parts[:-1] in self._open else 0
        cur = self._open[parts[:-1]] if start else self.root_fd
        for i in range(start, len(parts)):
            try:
                nxt = self._step(cur, parts[: i + 1], create)
            finally:
                if i > start:
                    os.close(cur)
            if nxt is None:
                return None
            cur = nxt
        self._open[parts] = cur
        return cur

    @staticmethod
    def _step(parent: int, parts: Parts, create: bool) -> int | None:
        name = parts[-1]
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            os.chmod(fd, 0o755)  # whatever the umask
            return fd
        except NotADirectoryError:
            # O_NOFOLLOW|O_DIRECTORY gives ENOTDIR for a symlink too: tell them apart.
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise _ThroughSymlink(parts) from None
            raise _NotADirectory(parts) from None

    def forget_under(self, parts: Parts) -> None:
        """Closes the fds of `parts` and below (removed or replaced)."""
        n = len(parts)
        for key in [k for k in self._open if k[:n] == parts]:
            os.close(self._open.pop(key))

    def trim(self) -> None:
        if len(self._open) > _MAX_OPEN_DIRS:
            self.close()

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def _time_ns(m: tarfile.TarInfo, key: str) -> int | None:
    """A PAX time exactly (tarfile's float loses the nanoseconds), else the header's mtime."""
    raw = m.pax_headers.get(key)
    if raw is not None:
        try:
            value = Decimal(raw)
            # bounded first: int() of a value like 1e999999999 would take forever
            if value.is_finite() and abs(value) < _MAX_TIME:
                return int(value * 1_000_000_000)
        except ArithmeticError:  # decimal's InvalidOperation, Overflow
            pass
    if key == "mtime":
        return int(m.mtime) * 1_000_000_000
    return None


class Extractor:
    """Applies the entries of one tar stream under `root_fd` (an empty directory).

    `syscalls` makes the privileged calls (mknod, lchown, lsetxattr); `tick` is called now
    and then so the caller can report progress. `run()` returns the layer's content size.
    """

    def __init__(
        self,
        root_fd: int,
        layer: str,
        stream: LayerStream,
        syscalls: Syscalls,
        tick: Callable[[], None] = lambda: None,
    ) -> None:
        self.layer = layer
        self.stream = stream
        self.sys = syscalls
        self.tick = tick
        self.size = 0
        self._dirs = _Dirs(root_fd)
        self._dir_times: list[tuple[Parts, int, int]] = []
        self._xattr_skipped = 0

    def run(self) -> int:
        tf = tarfile.TarFile(
            fileobj=self.stream,  # type: ignore[arg-type]
            mode="r",
            encoding="utf-8",
            errors="surrogateescape",
        )
        try:
            while (m := tf.next()) is not None:
                tf.members.clear()  # tarfile keeps every member otherwise
                self._dirs.trim()
                self._entry(m)
                self.tick()
            self._set_dir_times()
        finally:
            self._dirs.close()
        if self._xattr_skipped:
            log.debug("xattrs skipped", layer=self.layer, count=self._xattr_skipped)
        return self.size

    # -- entries ----------------------------------------------------------------------------
    def _refuse(self, name: str, why: str) -> Hostile:
        return Hostile(f"layer {self.layer}: entry {name!r} {why}")

    def _entry(self, m: tarfile.TarInfo) -> None:
        name = m.name
        if "\x00" in name or "\x00" in m.linkname:
            raise self._refuse(name, "has a NUL byte in its name")
        if len(os.fsencode(name)) > PATH_MAX or len(os.fsencode(m.linkname)) > PATH_MAX:
            # which also bounds the depth of the tree, and so the fds removing it takes
            raise self._refuse(name[:100] + "...", f"has a name longer than {PATH_MAX} bytes")
        parts = entry_parts(name)
        if parts is None:
            raise self._refuse(name, "would be written outside the snapshot")
        try:
            self._apply(m, parts)
        except _ThroughSymlink as e:
            raise self._refuse(
                name, f"would be written outside the snapshot (through symlink {str(e)!r})"
            ) from None
        except _NotADirectory as e:
            raise self._refuse(name, f"has a parent {str(e)!r} that is not a directory") from None
        except (OverflowError, ValueError) as e:  # owner or device numbers out of range
            raise self._refuse(name, f"has invalid metadata ({e})") from None
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                raise self._refuse(name, "has a name too long for the filesystem") from None
            raise errors.from_os_error(e, f"layer {self.layer}: entry {name!r}") from e

    def _apply(self, m: tarfile.TarInfo, parts: Parts) -> None:
        base = parts[-1] if parts else ""
        if base == WHITEOUT_OPAQUE:
            fd = self._dirs.get(parts[:-1], create=True)
            assert fd is not None
            self.sys.lsetxattr(fd, ".", OPAQUE_XATTR, b"y")
            return
        if parts and parts[0].startswith(WHITEOUT_META_PREFIX):
            return  # tarfile skips the data of an entry left unread
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(m, parts[:-1], base[len(WHITEOUT_PREFIX) :])
            return
        if not parts:
            if not m.isdir():
                raise self._refuse(m.name, "would replace the snapshot root")
            self._metadata(self._dirs.root_fd, ".", m, directory=True)
            self._dir_times.append(((), *self._times(m)))
            return
        if m.isreg():
            self._regular(m, parts)
        elif m.isdir():
            self._directory(m, parts)
        elif m.issym():
            self._make(parts, lambda d: os.symlink(m.linkname, parts[-1], dir_fd=d))
            self._metadata(self._parent(parts), parts[-1], m, symlink=True)
            # docker's layer size counts a symlink's st_size (its target's length) too
            self.size += len(os.fsencode(m.linkname))
        elif m.islnk():
            self._hardlink(m, parts)
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            dev = os.makedev(m.devmajor, m.devminor)
            self._make(parts, lambda d: self.sys.mknod(d, parts[-1], kind | 0o600, dev))
            self._metadata(self._parent(parts), parts[-1], m)
        elif m.isfifo():
            self._make(parts, lambda d: os.mkfifo(parts[-1], 0o600, dir_fd=d))
            self._metadata(self._parent(parts), parts[-1], m)
        else:
            raise self._refuse(m.name, f"has an unsupported type {m.type!r}")

    def _parent(self, parts: Parts) -> int:
        fd = self._dirs.get(parts[:-1], create=True)
        assert fd is not None
        return fd

    def _make(self, parts: Parts, make: Callable[[int], T]) -> T:
        """Runs `make(parent_fd)`; when the name exists (an earlier entry of this layer), removes
        that entry and runs it again: a later entry replaces an earlier one, as in docker."""
        try:
            return make(self._parent(parts))
        except FileExistsError:
            self._remove(parts)
            return make(self._parent(parts))

    def _remove(self, parts: Parts) -> None:
        parent = self._parent(parts)
        self._dirs.forget_under(parts)
        remove_at(parent, parts[-1])  # never follows a symlink

    def _regular(self, m: tarfile.TarInfo, parts: Parts) -> None:
        fd = self._make(parts, lambda d: os.open(parts[-1], _NEW_FILE_FLAGS, 0o600, dir_fd=d))
        try:
            if m.sparse:
                self._write_sparse(fd, m)
            elif self.stream.copy_to(fd, m.size, self.tick) < m.size:
                raise self._refuse(m.name, "is truncated")
        finally:
            os.close(fd)
        self.size += m.size
        self._metadata(self._parent(parts), parts[-1], m)

    def _write_sparse(self, fd: int, m: tarfile.TarInfo) -> None:
        # The archive holds the data blocks one after the other; the holes stay holes.
        for offset, length in m.sparse or []:
            if offset < 0 or length < 0 or offset + length > m.size:
                raise self._refuse(m.name, "has a sparse map beyond its size")
            os.lseek(fd, offset, os.SEEK_SET)
            if self.stream.copy_to(fd, length, self.tick) < length:
                raise self._refuse(m.name, "is truncated")
        os.ftruncate(fd, m.size)

    def _directory(self, m: tarfile.TarInfo, parts: Parts) -> None:
        parent = self._parent(parts)
        try:
            os.mkdir(parts[-1], 0o700, dir_fd=parent)
        except FileExistsError:
            st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                # Refused rather than replaced: a directory that lands where a symlink was is
                # the classic way to get metadata or later entries applied through the link.
                raise self._refuse(m.name, "would replace a symlink of this layer") from None
            if not stat.S_ISDIR(st.st_mode):
                self._remove(parts)
                os.mkdir(parts[-1], 0o700, dir_fd=self._parent(parts))
            # an existing directory is kept: the entry's metadata is applied to it (merge)
        self._metadata(self._parent(parts), parts[-1], m, directory=True)
        self._dir_times.append((parts, *self._times(m)))

    def _hardlink(self, m: tarfile.TarInfo, parts: Parts) -> None:
        target = entry_parts(m.linkname)
        if not target:
            raise self._refuse(m.name, f"links to {m.linkname!r} outside the snapshot")

        def link(parent: int) -> None:
            try:
                tdir = self._dirs.get(target[:-1], create=False)
            except (_ThroughSymlink, _NotADirectory):
                raise self._refuse(
                    m.name, f"links to {m.linkname!r} through a symlink or non-directory"
                ) from None
            try:
                if tdir is None:
                    raise FileNotFoundError
                st = os.stat(target[-1], dir_fd=tdir, follow_symlinks=False)
            except FileNotFoundError:
                raise self._refuse(
                    m.name, f"links to {m.linkname!r}, which is not in this layer"
                ) from None
            if stat.S_ISDIR(st.st_mode):
                raise self._refuse(m.name, f"links to directory {m.linkname!r}")
            # linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself
            os.link(
                target[-1], parts[-1], src_dir_fd=tdir, dst_dir_fd=parent, follow_symlinks=False
            )

        if target == parts:
            raise self._refuse(m.name, "links to itself")
        # The inode already has the target entry's owner, mode and times: nothing to apply.
        self._make(parts, link)

    def _whiteout(self, m: tarfile.TarInfo, dir_parts: Parts, name: str) -> None:
        if name in ("", ".", ".."):
            raise self._refuse(m.name, "is a whiteout of no valid name")
        parts = (*dir_parts, name)
        self._make(parts, lambda d: self.sys.mknod(d, name, stat.S_IFCHR, os.makedev(0, 0)))
        self.sys.lchown(self._parent(parts), name, m.uid, m.gid)

    # -- metadata ---------------------------------------------------------------------------
    def _metadata(
        self,
        parent: int,
        name: str,
        m: tarfile.TarInfo,
        symlink: bool = False,
        directory: bool = False,
    ) -> None:
        # chown first: it clears setuid/setgid and file capabilities, set afterwards.
        self.sys.lchown(parent, name, m.uid, m.gid)
        if not symlink:  # a symlink's mode means nothing on Linux
            os.chmod(name, stat.S_IMODE(m.mode), dir_fd=parent)
        for key, value in m.pax_headers.items():
            if key.startswith(XATTR_PAX_PREFIX):
                self._xattr(parent, name, key[len(XATTR_PAX_PREFIX) :], value)
        if not directory:  # a directory's times are set last: its entries change them
            atime, mtime = self._times(m)
            os.utime(name, ns=(atime, mtime), dir_fd=parent, follow_symlinks=False)

    def _xattr(self, parent: int, name: str, key: str, value: str) -> None:
        if not xattr_allowed(key):
            self._xattr_skipped += 1
            return
        try:
            # tarfile decoded the value as UTF-8 with surrogateescape: this gives the bytes back
            self.sys.lsetxattr(parent, name, key, value.encode("utf-8", "surrogateescape"))
        except OSError as e:
            # user.* is not allowed on symlinks and devices; some filesystems have no xattrs.
            if e.errno not in (errno.EPERM, errno.ENOTSUP):
                raise
            self._xattr_skipped += 1

    def _times(self, m: tarfile.TarInfo) -> tuple[int, int]:
        mtime = _time_ns(m, "mtime")
        assert mtime is not None
        atime = _time_ns(m, "atime")
        return (mtime if atime is None else atime), mtime

    def _set_dir_times(self) -> None:
        for parts, atime, mtime in sorted(self._dir_times, key=lambda t: -len(t[0])):
            try:
                parent = self._dirs.get(parts[:-1], create=False) if parts else self._dirs.root_fd
            except (_ThroughSymlink, _NotADirectory):
                continue  # replaced by a later entry
            if parent is None:
                continue
            name = parts[-1] if parts else "."
            try:
                if not stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                    continue  # replaced by a later entry
                os.utime(name, ns=(atime, mtime), dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                continue
