"""The privileged filesystem calls the executor makes, behind one narrow interface.

Like youki's `Syscall` trait: the real implementation calls the kernel; the recording fake
writes down what would have been done, so the path logic around these calls (hostile layers,
whiteouts) is unit-tested without root. Every call names its target as (directory fd, name):
the directory was reached without following a symlink, and the name is one path component, so
no call here can be redirected outside the tree by a symlink.

The mount-namespace calls (mount, umount2, pivot_root, chdir and the *_path creators) take
paths: they run in a container's own mount namespace while its rootfs is prepared, on paths
rootfs.py has already resolved inside the rootfs (see rootfs.resolve_in_root).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Protocol

# The real implementation, in a module of its own for the container init (see there).
from caisson.executor.realsyscalls import RealSyscalls as RealSyscalls


class Syscalls(Protocol):
    def mknod(self, dir_fd: int, name: str, mode: int, device: int) -> None:
        """Creates a device node, fifo or whiteout `name` in `dir_fd` (mode includes S_IF*)."""

    def lchown(self, dir_fd: int, name: str, uid: int, gid: int) -> None:
        """Sets the owner of `name` in `dir_fd` without following a symlink."""

    def lsetxattr(self, dir_fd: int, name: str, key: str, value: bytes) -> None:
        """Sets an extended attribute on `name` in `dir_fd` ("." is the directory itself)
        without following a symlink."""

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None:
        """mount(2); raises OSError with the kernel's errno."""

    def umount2(self, target: str, flags: int) -> None:
        """umount2(2); raises OSError with the kernel's errno."""

    def pivot_root(self, new_root: str, put_old: str) -> None:
        """pivot_root(2) (no libc wrapper: a raw syscall)."""

    def chdir(self, path: str) -> None:
        """Changes the process's working directory (process-wide: single-threaded callers)."""

    def fchdir(self, fd: int) -> None:
        """Changes the working directory to the directory `fd` holds."""

    def mkdir_path(self, path: str, mode: int) -> None:
        """Creates directory `path` with exactly `mode` (whatever the umask)."""

    def mknod_path(self, path: str, mode: int, device: int) -> None:
        """Creates node `path` (mode includes S_IF*) with exactly its permission bits."""

    def symlink_path(self, target: str, path: str) -> None:
        """Creates symlink `path` pointing to `target`."""

    def create_file_path(self, path: str, mode: int) -> None:
        """Creates an empty regular file `path` (a mount point for a file bind)."""


# A mount(2) with any of these changes an existing mount rather than adding one.
_MS_REMOUNT_OR_PROPAGATION = 32 | (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20)


@dataclass(frozen=True)
class Call:
    """One recorded call: `path` is absolute (the fd's directory joined with the name)."""

    op: str
    path: str
    args: tuple[object, ...]


class RecordingSyscalls:
    """Records the calls instead of making them. `mknod` leaves an empty regular file with the
    node's permission bits, so later steps (chmod, utime, a replacing entry) find something
    at the path as they would after the real call; the *_path creators really create their
    entry (mknod_path an empty file) for the same reason.

    Mounts are modelled as a stack of targets (pivot_root mounts the old root on `put_old`),
    so umount2 fails with EINVAL on a path with nothing mounted, as the kernel does.
    `failures` maps (op, path) to an errno the call raises instead (counted down in
    `failures_left` when given, for errors that go away such as EBUSY)."""

    def __init__(
        self,
        failures: dict[tuple[str, str], int] | None = None,
        failures_left: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.calls: list[Call] = []
        self.mounted: list[str] = []
        self.failures = dict(failures or {})
        self.failures_left = dict(failures_left or {})

    def _record(self, op: str, dir_fd: int, name: str, *args: object) -> None:
        base = os.readlink(f"/proc/self/fd/{dir_fd}")
        path = base if name == "." else os.path.join(base, name)
        self.calls.append(Call(op, path, args))

    def mknod(self, dir_fd: int, name: str, mode: int, device: int) -> None:
        self._record("mknod", dir_fd, name, mode, device)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(mode), dir_fd=dir_fd)
        os.close(fd)

    def lchown(self, dir_fd: int, name: str, uid: int, gid: int) -> None:
        self._record("lchown", dir_fd, name, uid, gid)

    def lsetxattr(self, dir_fd: int, name: str, key: str, value: bytes) -> None:
        self._record("lsetxattr", dir_fd, name, key, value)

    def _record_path(self, op: str, path: str, *args: object) -> None:
        self.calls.append(Call(op, path, args))
        key = (op, path)
        if key in self.failures:
            left = self.failures_left.get(key)
            if left is None or left > 0:
                if left is not None:
                    self.failures_left[key] = left - 1
                e = self.failures[key]
                raise OSError(e, os.strerror(e), path)

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None:
        self._record_path("mount", target, source, fstype, flags, data)
        if not flags & _MS_REMOUNT_OR_PROPAGATION:
            self.mounted.append(target)

    def umount2(self, target: str, flags: int) -> None:
        self._record_path("umount2", target, flags)
        if target not in self.mounted:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), target)
        del self.mounted[len(self.mounted) - 1 - self.mounted[::-1].index(target)]

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record_path("pivot_root", new_root, put_old)
        self.mounted.append(put_old)

    def chdir(self, path: str) -> None:
        self._record_path("chdir", path)

    def fchdir(self, fd: int) -> None:
        self._record_path("fchdir", os.readlink(f"/proc/self/fd/{fd}"))

    def mkdir_path(self, path: str, mode: int) -> None:
        self._record_path("mkdir", path, mode)
        os.mkdir(path, mode)

    def mknod_path(self, path: str, mode: int, device: int) -> None:
        self._record_path("mknod", path, mode, device)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(mode)))

    def symlink_path(self, target: str, path: str) -> None:
        self._record_path("symlink", path, target)
        os.symlink(target, path)

    def create_file_path(self, path: str, mode: int) -> None:
        self._record_path("create_file", path, mode)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode))

    def find(self, op: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.op == op and c.path == path]
