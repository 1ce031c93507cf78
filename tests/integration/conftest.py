"""Fixtures of the container tests: a daemon per test module with the `test/run` image
pulled, and the check that a test's containers left nothing on the host (use it with
`pytestmark = pytest.mark.usefixtures("no_leaks")`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support import leaks
from tests.support.catalog import Catalog
from tests.support.expect import ok
from tests.support.processes import public_tempdir, remove_tree
from tests.support.services import Daemon


@pytest.fixture(scope="module")
def runner(catalog: Catalog) -> Iterator[Daemon]:
    d = Daemon(public_tempdir("caisson-run-"))
    d.start()
    try:
        ok(d.cli("pull", "-q", catalog.ref("test/run")))
        yield d
    finally:
        d.stop()
        remove_tree(d.base)


@pytest.fixture
def image(catalog: Catalog) -> str:
    return catalog.ref("test/run")


@pytest.fixture
def no_leaks(runner: Daemon) -> Iterator[None]:
    """Every test removes its containers (and volumes); nothing of them may stay: no mount
    (a netns bind mount included), no monitor, no container directory, no cgroup of a
    container the test made (also of one already removed: the daemon's event log names every
    container created), no veth on the daemon's bridges, no "ctr:" nftables rule in its table
    and no IP reservation on any network."""
    since = time.time()
    yield
    runner.remove_containers()
    ids = leaks.container_ids(runner.data_root)
    after = leaks.state(runner.base, runner.data_root, runner.exec_root, ids)
    created = runner.cli(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{time.time():.3f}",
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--format",
        "{{.Actor.ID}}",
    ).out.split()
    new_cgroups = leaks.container_cgroups(set(created))
    for name in runner.cli("volume", "ls", "-q").out.split():
        runner.cli("volume", "rm", "-f", name)
    network = leaks.network_leaks(runner)
    assert after.empty(), f"left behind: {after}"
    assert not ids, f"container directories left: {ids}"
    assert not new_cgroups, f"cgroups left: {new_cgroups}"
    assert not network, "; ".join(network)
