"""The registry proxy and executor as the daemon's child processes.

Started only when the daemon was given no address for them. The registry proxy is the part
that talks to the internet, so a root daemon starts it as an unprivileged user that can write
only the content store. Children die with the daemon (PR_SET_PDEATHSIG) so a killed daemon
leaves no orphan holding their sockets.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass

from caisson import errors, logs, privileges, server
from caisson.daemon.config import Config

log = logs.get("caisson.daemon.children")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class Child:
    name: str
    address: str
    proc: subprocess.Popen[bytes]
    argv: list[str]
    restarts: int = 0

    def exited(self) -> int | None:
        return self.proc.poll()

    def respawn(self) -> None:
        """Starts the child again after it died (same argv and address)."""
        new = _spawn(self.name, self.argv, self.address)
        self.proc = new.proc
        self.restarts += 1

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("child did not stop in time, killing", child=self.name, pid=self.proc.pid)
            self.proc.kill()
            self.proc.wait()
        log.info("child stopped", child=self.name, code=self.proc.returncode)


def _entry(module: str) -> list[str]:
    # The child arms its own parent-death signal first thing: a preexec_fn would run Python in
    # a fork of this multi-threaded gRPC process, where gRPC's fork handlers can abort it.
    return [
        sys.executable,
        "-c",
        "import sys; from caisson.privileges import die_with_parent; die_with_parent(); "
        f"from {module} import main; sys.exit(main())",
    ]


def _log_args(cfg: Config) -> list[str]:
    return ["--log-level", cfg.log_level, "--log-format", cfg.log_format]


def _spawn(name: str, argv: list[str], address: str) -> Child:
    env = {**os.environ, privileges.PARENT_PID_ENV: str(os.getpid())}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)  # noqa: S603 - our own
    child = Child(name, address, proc, argv)
    ch = server.channel(address)
    try:
        if not server.wait_healthy(ch, START_TIMEOUT, alive=lambda: proc.poll() is None):
            child.stop()
            code = proc.returncode
            raise errors.Unavailable(
                f"{name} failed to start (exit code {code}); see its log lines above"
                if code is not None
                else f"{name} did not become healthy within {START_TIMEOUT:.0f}s"
            )
    finally:
        ch.close()
    log.info("child started", child=name, pid=proc.pid, address=address)
    return child


def proxy_user(cfg: Config) -> pwd.struct_passwd | None:
    """The user the registry proxy runs as: None means "as the daemon" (a non-root daemon)."""
    if os.geteuid() != 0 or cfg.proxy_user in ("", "root"):
        return None
    try:
        return pwd.getpwnam(cfg.proxy_user)
    except KeyError:
        raise errors.InvalidArgument(f"--proxy-user {cfg.proxy_user!r}: no such user") from None


def prepare_content_root(content_root: str, user: pwd.struct_passwd | None) -> None:
    """Gives the proxy user the content store (and only it), and checks it can get there."""
    subdirs = ("blobs", "blobs/sha256", "ingest")
    dirs = [content_root, *(os.path.join(content_root, d) for d in subdirs)]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    if user is None:
        return
    privileges.hand_over(user.pw_name, dirs)
    ingest = os.path.join(content_root, "ingest")
    for name in os.listdir(ingest):
        with contextlib.suppress(FileNotFoundError):
            os.chown(os.path.join(ingest, name), user.pw_uid, user.pw_gid)
    # Every parent must be searchable by others, or the proxy cannot reach the store.
    parent = os.path.dirname(os.path.abspath(content_root))
    while True:
        mode = os.stat(parent).st_mode
        if not mode & stat.S_IXOTH:
            raise errors.FailedPrecondition(
                f"the registry proxy runs as {user.pw_name!r} and cannot reach {content_root}: "
                f"{parent} is not searchable by others (chmod o+x {parent}, or --proxy-user)"
            )
        if parent == "/":
            break
        parent = os.path.dirname(parent)


def start_registry_proxy(cfg: Config, content_root: str) -> Child:
    user = proxy_user(cfg)
    prepare_content_root(content_root, user)
    run_dir = os.path.join(cfg.exec_root, "registry-proxy")
    os.makedirs(run_dir, exist_ok=True)
    if user is not None:
        os.chown(run_dir, user.pw_uid, user.pw_gid)
        os.chmod(run_dir, 0o700)
    address = f"unix://{run_dir}/proxy.sock"
    return _spawn("registry proxy", registry_proxy_argv(cfg, content_root, address), address)


def registry_proxy_argv(cfg: Config, content_root: str, address: str) -> list[str]:
    argv = _entry("caisson.registry_proxy.main") + [
        "--listen",
        address,
        "--content-root",
        content_root,
        "--max-concurrent-downloads",
        str(cfg.max_concurrent_downloads),
        *_log_args(cfg),
    ]
    for reg in cfg.insecure_registries:
        argv += ["--insecure-registry", reg]
    for mirror in cfg.registry_mirrors:
        argv += ["--registry-mirror", mirror]
    user = proxy_user(cfg)
    if user is not None:
        # It drops to the user itself once its code is loaded: the interpreter and the
        # installed code may not be readable by that user (a venv under /root).
        argv += ["--user", user.pw_name]
    return argv


def start_executor(cfg: Config) -> Child:
    address = f"unix://{cfg.exec_root}/executor.sock"
    argv = _entry("caisson.executor.main") + [
        "--listen",
        address,
        "--data-root",
        cfg.data_root,
        "--exec-root",
        cfg.exec_root,
        "--firewall-table",
        cfg.firewall_table,
        *_log_args(cfg),
    ]
    return _spawn("executor", argv, address)
