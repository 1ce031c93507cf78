"""The snapshotter: layout on disk, progress, EXISTS, list/get/remove, crash leftovers,
request checks, and one unpack per chain id however many callers ask at once."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator

import pytest
from test_unpack_support import Blob, E, Gate, f, layer, store

from caisson import errors
from caisson.content import ContentStore
from caisson.executor.snapshots import (
    Progress,
    Snapshot,
    Snapshotter,
    State,
    UnpackRequest,
    chain_id,
)
from caisson.executor.syscalls import RealSyscalls, RecordingSyscalls, Syscalls


def _syscalls() -> Syscalls:
    # The snapshotter's logic needs no privilege; as root, the real calls are used.
    return RealSyscalls() if os.geteuid() == 0 else RecordingSyscalls()


@pytest.fixture
def base() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="caisson-snap-")
    yield path
    shutil.rmtree(path)


@pytest.fixture
def content(base: str) -> ContentStore:
    c = ContentStore(os.path.join(base, "content"))
    c.init()
    return c


def snapshotter(base: str, content: ContentStore, syscalls: Syscalls | None = None) -> Snapshotter:
    s = Snapshotter(
        os.path.join(base, "snapshots"),
        content,
        syscalls or _syscalls(),
        progress_interval=0.01,
    )
    s.init()
    return s


def request(b: Blob, parent: str = "") -> UnpackRequest:
    return UnpackRequest(b.digest, b.media_type, b.diff_id, chain_id(parent, b.diff_id), parent)


def stored(content: ContentStore, entries: list[E]) -> Blob:
    b = layer(entries)
    store(content, b)
    return b


def test_layout_progress_and_meta(base: str, content: ContentStore) -> None:
    b = stored(content, [f("etc/hostname", b"box\n"), f("big", os.urandom(3_000_000))])
    snaps = snapshotter(base, content)
    events = list(snaps.unpack(request(b)))
    assert events[0] == Progress(b.diff_id, State.EXTRACTING, 0, len(b.data))
    assert events[-1] == Progress(b.diff_id, State.DONE, len(b.data), len(b.data), 3_000_004)
    currents = [e.current for e in events]
    assert currents == sorted(currents) and all(c <= len(b.data) for c in currents)
    hexid = b.diff_id.removeprefix("sha256:")
    assert sorted(os.listdir(snaps.root)) == [hexid]
    assert sorted(os.listdir(os.path.join(snaps.root, hexid))) == ["fs", "meta.json"]
    assert snaps.fs_path(b.diff_id) == os.path.join(snaps.root, hexid, "fs")
    with open(os.path.join(snaps.fs_path(b.diff_id), "etc", "hostname"), "rb") as fh:
        assert fh.read() == b"box\n"
    with open(os.path.join(snaps.root, hexid, "meta.json")) as fh:
        assert json.load(fh) == {
            "chain_id": b.diff_id,
            "parent": "",
            "diff_id": b.diff_id,
            "size": 3_000_004,
        }


def test_existing_snapshot_is_reported_at_once(base: str, content: ContentStore) -> None:
    b = stored(content, [f("x", b"12345")])
    snaps = snapshotter(base, content)
    list(snaps.unpack(request(b)))
    assert list(snaps.unpack(request(b))) == [Progress(b.diff_id, State.EXISTS, size=5)]


def test_chain_list_get_remove(base: str, content: ContentStore) -> None:
    b1 = stored(content, [f("a", b"1")])
    b2 = stored(content, [f("b", b"22")])
    snaps = snapshotter(base, content)
    r1 = request(b1)
    r2 = request(b2, parent=r1.chain_id)
    for r in (r1, r2):
        list(snaps.unpack(r))
    assert snaps.count() == 2
    assert sorted(snaps.list(), key=lambda s: s.size) == [
        Snapshot(r1.chain_id, "", b1.diff_id, 1),
        Snapshot(r2.chain_id, r1.chain_id, b2.diff_id, 2),
    ]
    assert snaps.get(r2.chain_id).parent == r1.chain_id
    snaps.remove(r2.chain_id)
    assert [s.chain_id for s in snaps.list()] == [r1.chain_id]
    assert not os.path.exists(snaps.path(r2.chain_id))
    assert [n for n in os.listdir(snaps.root) if n.startswith("tmp-")] == []
    with pytest.raises(errors.NotFound, match="not found"):
        snaps.remove(r2.chain_id)
    with pytest.raises(errors.NotFound):
        snaps.get(r2.chain_id)
    with pytest.raises(errors.InvalidArgument, match="invalid chain id"):
        snaps.remove("../../etc")


def test_requests_are_checked(base: str, content: ContentStore) -> None:
    b = stored(content, [f("a", b"1")])
    snaps = snapshotter(base, content)
    good = request(b)
    bad = [
        (UnpackRequest("nope", b.media_type, b.diff_id, good.chain_id), "invalid blob digest"),
        (UnpackRequest(b.digest, b.media_type, "sha256:x", good.chain_id), "invalid diff id"),
        (UnpackRequest(b.digest, b.media_type, b.diff_id, "sha256:" + "0" * 64), "expected"),
        (
            UnpackRequest(b.digest, b.media_type, b.diff_id, good.chain_id, "sha256:" + "1" * 64),
            "does not follow from parent",
        ),
    ]
    for req, text in bad:
        with pytest.raises(errors.InvalidArgument, match=text):
            list(snaps.unpack(req))
    missing = layer([f("never-stored")])
    with pytest.raises(errors.NotFound, match="not found in the content store"):
        list(snaps.unpack(request(missing)))
    assert os.listdir(snaps.root) == []


def test_diff_id_mismatch_leaves_nothing(base: str, content: ContentStore) -> None:
    b = stored(content, [f("a", b"1")])
    wrong = "sha256:" + "cd" * 32
    snaps = snapshotter(base, content)
    with pytest.raises(errors.DataLoss, match="the image config says " + wrong):
        list(snaps.unpack(UnpackRequest(b.digest, b.media_type, wrong, wrong)))
    assert os.listdir(snaps.root) == []


def test_init_removes_crash_leftovers(base: str, content: ContentStore) -> None:
    b = stored(content, [f("a", b"1")])
    snaps = snapshotter(base, content)
    list(snaps.unpack(request(b)))
    half = os.path.join(snaps.root, "tmp-crashed", "fs", "half")
    os.makedirs(half)
    snapshotter(base, content)  # a restarted executor
    assert os.listdir(snaps.root) == [b.diff_id.removeprefix("sha256:")]


def _device_layer(content: ContentStore) -> Blob:
    # a device node (held by the Gate), then more chunks to read after it
    return stored(
        content,
        [E("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), f("big", os.urandom(3 << 20))],
    )


def test_concurrent_unpacks_of_one_chain_id_share_the_work(
    base: str, content: ContentStore
) -> None:
    b = _device_layer(content)
    gate = Gate(_syscalls())
    snaps = snapshotter(base, content, gate)
    req = request(b)
    results: dict[int, list[Progress]] = {}

    def watch(i: int) -> None:
        results[i] = list(snaps.unpack(req))

    first = threading.Thread(target=watch, args=(0,))
    first.start()
    assert gate.entered.wait(30)
    # the second caller joins the unpack in flight: its first event comes before the end
    second = snaps.unpack(req)
    assert next(second).state == State.EXTRACTING
    gate.release.set()
    rest = list(second)
    first.join(30)
    assert rest[-1].state == State.DONE and results[0][-1].state == State.DONE
    assert rest[-1].size == results[0][-1].size == 3 << 20
    assert gate.mknods == 1
    assert list(snaps.unpack(req))[-1].state == State.EXISTS
    assert gate.mknods == 1


def test_remove_during_unpack_is_refused(base: str, content: ContentStore) -> None:
    b = _device_layer(content)
    gate = Gate(_syscalls())
    snaps = snapshotter(base, content, gate)
    events = snaps.unpack(request(b))
    next(events)
    assert gate.entered.wait(30)
    with pytest.raises(errors.FailedPrecondition, match="being unpacked"):
        snaps.remove(b.diff_id)
    gate.release.set()
    assert list(events)[-1].state == State.DONE


def test_close_cancels_unpacks_and_cleans_up(base: str, content: ContentStore) -> None:
    b = _device_layer(content)
    gate = Gate(_syscalls())
    snaps = snapshotter(base, content, gate)
    events = snaps.unpack(request(b))
    next(events)
    assert gate.entered.wait(30)
    snaps.cancel()
    gate.release.set()
    with pytest.raises(errors.Cancelled):
        list(events)
    snaps.close()
    assert os.listdir(snaps.root) == []
    with pytest.raises(errors.Unavailable, match="stopping"):
        list(snaps.unpack(request(b)))


def test_different_layers_unpack_concurrently(base: str, content: ContentStore) -> None:
    blobs = [stored(content, [f(f"file{i}", os.urandom(2_000_000 + i))]) for i in range(3)]
    snaps = snapshotter(base, content)
    out: dict[int, Progress] = {}

    def run(i: int) -> None:
        out[i] = list(snaps.unpack(request(blobs[i])))[-1]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [out[i].state for i in range(3)] == [State.DONE] * 3
    assert snaps.count() == 3


def test_a_caller_that_stops_watching_blocks_no_one(base: str, content: ContentStore) -> None:
    b = stored(content, [f("x", os.urandom(2_000_000))])
    snaps = snapshotter(base, content)
    abandoned = snaps.unpack(request(b))
    next(abandoned)  # watched once, never again: the unpack still completes
    last = list(snaps.unpack(request(b)))[-1]
    assert last.state in (State.DONE, State.EXISTS) and last.size == 2_000_000
    exists = snaps.unpack(request(b))
    assert next(exists).state == State.EXISTS
    assert snaps.count() == 1  # (the snapshotter's lock is not held by `exists`)
    snaps.remove(b.diff_id)
    assert snaps.count() == 0
