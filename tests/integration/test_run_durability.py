"""A container outlives its executor and its daemon: both are SIGKILLed while a container
prints a counter; it keeps running and logging, and its exit code is found afterwards."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.support import leaks
from tests.support.catalog import Catalog
from tests.support.expect import ok
from tests.support.processes import (
    alive,
    cmdline,
    descendants,
    public_tempdir,
    remove_tree,
    wait_for,
)
from tests.support.services import Daemon

pytestmark = pytest.mark.integration

COUNTER = "i=0; while [ $i -lt {n} ]; do echo $i; i=$((i+1)); sleep 0.05; done; exit 3"


@pytest.fixture
def daemon_run(catalog: Catalog) -> Iterator[Daemon]:
    d = Daemon(public_tempdir("caisson-dur-"))
    d.start()
    try:
        ok(d.cli("pull", "-q", catalog.ref("test/run")))
        yield d
    finally:
        if d.proc is None:
            d.start()
        d.stop()
        ids = leaks.container_ids(d.data_root)
        left = leaks.state(d.base, d.data_root, d.exec_root, ids)
        remove_tree(d.base)
        assert left.empty(), left


def executor_pid(d: Daemon) -> int:
    """The executor the daemon runs now (0 while there is none)."""
    assert d.proc is not None
    for pid in descendants(d.proc.pid):
        if "caisson.executor" in cmdline(pid) or "caisson-executor" in cmdline(pid):
            return pid
    return 0


def kill_daemon(d: Daemon) -> None:
    """SIGKILL, as a crash: no cleanup runs (its children die with it by PDEATHSIG)."""
    assert d.proc is not None
    kids = descendants(d.proc.pid)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    wait_for(lambda: not any(alive(p) for p in kids), 10, what="the daemon's children to die")


def counter_values(d: Daemon, name: str) -> list[int]:
    out = ok(d.cli("logs", name)).out.split()
    return [int(x) for x in out]


def assert_continuous(values: list[int]) -> None:
    assert values == list(range(len(values))), f"gap or repeat in the log: {values}"


def test_container_survives_executor_sigkill(daemon_run: Daemon, catalog: Catalog) -> None:
    d = daemon_run
    image = catalog.ref("test/run")
    ok(d.cli("run", "-d", "--name", "cnt", image, "sh", "-c", COUNTER.format(n=100000)))
    wait_for(lambda: len(counter_values(d, "cnt")) > 5, 10, what="output")
    old = executor_pid(d)
    assert old
    os.kill(old, signal.SIGKILL)
    # The daemon starts a new executor; the container never stopped.
    wait_for(lambda: executor_pid(d) not in (0, old), 30, what="a new executor")
    seen = len(counter_values(d, "cnt"))
    wait_for(lambda: len(counter_values(d, "cnt")) > seen + 5, 10, what="output after the restart")
    state = json.loads(ok(d.cli("inspect", "cnt")).out)[0]["State"]
    assert state["Status"] == "running", state
    ok(d.cli("stop", "-t", "0", "cnt"))
    state = json.loads(ok(d.cli("inspect", "cnt")).out)[0]["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137), state
    assert_continuous(counter_values(d, "cnt"))


def test_container_survives_daemon_sigkill_and_its_exit_is_found(
    daemon_run: Daemon, catalog: Catalog
) -> None:
    d = daemon_run
    image = catalog.ref("test/run")
    ok(d.cli("run", "-d", "--name", "cnt", image, "sh", "-c", COUNTER.format(n=60)))
    ok(d.cli("run", "-d", "--name", "long", image, "sh", "-c", COUNTER.format(n=100000)))
    wait_for(lambda: len(counter_values(d, "cnt")) > 5, 10, what="output")
    kill_daemon(d)
    # "c" ends (exit 3) while neither the daemon nor the executor runs.
    time.sleep(60 * 0.05 + 1)
    d.start()
    state = json.loads(ok(d.cli("inspect", "cnt")).out)[0]["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 3), state
    assert counter_values(d, "cnt") == list(range(60))
    state = json.loads(ok(d.cli("inspect", "long")).out)[0]["State"]
    assert state["Status"] == "running", state
    seen = len(counter_values(d, "long"))
    wait_for(lambda: len(counter_values(d, "long")) > seen + 5, 10, what="output")
    # The new daemon follows the container: its exit is recorded without a restart.
    ok(d.cli("kill", "long"))
    wait_for(
        lambda: json.loads(ok(d.cli("inspect", "long")).out)[0]["State"]["Status"] == "exited",
        10,
        what="the kill to be recorded",
    )
    assert_continuous(counter_values(d, "long"))
    assert ok(d.cli("wait", "long")).out.strip() == "137"
