"""The `caisson` command `make setup` writes (caisson.cli.launcher): it runs without site and
finds the packages of the install that wrote it, whatever the caller's directory or Python
environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from caisson import __version__
from caisson.cli import launcher


def test_the_launcher_runs_the_cli_without_site(tmp_path: Path) -> None:
    script = tmp_path / "caisson"
    assert launcher.main(["launcher", str(script)]) == 0
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith(f"#!{sys.executable} -IS\n")
    # A `caisson` package on PYTHONPATH would win over the real one if the environment
    # counted: -I ignores it.
    decoy = tmp_path / "decoy" / "caisson"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy was imported')\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(decoy.parent), "HOME": str(tmp_path)}
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=env, cwd="/", timeout=60
    )
    assert (version.returncode, version.stdout) == (0, f"Caisson version {__version__}\n")
    sock = tmp_path / "none.sock"
    ps = subprocess.run(
        [str(script), "-H", f"unix://{sock}", "ps"],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=60,
    )
    assert ps.returncode == 1
    # network create checks its flags with the daemon's IPAM logic before calling it.
    net = subprocess.run(
        [str(script), "network", "create", "--subnet", "10.0.0.0/24", "--gateway", "10.9.9.9", "x"],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=60,
    )
    assert (net.returncode, net.stderr) == (1, "no matching subnet for gateway 10.9.9.9\n")
    assert (
        ps.stderr
        == f"Cannot connect to the Caisson daemon at unix://{sock}. Is the daemon running?\n"
    )


def test_the_launcher_wants_a_path() -> None:
    assert launcher.main(["launcher"]) == 2
