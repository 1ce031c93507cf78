"""The container's user: docker's `-u` lookup in the container's /etc/passwd and /etc/group,
and the switch to it.

The lookup is moby/sys/user's GetExecUser + GetAdditionalGroups (what docker's daemon runs
for `-u` and `--group-add`), with their error wording. The files belong to the image, so they
are opened with openat2(RESOLVE_IN_ROOT): a symlink (absolute or `..`) resolves inside the
given root, never outside it, whatever the image put there. Only stdlib + ctypes, and none of
what costs an import (typing, dataclasses, re, pathlib): this runs in the container init, a
fresh interpreter on every start.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import stat

TYPE_CHECKING = False  # typing's, without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import IO

MAX_ID = 2**31 - 1  # moby/sys: <= MaxInt32 for 32-bit compatibility
RANGE_ERROR = f"uids and gids must be in range 0-{MAX_ID}"
NO_PASSWD = "no matching entries in passwd file"
NO_GROUP = "no matching entries in group file"
MAX_FILE = 10 << 20  # moby/sys maxUserFileBytes: a bigger user database is an attack


class ExecUser:
    """Who the process runs as: what `lookup` resolves a `-u` to."""

    def __init__(self, uid: int, gid: int, additional_gids: tuple[int, ...], home: str) -> None:
        self.uid = uid
        self.gid = gid
        self.additional_gids = additional_gids  # what setgroups gets: the primary gid first
        self.home = home

    def _fields(self) -> tuple[int, int, tuple[int, ...], str]:
        return self.uid, self.gid, self.additional_gids, self.home

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExecUser):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "ExecUser(uid={}, gid={}, additional_gids={}, home={!r})".format(*self._fields())


class _User:
    def __init__(self, name: str, uid: int, gid: int, home: str) -> None:
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home


class _Group:
    def __init__(self, name: str, gid: int, members: tuple[str, ...]) -> None:
        self.name = name
        self.gid = gid
        self.members = members


def _is_int(s: str) -> bool:
    # Go's strconv syntax, as the regular expression [+-]?[0-9]+ would match it.
    digits = s[1:] if s[:1] in ("+", "-") else s
    return digits.isascii() and digits.isdigit()


def _atoi(s: str) -> int:
    # Go's strconv.Atoi with the error dropped, as moby's parser does for misbehaving files.
    return int(s) if _is_int(s) else 0


def _parse_id(val: str) -> int | None:
    """moby/sys parseNumeric: None when `val` is a name; ValueError when out of range."""
    if not _is_int(val):
        return None
    n = int(val)
    if n < 0 or n > MAX_ID:
        raise ValueError(RANGE_ERROR)
    return n


def _fields(line: str, n: int) -> list[str]:
    parts = line.split(":")[:n]
    return parts + [""] * (n - len(parts))


def parse_passwd(lines: Iterable[str]) -> list[_User]:
    """name:password:UID:GID:GECOS:directory:shell lines; blank lines skipped, short lines
    padded, bad numbers read as 0 (moby's lenient parser)."""
    out = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        name, _, uid, gid, _, home, _ = _fields(line, 7)
        out.append(_User(name, _atoi(uid), _atoi(gid), home))
    return out


def parse_group(lines: Iterable[str]) -> list[_Group]:
    """group_name:password:GID:user_list lines; blank and # lines skipped."""
    out = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, gid, members = _fields(line, 4)
        out.append(_Group(name, _atoi(gid), tuple(members.split(",")) if members else ()))
    return out


def lookup(
    user_spec: str,
    passwd: IO[str] | None,
    group: IO[str] | None,
    extra_groups: Sequence[str] = (),
) -> ExecUser:
    """Docker's `-u user_spec` and `--group-add extra_groups` against already-open passwd and
    group files (None: the image has none). Forms: "", "name", "uid", "name:group",
    "uid:gid", "name:gid", "uid:group"; a number is always an id, a uid not in passwd is fine
    (gid 0, home "/"). Supplementary groups are the user's /etc/group memberships, only when
    the group is not given explicitly; --group-add entries follow. Raises ValueError."""
    usr, _, grp = user_spec.partition(":")
    uid_arg = _parse_id(usr) if usr else None
    gid_arg = _parse_id(grp) if grp else None
    uid, gid, home = 0, 0, "/"
    users = parse_passwd(passwd) if passwd is not None else []

    if not usr:
        matches = [u for u in users if u.uid == uid]
    elif uid_arg is not None:
        matches = [u for u in users if u.uid == uid_arg]
    else:
        matches = [u for u in users if u.name == usr]
    matched_name = ""
    if matches:  # first match wins
        matched_name, uid, gid, home = (
            matches[0].name,
            matches[0].uid,
            matches[0].gid,
            matches[0].home,
        )
    elif usr:
        if uid_arg is None:
            raise ValueError(f"unable to find user {usr}: {NO_PASSWD}")
        uid = uid_arg

    groups = parse_group(group) if group is not None else []
    sgids: list[int] = []
    if grp:
        if gid_arg is not None:
            found = [g for g in groups if g.gid == gid_arg]
        else:
            found = [g for g in groups if g.name == grp]
        if found:
            gid = found[0].gid
        elif gid_arg is None:
            raise ValueError(f"unable to find group {grp}: {NO_GROUP}")
        else:
            gid = gid_arg
    elif matched_name:
        sgids = [g.gid for g in groups if matched_name in g.members]

    added = _additional(extra_groups, groups)
    return ExecUser(uid, gid, _unique([gid, *sgids, *added]), home)


def _additional(extra: Sequence[str], groups: list[_Group]) -> list[int]:
    # moby/sys GetAdditionalGroups: a name must exist in /etc/group; a number need not.
    out = []
    for ag in extra:
        gid_arg = _parse_id(ag)
        for g in groups:
            if g.name == ag if gid_arg is None else g.gid == gid_arg:
                if g.gid < 0 or g.gid > MAX_ID:
                    raise ValueError(RANGE_ERROR)
                out.append(g.gid)
                break
        else:
            if gid_arg is None:
                # runc's GetAdditionalGroups words it with a capital (docker shows it so).
                raise ValueError(f"Unable to find group {ag}: {NO_GROUP}")
            out.append(gid_arg)
    return out


def _unique(ids: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(ids))


# --- opening the image's files inside its root ---------------------------------------------

_SYS_OPENAT2 = 437  # the same number on every architecture (added after the syscall table merge)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def open_in_root(root: str | os.PathLike[str], path: str) -> IO[str] | None:
    """Reads container path `path` as the container would see it with `root` as "/": symlinks
    and ".." resolve inside `root` (openat2 RESOLVE_IN_ROOT, enforced by the kernel, so a
    concurrent rename cannot escape either). Returns its text, or None when it is missing or
    not a regular file (a fifo or device would block or never end; moby ignores files it cannot
    open the same way). More than MAX_FILE bytes is an error, as in moby."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        how = _OpenHow(
            os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK,
            0,
            _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS,
        )
        fd = _libc.syscall(
            _SYS_OPENAT2,
            ctypes.c_int(root_fd),
            ctypes.c_char_p(os.fsencode(path)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
    finally:
        os.close(root_fd)
    if fd < 0:
        e = ctypes.get_errno()
        if e in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO):
            return None
        raise OSError(e, f"opening {path} in the container: {os.strerror(e)}")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    with open(fd, "rb") as f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError(f"read {path}: file exceeds {MAX_FILE} bytes")
    return io.StringIO(data.decode("utf-8", "surrogateescape"))


def resolve(
    user_spec: str, root: str | os.PathLike[str], extra_groups: Sequence[str] = ()
) -> ExecUser:
    """`lookup` against `root`/etc/passwd and `root`/etc/group (root is "/" after
    pivot_root). Raises ValueError with docker's messages."""
    passwd = open_in_root(root, "/etc/passwd")
    group = open_in_root(root, "/etc/group")
    try:
        return lookup(user_spec, passwd, group, extra_groups)
    finally:
        for f in (passwd, group):
            if f is not None:
                f.close()


def home_env(env: dict[str, str], user: ExecUser) -> dict[str, str]:
    """`env` with HOME set to the user's home unless the image or `-e` already set it (runc)."""
    return env if "HOME" in env else {**env, "HOME": user.home}


def switch(user: ExecUser) -> None:
    """setgroups, setgid, setuid in runc's order (groups and gid need CAP_SETGID, which setuid
    to non-root would take away). Real, effective and saved ids all change, so the process
    cannot switch back. To keep capabilities across it, hold PR_SET_KEEPCAPS (see
    capabilities.finalize, which wraps this)."""
    os.setgroups(list(user.additional_gids))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
