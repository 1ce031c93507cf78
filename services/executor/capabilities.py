"""Linux capabilities for a container's process: docker's set arithmetic and the kernel calls.

Runs inside the container init just before execve, so it imports only the stdlib (ctypes for
capset/capget, which have no Python wrapper), and none of what costs an import (typing,
collections).

What docker (20.10.14+, after CVE-2022-24769) hands runc, and so what this reproduces: the
bounding, permitted and effective sets are the container's caps; inheritable and ambient are
empty. Root in the container therefore keeps the caps across execve; a non-root user loses
them all (`docker run -u 1000 busybox grep Cap /proc/self/status` shows CapPrm/CapEff 0 and
CapBnd = the caps). `keep_for_user=True` is the one departure, opt-in: the caps also go into
the inheritable and ambient sets, so a non-root user keeps them across execve.

The order the init follows (runc's finalizeNamespace; `finalize` below does steps 2-5):
  1. seccomp.install(...) while still root with CAP_SYS_ADMIN, unless no_new_privs is asked
     for (then step 6);
  2. drop the bounding set (needs CAP_SETPCAP, so before anything lowers our caps);
  3. PR_SET_KEEPCAPS=1, so setuid to a non-root uid keeps the permitted set;
  4. users.switch(user): setgroups, setgid, setuid;
  5. PR_SET_KEEPCAPS=0, then capset permitted/effective/inheritable and set ambient;
  6. set_no_new_privs() and then seccomp.install(...) if no_new_privs was asked for;
  7. execve.
"""

from __future__ import annotations

import ctypes
import os

from caisson.executor import users

TYPE_CHECKING = False  # typing's, without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable

# linux/capability.h, in number order: the index is the capability's number.
_NAMES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)
CAPS: dict[str, int] = {f"CAP_{n}": i for i, n in enumerate(_NAMES)}
"""Every capability name this module knows, CAP_CHOWN=0 ... CAP_CHECKPOINT_RESTORE=40."""

DEFAULT: frozenset[str] = frozenset(
    f"CAP_{n}"
    for n in (
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    )
)
"""Docker's default set for a non-privileged container (oci/caps/defaults.go)."""

ALL = "ALL"


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return max(CAPS.values())  # no /proc: assume the kernel knows all we know


def supported(last: int | None = None) -> frozenset[str]:
    """The names the kernel supports (all known names up to `last`, the kernel's by default)."""
    top = last_cap() if last is None else last
    return frozenset(n for n, v in CAPS.items() if v <= top)


def _normalize(names: Iterable[str], available: frozenset[str]) -> list[str]:
    # Docker's NormalizeLegacyCapabilities: upper case, CAP_ prefix added, "ALL" kept as is.
    out = []
    for raw in names:
        c = raw.upper()
        if c != ALL:
            if not c.startswith("CAP_"):
                c = "CAP_" + c
            if c not in CAPS:
                raise ValueError(f'unknown capability: "{c}"')
            if c not in available:
                raise ValueError(
                    "capability not supported by your kernel or not available in the current"
                    f' environment: "{c}"'
                )
        out.append(c)
    return out


def effective_set(
    cap_add: Iterable[str],
    cap_drop: Iterable[str],
    privileged: bool,
    *,
    last: int | None = None,
) -> frozenset[str]:
    """The container's capabilities from --cap-add/--cap-drop/--privileged, with docker's rules
    (TweakCapabilities): privileged gets every supported cap; "ALL" in cap_add gives all but
    cap_drop; "ALL" in cap_drop gives exactly cap_add; otherwise DEFAULT - cap_drop + cap_add.
    Names are case-insensitive, CAP_ optional. Raises ValueError with docker's wording for an
    unknown name or one the kernel (`last`, default the running one's) does not support."""
    available = supported(last)
    if privileged:
        return available
    add, drop = list(cap_add), list(cap_drop)
    if not add and not drop:
        return DEFAULT
    drops = _normalize(drop, available)
    adds = _normalize(add, available)
    if ALL in adds:
        return frozenset(c for c in available if c not in drops)
    if ALL in drops:
        return frozenset(adds)
    return frozenset(c for c in DEFAULT if c not in drops) | frozenset(adds)


