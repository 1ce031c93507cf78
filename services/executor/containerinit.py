"""The container's init: the process a monitor forks and execs to become a container, like
`runc init`. It runs as root in the new pid namespace the monitor made (so it is PID 1 there)
and goes through runc's named steps before it execve's the user's command:

    run:  join_cgroups -> unshare the other namespaces -> hostname -> loopback ->
          prepare_rootfs (mounts, pivot_root) -> rlimits -> user + capabilities + seccomp ->
          working dir -> execve
    exec: join_cgroups -> setns into the container's namespaces (mount last) -> rlimits ->
          user + capabilities + seccomp -> working dir -> execve

Whatever fails is reported on the sync fd the monitor passed (CAISSON_SYNC_FD) as one JSON
line with docker's exit code (126: cannot invoke, 127: not found, 125 otherwise); the fd is
close-on-exec, so a successful execve tells the monitor "started" by closing it.

It is a fresh interpreter on the hot path of every `run` and `exec`, started without site
(initboot.py): it imports no grpc and, from the stdlib, nothing that costs an import (typing,
dataclasses, json, re, pathlib, socket, signal, contextlib: enum, functools, collections behind
them). json, socket and signal are used through their C modules. Nothing is imported late:
after pivot_root the interpreter's own files are out of reach.
"""

from __future__ import annotations

import _json
import _signal
import _socket
import errno
import fcntl
import os
import resource
import struct
import sys

# Everything is imported before pivot_root: the Python sources are not in the container.
from caisson.executor import capabilities, namespaces, rootfs, users
from caisson.executor.realsyscalls import RealSyscalls
from caisson.executor.seccomp_load import load_bpf

TYPE_CHECKING = False  # typing's, without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431
_TIOCSCTTY = 0x540E

EXIT_START_FAILED = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127

_NS_FLAGS = {
    "mnt": namespaces.CLONE_NEWNS,
    "uts": namespaces.CLONE_NEWUTS,
    "ipc": namespaces.CLONE_NEWIPC,
    "net": namespaces.CLONE_NEWNET,
    "cgroup": namespaces.CLONE_NEWCGROUP,
}
RLIMITS = {
    name[len("RLIMIT_") :].lower(): getattr(resource, name)
    for name in dir(resource)
    if name.startswith("RLIMIT_")
}


