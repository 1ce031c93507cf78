"""Unpacking a layer while it is downloaded (follow): the growing-blob reader on its own, and the
snapshotter and gRPC service with a writer that appends to the ingest file the way the registry
proxy does, then commits it by rename, discards it, or starts it over."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from test_unpack_support import Blob, E, Gate, f, layer

from caisson import errors, server
from caisson.content import ContentStore
from caisson.executor.follow import GrowingBlob
from caisson.executor.service import SERVICE_NAME, ExecutorService
from caisson.executor.snapshots import Progress, Snapshotter, State, UnpackRequest, chain_id
from caisson.executor.syscalls import RealSyscalls, RecordingSyscalls, Syscalls
from caisson_api.executor.v1 import executor_pb2 as pb
from caisson_api.executor.v1 import executor_pb2_grpc

MiB = 1 << 20


def _syscalls() -> Syscalls:
    return RealSyscalls() if os.geteuid() == 0 else RecordingSyscalls()


@pytest.fixture
def base() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="caisson-follow-")
    yield path
    shutil.rmtree(path)


@pytest.fixture
def content(base: str) -> ContentStore:
    c = ContentStore(os.path.join(base, "content"))
    c.init()
    return c


@pytest.fixture
def snaps(base: str, content: ContentStore) -> Iterator[Snapshotter]:
    s = Snapshotter(os.path.join(base, "snapshots"), content, _syscalls(), progress_interval=0.01)
    s.init()
    yield s
    s.close()


class Download:
    """The registry proxy's side: appends to the ingest file, then commits, discards or
    restarts it. `trickle` writes in uneven pieces with pauses, from a thread."""

    def __init__(self, content: ContentStore, b: Blob) -> None:
        self.content = content
        self.blob = b
        self.ingest = content.ingest_path(b.digest)
        self.written = 0
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def write(self, n: int) -> None:
        with open(self.ingest, "ab") as fh:
            fh.write(self.blob.data[self.written : self.written + n])
        self.written = min(self.written + n, len(self.blob.data))

    def commit(self) -> None:
        os.replace(self.ingest, self.content.path(self.blob.digest))

    def trickle(self, delay_start: float = 0.0, commit: bool = True) -> None:
        def run() -> None:
            try:
                time.sleep(delay_start)
                sizes = [1, 7, 100, 4096, 65_536, 300_000, 1_000_000]
                i = 0
                while self.written < len(self.blob.data):
                    self.write(sizes[i % len(sizes)])
                    i += 1
                    time.sleep(0.001)
                if commit:
                    self.commit()
            except BaseException as e:  # noqa: BLE001 - reported by join()
                self.error = e

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(60)
        assert not self.thread.is_alive() and self.error is None


def big_layer(kind: str = "gzip", device: bool = False) -> Blob:
    """Random data (so the blob is as big compressed), a few small files around it."""
    entries = [f("etc/hostname", b"box\n"), f("big", os.urandom(3 * MiB)), f("tail", b"end")]
    if device:  # first, so a Gate on mknod holds the unpack before most of the blob is read
        entries.insert(0, E("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3))
    return layer(entries, kind)


def follow(b: Blob, size: int | None = None) -> UnpackRequest:
    return UnpackRequest(
        b.digest,
        b.media_type,
        b.diff_id,
        chain_id("", b.diff_id),
        follow=True,
        blob_size=len(b.data) if size is None else size,
    )


def plain(b: Blob) -> UnpackRequest:
    return UnpackRequest(b.digest, b.media_type, b.diff_id, chain_id("", b.diff_id))


def reading(events: Iterator[Progress]) -> None:
    """Waits until the unpack has read some of the blob (so the ingest file is open)."""
    for p in events:
        if p.current > 0:
            return
    raise AssertionError("the unpack ended before reading anything")


def assert_unpacked(snaps: Snapshotter, b: Blob, events: list[Progress]) -> None:
    assert events[-1] == Progress(b.diff_id, State.DONE, len(b.data), len(b.data), 3 * MiB + 7)
    assert all(e.total == len(b.data) and e.current <= len(b.data) for e in events)
    fs = snaps.fs_path(b.diff_id)
    with open(os.path.join(fs, "tail"), "rb") as fh:
        assert fh.read() == b"end"
    assert os.path.getsize(os.path.join(fs, "big")) == 3 * MiB
    assert snaps.get(b.diff_id).diff_id == b.diff_id


def assert_nothing_left(snaps: Snapshotter) -> None:
    assert os.listdir(snaps.root) == []


# -- the reader ----------------------------------------------------------------------------------
def test_reader_stops_at_the_size_even_when_the_file_is_longer(content: ContentStore) -> None:
    digest = "sha256:" + "ab" * 32
    with open(content.ingest_path(digest), "wb") as fh:
        fh.write(b"0123456789" * 10)  # a leftover longer than the blob
    with GrowingBlob(content, digest, 25, lambda: False) as blob:
        assert blob.read(8) == b"01234567"
        assert blob.seek(0) == 0
        assert blob.read() == b"0123456789012345678901234"
        assert blob.read(10) == b""
        assert blob.tell() == 25
        with pytest.raises(OSError, match="only seeks back"):
            blob.seek(30)


def test_reader_waits_for_bytes_and_follows_the_commit(content: ContentStore) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.trickle(delay_start=0.05)  # the ingest file appears late
    with GrowingBlob(content, b.digest, len(b.data), lambda: False) as blob:
        got = blob.read()
    dl.join()
    assert got == b.data and content.exists(b.digest)


def test_reader_gives_up_on_a_stalled_or_missing_download(content: ContentStore) -> None:
    b = big_layer()

    def reader() -> GrowingBlob:
        return GrowingBlob(content, b.digest, len(b.data), lambda: False, stall_timeout=0.05)

    with reader() as blob, pytest.raises(errors.Unavailable, match="did not start within 0.05s"):
        blob.read(8)
    Download(content, b).write(1000)
    with reader() as blob, pytest.raises(errors.Unavailable, match=r"stalled .*, 1000 of \d+ "):
        blob.read()


def test_reader_refuses_a_committed_blob_of_another_size(content: ContentStore) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data))
    dl.commit()
    for size in (len(b.data) - 1, len(b.data) + 1):
        blob = GrowingBlob(content, b.digest, size, lambda: False)
        with blob, pytest.raises(errors.InvalidArgument, match=f"blob size {size} does not match"):
            blob.read()


# -- the snapshotter -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["gzip", "zstd", "tar"])
def test_follow_a_download_to_its_commit(
    snaps: Snapshotter, content: ContentStore, kind: str
) -> None:
    b = big_layer(kind)
    dl = Download(content, b)
    dl.write(1)  # the proxy's first DOWNLOADING event: the file is there, nearly empty
    events = snaps.unpack(follow(b))
    dl.trickle()
    got = list(events)
    dl.join()
    assert_unpacked(snaps, b, got)
    assert list(snaps.unpack(follow(b))) == [Progress(b.diff_id, State.EXISTS, size=3 * MiB + 7)]


def test_follow_a_blob_already_committed(snaps: Snapshotter, content: ContentStore) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data))
    dl.commit()
    assert_unpacked(snaps, b, list(snaps.unpack(follow(b))))


def test_follow_a_committed_blob_of_another_size(snaps: Snapshotter, content: ContentStore) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data))
    dl.commit()
    wrong = len(b.data) + 1
    with pytest.raises(errors.InvalidArgument) as ei:
        list(snaps.unpack(follow(b, wrong)))
    assert str(ei.value) == (
        f"blob size {wrong} does not match layer {b.digest}: {len(b.data)} bytes in the "
        "content store"
    )
    assert_nothing_left(snaps)


def test_follow_a_download_that_starts_late(snaps: Snapshotter, content: ContentStore) -> None:
    b = big_layer()
    events = snaps.unpack(follow(b))
    dl = Download(content, b)
    dl.trickle(delay_start=0.05)
    got = list(events)
    dl.join()
    assert_unpacked(snaps, b, got)


def test_a_discarded_download_fails_and_leaves_nothing(
    snaps: Snapshotter, content: ContentStore
) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data) // 2)
    events = snaps.unpack(follow(b))
    reading(events)
    os.unlink(dl.ingest)  # the proxy's digest check failed
    with pytest.raises(
        errors.Unavailable,
        match=f"layer {b.digest} changed while it was being unpacked: its download was discarded",
    ):
        list(events)
    assert_nothing_left(snaps)
    # the daemon's retry, from the blob committed by a later download
    dl.written = 0
    dl.write(len(b.data))
    dl.commit()
    assert_unpacked(snaps, b, list(snaps.unpack(plain(b))))


def test_a_download_started_over_fails_and_leaves_nothing(
    snaps: Snapshotter, content: ContentStore
) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data) // 2)
    events = snaps.unpack(follow(b))
    reading(events)
    os.truncate(dl.ingest, 0)  # the registry ignored Range: the proxy starts from byte 0
    with pytest.raises(errors.Unavailable, match="changed while .*: its download started over"):
        list(events)
    assert_nothing_left(snaps)
    dl.written = 0
    dl.trickle()
    got = list(snaps.unpack(follow(b)))
    dl.join()
    assert_unpacked(snaps, b, got)


def test_wrong_bytes_in_the_ingest_file_are_caught_by_the_diff_id(
    snaps: Snapshotter, content: ContentStore
) -> None:
    # A leftover the proxy has not discarded yet, as long as the blob but not it: the reader
    # cannot tell, the DiffID check can.
    b = big_layer("tar")
    other = big_layer("tar")
    with open(content.ingest_path(b.digest), "wb") as fh:
        fh.write(other.data[: len(b.data)])
    with pytest.raises(errors.DataLoss, match="the image config says " + b.diff_id):
        list(snaps.unpack(follow(b)))
    assert_nothing_left(snaps)
    os.unlink(content.ingest_path(b.digest))
    dl = Download(content, b)
    dl.write(len(b.data))
    dl.commit()
    assert_unpacked(snaps, b, list(snaps.unpack(plain(b))))


def test_a_cancelled_caller_stops_a_follow_unpack_waiting_for_bytes(
    snaps: Snapshotter, content: ContentStore
) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data) // 2)
    cancel = threading.Event()
    events = snaps.unpack(follow(b), cancel)
    reading(events)
    cancel.set()  # the pull failed: the daemon cancels the call
    with pytest.raises(errors.Cancelled):
        list(events)
    assert_nothing_left(snaps)
    assert os.path.getsize(dl.ingest) == dl.written  # the reader never touches the download


def test_closing_the_snapshotter_stops_a_follow_unpack(
    snaps: Snapshotter, content: ContentStore
) -> None:
    b = big_layer()
    Download(content, b).write(len(b.data) // 2)
    events = snaps.unpack(follow(b))  # no cancel event: only closing stops it
    reading(events)
    snaps.close()
    with pytest.raises(errors.Cancelled):
        list(events)
    assert_nothing_left(snaps)


def test_a_caller_arriving_as_a_follow_unpack_is_abandoned_gets_a_fresh_one(
    base: str, content: ContentStore
) -> None:
    b = big_layer(device=True)
    gate = Gate(_syscalls())
    snaps = Snapshotter(os.path.join(base, "snapshots"), content, gate, progress_interval=0.01)
    snaps.init()
    dl = Download(content, b)
    dl.write(len(b.data) // 2)
    first_cancel = threading.Event()
    first = snaps.unpack(follow(b), first_cancel)
    assert gate.entered.wait(30)
    first_cancel.set()
    second: list[Progress] = []
    later = threading.Thread(target=lambda: second.extend(snaps.unpack(follow(b))))
    later.start()  # waits for the abandoned unpack to clean up, then starts its own
    gate.release.set()
    with pytest.raises(errors.Cancelled):
        list(first)
    dl.trickle()
    later.join(60)
    dl.join()
    snaps.close()
    assert second[-1].state == State.DONE and gate.mknods == 2


def test_a_plain_unpack_joins_a_follow_unpack_in_flight(
    snaps: Snapshotter, content: ContentStore
) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data) // 2)
    following = snaps.unpack(follow(b), threading.Event())
    reading(following)
    # the blob is not committed, yet this is no NotFound: it watches the unpack in flight
    plain_events = snaps.unpack(plain(b), threading.Event())
    dl.trickle()
    assert list(plain_events)[-1].state == State.DONE
    assert list(following)[-1].state == State.DONE
    dl.join()
    assert snaps.count() == 1


def test_follow_needs_a_blob_size(snaps: Snapshotter) -> None:
    b = big_layer()
    for size in (0, -1):
        with pytest.raises(errors.InvalidArgument, match=f"needs its blob size, got {size}"):
            snaps.unpack(follow(b, size))
    assert_nothing_left(snaps)


# -- over gRPC -----------------------------------------------------------------------------------
@pytest.fixture
def stub(base: str, snaps: Snapshotter) -> Iterator[executor_pb2_grpc.ExecutorStub]:
    srv = server.Server("executor-follow-test", max_workers=8)
    srv.add(
        executor_pb2_grpc.add_ExecutorServicer_to_server,
        ExecutorService(snaps, "hybrid"),
        SERVICE_NAME,
    )
    sock = os.path.join(base, "executor.sock")
    srv.listen(server.parse_address(f"unix://{sock}"))
    srv.start()
    ch = server.channel(f"unix://{sock}")
    try:
        yield executor_pb2_grpc.ExecutorStub(ch)
    finally:
        ch.close()
        srv.stop(grace=1)


def _pb(b: Blob, follow: bool, size: int = 0) -> pb.UnpackRequest:
    return pb.UnpackRequest(
        blob_digest=b.digest,
        media_type=b.media_type,
        diff_id=b.diff_id,
        chain_id=b.diff_id,
        follow=follow,
        blob_size=size,
    )


def test_grpc_unpack_follows_a_download(
    stub: executor_pb2_grpc.ExecutorStub, snaps: Snapshotter, content: ContentStore
) -> None:
    b = big_layer()
    with pytest.raises(grpc.RpcError) as ei:
        list(stub.Unpack(_pb(b, follow=True), timeout=30))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "needs its blob size" in ei.value.details()

    dl = Download(content, b)
    dl.write(1)
    call = stub.Unpack(_pb(b, follow=True, size=len(b.data)), timeout=60)
    dl.trickle()
    events = list(call)
    dl.join()
    assert events[0].state == pb.UNPACK_STATE_EXTRACTING and events[0].total == len(b.data)
    assert events[-1].state == pb.UNPACK_STATE_DONE and events[-1].size == 3 * MiB + 7
    assert snaps.get(b.diff_id).diff_id == b.diff_id


def test_grpc_cancel_stops_a_follow_unpack(
    stub: executor_pb2_grpc.ExecutorStub, snaps: Snapshotter, content: ContentStore
) -> None:
    b = big_layer()
    dl = Download(content, b)
    dl.write(len(b.data) // 2)
    call = stub.Unpack(_pb(b, follow=True, size=len(b.data)), timeout=60)
    for p in call:
        if p.current > 0:
            break
    call.cancel()
    deadline = time.monotonic() + 30
    while os.listdir(snaps.root) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert_nothing_left(snaps)
    dl.write(len(b.data))
    dl.commit()
    # DONE, not EXISTS: the cancelled unpack made no snapshot
    events = list(stub.Unpack(_pb(b, follow=False), timeout=60))
    assert events[-1].state == pb.UNPACK_STATE_DONE
