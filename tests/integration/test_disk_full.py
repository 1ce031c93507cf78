"""A full disk during a pull: one clear line, nothing half-done left in the data root."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.support.catalog import Catalog
from tests.support.expect import fails
from tests.support.services import Daemon

pytestmark = pytest.mark.integration


@pytest.fixture
def small_data_root(new_daemon: Callable[..., Daemon]) -> Iterator[Daemon]:
    """A daemon whose data root is a 1.5 MB tmpfs: room for the 1 MB test layer's blob, not
    for its 2 MB of unpacked files."""
    d = new_daemon(start=False)
    os.makedirs(d.data_root)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1536k,mode=0755", "caisson-test", d.data_root],
        check=True,
    )
    try:
        d.start()
        yield d
        d.stop()
    finally:
        subprocess.run(["umount", "-l", d.data_root], check=False)


def test_disk_full_fails_clearly_and_leaves_nothing(
    small_data_root: Daemon, catalog: Catalog
) -> None:
    d = small_data_root
    line = fails(d.cli("pull", catalog.ref("test/busybox")), "no space left on device")
    assert line.startswith("Error response from daemon: layer sha256:"), line
    # No snapshot (complete or temporary) and no image record.
    assert os.listdir(d.snapshots) == []
    assert "test/busybox" not in d.cli("images").out
