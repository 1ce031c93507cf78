"""Seccomp: docker's profile format (the bundled default and malformed ones), moby's rule
selection by caps, arch and kernel, and, as root in forked children only, filters loaded for
real: what the default profile blocks fails with EPERM while ordinary work goes on, and
custom profiles act as written."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from caisson.executor import capabilities as c
from caisson.executor import seccomp as s
from caisson.executor.seccomp_load import load_bpf
from caisson.executor.users import ExecUser

DEFAULT_JSON = Path(s.__file__).parent / "seccomp_default.json"


# --- the bundled profile and parsing --------------------------------------------------------


def test_bundled_profile_is_mobys() -> None:
    p = s.default_profile()
    assert p.default_action == "SCMP_ACT_ERRNO"
    assert p.default_errno_ret == errno.EPERM
    assert p.arch_map[0] == s.ArchMap("SCMP_ARCH_X86_64", ("SCMP_ARCH_X86", "SCMP_ARCH_X32"))
    assert "keyctl" not in {n for r in p.syscalls for n in r.names}
    assert "read" in p.syscalls[0].names
    # formatted as moby's generate.go writes it (json.MarshalIndent with tabs, no newline)
    raw = DEFAULT_JSON.read_text()
    assert raw == json.dumps(json.loads(raw), indent="\t")


def test_rule_fields() -> None:
    p = s.load_profile(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls": [
                    {
                        "name": "clone",
                        "action": "SCMP_ACT_ERRNO",
                        "errnoRet": 38,
                        "args": [
                            {"index": 0, "value": 7, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}
                        ],
                        "includes": {"caps": ["CAP_X"], "arches": ["amd64"], "minKernel": "5.4"},
                        "excludes": {"caps": ["CAP_Y"]},
                        "comment": "ignored",
                    }
                ],
                "unknownField": 1,
            }
        )
    )
    r = p.syscalls[0]
    assert r.names == ("clone",)
    assert r.errno_ret == 38
    assert r.args == (s.Arg(0, 7, 1, "SCMP_CMP_MASKED_EQ"),)
    assert r.includes == s.Condition(("CAP_X",), ("amd64",), (5, 4))
    assert r.excludes == s.Condition(("CAP_Y",))
    assert p.architectures == ("SCMP_ARCH_X86_64",)
    assert p.flags == ("SECCOMP_FILTER_FLAG_LOG",)


def test_empty_profile_is_disabled() -> None:
    assert s.load_profile("{}").disabled
    assert not s.default_profile().disabled


def prof(**fields: Any) -> str:
    doc: dict[str, Any] = {"defaultAction": "SCMP_ACT_ERRNO"}
    doc.update(fields)
    return json.dumps(doc)


def call(**fields: Any) -> dict[str, Any]:
    return {"names": ["read"], "action": "SCMP_ACT_ALLOW", **fields}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "Decoding seccomp profile failed: Expecting property name"),
        ("[]", "invalid seccomp profile: profile: must be an object"),
        (prof(defaultAction="SCMP_ACT_MAYBE"), 'defaultAction: unknown action "SCMP_ACT_MAYBE"'),
        (json.dumps({"syscalls": [call()]}), "defaultAction: missing (the profile lists sysc"),
        (prof(syscalls={}), "syscalls: must be a list"),
        (prof(syscalls=[call(action="NOPE")]), 'syscalls[0].action: unknown action "NOPE"'),
        (prof(syscalls=[call(names="read")]), "syscalls[0].names: must be a list of strings"),
        (prof(syscalls=[call(names=[])]), "syscalls[0]: no syscall names"),
        (prof(syscalls=[call(name="write")]), "'name' and 'names' were specified"),
        (prof(syscalls=[call(args=[{"index": 6, "op": "SCMP_CMP_EQ"}])]), "args[0].index: a sysc"),
        (
            prof(syscalls=[call(args=[{"index": 0, "op": "EQ"}])]),
            'args[0].op: unknown operator "EQ"',
        ),
        (prof(syscalls=[call(args=[{"op": "SCMP_CMP_EQ", "value": -1}])]), "value: must be an uns"),
        (prof(syscalls=[call(errnoRet=70000)]), "errnoRet: must be an unsigned 16-bit integer"),
        (prof(syscalls=[call(includes={"minKernel": "four"})]), 'invalid kernel version "four"'),
        (prof(syscalls=[call(excludes={"caps": "CAP_X"})]), "excludes.caps: must be a list of st"),
        (prof(syscalls=[call(action="SCMP_ACT_NOTIFY")]), "SCMP_ACT_NOTIFY is not supported"),
        (prof(listenerPath="/run/agent.sock"), "listenerPath: seccomp notify agents are not sup"),
        (prof(architectures=["x86_64"]), 'architectures: unknown architecture "x86_64"'),
        (prof(archMap=[{"architecture": 1}]), "archMap[0].architecture: unknown architecture 1"),
        (
            prof(architectures=["SCMP_ARCH_X86"], archMap=[{"architecture": "SCMP_ARCH_X86_64"}]),
            "'architectures' and 'archMap' were specified in the seccomp profile, use either",
        ),
        (prof(flags=["SECCOMP_FILTER_FLAG_NEW_LISTENER"]), 'unsupported flag "SECCOMP_FILTER_'),
        (prof(defaultErrnoRet="1"), "defaultErrnoRet: must be an unsigned 16-bit integer"),
    ],
)
def test_malformed_profiles_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        s.load_profile(text)
    assert message in str(e.value)


def test_architecture_libseccomp_lacks_fails_only_when_used() -> None:
    newer = {"architecture": "SCMP_ARCH_LOONGARCH64", "subArchitectures": None}
    p = s.load_profile(prof(archMap=[newer]))
    assert s.architectures(p, "amd64") == ()
    s.build(p, c.DEFAULT)  # built for x86_64: the unknown entry is not used
    with pytest.raises(ValueError, match="architecture SCMP_ARCH_Z80 is not supported"):
        s.build(s.load_profile(prof(architectures=["SCMP_ARCH_Z80"])), c.DEFAULT)


# --- selection -----------------------------------------------------------------------------


def selected(
    caps: frozenset[str], arch: str = "amd64", kernel: tuple[int, int] = (6, 1)
) -> set[str]:
    return {n for r in s.select(s.default_profile(), caps, arch, kernel) for n in r.names}


def test_default_caps_get_no_admin_syscalls() -> None:
    names = selected(c.DEFAULT)
    assert {"read", "chroot", "arch_prctl", "ptrace", "clone", "clone3"} <= names
    assert not {"mount", "unshare", "setns", "reboot", "bpf", "keyctl"} & names
    # without CAP_SYS_ADMIN: clone only without namespace flags, clone3 answers ENOSYS
    rules = s.select(s.default_profile(), c.DEFAULT, "amd64", (6, 1))
    clone = [r for r in rules if r.names == ("clone",)]
    assert clone[0].args == (s.Arg(0, 2114060288, 0, "SCMP_CMP_MASKED_EQ"),)
    clone3 = [r for r in rules if r.names == ("clone3",)]
    assert (clone3[0].action, clone3[0].errno_ret) == ("SCMP_ACT_ERRNO", errno.ENOSYS)


def test_caps_include_and_exclude_rules() -> None:
    admin = selected(c.DEFAULT | {"CAP_SYS_ADMIN"})
    assert {"mount", "unshare", "setns", "clone3"} <= admin
    rules = s.select(s.default_profile(), c.DEFAULT | {"CAP_SYS_ADMIN"}, "amd64", (6, 1))
    assert not [r for r in rules if r.names == ("clone",)]  # the masked clone rule is excluded
    assert "chroot" not in selected(c.DEFAULT - {"CAP_SYS_CHROOT"})
    assert {"reboot", "kcmp", "bpf", "perf_event_open"} <= selected(
        frozenset({"CAP_SYS_BOOT", "CAP_SYS_PTRACE", "CAP_BPF", "CAP_PERFMON"})
    )


def test_arch_includes_and_excludes() -> None:
    assert "arch_prctl" not in selected(c.DEFAULT, "arm64")
    assert {"set_tls", "cacheflush"} <= selected(c.DEFAULT, "arm64")
    s390 = s.select(s.default_profile(), c.DEFAULT, "s390x", (6, 1))
    assert [r.args[0].index for r in s390 if r.names == ("clone",)] == [1]


def test_min_kernel() -> None:
    assert "ptrace" in selected(c.DEFAULT, kernel=(4, 8))
    assert "ptrace" not in selected(c.DEFAULT, kernel=(4, 7))
    p = s.load_profile(
        prof(syscalls=[call(names=["a"], excludes={"minKernel": "5.10"}), call(names=["b"])])
    )
    assert [r.names for r in s.select(p, frozenset(), "amd64", (5, 10))] == [("b",)]
    assert [r.names for r in s.select(p, frozenset(), "amd64", (5, 9))] == [("a",), ("b",)]


def test_includes_need_every_cap_excludes_any() -> None:
    p = s.load_profile(
        prof(
            syscalls=[
                call(names=["both"], includes={"caps": ["CAP_A", "CAP_B"]}),
                call(names=["notany"], excludes={"caps": ["CAP_A", "CAP_C"]}),
            ]
        )
    )
    assert [r.names for r in s.select(p, frozenset({"CAP_A"}), "amd64")] == []
    assert [r.names for r in s.select(p, frozenset({"CAP_A", "CAP_B"}), "amd64")] == [("both",)]
    assert [r.names for r in s.select(p, frozenset(), "amd64")] == [("notany",)]


def test_architectures_from_arch_map() -> None:
    p = s.default_profile()
    assert s.architectures(p, "amd64") == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
    assert s.architectures(p, "arm64") == ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")
    assert s.architectures(p, "riscv64") == ("SCMP_ARCH_RISCV64",)
    assert s.architectures(p, "ppc64le") == ()  # not in the map: native only
    explicit = s.load_profile(prof(architectures=["SCMP_ARCH_X86"]))
    assert s.architectures(explicit, "amd64") == ("SCMP_ARCH_X86",)


# --- loaded for real, in forked children --------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
_SYS_CLONE3 = 435
_SYS_PERSONALITY = {"x86_64": 135, "aarch64": 92}.get(os.uname().machine)
CLONE_NEWUTS = 0x04000000
AF_VSOCK = 40


def errno_of(ret: int) -> int:
    return ctypes.get_errno() if ret < 0 else 0


def probes() -> dict[str, int]:
    """errno of each probe (0: it worked). Harmless if it works: a new UTS namespace is the
    child's own, personality 0xffffffff only queries."""
    out = {
        "unshare": errno_of(_libc.unshare(CLONE_NEWUTS)),
        "keyctl": errno_of(_libc.syscall(_SYS_KEYCTL, 0, 0, 0, 0, 0)),  # KEYCTL_GET_KEYRING_ID
        "clone3": errno_of(_libc.syscall(_SYS_CLONE3, 0, 0)),
        "personality_query": errno_of(_libc.syscall(_SYS_PERSONALITY, ctypes.c_ulong(0xFFFFFFFF))),
        "personality_set": errno_of(_libc.syscall(_SYS_PERSONALITY, ctypes.c_ulong(0x0040000))),
    }
    for name, family in (("socket_unix", socket.AF_UNIX), ("socket_vsock", AF_VSOCK)):
        try:
            socket.socket(family, socket.SOCK_STREAM).close()
            out[name] = 0
        except OSError as e:
            out[name] = e.errno or -1
    # ordinary work
    with open("/proc/self/status") as f:
        out["read"] = 0 if "Seccomp:\t2" in f.read() else -1
    try:
        os.getcwd()
        out["getcwd"] = 0
    except OSError as e:
        out["getcwd"] = e.errno or -1
    return out


