"""Network namespaces kept alive by a bind mount (as `ip netns add` does), made without a fork.

A network namespace belongs to a task, and a thread is a task: `unshare(CLONE_NEWNET)` in a
throwaway thread moves only that thread, so the executor's gRPC threads never change namespace
and nothing forks (forking the gRPC process is a known trap). The bind mount of the thread's
/proc/thread-self/ns/net keeps the namespace once the thread has ended; unmounting it lets the
kernel free the namespace, and the veth ends in it, when no process is left inside.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from caisson import errors
from caisson.executor import namespaces
from caisson.executor.syscalls import RealSyscalls

T = TypeVar("T")

_MS_BIND = 0x1000
_MNT_DETACH = 2
_sys = RealSyscalls()


def create(path: Path) -> None:
    """A new network namespace bind-mounted at `path` (created here; its parent must exist),
    with `lo` up inside. On failure nothing is left behind."""
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444))
    except OSError as e:
        raise _error(e, f"failed to create network namespace {path}") from None
    try:
        _in_thread(lambda: _new_namespace(path))
    except BaseException:
        delete(path)
        raise


def _new_namespace(path: Path) -> None:
    what = f"failed to create network namespace {path}"
    try:
        namespaces.unshare(namespaces.CLONE_NEWNET)
    except OSError as e:
        raise _error(e, what) from None
    try:
        _sys.mount("/proc/thread-self/ns/net", str(path), "", _MS_BIND, "")
    except OSError as e:
        raise _error(e, what) from None
    try:
        # Without lo up, even 127.0.0.1 inside the container is unreachable.
        namespaces.loopback_up()
    except OSError as e:
        raise _error(e, f"{what}: loopback up") from None


def delete(path: Path) -> None:
    """Unmounts and removes the namespace file; a missing path is fine."""
    try:
        _sys.umount2(str(path), _MNT_DETACH)
    except OSError as e:
        # EINVAL: not a mount point (a failed create, or already unmounted).
        if e.errno not in (errno.ENOENT, errno.EINVAL):
            raise _error(e, f"failed to remove network namespace {path}") from None
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise _error(e, f"failed to remove network namespace {path}") from None


def run_in(path: Path, fn: Callable[[], T]) -> T:
    """Runs `fn` in a fresh thread that has joined the namespace at `path` and returns its
    result (or raises its exception).

    Sockets `fn` creates belong to that namespace for their whole life, whichever thread uses
    them later. Not so a pyroute2 (0.9) IPRoute: it opens a new netlink socket in each thread
    that calls it, in that thread's namespace, so an IPRoute made in `fn` must be used (and
    closed) in `fn` only."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.NotFound(f"network namespace {path} not found") from None
    except OSError as e:
        raise _error(e, f"failed to open network namespace {path}") from None
    try:

        def joined() -> T:
            try:
                namespaces.setns(fd, namespaces.CLONE_NEWNET)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    raise errors.FailedPrecondition(f"{path} is not a network namespace") from None
                raise _error(e, f"failed to enter network namespace {path}") from None
            return fn()

        return _in_thread(joined)
    finally:
        os.close(fd)


def _in_thread(fn: Callable[[], T]) -> T:
    """Runs `fn` in a new thread, which ends with it (and takes its namespace away with it)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            result.append(fn())
        except BaseException as e:  # re-raised in the caller's thread
            failure.append(e)

    t = threading.Thread(target=body, name="netns", daemon=True)
    t.start()
    t.join()
    if failure:
        raise failure[0]
    return result[0]


def _error(e: OSError, what: str) -> errors.CaissonError:
    if e.errno == errno.EEXIST:
        return errors.AlreadyExists(f"{what}: {os.strerror(e.errno)}")
    if e.errno == errno.ENOENT:
        return errors.NotFound(f"{what}: {os.strerror(e.errno)}")
    return errors.from_os_error(e, what)
