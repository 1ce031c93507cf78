"""Hostile layers: every escape fails with InvalidArgument and writes nothing outside the
snapshot. Run twice: with the recording syscalls (path logic alone, no root needed) and through
the snapshotter with the real ones (root), which must also leave no temp dir behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from test_unpack_support import Blob, E, d, f, hard, layer, store, sym, tree

from caisson import errors
from caisson.content import ContentStore
from caisson.executor.rmtree import remove_tree
from caisson.executor.snapshots import Snapshotter, UnpackRequest
from caisson.executor.syscalls import RecordingSyscalls
from caisson.executor.unpack import Layer, unpack_layer

# The snapshot dir is DATA/snapshots/tmp-*/fs: four levels below the test's base dir, where the
# canary dir is. Relative escapes below climb exactly there.
UP = "../../../.."

# name -> (entries built from the canary dir's absolute path, text the error must contain)
CASES: dict[str, tuple[Callable[[str], list[E]], str]] = {
    "dotdot": (lambda c: [f("../evil", b"x")], "'../evil' would be written outside"),
    "dotdot-to-canary": (lambda c: [f(f"{UP}/canary/evil", b"x")], "outside the snapshot"),
    "absolute-dotdot": (lambda c: [f(f"/{UP}/canary/evil", b"x")], "outside the snapshot"),
    "absolute-inner-dotdot": (
        lambda c: [f(f"/a/../{UP}/canary/evil", b"x")],
        "outside the snapshot",
    ),
    "through-symlink-absolute": (
        lambda c: [sym("a", c), f("a/evil", b"x")],
        "outside the snapshot (through symlink 'a')",
    ),
    "through-symlink-relative": (
        lambda c: [sym("a", f"{UP}/canary"), f("a/evil", b"x")],
        "through symlink 'a'",
    ),
    "through-symlink-deeper": (
        lambda c: [d("usr"), sym("usr/lib", c), d("usr/lib/x"), f("usr/lib/x/evil", b"x")],
        "through symlink 'usr/lib'",
    ),
    "symlink-dotdot-chain": (
        lambda c: [sym("up", ".."), sym("up2", "up/.."), f("up2/up2/canary/evil", b"x")],
        "through symlink 'up2'",
    ),
    "dir-through-symlink": (lambda c: [sym("a", c), d("a/sub", mode=0o777)], "through symlink"),
    "dir-replacing-symlink": (
        lambda c: [sym("a", c), d("a", mode=0o777, uid=1234)],
        "would replace a symlink",
    ),
    "hardlink-etc-passwd": (
        lambda c: [hard("evil", "/etc/passwd")],
        "links to '/etc/passwd', which is not in this layer",
    ),
    "hardlink-dotdot": (lambda c: [hard("evil", "../outside")], "outside the snapshot"),
    "hardlink-to-canary": (
        lambda c: [hard("evil", f"{UP}/canary/target")],
        "outside the snapshot",
    ),
    "hardlink-through-symlink": (
        lambda c: [sym("a", c), hard("evil", "a/target")],
        "through a symlink",
    ),
    "hardlink-before-target": (
        lambda c: [hard("early", "later"), f("later", b"x")],
        "not in this layer",
    ),
    "whiteout-dotdot": (lambda c: [f(".wh..")], "whiteout of no valid name"),
    "whiteout-through-symlink": (
        lambda c: [sym("a", c), f("a/.wh.target")],
        "through symlink 'a'",
    ),
    "opaque-through-symlink": (
        lambda c: [sym("a", c), f("a/.wh..wh..opq")],
        "through symlink 'a'",
    ),
    "root-replaced-by-symlink": (lambda c: [sym("./", c)], "would replace the snapshot root"),
    "file-under-a-file": (lambda c: [f("a", b"x"), f("a/b", b"y")], "not a directory"),
}


@dataclass
class Setup:
    base: str
    canary: str
    data: str

    def outside(self, dest: str) -> dict[str, tuple[int, int]]:
        """Every path under base but the snapshot dir `dest` and the blobs, with mode and
        mtime (only the mode for dest's ancestors, whose mtimes the unpack changes)."""
        rel = os.path.relpath(dest, self.base)
        ancestors = {os.path.dirname(rel)}
        while os.path.dirname(min(ancestors, key=len)):
            ancestors.add(os.path.dirname(min(ancestors, key=len)))
        out = {}
        for p, (mode, mtime) in tree(self.base).items():
            if p == rel or p.startswith(rel + "/") or p.startswith("data/content"):
                continue
            out[p] = (mode, 0) if p in ancestors else (mode, mtime)
        return out


@pytest.fixture
def setup() -> Iterator[Setup]:
    base = tempfile.mkdtemp(prefix="caisson-hostile-")
    canary = os.path.join(base, "canary")
    os.mkdir(canary)
    with open(os.path.join(canary, "target"), "w") as fh:
        fh.write("canary")
    os.chmod(canary, 0o750)
    data = os.path.join(base, "data")
    os.makedirs(os.path.join(data, "snapshots"))
    yield Setup(base, canary, data)
    remove_tree(base)  # shutil.rmtree recurses: too deep for it in one test


def _blob(case: str, s: Setup) -> tuple[Blob, str]:
    build, expected = CASES[case]
    return layer(build(s.canary)), expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_layer_with_recording_syscalls(case: str, setup: Setup) -> None:
    b, expected = _blob(case, setup)
    dest = os.path.join(setup.data, "snapshots", "tmp-x", "fs")
    os.makedirs(dest)
    before = setup.outside(dest)
    passwd = os.stat("/etc/passwd")
    with pytest.raises(errors.InvalidArgument) as ei:
        unpack_layer(
            b.stream(), Layer(b.digest, b.media_type, b.diff_id), dest, RecordingSyscalls()
        )
    msg = str(ei.value)
    assert msg.startswith(f"layer {b.digest}: entry ")
    assert expected in msg
    assert setup.outside(dest) == before
    assert os.stat("/etc/passwd").st_nlink == passwd.st_nlink


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_layer_through_the_snapshotter(case: str, setup: Setup) -> None:
    b, expected = _blob(case, setup)
    content = ContentStore(os.path.join(setup.data, "content"))
    store(content, b)
    snaps = Snapshotter(os.path.join(setup.data, "snapshots"), content)
    snaps.init()
    # the snapshotter's temp dir is gone at the end: compare all but the snapshots dir
    before = setup.outside(os.path.join(snaps.root, "x"))
    passwd = os.stat("/etc/passwd")
    req = UnpackRequest(b.digest, b.media_type, b.diff_id, b.diff_id)
    with pytest.raises(errors.InvalidArgument) as ei:
        for _ in snaps.unpack(req):
            pass
    assert expected in str(ei.value)
    assert os.listdir(snaps.root) == []  # no snapshot, no temp dir
    assert setup.outside(os.path.join(snaps.root, "x")) == before
    assert os.stat("/etc/passwd").st_nlink == passwd.st_nlink


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_deep_paths_need_no_recursion_and_leak_no_fds(setup: Setup) -> None:
    deep = "d/" * 1500 + "leaf"  # within PATH_MAX, far deeper than the recursion limit
    b = layer([f(deep, b"x"), f(deep + "2", b"y"), d("d/d", mode=0o700)])
    dest = os.path.join(setup.data, "fs")
    os.makedirs(dest)
    before = _fds()
    unpack_layer(b.stream(), Layer(b.digest, b.media_type, b.diff_id), dest, RecordingSyscalls())
    assert _fds() == before
    fd = os.open(dest, os.O_RDONLY)
    try:
        for _ in range(1500):
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        assert sorted(os.listdir(fd)) == ["leaf", "leaf2"]
    finally:
        os.close(fd)


def test_absurd_pax_times_are_refused_quickly(setup: Setup) -> None:
    b = layer([f("x", b"x", pax={"mtime": "1e999999999"})])
    dest = os.path.join(setup.data, "fs")
    os.makedirs(dest)
    with pytest.raises(errors.InvalidArgument, match="'x' has invalid metadata"):
        unpack_layer(
            b.stream(), Layer(b.digest, b.media_type, b.diff_id), dest, RecordingSyscalls()
        )


def test_names_longer_than_path_max_are_refused(setup: Setup) -> None:
    b = layer([f("x/" * 2100 + "y", b"x")])
    dest = os.path.join(setup.data, "fs")
    os.makedirs(dest)
    with pytest.raises(errors.InvalidArgument, match="longer than 4096 bytes"):
        unpack_layer(
            b.stream(), Layer(b.digest, b.media_type, b.diff_id), dest, RecordingSyscalls()
        )


def test_a_deep_failed_layer_is_removed_completely(setup: Setup) -> None:
    # deeper than shutil.rmtree can recurse, with symlinks out to the canary inside, then an
    # escape: the snapshotter's clean-up must remove it all and follow none of the links
    deep = "d/" * 1500
    b = layer(
        [f(deep + "leaf", b"x"), sym(deep + "out", setup.canary), sym("top", setup.canary)]
        + [f("../escape", b"x")]
    )
    content = ContentStore(os.path.join(setup.data, "content"))
    store(content, b)
    snaps = Snapshotter(os.path.join(setup.data, "snapshots"), content, RecordingSyscalls())
    snaps.init()
    before = tree(setup.canary)
    with pytest.raises(errors.InvalidArgument, match="'../escape'"):
        list(snaps.unpack(UnpackRequest(b.digest, b.media_type, b.diff_id, b.diff_id)))
    assert os.listdir(snaps.root) == []
    assert tree(setup.canary) == before