def in_child(fn: Callable[[], dict[str, int]]) -> dict[str, int]:
    """Runs `fn` in a forked child and returns its dict: the filter is the child's alone."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            out = json.dumps(fn()).encode()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out, code = json.dumps({"error": f"{type(e).__name__}: {e}"}).encode(), 1
        try:
            while out:
                out = out[os.write(w, out) :]
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = json.loads(f.read())
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0, data
    return data


def installed(profile: s.Profile, caps: frozenset[str]) -> Callable[[], dict[str, int]]:
    def run() -> dict[str, int]:
        s.install(profile, caps)
        return probes()

    return run


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root (seccomp without no_new_privs)"
)
known_arch = pytest.mark.skipif(_SYS_KEYCTL is None, reason="probes know x86_64/arm64 numbers")


@pytest.mark.root
@needs_root
@known_arch
def test_without_filter_everything_works() -> None:
    got = in_child(probes)
    assert got["unshare"] == got["socket_unix"] == got["getcwd"] == 0


@pytest.mark.root
@needs_root
@known_arch
def test_default_profile_blocks_with_eperm_and_lets_work_go_on() -> None:
    got = in_child(installed(s.default_profile(), c.DEFAULT))
    assert got == {
        "unshare": errno.EPERM,
        "keyctl": errno.EPERM,
        "clone3": errno.ENOSYS,  # glibc falls back to clone
        "personality_query": 0,
        "personality_set": errno.EPERM,
        "socket_unix": 0,
        "socket_vsock": errno.EPERM,
        "read": 0,
        "getcwd": 0,
    }


@pytest.mark.root
@needs_root
@known_arch
def test_default_profile_with_sys_admin_allows_unshare() -> None:
    got = in_child(installed(s.default_profile(), c.DEFAULT | {"CAP_SYS_ADMIN"}))
    assert got["unshare"] == 0
    assert got["clone3"] == errno.EINVAL  # reached the kernel, which refuses a 0-size clone_args
    assert got["keyctl"] == errno.EPERM


@pytest.mark.root
@needs_root
@known_arch
def test_custom_profile_errno_for_one_syscall() -> None:
    p = s.load_profile(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EROFS},
                    {"names": ["unshare"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
                ],
            }
        )
    )
    got = in_child(installed(p, frozenset()))
    assert (got["getcwd"], got["unshare"]) == (errno.EROFS, errno.EPERM)
    assert got["keyctl"] != errno.EPERM and got["socket_vsock"] != errno.EPERM


@pytest.mark.root
@needs_root
@known_arch
def test_custom_default_errno_blocks_what_is_not_listed() -> None:
    doc = json.loads(DEFAULT_JSON.read_text())
    doc["defaultErrnoRet"] = errno.EACCES
    doc["syscalls"][0]["names"].remove("getcwd")
    got = in_child(installed(s.load_profile(json.dumps(doc)), c.DEFAULT))
    assert (got["getcwd"], got["keyctl"], got["unshare"]) == (errno.EACCES,) * 3
    assert got["read"] == got["socket_unix"] == 0


@pytest.mark.root
@needs_root
@known_arch
def test_several_conditions_on_one_argument_are_ored() -> None:
    doc = json.loads(DEFAULT_JSON.read_text())
    doc["syscalls"] = [r for r in doc["syscalls"] if r["names"] != ["personality"]]
    eq = [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"} for v in (0x0040000, 0xFFFFFFFF)]
    doc["syscalls"].append({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": eq})
    got = in_child(installed(s.load_profile(json.dumps(doc)), c.DEFAULT))
    assert got["personality_query"] == got["personality_set"] == 0


@pytest.mark.root
@needs_root
@known_arch
def test_install_does_not_set_no_new_privs() -> None:
    def run() -> dict[str, int]:
        s.install(s.default_profile(), c.DEFAULT)
        with open("/proc/self/status") as f:
            st = dict(line.split(":\t", 1) for line in f.read().splitlines())
        return {"nnp": int(st["NoNewPrivs"]), "mode": int(st["Seccomp"])}

    assert in_child(run) == {"nnp": 0, "mode": 2}


@pytest.mark.root
@needs_root
@known_arch
def test_disabled_profile_installs_nothing() -> None:
    def run() -> dict[str, int]:
        s.install(s.load_profile("{}"), c.DEFAULT)
        return probes()

    assert in_child(run)["keyctl"] != errno.EPERM


@pytest.mark.root
@needs_root
@known_arch
def test_the_init_order_works_under_the_default_profile() -> None:
    """seccomp first (still root), then finalize (setgroups, setresgid, setresuid, prctl,
    capset must all get through the filter), then execve."""

    def run() -> dict[str, int]:
        s.install(s.default_profile(), c.DEFAULT)
        c.finalize(ExecUser(1000, 1000, (1000,), "/"), c.DEFAULT)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execv("/bin/cat", ["cat", "/proc/self/status"])
        os.close(w)
        with os.fdopen(r) as f:
            st = dict(line.split(":\t", 1) for line in f.read().splitlines())
        _, code = os.waitpid(pid, 0)
        return {
            "exit": code,
            "uid": int(st["Uid"].split()[0]),
            "seccomp": int(st["Seccomp"]),
            "capeff": int(st["CapEff"], 16),
        }

    assert in_child(run) == {"exit": 0, "uid": 1000, "seccomp": 2, "capeff": 0}


@pytest.mark.root
@needs_root
@known_arch
def test_a_compiled_program_loads_and_acts_as_the_built_filter() -> None:
    profile = s.default_profile()
    program = s.compile_bpf(profile, c.DEFAULT)
    assert program and len(program) % 8 == 0

    def run() -> dict[str, int]:
        load_bpf(program, s.filter_flags(profile))
        return probes()

    assert in_child(run) == in_child(installed(profile, c.DEFAULT))
    got = in_child(run)
    assert got["unshare"] == errno.EPERM and got["read"] == got["getcwd"] == 0


def test_a_malformed_program_is_refused() -> None:
    with pytest.raises(ValueError, match="8-byte instructions"):
        load_bpf(b"\x00" * 7)
    assert s.compile_bpf(s.load_profile("{}"), c.DEFAULT) == b""
