"""The real Syscalls (see syscalls.py): each call made to the kernel.

Kept apart from the interface and the recording fake, which need typing and dataclasses: the
container init mounts its rootfs through this class and must start without them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat


def _fd_path(dir_fd: int, name: str) -> str:
    # /proc/self/fd/N is the directory the fd holds, whatever its path is now: the way to reach
    # `name` from a path-only call (setxattr has no *at form) without resolving any symlink.
    return f"/proc/self/fd/{dir_fd}/{name}"


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 217, "riscv64": 41, "ppc64le": 203, "s390x": 217}


def _check(rc: int, what: str, path: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}", path)


class RealSyscalls:
    def mknod(self, dir_fd: int, name: str, mode: int, device: int) -> None:
        os.mknod(name, mode, device, dir_fd=dir_fd)

    def lchown(self, dir_fd: int, name: str, uid: int, gid: int) -> None:
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)

    def lsetxattr(self, dir_fd: int, name: str, key: str, value: bytes) -> None:
        os.setxattr(_fd_path(dir_fd, name), key, value, follow_symlinks=False)

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None:
        rc = _libc.mount(
            source.encode() or None,
            target.encode(),
            fstype.encode() or None,
            flags,
            data.encode() or None,
        )
        _check(rc, f"mount {fstype or source}", target)

    def umount2(self, target: str, flags: int) -> None:
        _check(_libc.umount2(target.encode(), flags), "umount", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        machine = os.uname().machine  # what platform.machine() says, without importing it
        nr = _SYS_PIVOT_ROOT.get(machine)
        if nr is None:
            raise OSError(errno.ENOSYS, f"pivot_root: unknown architecture {machine}")
        rc = _libc.syscall(nr, new_root.encode(), put_old.encode())
        _check(rc, "pivot_root", new_root)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def fchdir(self, fd: int) -> None:
        os.fchdir(fd)

    def mkdir_path(self, path: str, mode: int) -> None:
        os.mkdir(path, mode)
        os.chmod(path, mode)

    def mknod_path(self, path: str, mode: int, device: int) -> None:
        os.mknod(path, mode, device)
        os.chmod(path, stat.S_IMODE(mode))

    def symlink_path(self, target: str, path: str) -> None:
        os.symlink(target, path)

    def create_file_path(self, path: str, mode: int) -> None:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode))