def mask(caps: Iterable[str]) -> int:
    """The bit mask of `caps` as /proc/<pid>/status prints it (CapEff: %016x)."""
    m = 0
    for c in caps:
        m |= 1 << CAPS[c]
    return m


def names(bits: int) -> frozenset[str]:
    """The known names whose bits are set in `bits`."""
    return frozenset(n for n, v in CAPS.items() if bits >> v & 1)


# --- kernel calls -------------------------------------------------------------------------

_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522  # 64-bit sets, as two 32-bit halves

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.prctl.restype = ctypes.c_int


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_libc.capget.argtypes = [ctypes.POINTER(_Header), ctypes.POINTER(_Data)]
_libc.capset.argtypes = [ctypes.POINTER(_Header), ctypes.POINTER(_Data)]


def _check(ret: int, what: str) -> int:
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return ret


def _prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> int:
    return _check(_libc.prctl(option, arg2, arg3, 0, 0), what)


def current() -> tuple[int, int, int]:
    """This process's (effective, permitted, inheritable) masks (capget)."""
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    _check(_libc.capget(ctypes.byref(hdr), data), "capget")
    lo, hi = data[0], data[1]
    return (
        lo.effective | hi.effective << 32,
        lo.permitted | hi.permitted << 32,
        lo.inheritable | hi.inheritable << 32,
    )


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = effective >> shift & 0xFFFFFFFF
        data[i].permitted = permitted >> shift & 0xFFFFFFFF
        data[i].inheritable = inheritable >> shift & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(hdr), data), "capset")


def drop_bounding(caps: frozenset[str]) -> None:
    """Drops every capability not in `caps` from the bounding set (needs CAP_SETPCAP in the
    effective set). Irreversible: no later execve can regain a dropped cap."""
    keep = mask(caps)
    for v in range(last_cap() + 1):
        if not keep >> v & 1 and _prctl(_PR_CAPBSET_READ, v, what="PR_CAPBSET_READ") == 1:
            _prctl(_PR_CAPBSET_DROP, v, what=f"dropping {_NAMES[v]} from the bounding set")


def apply(caps: frozenset[str], *, keep_for_user: bool = False) -> frozenset[str]:
    """Sets this process's capabilities to `caps`: bounding set, then permitted = effective =
    caps, inheritable and ambient empty (docker's behaviour; with `keep_for_user` both are caps
    too, so a non-root user keeps them across execve). Call it after users.switch with
    PR_SET_KEEPCAPS held across the switch (see `finalize`): it needs the permitted set the
    switch kept. A cap this process does not hold itself cannot be granted: like runc, which
    ignores unavailable caps, it is left out (the engine running in a restricted container).
    Returns the caps actually set."""
    _, permitted, inheritable = current()
    # setuid cleared the effective set; CAP_SETPCAP must be effective to drop bounding caps.
    _capset(permitted, permitted, inheritable)
    drop_bounding(caps)
    granted = mask(caps) & permitted
    inh = granted if keep_for_user else 0
    _capset(granted, granted, inh)
    # Ambient caps survive execve for non-root users; a cap must be permitted and inheritable
    # to be raised, and clearing first removes any the parent left.
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, what="clearing the ambient set")
    if keep_for_user:
        for v in range(granted.bit_length()):
            if granted >> v & 1:
                _prctl(
                    _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, v, what=f"raising ambient {_NAMES[v]}"
                )
    return names(granted)


def finalize(
    user: users.ExecUser, caps: frozenset[str], *, keep_for_user: bool = False
) -> frozenset[str]:
    """Switches to `user` and leaves exactly `caps` (runc's finalizeNamespace order): bounding
    set dropped while fully privileged, KEEPCAPS around setgroups/setgid/setuid so a non-root
    uid keeps the permitted set, then the sets applied. Returns the caps actually set."""
    drop_bounding(caps)
    _prctl(_PR_SET_KEEPCAPS, 1, what="PR_SET_KEEPCAPS")
    users.switch(user)
    _prctl(_PR_SET_KEEPCAPS, 0, what="PR_SET_KEEPCAPS")
    return apply(caps, keep_for_user=keep_for_user)


def set_no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS (docker's --security-opt no-new-privileges): execve can no longer
    grant privileges (setuid bits, file caps). Inherited by children and irreversible."""
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, what="PR_SET_NO_NEW_PRIVS")
