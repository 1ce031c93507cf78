"""The privileged filesystem calls the executor makes, behind one narrow interface.

Like youki's `Syscall` trait: the real implementation calls the kernel; the recording fake
writes down what would have been done, so the path logic around these calls (hostile layers,
whiteouts) is unit-tested without root. Every call names its target as (directory fd, name):
the directory was reached without following a symlink, and the name is one path component, so
no call here can be redirected outside the tree by a symlink.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Protocol


class Syscalls(Protocol):
    def mknod(self, dir_fd: int, name: str, mode: int, device: int) -> None:
        """Creates a device node, fifo or whiteout `name` in `dir_fd` (mode includes S_IF*)."""

    def lchown(self, dir_fd: int, name: str, uid: int, gid: int) -> None:
        """Sets the owner of `name` in `dir_fd` without following a symlink."""

    def lsetxattr(self, dir_fd: int, name: str, key: str, value: bytes) -> None:
        """Sets an extended attribute on `name` in `dir_fd` ("." is the directory itself)
        without following a symlink."""


def _fd_path(dir_fd: int, name: str) -> str:
    # /proc/self/fd/N is the directory the fd holds, whatever its path is now: the way to reach
    # `name` from a path-only call (setxattr has no *at form) without resolving any symlink.
    return f"/proc/self/fd/{dir_fd}/{name}"


class RealSyscalls:
    def mknod(self, dir_fd: int, name: str, mode: int, device: int) -> None:
        os.mknod(name, mode, device, dir_fd=dir_fd)

    def lchown(self, dir_fd: int, name: str, uid: int, gid: int) -> None:
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)

    def lsetxattr(self, dir_fd: int, name: str, key: str, value: bytes) -> None:
        os.setxattr(_fd_path(dir_fd, name), key, value, follow_symlinks=False)


@dataclass(frozen=True)
class Call:
    """One recorded call: `path` is absolute (the fd's directory joined with the name)."""

    op: str
    path: str
    args: tuple[object, ...]


class RecordingSyscalls:
    """Records the calls instead of making them. `mknod` leaves an empty regular file with the
    node's permission bits, so later steps (chmod, utime, a replacing entry) find something
    at the path as they would after the real call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

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

    def find(self, op: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.op == op and c.path == path]
