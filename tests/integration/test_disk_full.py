"""A full disk during a pull: one clear line, nothing half-done left in the data root."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.support.catalog import Catalog
from tests.support.expect import fails
from tests.support.services import Daemon

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def tmpfs_daemon(new_daemon: Callable[..., Daemon], size: str) -> Iterator[Daemon]:
    """A started daemon whose data root is a tmpfs of `size`."""
    d = new_daemon(start=False)
    os.makedirs(d.data_root)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "caisson-test", d.data_root],
        check=True,
    )
    try:
        d.start()
        yield d
        d.stop()
    finally:
        subprocess.run(["umount", "-l", d.data_root], check=False)


@pytest.fixture
def small_data_root(new_daemon: Callable[..., Daemon]) -> Iterator[Daemon]:
    """1.5 MB: room for the 1 MB test layer's blob, not for its 2 MB of unpacked files."""
    with tmpfs_daemon(new_daemon, "1536k") as d:
        yield d


def test_disk_full_fails_clearly_and_leaves_nothing(
    small_data_root: Daemon, catalog: Catalog
) -> None:
    d = small_data_root
    line = fails(d.cli("pull", catalog.ref("test/busybox")), "no space left on device")
    assert line.startswith("Error response from daemon: layer sha256:"), line
    # No snapshot (complete or temporary) and no image record.
    assert os.listdir(d.snapshots) == []
    assert "test/busybox" not in d.cli("images").out


@pytest.fixture
def roomy_data_root(new_daemon: Callable[..., Daemon]) -> Iterator[Daemon]:
    """8 MB: room for the test image, then filled by the test."""
    with tmpfs_daemon(new_daemon, "8m") as d:
        yield d


def test_run_on_a_full_disk_fails_clearly_and_leaves_nothing(
    roomy_data_root: Daemon, catalog: Catalog
) -> None:
    d = roomy_data_root
    ref = catalog.ref("test/busybox")
    assert d.cli("pull", "-q", ref).code == 0
    filler = os.path.join(d.data_root, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    try:
        r = d.cli("run", "--rm", ref, "true")
        assert r.code == 125, r
        assert "no space left on device" in r.err, r
        assert "Traceback" not in r.err and "internal error" not in r.err, r
    finally:
        os.unlink(filler)
    assert d.cli("ps", "-aq").out == ""
    containers = os.path.join(d.data_root, "containers")
    assert not os.path.isdir(containers) or os.listdir(containers) == []
    assert d.cli("run", "--rm", ref, "echo", "room again").out == "room again\n"
