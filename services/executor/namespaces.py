"""Namespace calls Python 3.11 lacks (os.unshare/os.setns arrive in 3.12), through libc, plus
the one network step a container without a network needs: its loopback up.

The container init calls these on every start: libc rather than the socket module, whose
import (enum, selectors) would cost the init more than everything here."""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# The order runc joins them in for exec: the mount namespace last, since entering it changes
# the root and would hide /proc/PID/ns of the host.
NAMES = {"ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS, "net": CLONE_NEWNET, "cgroup": CLONE_NEWCGROUP}

_libc = ctypes.CDLL(None, use_errno=True)
_AF_INET = 2
_SOCK_DGRAM = 2
_SOCK_CLOEXEC = 0o2000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _check(rc: int, what: str) -> int:
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return rc


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def set_hostname(name: str, domainname: str = "") -> None:
    data = os.fsencode(name)
    if _libc.sethostname(data, ctypes.c_size_t(len(data))) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))  # as socket.sethostname words it
    if domainname:
        data = domainname.encode()
        _check(_libc.setdomainname(data, ctypes.c_size_t(len(data))), "setdomainname")


def loopback_up() -> None:
    """Brings `lo` up in the current network namespace (a fresh one has it down)."""
    fd = _check(_libc.socket(_AF_INET, _SOCK_DGRAM | _SOCK_CLOEXEC, 0), "socket")
    try:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(fd, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(fd, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    finally:
        os.close(fd)
