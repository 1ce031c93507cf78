"""Device access on cgroup v2: an eBPF program of type CGROUP_DEVICE attached to the container's
cgroup, as runc's devicefilter does (v2 has no devices.allow file). No library assembles such
programs for Python; this one is small and fixed in shape: for each allow rule "TYPE MAJ:MIN
ACCESS" (docker's syntax, "*" a wildcard) a block of compares that jumps to the next block on
a mismatch and returns 1 (allow) at its end; the program ends returning 0 (deny).

The kernel's verifier checks the program when it is loaded, so a wrong one is refused, never
run; and the tests load it for real and open devices through it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import struct
from dataclasses import dataclass

from caisson.errors import InvalidArgument

# struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, access_type =
# (access << 16) | type
_DEV_BLOCK, _DEV_CHAR = 1, 2
_ACC = {"m": 1, "r": 2, "w": 4}

# eBPF opcodes (linux/bpf_common.h, linux/bpf.h)
_LDXW = 0x61  # dst = *(u32 *)(src + off)
_AND32_K = 0x54
_RSH32_K = 0x74
_MOV32_K = 0xB4
_MOV32_X = 0xBC
_JNE_K = 0x55
_JNE_X = 0x5D
_EXIT = 0x95

_BPF_PROG_LOAD = 5
_BPF_PROG_ATTACH = 8
_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6
_BPF_F_ALLOW_MULTI = 2
_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}


@dataclass(frozen=True)
class Rule:
    type: str  # "a", "c" or "b"
    major: int  # -1: any
    minor: int  # -1: any
    access: int  # mask of _ACC


def parse(rule: str) -> Rule:
    """docker's device rule: "c 1:3 rwm", "b *:* m", "a"."""
    if rule.strip() == "a":
        return Rule("a", -1, -1, 7)
    try:
        kind, numbers, access = rule.split()
        major, minor = numbers.split(":")
        if kind not in ("a", "b", "c") or not access or set(access) - set(_ACC):
            raise ValueError
        mask = 0
        for a in access:
            mask |= _ACC[a]
        return Rule(
            kind,
            -1 if major == "*" else int(major),
            -1 if minor == "*" else int(minor),
            mask,
        )
    except ValueError:
        raise InvalidArgument(f"invalid device rule {rule!r}") from None


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def program(rules: list[Rule]) -> bytes:
    """The eBPF program (instructions, 8 bytes each) allowing exactly `rules`."""
    head = [
        _insn(_LDXW, dst=2, src=1, off=0),
        _insn(_AND32_K, dst=2, imm=0xFFFF),  # r2: device type
        _insn(_LDXW, dst=3, src=1, off=0),
        _insn(_RSH32_K, dst=3, imm=16),  # r3: access asked for
        _insn(_LDXW, dst=4, src=1, off=4),  # r4: major
        _insn(_LDXW, dst=5, src=1, off=8),  # r5: minor
    ]
    blocks = []
    for r in rules:
        checks: list[tuple[int, int, int, int]] = []  # (code, dst, src, imm) that jump on miss
        if r.type != "a":
            checks.append((_JNE_K, 2, 0, _DEV_BLOCK if r.type == "b" else _DEV_CHAR))
        body: list[bytes] = []
        if r.access != 7:
            # allowed only when (asked & allowed) == asked
            body.append(_insn(_MOV32_X, dst=1, src=3))
            body.append(_insn(_AND32_K, dst=1, imm=r.access))
            checks.append((_JNE_X, 1, 3, 0))
        if r.major >= 0:
            checks.append((_JNE_K, 4, 0, r.major))
        if r.minor >= 0:
            checks.append((_JNE_K, 5, 0, r.minor))
        blocks.append((checks, body))
    out = list(head)
    for checks, body in blocks:
        # Layout of a block: [type check] [mov, and] [access check] [major] [minor] mov exit.
        insns: list[tuple[int, int, int, int] | bytes] = []
        type_checks = [c for c in checks if c[1] == 2]
        other_checks = [c for c in checks if c[1] != 2]
        insns += type_checks
        insns += body
        insns += other_checks
        n = len(insns) + 2  # the block's length: its checks, the body, mov r0 and exit
        for i, item in enumerate(insns):
            if isinstance(item, bytes):
                out.append(item)
            else:
                code, dst, src, imm = item
                out.append(_insn(code, dst=dst, src=src, off=n - i - 1, imm=imm))
        out.append(_insn(_MOV32_K, dst=0, imm=1))
        out.append(_insn(_EXIT))
    out.append(_insn(_MOV32_K, dst=0, imm=0))
    out.append(_insn(_EXIT))
    return b"".join(out)


def _bpf(cmd: int, attr: bytes) -> int:
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise OSError(errno.ENOSYS, f"bpf: no syscall number known on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(attr, len(attr))
    rc = libc.syscall(ctypes.c_long(nr), ctypes.c_long(cmd), buf, ctypes.c_long(len(attr)))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(rc)


def attach(cgroup_dir: str, rules: list[str]) -> None:
    """Loads the program for `rules` and attaches it to the cgroup v2 directory."""
    code = program([parse(r) for r in rules])
    insns = ctypes.create_string_buffer(code, len(code))
    license = ctypes.create_string_buffer(b"Apache\0")
    attr = bytearray(128)
    struct.pack_into("<II", attr, 0, _BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8)
    struct.pack_into("<QQ", attr, 8, ctypes.addressof(insns), ctypes.addressof(license))
    try:
        prog = _bpf(_BPF_PROG_LOAD, bytes(attr))
    except OSError as e:
        # Again with the verifier's log (not asked for at first: a log too small for it is
        # itself an error, ENOSPC), to say why.
        log = ctypes.create_string_buffer(1 << 20)
        struct.pack_into("<IIQ", attr, 24, 1, len(log), ctypes.addressof(log))
        with contextlib.suppress(OSError):
            os.close(_bpf(_BPF_PROG_LOAD, bytes(attr)))
        detail = log.value.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise OSError(e.errno, f"loading the device filter: {e.strerror} {detail[0]}") from None
    try:
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            attach_attr = struct.pack(
                "<IIIII", fd, prog, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI, 0
            ).ljust(32, b"\0")
            _bpf(_BPF_PROG_ATTACH, attach_attr)
        finally:
            os.close(fd)
    finally:
        os.close(prog)
