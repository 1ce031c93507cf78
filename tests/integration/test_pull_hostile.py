"""Hostile layers: unpacking runs as root, so an entry that would write outside the snapshot
(`..`, an absolute path with `..`, through a symlink or a hardlink of an earlier entry, through
a chain of symlinks) must fail the pull with a clear error naming it, and write nothing."""

from __future__ import annotations

import os

import pytest

from tests.support.catalog import Catalog
from tests.support.expect import fails, ok
from tests.support.images import Hostile
from tests.support.services import Daemon

pytestmark = pytest.mark.integration

CASES = ["dotdot", "absolute", "symlink", "hardlink", "symlink-chain"]


@pytest.mark.parametrize("case", CASES)
def test_hostile_layer_fails_the_pull_and_writes_nothing_outside(
    daemon: Daemon, catalog: Catalog, hostile: dict[str, Hostile], canary_dir: str, case: str
) -> None:
    h = hostile[case]
    target = os.path.join(canary_dir, "target")
    before = os.stat(target)

    r = daemon.cli("pull", f"{catalog.host}/test/hostile-{case}:latest")
    fails(r, os.path.basename(h.offending))

    assert os.listdir(canary_dir) == ["target"], "a hostile entry escaped the snapshot"
    after = os.stat(target)
    assert after.st_nlink == 1, "the hardlink escape linked to a file outside the snapshot"
    assert (after.st_ino, after.st_size, after.st_mtime) == (
        before.st_ino,
        before.st_size,
        before.st_mtime,
    )
    assert not os.path.lexists(os.path.join("/", os.path.basename(h.offending)))
    # The failed image is not recorded.
    assert ok(daemon.cli("images", "-q")).out.strip() == ""
    # The executor is still fine for a good image.
    ok(daemon.cli("pull", catalog.ref("test/busybox")))
