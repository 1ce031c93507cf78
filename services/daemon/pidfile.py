"""The pidfile lock: one daemon per pidfile (and so per data root and exec root).

The lock is an flock held for the daemon's life, so a pidfile left by a daemon that died is
stale by construction (nobody holds its lock) and is taken over; a live one makes the second
daemon fail at once, naming the running pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from caisson import errors


class PidFile:
    """`what` names the resource in the error: the pid file itself, or the data root whose
    lock file this is (two daemons must not share a data root even with two pid files)."""

    def __init__(self, path: str, what: str = "") -> None:
        self.path = path
        self.what = what
        self._fd = -1

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if self.what:
                raise errors.FailedPrecondition(
                    f"{self.what} is in use by another caisson-daemon (pid {pid})"
                ) from None
            raise errors.FailedPrecondition(
                f"pid file found, ensure caisson-daemon is not running or delete {self.path}: "
                f"another caisson-daemon (pid {pid}) is running"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = -1
