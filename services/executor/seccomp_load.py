"""Loading a seccomp filter that seccomp.compile_bpf compiled: the container init's half of
seccomp.py, apart so that the init imports neither the profile parser nor libseccomp."""

from __future__ import annotations

import ctypes
import errno
import os

_SECCOMP_SET_MODE_FILTER = 1
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "ppc64le": 358, "s390x": 348, "riscv64": 277}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_bpf(program: bytes, flags: int = 0) -> None:
    """Loads a compiled filter into this process (seccomp(2) SECCOMP_SET_MODE_FILTER). Needs
    CAP_SYS_ADMIN or no_new_privs, like seccomp.install; inherited by execve and children."""
    if not program:
        return
    if len(program) % 8:
        raise ValueError(f"a BPF program is a list of 8-byte instructions, got {len(program)}")
    machine = os.uname().machine  # what platform.machine() says, without importing it
    nr = _SYS_SECCOMP.get(machine)
    if nr is None:
        raise OSError(errno.ENOSYS, f"seccomp: no syscall number known on {machine}")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(
        ctypes.c_long(nr),
        ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(flags),
        ctypes.byref(prog),
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"loading the seccomp filter: {os.strerror(err)}")
