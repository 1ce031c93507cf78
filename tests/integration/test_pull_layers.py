"""The unpacked snapshots of the layer-cases image, checked on disk: every kind of tar entry,
whiteouts as overlayfs expects them, and the two layers mounted together as overlayfs."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator

import pytest

from tests.support import images
from tests.support.catalog import Catalog
from tests.support.expect import inspect, ok
from tests.support.processes import public_tempdir, remove_tree
from tests.support.services import Daemon

pytestmark = pytest.mark.integration


@pytest.fixture(params=["test/layers-docker", "test/layers-oci"])
def pulled(request: pytest.FixtureRequest, daemon: Daemon, catalog: Catalog) -> tuple[str, str]:
    """Pulls the layer-cases image; returns the two snapshot fs dirs (lower layer first)."""
    repo = request.param
    image = catalog.images[repo]
    ok(daemon.cli("pull", catalog.ref(repo)))
    assert inspect(daemon, catalog.ref(repo))["Id"] == image.id
    one, two = (daemon.snapshot_fs(c) for c in image.chain_ids)
    assert os.path.isdir(one) and os.path.isdir(two)
    return one, two


def lstat(root: str, name: str) -> os.stat_result:
    return os.lstat(os.path.join(root, name))


def read(root: str, name: str) -> bytes:
    with open(os.path.join(root, name), "rb") as f:
        return f.read()


def test_owners_and_modes(pulled: tuple[str, str]) -> None:
    one, _ = pulled
    st = lstat(one, "cases/owned")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert read(one, "cases/owned") == b"owned by 1000\n"
    assert stat.S_IMODE(lstat(one, "cases/setuid").st_mode) == 0o4755
    assert stat.S_IMODE(lstat(one, "cases/setgid").st_mode) == 0o2755
    sticky = lstat(one, "cases/sticky")
    assert stat.S_ISDIR(sticky.st_mode) and stat.S_IMODE(sticky.st_mode) == 0o1777
    assert stat.S_IMODE(lstat(one, "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(lstat(one, "root").st_mode) == 0o700
    assert stat.S_IMODE(lstat(one, "bin/busybox").st_mode) == 0o755


def test_hardlinks_share_an_inode(pulled: tuple[str, str]) -> None:
    one, _ = pulled
    a, b = lstat(one, "cases/hardlink-a"), lstat(one, "cases/hardlink-b")
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    assert read(one, "cases/hardlink-b") == b"same inode\n"


def test_symlinks_keep_their_targets(pulled: tuple[str, str]) -> None:
    one, _ = pulled
    assert os.readlink(os.path.join(one, "cases/symlink-abs")) == "/bin/busybox"
    assert os.readlink(os.path.join(one, "cases/symlink-rel")) == "../bin/busybox"
    assert os.readlink(os.path.join(one, "bin/sh")) == "busybox"


def test_devices_and_fifos(pulled: tuple[str, str]) -> None:
    one, _ = pulled
    char = lstat(one, "cases/chardev")
    assert stat.S_ISCHR(char.st_mode)
    assert (os.major(char.st_rdev), os.minor(char.st_rdev)) == (1, 3)
    block = lstat(one, "cases/blockdev")
    assert stat.S_ISBLK(block.st_mode)
    assert (os.major(block.st_rdev), os.minor(block.st_rdev)) == (7, 0)
    assert block.st_gid == 6
    assert stat.S_ISFIFO(lstat(one, "cases/fifo").st_mode)


def test_xattrs(pulled: tuple[str, str]) -> None:
    one, _ = pulled
    assert os.getxattr(os.path.join(one, "cases/xattr"), "user.x") == b"hello"


def test_mtimes(pulled: tuple[str, str]) -> None:
    one, _ = pulled
    assert int(lstat(one, "cases/mtime").st_mtime) == images.CASE_MTIME
    assert int(lstat(one, "bin/busybox").st_mtime) == images.MTIME


def test_long_and_non_ascii_names(pulled: tuple[str, str]) -> None:
    one, _ = pulled
    assert read(one, images.LONG_NAME) == b"long name\n"
    assert read(one, images.UNICODE_NAME) == b"non-ascii\n"


def test_whiteouts_become_overlay_whiteouts(pulled: tuple[str, str]) -> None:
    one, two = pulled
    # The lower layer is as it was shipped.
    assert read(one, "deleted/file") == b"deleted in layer 2\n"
    assert sorted(os.listdir(os.path.join(one, "opaque"))) == ["old-a", "old-b"]
    # The upper layer: `.wh.file` is an overlayfs whiteout, a 0/0 character device...
    wh = lstat(two, "deleted/file")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert not os.path.lexists(os.path.join(two, "deleted/.wh.file"))
    # ... and the opaque marker an xattr on the directory.
    opaque = os.path.join(two, "opaque")
    assert os.getxattr(opaque, "trusted.overlay.opaque") == b"y"
    assert os.listdir(opaque) == ["new"]
    assert read(two, "layer2") == b"layer 2\n"


@contextlib.contextmanager
def overlay(lower: list[str]) -> Iterator[str]:
    """Mounts the snapshots read-only as overlayfs (upper layer first in `lower`)."""
    base = public_tempdir("caisson-ovl-")
    target = os.path.join(base, "merged")
    os.mkdir(target)
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + ":".join(lower), target],
        check=True,
        capture_output=True,
    )
    try:
        yield target
    finally:
        subprocess.run(["umount", target], check=False)
        remove_tree(base)


def test_layers_mounted_as_overlay_give_the_image_filesystem(pulled: tuple[str, str]) -> None:
    one, two = pulled
    with overlay([two, one]) as root:
        assert not os.path.lexists(os.path.join(root, "deleted/file"))
        assert read(root, "deleted/kept") == b"kept\n"
        assert os.listdir(os.path.join(root, "opaque")) == ["new"]
        assert read(root, "layer2") == b"layer 2\n"
        assert read(root, "cases/owned") == b"owned by 1000\n"
        assert os.path.exists(os.path.join(root, "bin/busybox"))
