"""Namespace calls Python 3.11 lacks (os.unshare/os.setns arrive in 3.12), through libc, plus
the one network step a container without a network needs: its loopback up."""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
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
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def set_hostname(name: str, domainname: str = "") -> None:
    socket.sethostname(name)
    if domainname:
        data = domainname.encode()
        _check(_libc.setdomainname(data, ctypes.c_size_t(len(data))), "setdomainname")


def loopback_up() -> None:
    """Brings `lo` up in the current network namespace (a fresh one has it down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