class StartError(Exception):
    """`prefixed`: shown after "failed to start container process: " (runc's failures);
    False for what docker's daemon itself reports before runc runs (the user lookup)."""

    def __init__(
        self, message: str, exit_code: int = EXIT_START_FAILED, prefixed: bool = True
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.prefixed = prefixed


class ProcessSpec:
    def __init__(
        self,
        args: Iterable[str],
        env: Iterable[str] = (),
        cwd: str = "/",
        user: str = "",
        groups: Iterable[str] = (),
    ) -> None:
        self.args = list(args)
        self.env = list(env)
        self.cwd = cwd
        self.user = user
        self.groups = list(groups)


class InitSpec:
    """What the executor writes to the container's init.json."""

    def __init__(
        self,
        mode: str,  # "run" or "exec"
        process: ProcessSpec,
        # run: namespaces to unshare ("mnt", "uts", "ipc", "net", "cgroup"); the pid namespace
        # is the monitor's. exec: the ones to join, from `target_pid`.
        namespaces: Iterable[str] = (),
        # run: a network namespace to join rather than make (the executor made and wired it,
        # or another container's with --network container:NAME).
        netns_path: str = "",
        target_pid: int = 0,
        hostname: str = "",
        domainname: str = "",
        cgroup_procs: Iterable[str] = (),
        rootfs: Mapping[str, Any] | None = None,  # rootfs.RootfsSpec's arguments (run)
        rlimits: Iterable[tuple[str, int, int]] = (),
        caps: Iterable[str] = (),
        no_new_privs: bool = False,
        # A terminal made here, in the container's devpts, its master sent to the monitor.
        console: bool = False,
        # The container's seccomp filter, compiled by the executor (seccomp.compile_bpf): the
        # file holding the BPF program ("" = unconfined) and the seccomp(2) flags to load it
        # with.
        seccomp_bpf: str = "",
        seccomp_flags: int = 0,
    ) -> None:
        self.mode = mode
        self.process = process
        self.namespaces = list(namespaces)
        self.netns_path = netns_path
        self.target_pid = target_pid
        self.hostname = hostname
        self.domainname = domainname
        self.cgroup_procs = list(cgroup_procs)
        self.rootfs = dict(rootfs or {})
        self.rlimits = list(rlimits)
        self.caps = list(caps)
        self.no_new_privs = no_new_privs
        self.console = console
        self.seccomp_bpf = seccomp_bpf
        self.seccomp_flags = seccomp_flags

    def to_json(self) -> str:
        import json  # the executor's side: the init only reads it

        return json.dumps({**vars(self), "process": vars(self.process)})

    @classmethod
    def from_json(cls, text: str) -> InitSpec:
        d = _json_loads(text)
        d["process"] = ProcessSpec(**d["process"])
        d["rlimits"] = [tuple(r) for r in d["rlimits"]]
        return cls(**d)


class _JSONContext:
    # What json's C scanner reads of its decoder, with json.loads's defaults.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity


def _json_loads(text: str) -> Any:
    """json.loads without importing json, whose decoder compiles regular expressions at import
    (re, enum, functools: ~5 ms, more than all the init imports otherwise). The scanner
    json.loads runs is this same C function."""
    space = " \t\n\r"  # JSON's whitespace, around the value
    try:
        value, end = _json.make_scanner(_JSONContext())(text, len(text) - len(text.lstrip(space)))
    except StopIteration as e:
        raise ValueError(f"invalid JSON at character {e.value}") from None
    if text[end:].strip(space):
        raise ValueError(f"invalid JSON: extra data at character {end}")
    return value


def rootfs_spec(d: Mapping[str, Any]) -> rootfs.RootfsSpec:
    d = dict(d)
    d["binds"] = tuple(rootfs.BindMount(**b) for b in d.get("binds", ()))
    d["tmpfs"] = tuple(
        rootfs.TmpfsMount(t["destination"], tuple(t.get("options", ()))) for t in d.get("tmpfs", ())
    )
    d["cgroup1"] = tuple(
        m if isinstance(m, rootfs.CgroupV1Mount) else rootfs.CgroupV1Mount(*m)
        for m in d.get("cgroup1", ())
    )
    d["cgroup1_links"] = tuple(tuple(link) for link in d.get("cgroup1_links", ()))
    for key in ("masked_paths", "readonly_paths"):
        if key in d:
            d[key] = tuple(d[key])
    return rootfs.RootfsSpec(**d)


# --- the steps -----------------------------------------------------------------------------


def join_cgroups(procs_files: list[str]) -> None:
    # Before the cgroup namespace is made, so that its root is the container's cgroup.
    # On v1 through `tasks`: it moves only the writing thread, here the whole init (it has no
    # other), and so skips the lock cgroup.procs takes on every thread group, whose taking
    # waits out an RCU grace period (10-15 ms of each start on a v1 host). v2 has only
    # cgroup.procs.
    for path in procs_files:
        try:
            fd = os.open(os.path.join(os.path.dirname(path), "tasks"), os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # cgroup v2
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def enter_namespaces(spec: InitSpec) -> None:
    if spec.mode == "run":
        if spec.netns_path:
            fd = os.open(spec.netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                namespaces.setns(fd, namespaces.CLONE_NEWNET)
            finally:
                os.close(fd)
        flags = 0
        for name in spec.namespaces:
            flags |= _NS_FLAGS[name]
        namespaces.unshare(flags)
        if "uts" in spec.namespaces and spec.hostname:
            namespaces.set_hostname(spec.hostname, spec.domainname)
        if "net" in spec.namespaces:
            namespaces.loopback_up()
        return
    fds = {
        name: os.open(f"/proc/{spec.target_pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        for name in [*namespaces.NAMES, "mnt"]
        if name in spec.namespaces
    }
    for fd in fds.values():  # dicts keep order: "mnt" comes last
        namespaces.setns(fd)
        os.close(fd)


def make_console(sync_fd: int) -> None:
    """Opens a pty in the container's own devpts (after its /dev is in place), sends the
    master to the monitor over the sync socket and makes the slave this process's controlling
    terminal and stdio: inside the container it is /dev/pts/N of its own devpts, so ttyname,
    stty and job control work."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
        n = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, struct.pack("I", 0)))[0]
        slave = os.open(f"/dev/pts/{n}", os.O_RDWR | os.O_NOCTTY)
        s = _socket.socket(fileno=os.dup(sync_fd))
        try:  # what socket.send_fds does
            s.sendmsg([b"\n"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", master))])
        finally:
            s.close()
    finally:
        os.close(master)
    if os.getsid(0) != os.getpid():
        os.setsid()
    fcntl.ioctl(slave, _TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)


def set_rlimits(rlimits: list[tuple[str, int, int]]) -> None:
    for name, soft, hard in rlimits:
        try:
            resource.setrlimit(RLIMITS[name], (soft, hard))
        except (ValueError, OSError):
            # Python words EPERM as "not allowed to raise maximum limit"; say it as runc does
            # (the host's hard limit is the ceiling without CAP_SYS_RESOURCE).
            raise StartError(
                "error setting rlimits for ready process: "
                f"error setting rlimit type {RLIMITS[name]}: operation not permitted"
            ) from None


def look_path(arg0: str, env: list[str]) -> str:
    """Go's exec.LookPath in the container's PATH, with docker's messages and exit codes."""
    if "/" in arg0:
        candidates = [arg0]
    else:
        path = next((e[5:] for e in env if e.startswith("PATH=")), "")
        candidates = [os.path.join(d or ".", arg0) for d in path.split(":")]
    denied = False
    for c in candidates:
        try:
            st = os.stat(c)
        except OSError as e:
            if "/" in arg0:
                raise StartError(
                    f'exec: "{arg0}": stat {arg0}: {os.strerror(e.errno or errno.ENOENT).lower()}',
                    EXIT_NOT_FOUND if e.errno in (errno.ENOENT, errno.ENOTDIR) else 126,
                ) from None
            continue
        if not (st.st_mode & 0o170000 == 0o100000 and st.st_mode & 0o111):
            denied = True
            if "/" in arg0:
                break
            continue
        return c
    if denied:
        raise StartError(f'exec: "{arg0}": permission denied', EXIT_CANNOT_INVOKE)
    raise StartError(f'exec: "{arg0}": executable file not found in $PATH', EXIT_NOT_FOUND)


def working_dir(cwd: str, mode: str) -> None:
    """chdir, as runc words its failure. A run's missing WorkingDir was made by
    prepare_rootfs; an exec's is not made (docker: 126, "no such file or directory")."""
    try:
        os.chdir(cwd)
    except OSError as e:
        reason = os.strerror(e.errno or errno.ENOENT).lower()
        if mode == "exec":
            code = EXIT_CANNOT_INVOKE
        elif e.errno in (errno.ENOENT, errno.ENOTDIR):
            code = EXIT_NOT_FOUND
        else:
            code = EXIT_CANNOT_INVOKE if e.errno == errno.EACCES else EXIT_START_FAILED
        raise StartError(
            f'chdir to cwd ("{cwd}") set in config.json failed: {reason}', code
        ) from None


def reset_signals() -> None:
    # Python ignores SIGPIPE and the monitor blocks SIGCHLD; an exec'd program must start
    # with default dispositions and an empty mask, as it would under runc.
    for sig in range(1, _signal.NSIG):
        try:  # noqa: SIM105 - contextlib: see the module's docstring
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP, RT signals
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def _finalize_process(spec: InitSpec, program: bytes) -> tuple[str, list[str]]:
    """User, capabilities, seccomp; returns the resolved executable and the environment."""
    proc = spec.process
    try:
        user = users.resolve(proc.user, "/", proc.groups)
    except (ValueError, OSError) as e:
        raise StartError(str(e), prefixed=False) from None
    env = list(proc.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home or '/'}")
    caps = frozenset(spec.caps)
    if spec.no_new_privs:
        capabilities.set_no_new_privs()
    else:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we have it.
        load_bpf(program, spec.seccomp_flags)
    capabilities.finalize(user, caps)
    working_dir(proc.cwd or "/", spec.mode)
    executable = look_path(proc.args[0], env)
    if spec.no_new_privs:
        # As late as possible, so the filter constrains only the user's program.
        load_bpf(program, spec.seccomp_flags)
    return executable, env


def run(spec: InitSpec) -> None:
    # Read on the host, before the mount namespace changes.
    program = b""
    if spec.seccomp_bpf:
        with open(spec.seccomp_bpf, "rb") as f:
            program = f.read()
    join_cgroups(spec.cgroup_procs)
    enter_namespaces(spec)
    if spec.mode == "run":
        cgroup, cgroup1, links = rootfs.host_cgroup_layout()
        defaults = {"workdir": spec.process.cwd, "cgroup": cgroup}
        defaults |= {"cgroup1": cgroup1, "cgroup1_links": links}
        spec_dict = {**defaults, **spec.rootfs}
        rootfs.prepare_rootfs(RealSyscalls(), rootfs_spec(spec_dict))
    if spec.console:
        make_console(int(os.environ.get("CAISSON_SYNC_FD", "3")))
    set_rlimits(spec.rlimits)
    executable, env = _finalize_process(spec, program)
    reset_signals()
    try:
        os.execve(executable, spec.process.args, dict(_env_pairs(env)))
    except OSError as e:
        code = EXIT_NOT_FOUND if e.errno == errno.ENOENT else EXIT_CANNOT_INVOKE
        raise StartError(f'exec: "{spec.process.args[0]}": {e.strerror.lower()}', code) from None


def _env_pairs(env: list[str]) -> list[tuple[str, str]]:
    out = []
    for e in env:
        k, _, v = e.partition("=")
        out.append((k, v))
    return out


def _report(fd: int, message: str, exit_code: int) -> None:
    # json.dumps({"error": message, "exit_code": exit_code}), with the string encoder it uses.
    line = f'{{"error": {_json.encode_basestring_ascii(message)}, "exit_code": {exit_code}}}\n'
    try:  # noqa: SIM105 - contextlib: see the module's docstring
        os.write(fd, line.encode())
    except OSError:
        pass  # the monitor is gone: nobody to tell


def main(argv: list[str]) -> int:
    sync_fd = int(os.environ.get("CAISSON_SYNC_FD", "-1"))
    if sync_fd >= 0:
        os.set_inheritable(sync_fd, False)
    try:
        with open(argv[1]) as f:
            spec = InitSpec.from_json(f.read())
        run(spec)
    except StartError as e:
        message = f"failed to start container process: {e}" if e.prefixed else str(e)
        code = e.exit_code
    except Exception as e:  # noqa: BLE001 - any failure must reach the user, not a traceback
        message, code = f"failed to start container process: {_describe(e)}", EXIT_START_FAILED
    if sync_fd >= 0:
        _report(sync_fd, message, code)
    else:
        print(message, file=sys.stderr)
    return code


def _describe(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}" + (f": {e.filename}" if e.filename else "")
    return str(e) or type(e).__name__


if __name__ == "__main__":
    sys.exit(main(sys.argv))
