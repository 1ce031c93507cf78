"""Seccomp for a container's process: docker's profile format, its rule selection, and the
filter built and loaded with libseccomp.

The profile is docker's JSON (moby profiles/seccomp; the default one is bundled as
seccomp_default.json, byte for byte as moby ships it). Selection is moby's setupSeccomp: a
rule block is kept or skipped by the container's capabilities (its bounding set), the
machine's architecture and the kernel version; then runc's InitSeccomp turns what is kept into
a filter. The BPF is compiled by libseccomp itself (through the `pyseccomp` ctypes binding):
nothing here packs BPF by hand.

Loading a filter needs CAP_SYS_ADMIN or no_new_privs. Like docker/runc, the init installs it
while still root (before capabilities.finalize), unless no_new_privs was asked for: then it
sets no_new_privs and installs it last, right before execve. The filter's own no_new_privs
attribute is off, so installing never turns no_new_privs on by itself (docker does not). The
steps after an early install (prctl, capset, setgroups, setresgid, setresuid, execve) must be
allowed by the profile: docker's default allows them all. "unconfined" is the caller's: no
install at all.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# The actions of docker's/OCI's profile format that a plain filter can carry. NOTIFY needs a
# listener process (listenerPath), which Caisson does not run.
ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
)
OPS = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)
FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
ARCHES = (  # the ones libseccomp 2.5 (and pyseccomp.Arch) knows
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
)

# uname -m => (the name moby's includes/excludes use (Go's arch names), the archMap key)
_MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "i386": ("x86", "SCMP_ARCH_X86"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "armv8l": ("arm", "SCMP_ARCH_ARM"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "ppc64": ("ppc64", "SCMP_ARCH_PPC64"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
    "mips64": ("mips64", "SCMP_ARCH_MIPS64"),
}
_KERNEL = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Arg:
    index: int
    value: int
    value_two: int
    op: str


@dataclass(frozen=True)
class Condition:
    """A rule block's includes or excludes: caps (all of them, for includes; any, for
    excludes), arches (moby's Go names: amd64, arm64, ...), minKernel as (major, minor)."""

    caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    min_kernel: tuple[int, int] | None = None


@dataclass(frozen=True)
class Rule:
    names: tuple[str, ...]
    action: str
    errno_ret: int | None
    args: tuple[Arg, ...]
    includes: Condition
    excludes: Condition


@dataclass(frozen=True)
class ArchMap:
    architecture: str
    sub_architectures: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    default_action: str
    default_errno_ret: int | None
    architectures: tuple[str, ...]
    arch_map: tuple[ArchMap, ...]
    syscalls: tuple[Rule, ...]
    flags: tuple[str, ...] = ()

    @property
    def disabled(self) -> bool:
        """moby: no defaultAction and no syscalls means no seccomp at all."""
        return not self.default_action and not self.syscalls


# --- parsing --------------------------------------------------------------------------------


def _fail(where: str, what: str) -> ValueError:
    return ValueError(f"invalid seccomp profile: {where}: {what}")


def _obj(v: Any, where: str) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _fail(where, "must be an object")
    return v


def _list(v: Any, where: str) -> list[Any]:
    if v is None:  # JSON null or absent, as Go decodes a nil slice
        return []
    if not isinstance(v, list):
        raise _fail(where, "must be a list")
    return v


def _strings(v: Any, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise _fail(where, "must be a list of strings")
    return tuple(v)


def _uint(v: Any, where: str, bits: int = 64) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << bits:
        raise _fail(where, f"must be an unsigned {bits}-bit integer")
    return v


def _errno(v: Any, where: str) -> int | None:
    return None if v is None else _uint(v, where, 16)


def _action(v: Any, where: str) -> str:
    if v == "SCMP_ACT_NOTIFY":
        raise _fail(where, "SCMP_ACT_NOTIFY is not supported (no seccomp agent)")
    if v not in ACTIONS:
        raise _fail(where, f"unknown action {json.dumps(v)}")
    return str(v)


def _arch(v: Any, where: str) -> str:
    # Any SCMP_ARCH_ name parses: a profile from a newer docker may map architectures this
    # libseccomp lacks, which only matters if the filter is built for one (see build).
    if not isinstance(v, str) or not v.startswith("SCMP_ARCH_"):
        raise _fail(where, f"unknown architecture {json.dumps(v)}")
    return v


def _kernel(v: Any, where: str) -> tuple[int, int] | None:
    if v is None or v == "":
        return None
    m = _KERNEL.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise _fail(where, f"invalid kernel version {json.dumps(v)} (want MAJOR.MINOR)")
    return int(m[1]), int(m[2])


def _condition(v: Any, where: str) -> Condition:
    o = _obj(v, where)
    return Condition(
        caps=_strings(o.get("caps"), f"{where}.caps"),
        arches=_strings(o.get("arches"), f"{where}.arches"),
        min_kernel=_kernel(o.get("minKernel"), f"{where}.minKernel"),
    )


def _rule(v: Any, where: str) -> Rule:
    o = _obj(v, where)
    names = _strings(o.get("names"), f"{where}.names")
    name = o.get("name")
    if name is not None and name != "":
        if not isinstance(name, str):
            raise _fail(f"{where}.name", "must be a string")
        if names:
            raise ValueError(
                "'name' and 'names' were specified in the seccomp profile, use either 'name' or"
                " 'names'"
            )
        names = (name,)
    if not names:
        raise _fail(where, "no syscall names")
    args = []
    for j, a in enumerate(_list(o.get("args"), f"{where}.args")):
        aw = f"{where}.args[{j}]"
        ao = _obj(a, aw)
        index = _uint(ao.get("index", 0), f"{aw}.index")
        if index > 5:
            raise _fail(f"{aw}.index", "a syscall has 6 arguments (0-5)")
        op = ao.get("op")
        if op not in OPS:
            raise _fail(f"{aw}.op", f"unknown operator {json.dumps(op)}")
        args.append(
            Arg(index, _uint(ao.get("value", 0), f"{aw}.value"),
                _uint(ao.get("valueTwo", 0), f"{aw}.valueTwo"), str(op))
        )  # fmt: skip
    return Rule(
        names=names,
        action=_action(o.get("action"), f"{where}.action"),
        errno_ret=_errno(o.get("errnoRet"), f"{where}.errnoRet"),
        args=tuple(args),
        includes=_condition(o.get("includes"), f"{where}.includes"),
        excludes=_condition(o.get("excludes"), f"{where}.excludes"),
    )


def load_profile(text: str | bytes) -> Profile:
    """Parses a docker seccomp profile (what `--security-opt seccomp=FILE` names). Raises
    ValueError saying what is wrong and where; unknown top-level fields are ignored, like
    moby's JSON decoding does."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"Decoding seccomp profile failed: {e}") from None
    o = _obj(doc, "profile")
    if o.get("listenerPath"):
        raise _fail("listenerPath", "seccomp notify agents are not supported")
    archs = tuple(
        _arch(a, "architectures") for a in _strings(o.get("architectures"), "architectures")
    )
    arch_map = []
    for i, m in enumerate(_list(o.get("archMap"), "archMap")):
        mo = _obj(m, f"archMap[{i}]")
        arch_map.append(
            ArchMap(
                _arch(mo.get("architecture"), f"archMap[{i}].architecture"),
                tuple(
                    _arch(a, f"archMap[{i}].subArchitectures")
                    for a in _strings(mo.get("subArchitectures"), f"archMap[{i}].subArchitectures")
                ),
            )
        )
    if archs and arch_map:
        raise ValueError(
            "'architectures' and 'archMap' were specified in the seccomp profile, use either"
            " 'architectures' or 'archMap'"
        )
    rules = tuple(
        _rule(r, f"syscalls[{i}]") for i, r in enumerate(_list(o.get("syscalls"), "syscalls"))
    )
    default = o.get("defaultAction") or ""
    if default:
        default = _action(default, "defaultAction")
    elif rules:
        raise _fail("defaultAction", "missing (the profile lists syscalls)")
    flags = _strings(o.get("flags"), "flags")
    for f in flags:
        if f not in FLAGS:
            raise _fail("flags", f"unsupported flag {json.dumps(f)}")
    return Profile(
        default_action=default,
        default_errno_ret=_errno(o.get("defaultErrnoRet"), "defaultErrnoRet"),
        architectures=archs,
        arch_map=tuple(arch_map),
        syscalls=rules,
        flags=flags,
    )


@cache
def default_profile() -> Profile:
    """Docker's default profile, bundled next to this module."""
    return load_profile((Path(__file__).parent / "seccomp_default.json").read_bytes())


# --- selection (moby's setupSeccomp) --------------------------------------------------------


def native_arch() -> str:
    """This machine's architecture in moby's (Go's) naming: amd64, arm64, ..."""
    return _MACHINES.get(platform.machine(), (platform.machine(), ""))[0]


def kernel_version() -> tuple[int, int]:
    m = _KERNEL.match(os.uname().release)
    return (int(m[1]), int(m[2])) if m else (0, 0)


def architectures(profile: Profile, arch: str | None = None) -> tuple[str, ...]:
    """The SCMP_ARCH_* names the filter covers: `architectures` as given, or from `archMap`
    the native entry and its sub-architectures (so 32-bit syscalls on x86_64 are filtered
    too). Empty: the native one only."""
    if profile.architectures:
        return profile.architectures
    goarch = arch or native_arch()
    key = next((k for g, k in _MACHINES.values() if g == goarch), "")
    for m in profile.arch_map:
        if m.architecture == key:
            return (m.architecture, *m.sub_architectures)
    return ()


def select(
    profile: Profile,
    caps: frozenset[str],
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> list[Rule]:
    """The rule blocks that apply to a container with capabilities `caps` on `arch` (moby's
    names; the machine's by default) and `kernel` (the running one's by default)."""
    goarch = arch or native_arch()
    kver = kernel or kernel_version()
    out = []
    for r in profile.syscalls:
        ex, inc = r.excludes, r.includes
        if goarch in ex.arches or any(c in caps for c in ex.caps):
            continue
        if ex.min_kernel is not None and kver >= ex.min_kernel:
            continue
        if inc.arches and goarch not in inc.arches:
            continue
        if not all(c in caps for c in inc.caps):
            continue
        if inc.min_kernel is not None and kver < inc.min_kernel:
            continue
        out.append(r)
    return out


# --- the filter (runc's InitSeccomp, with libseccomp doing the compiling) ---------------------


def _scmp_action(sc: Any, action: str, errno_ret: int | None) -> int:
    # runc: ERRNO and TRACE return errnoRet when given, else EPERM.
    ret = errno.EPERM if errno_ret is None else errno_ret
    return {
        "SCMP_ACT_KILL": sc.KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": sc.KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": sc.KILL_PROCESS,
        "SCMP_ACT_TRAP": sc.TRAP,
        "SCMP_ACT_ERRNO": sc.ERRNO(ret),
        "SCMP_ACT_TRACE": sc.TRACE(ret),
        "SCMP_ACT_ALLOW": sc.ALLOW,
        "SCMP_ACT_LOG": sc.LOG,
    }[action]


_SCMP_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,  # libseccomp: (arg & value) == valueTwo
}


def build(profile: Profile, caps: frozenset[str]) -> Any:
    """The libseccomp filter (a pyseccomp.SyscallFilter) for a container with `caps`, not
    loaded. Syscall names libseccomp does not know are skipped, as runc does (a profile names
    syscalls of newer kernels and other architectures)."""
    import pyseccomp as sc  # only the init needs libseccomp; importing it loads the .so

    default = _scmp_action(sc, profile.default_action, profile.default_errno_ret)
    f = sc.SyscallFilter(default)
    f.set_attr(sc.Attr.CTL_NNP, 0)  # no_new_privs is docker's --security-opt, not a side effect
    for flag, attr in (
        ("SECCOMP_FILTER_FLAG_TSYNC", sc.Attr.CTL_TSYNC),
        ("SECCOMP_FILTER_FLAG_LOG", sc.Attr.CTL_LOG),
        ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", sc.Attr.CTL_SSB),
    ):
        if flag in profile.flags:
            f.set_attr(attr, 1)
    for name in architectures(profile):
        if name not in ARCHES:
            raise ValueError(f"seccomp profile: architecture {name} is not supported")
        arch = getattr(sc.Arch, name.removeprefix("SCMP_ARCH_"))
        if not f.exist_arch(arch):
            f.add_arch(arch)
    for rule in select(profile, caps):
        action = _scmp_action(sc, rule.action, rule.errno_ret)
        if action == default:
            continue  # libseccomp refuses a rule that does what the default does; runc skips it
        conds = [sc.Arg(a.index, _SCMP_OPS[a.op], a.value, a.value_two) for a in rule.args]
        # libseccomp ANDs a rule's conditions but allows one per argument: several conditions
        # on the same argument become one rule each (ORed), as runc does.
        indexes = [a.index for a in rule.args]
        per_rule = [[c] for c in conds] if len(set(indexes)) < len(indexes) else [conds]
        for name in rule.names:
            nr = sc.resolve_syscall(sc.Arch.NATIVE, name)
            if nr == -1:  # __NR_SCMP_ERROR: unknown to libseccomp
                continue
            for cs in per_rule:
                f.add_rule(action, nr, *cs)
    return f


def install(profile: Profile, caps: frozenset[str]) -> None:
    """Builds the filter for a container with `caps` and loads it into this process (inherited
    by execve and every child). Needs CAP_SYS_ADMIN or no_new_privs already set; irreversible.
    A disabled profile (no defaultAction, no syscalls) installs nothing."""
    if profile.disabled:
        return
    build(profile, caps).load()


# --- compiled once, loaded many times ------------------------------------------------------
# Building the filter (libseccomp, a few hundred rules) costs about 20 ms and importing its
# binding another 15: the executor compiles each (profile, caps) once to BPF with libseccomp
# and the container init only loads the compiled program (load_bpf, in seccomp_load.py so that
# the init imports nothing else of this module).

_FILTER_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
}


def compile_bpf(profile: Profile, caps: frozenset[str]) -> bytes:
    """The BPF program libseccomp makes of `profile` for `caps` (empty when disabled)."""
    if profile.disabled:
        return b""
    import tempfile

    with tempfile.TemporaryFile() as f:
        build(profile, caps).export_bpf(f)
        f.seek(0)
        return f.read()


def filter_flags(profile: Profile) -> int:
    """seccomp(2) flags for the profile's `flags` (libseccomp sets them when it loads)."""
    flags = 0
    for name in profile.flags:
        flags |= _FILTER_FLAGS.get(name, 0)
    return flags
