"""Dropping root for good, for a service a root parent starts (the registry proxy).

The drop happens in-process after start-up, not by exec'ing as the user: the interpreter and
the installed code may live where that user cannot read (a venv under /root), but once the
modules are imported nothing needs to be read from there again. Modules that would only be
imported lazily on first use are imported before the drop by the caller.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import signal

from caisson import errors

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_PR_GET_PDEATHSIG = 2


PARENT_PID_ENV = "CAISSON_PARENT_PID"


def die_with_parent() -> None:
    """Arms SIGTERM on the death of the parent named in $CAISSON_PARENT_PID (a daemon's child
    service calls it first thing), and acts at once if that parent is already gone."""
    parent = os.environ.pop(PARENT_PID_ENV, "")
    if not parent:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


def drop_to(user: str) -> pwd.struct_passwd:
    """Becomes `user` (uid, gid, no supplementary groups, no way back); no-op if not root."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise errors.InvalidArgument(f"--user {user!r}: no such user") from None
    if os.geteuid() != 0:
        if os.geteuid() != pw.pw_uid:
            raise errors.PermissionDenied(f"--user {user!r}: only root can change user")
        return pw
    libc = ctypes.CDLL(None, use_errno=True)
    # The kernel clears the parent-death signal when credentials change: a child service that
    # must die with the daemon sets it again after the switch (and acts on it at once if the
    # parent is already gone).
    pdeathsig = ctypes.c_int(0)
    libc.prctl(_PR_GET_PDEATHSIG, ctypes.byref(pdeathsig), 0, 0, 0)
    parent = os.getppid()
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    if pdeathsig.value:
        libc.prctl(_PR_SET_PDEATHSIG, pdeathsig.value, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), pdeathsig.value)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    try:
        os.setuid(0)
    except PermissionError:
        return pw
    raise errors.Internal(f"dropping privileges to {user!r} failed: could regain root")


def hand_over(user: str, dirs: list[str]) -> None:
    """Creates `dirs` (if missing) and gives them to `user`, when we are root and about to
    drop to that user: what it must write after the drop must be its own."""
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise errors.InvalidArgument(f"--user {user!r}: no such user") from None
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        os.chown(d, pw.pw_uid, pw.pw_gid)
        os.chmod(d, 0o755)
