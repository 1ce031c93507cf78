"""The Caisson daemon started from the venv with temp dirs of its own, and the CLI pointed at
it. The daemon starts the registry proxy (as `nobody`) and the executor as its children; stop()
checks that a SIGTERM leaves no socket, no pidfile and no child behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.support import leaks
from tests.support.processes import (
    alive,
    cmdline,
    descendants,
    kill_pids,
    stop_process,
    tail,
    wait_for,
)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def venv_bin(name: str) -> str:
    """A console script of the venv running the tests (or the repository's .venv)."""
    for d in (
        os.path.dirname(sys.executable),
        os.path.join(os.path.dirname(__file__), "..", "..", ".venv", "bin"),
    ):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return os.path.abspath(path)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    args: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Any]:
        """`code, out, err = daemon.cli(...)`"""
        return iter((self.code, self.out, self.err))

    def __str__(self) -> str:
        return (
            f"$ caisson {' '.join(self.args)}\nexit {self.code}\n"
            f"--- stdout\n{self.out}--- stderr\n{self.err}"
        )


class Daemon:
    """`caisson-daemon` on unix://BASE/caisson.sock with data root BASE/data and exec root
    BASE/run. BASE must be traversable by `nobody` (see processes.public_tempdir)."""

    def __init__(self, base: str, extra_args: tuple[str, ...] = ()) -> None:
        self.base = base
        self.sock = os.path.join(base, "caisson.sock")
        self.host = f"unix://{self.sock}"
        self.data_root = os.path.join(base, "data")
        self.exec_root = os.path.join(base, "run")
        self.pidfile = os.path.join(self.exec_root, "caisson.pid")
        self.config_file = os.path.join(base, "daemon.json")
        self.log_path = os.path.join(base, "daemon.log")
        self.home = os.path.join(base, "home")  # the CLI's $HOME (credentials file)
        self.extra_args = tuple(extra_args)
        # Test-only network names: the default network's bridge and subnet, user networks'
        # pool, and Caisson's nftables table (never the host's or a real engine's).
        self.bridge, self.bip, self.address_pool = leaks.test_network_names()
        self.firewall_table = "cst_" + self.bridge[3:]
        self.proc: subprocess.Popen[bytes] | None = None
        self.children: list[int] = []
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        if not os.path.exists(self.config_file):
            with open(self.config_file, "w") as f:
                f.write("{}\n")  # keeps the host's /etc/caisson/daemon.json out of the tests

    # -- paths -------------------------------------------------------------------------------
    @property
    def content_blobs(self) -> str:
        return os.path.join(self.data_root, "content", "blobs", "sha256")

    @property
    def snapshots(self) -> str:
        return os.path.join(self.data_root, "snapshots")

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.content_blobs, digest.split(":", 1)[1])

    def snapshot_fs(self, chain_id: str) -> str:
        return os.path.join(self.snapshots, chain_id.split(":", 1)[1], "fs")

    def argv(self) -> list[str]:
        return [
            venv_bin("caisson-daemon"),
            "-H",
            self.host,
            "--config-file",
            self.config_file,
            "--data-root",
            self.data_root,
            "--exec-root",
            self.exec_root,
            "--pidfile",
            self.pidfile,
            "--log-level",
            "debug",
            "--bridge",
            self.bridge,
            "--bip",
            self.bip,
            "--default-address-pool",
            f"base={self.address_pool},size=24",
            "--firewall-table",
            self.firewall_table,
            *self.extra_args,
        ]

    # -- life cycle --------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.base,
                env=self.env(),
            )
        finally:
            log.close()
        try:
            wait_for(self.healthy, timeout, interval=0.1, what="caisson-daemon to serve")
        except BaseException as e:
            self.stop(check=False)
            raise RuntimeError(f"caisson-daemon did not start: {e}\n{self.log_tail()}") from None
        self.children = descendants(self.proc.pid)

    def healthy(self) -> bool:
        if self.proc is None:
            return False
        if self.proc.poll() is not None:
            raise RuntimeError(f"caisson-daemon exited with {self.proc.returncode}")
        if not os.path.exists(self.sock):
            return False
        from caisson import server  # the product's own client plumbing

        ch = server.channel(self.host)
        try:
            return server.health_status(ch, timeout=1.0) == "SERVING"
        finally:
            ch.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, check: bool = True, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM (then SIGKILL after `timeout`). With `check`, asserts the daemon cleaned up:
        socket and pidfile removed, every child process it had gone."""
        if self.proc is None:
            # A test may have run this daemon's argv itself (fd://, TLS, ...): what such a
            # daemon made on the host goes too.
            leaks.sweep_network(self.exec_root, self.bridge, self.firewall_table)
            return None
        left_containers = self.remove_containers() if self.proc.poll() is None else []
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            self.children = sorted(set(self.children) | set(descendants(proc.pid)))
        code = stop_process(proc, timeout)
        leftovers = []
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: not any(alive(p) for p in self.children), 10, what="children")
        for pid in self.children:
            if alive(pid):
                leftovers.append(f"{pid} {cmdline(pid)}")
        kill_pids(self.children)
        leaks.sweep(self.base, self.data_root, self.exec_root)
        leaks.sweep_network(self.exec_root, self.bridge, self.firewall_table)
        if check:
            problems = []
            if left_containers:
                problems.append(f"containers could not be removed: {left_containers}")
            if code != 0:
                problems.append(f"exit code {code} after SIGTERM")
            if os.path.lexists(self.sock):
                problems.append(f"socket {self.sock} left behind")
            if os.path.lexists(self.pidfile):
                problems.append(f"pidfile {self.pidfile} left behind")
            if leftovers:
                problems.append(f"child processes left running: {leftovers}")
            assert not problems, (
                "caisson-daemon did not stop cleanly: "
                + "; ".join(problems)
                + "\n"
                + self.log_tail()
            )
        return code

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove_containers(self) -> list[str]:
        """`rm -f` of every container (tests may end with containers running); returns the
        ones that could not be removed."""
        try:
            r = self.cli("ps", "-aq", "--no-trunc", timeout=60)
        except subprocess.TimeoutExpired:
            return ["(ps timed out)"]
        if r.code != 0:
            return []
        failed = []
        for cid in r.out.split():
            rm = self.cli("rm", "-f", "-v", cid, timeout=120)
            if rm.code != 0 and "No such container" not in rm.err:
                failed.append(f"{cid}: {rm.err.strip()}")
        return failed

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(check=exc[0] is None)

    # -- the CLI -----------------------------------------------------------------------------
    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CAISSON_", "PYTEST_")) and k not in ("HOME", "COLUMNS")
        }
        env["HOME"] = self.home
        env.update(extra or {})
        return env

    def cli(
        self,
        *args: str,
        input: str | None = None,  # noqa: A002
        timeout: float = 300.0,
        env: dict[str, str] | None = None,
        host: str | None = None,
    ) -> CliResult:
        """Runs `caisson -H <this daemon> ARGS`; never raises on a non-zero exit."""
        argv = [venv_bin("caisson"), "-H", host or self.host, *args]
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(env),
            cwd=self.base,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr, tuple(args))

    def cli_background(self, *args: str) -> subprocess.Popen[str]:
        """Starts `caisson -H <this daemon> ARGS` without waiting (stdout/stderr piped)."""
        return subprocess.Popen(
            [venv_bin("caisson"), "-H", self.host, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
            cwd=self.base,
        )

    def log_tail(self, lines: int = 80) -> str:
        return f"--- caisson-daemon log ({self.log_path}), last {lines} lines:\n" + tail(
            self.log_path, lines
        )

    def files_under(self, path: str) -> list[str]:
        out = []
        for root, dirs, files in os.walk(path):
            out.extend(os.path.join(root, n) for n in files + dirs)
        return sorted(out)

    def wait_blob(self, digest: str, timeout: float = 60.0) -> None:
        wait_for(
            lambda: os.path.exists(self.blob_path(digest)),
            timeout,
            interval=0.05,
            what=f"{digest} in the content store",
        )


def run_started(argv: list[str], timeout: float, **kwargs: Any) -> tuple[int, str, str]:
    """Runs a command that should exit on its own (e.g. a second daemon refusing to start),
    killing it by pid if it does not within `timeout`."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc, 5)
        out, err = proc.communicate()
        return -1, out.decode(errors="replace"), err.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def wait_gone(path: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while os.path.lexists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
