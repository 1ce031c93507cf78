"""A Docker engine of our own, as an oracle for the tests and the reference for bench/pull.

`dockerd` runs with its own data root, exec root, unix socket, pidfile and config file under
one temp directory, without a bridge (or on a bridge the caller made for it) and without
iptables rules, so it touches nothing of the host's (no /var/lib/docker, no
/etc/docker/key.json, no docker0, no firewall). stop() always ends dockerd and
the containerd it starts by pid, and unmounts whatever is still mounted under the directory.
Nothing here installs docker: a machine without it gets None from `find_dockerd()`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
from typing import Any

from tests.support.processes import (
    alive,
    descendants,
    kill_pids,
    remove_tree,
    stop_process,
    tail,
    wait_for,
)

DOCKERD = "/usr/sbin/dockerd"
# Debian's CLI matches Debian's engine; a newer CLI may come first on PATH.
DOCKER = "/usr/bin/docker"
START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 30.0


def find_dockerd() -> str | None:
    if os.access(DOCKERD, os.X_OK):
        return DOCKERD
    return shutil.which("dockerd")


def find_docker_cli() -> str | None:
    if os.access(DOCKER, os.X_OK):
        return DOCKER
    return shutil.which("docker")


def _term_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started dockerd dies, so a
    test run killed outright still gets dockerd to shut down (and stop its containerd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DockerdError(RuntimeError):
    """dockerd could not be started; the message holds the tail of its log."""


def mounts_under(path: str) -> list[str]:
    """Mount points at or below `path`, deepest first (the order to unmount them in)."""
    prefix = os.path.realpath(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            # Field 5 is the mount point, with space, tab, newline and backslash as \ooo.
            field = line.split()[4]
            point = os.fsdecode(re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), field))
            if (point + "/").startswith(prefix):
                found.append(point)
    return sorted(set(found), key=lambda p: (p.count("/"), p), reverse=True)


def unmount_all(path: str) -> list[str]:
    """Unmounts everything under `path` (lazily when busy); returns what stays mounted."""
    for point in mounts_under(path):
        r = subprocess.run(["umount", point], capture_output=True, check=False)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    return mounts_under(path)


class Dockerd:
    """`dockerd` on unix://BASE/docker.sock, data root BASE/data, exec root BASE/exec.

    insecure_registries: host:port names docker may reach over plain HTTP (docker, unlike
    Caisson, does not treat 127.0.0.1 as insecure on its own). storage_driver: None lets
    dockerd choose; the tests ask for overlay2, whose layer directories they read. bridge:
    None gives containers no default network (`--bridge=none`); a name puts the default
    network on that existing bridge (made and removed by the caller), still without iptables
    rules, masquerade or ip_forward, so published ports go through docker's userland
    docker-proxy.
    """

    def __init__(
        self,
        base: str,
        insecure_registries: tuple[str, ...] = (),
        storage_driver: str | None = "overlay2",
        dockerd: str | None = None,
        cli: str | None = None,
        bridge: str | None = None,
    ) -> None:
        self.base = base
        self.sock = os.path.join(base, "docker.sock")
        self.host = f"unix://{self.sock}"
        self.data_root = os.path.join(base, "data")
        self.exec_root = os.path.join(base, "exec")
        self.pidfile = os.path.join(base, "docker.pid")
        self.config_file = os.path.join(base, "daemon.json")
        self.client_config = os.path.join(base, "client")  # the CLI's DOCKER_CONFIG
        self.log_path = os.path.join(base, "dockerd.log")
        self.dockerd = dockerd or find_dockerd() or DOCKERD
        self.cli_bin = cli or find_docker_cli() or DOCKER
        self.insecure_registries = tuple(insecure_registries)
        self.storage_driver = storage_driver
        self.bridge = bridge
        self.proc: subprocess.Popen[bytes] | None = None
        self.children: list[int] = []
        self.leftovers: list[str] = []  # what stop() had to kill or lazily unmount

    def argv(self) -> list[str]:
        argv = [
            self.dockerd,
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
            # No docker0 (no bridge, or the caller's own), no NAT or filter rules.
            "--bridge=none" if self.bridge is None else f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            "--log-level=warn",
        ]
        if self.bridge is not None:
            # The host's net.ipv4.ip_forward stays as it is: the bench only reaches its
            # containers from the host itself, which needs no forwarding.
            argv.append("--ip-forward=false")
        if self.storage_driver:
            argv += ["--storage-driver", self.storage_driver]
        for registry in self.insecure_registries:
            argv += ["--insecure-registry", registry]
        return argv

    # -- life cycle --------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Starts dockerd and waits until `docker version` reaches it; raises DockerdError
        (after cleaning up) when it does not."""
        os.makedirs(self.client_config, exist_ok=True)
        with open(self.config_file, "w") as f:
            # The daemon ID key would otherwise go to the host's /etc/docker/key.json.
            json.dump({"deprecated-key-path": os.path.join(self.base, "key.json")}, f)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.base,
                preexec_fn=_term_with_parent,
            )
        try:
            wait_for(self._ready, timeout, interval=0.2, what="dockerd to serve")
        except (TimeoutError, RuntimeError, OSError) as e:
            self.stop()
            raise DockerdError(f"dockerd did not start: {e}\n{self.log_tail(20)}") from None
        self.children = descendants(self.proc.pid)

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"dockerd exited with {self.proc.returncode}")
        return os.path.exists(self.sock) and self.docker("version", timeout=10).returncode == 0

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to dockerd (SIGKILL after `timeout`), then SIGKILL by pid to any child it
        left (containerd, shims), then unmount what remains under the base directory."""
        if self.proc is not None:
            proc, self.proc = self.proc, None
            if proc.poll() is None:
                self.children = sorted(set(self.children) | set(descendants(proc.pid)))
            stop_process(proc, timeout)
            with contextlib.suppress(TimeoutError):
                wait_for(lambda: not any(alive(p) for p in self.children), 10, what="containerd")
            left = [p for p in self.children if alive(p)]
            self.leftovers += [f"process {p}" for p in left]
            kill_pids(left)
        self.leftovers += [f"mount {p}" for p in mounts_under(self.base)]
        still = unmount_all(self.base)
        if still:
            raise RuntimeError(f"cannot unmount {still} under {self.base}")

    def close(self) -> None:
        """stop(), then remove the base directory."""
        try:
            self.stop()
        finally:
            remove_tree(self.base)

    def __enter__(self) -> Dockerd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the CLI -----------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_CONFIG"] = self.client_config  # no credentials or settings of the host
        env.pop("COLUMNS", None)
        return env

    def docker(
        self,
        *args: str,
        timeout: float = 900.0,
        input: str | None = None,  # noqa: A002
    ) -> subprocess.CompletedProcess[str]:
        """Runs `docker -H <this dockerd> ARGS` (stdout not a TTY); never raises on exit."""
        return subprocess.run(
            [self.cli_bin, "-H", self.host, *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
        )

    def server_version(self) -> tuple[int, int]:
        """(major, minor) of the engine, e.g. (20, 10); (0, 0) when it cannot say."""
        r = self.docker("version", "--format", "{{.Server.Version}}", timeout=30)
        m = re.match(r"(\d+)\.(\d+)", r.stdout.strip())
        return (int(m[1]), int(m[2])) if m else (0, 0)

    def inspect(self, ref: str) -> dict[str, Any]:
        r = self.docker("image", "inspect", ref)
        if r.returncode != 0:
            raise RuntimeError(f"docker image inspect {ref}: {r.stderr.strip()}")
        docs = json.loads(r.stdout)
        assert isinstance(docs, list) and len(docs) == 1, r.stdout
        return dict(docs[0])

    def layer_dirs(self, ref: str) -> list[str]:
        """The overlay2 `diff` directories of an image, lowest layer first."""
        data = self.inspect(ref)["GraphDriver"]["Data"]
        lower = [d for d in data.get("LowerDir", "").split(":") if d]
        return [*reversed(lower), data["UpperDir"]]

    def log_tail(self, lines: int = 60) -> str:
        return f"--- dockerd log ({self.log_path}), last {lines} lines:\n" + tail(
            self.log_path, lines
        )
