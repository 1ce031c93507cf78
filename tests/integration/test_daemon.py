"""The daemon's life cycle as a user meets it: children started and stopped with it, the
registry proxy not holding root, one daemon per data root, and the CLI with no daemon."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

import pytest

from tests.support.expect import fails, ok
from tests.support.processes import alive, cmdline, descendants
from tests.support.services import Daemon, run_started

pytestmark = pytest.mark.integration


def uid_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def test_daemon_starts_its_children_and_stops_them_on_sigterm(daemon: Daemon) -> None:
    kids = {pid: cmdline(pid) for pid in descendants(daemon.pid)}
    proxies = [p for p, cmd in kids.items() if "registry_proxy" in cmd or "registry-proxy" in cmd]
    executors = [p for p, cmd in kids.items() if "executor" in cmd]
    assert len(proxies) == 1 and len(executors) == 1, kids
    # The part that talks to the internet does not hold root; the executor does.
    assert uid_of(proxies[0]) == 65534, "the registry proxy must run as nobody"
    assert uid_of(executors[0]) == 0

    r = ok(daemon.cli("version"))
    assert "registry" in r.out.lower() and "executor" in r.out.lower(), r

    daemon.stop(check=True)  # asserts: exit 0, no socket, no pidfile, no child left
    assert not any(alive(p) for p in kids)


def test_cli_without_a_daemon_cannot_connect(new_daemon: Callable[..., Daemon]) -> None:
    never_started = new_daemon(start=False)
    fails(never_started.cli("images"), "Cannot connect")
    fails(never_started.cli("pull", "127.0.0.1:1/test/busybox:latest"), "Cannot connect")


def test_second_daemon_on_the_same_pidfile_fails_naming_the_first(daemon: Daemon) -> None:
    other_sock = os.path.join(daemon.base, "other.sock")
    argv = [a if a != daemon.host else f"unix://{other_sock}" for a in daemon.argv()]
    code, _, err = run_started(argv, timeout=30, stdin=subprocess.DEVNULL)
    assert code == 1, err
    assert f"pid {daemon.pid}" in err, err
    assert not os.path.exists(other_sock)
    # The first one is unharmed.
    assert daemon.healthy()
    with open(daemon.pidfile) as f:
        assert f.read().strip() == str(daemon.pid)


def test_second_daemon_on_the_same_data_root_fails_naming_the_first(
    daemon: Daemon, new_daemon: Callable[..., Daemon]
) -> None:
    second = new_daemon(start=False)
    argv = second.argv()
    argv[argv.index("--data-root") + 1] = daemon.data_root
    code, _, err = run_started(argv, timeout=30, stdin=subprocess.DEVNULL)
    assert code == 1, err
    assert str(daemon.pid) in err, err
    assert not os.path.exists(second.sock)
    assert daemon.healthy()


def test_stale_pidfile_is_taken_over(new_daemon: Callable[..., Daemon]) -> None:
    d = new_daemon(start=False)
    os.makedirs(d.exec_root, exist_ok=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(d.pidfile, "w") as f:
        f.write(f"{dead.pid}\n")
    d.start()
    with open(d.pidfile) as f:
        assert f.read().strip() == str(d.pid)
