"""Snapshots: unpacked layers under DATA_ROOT/snapshots, keyed by chain id.

Layout:
    snapshots/<chain-id-hex>/fs/        the layer unpacked on its own (an overlay lowerdir)
    snapshots/<chain-id-hex>/meta.json  {"chain_id", "parent", "diff_id", "size"}
    snapshots/tmp-<random>/             an unpack in progress, or a snapshot being removed

A snapshot appears only by renaming a complete, verified temp dir to its final name, so a
snapshot dir that exists is whole. Temp dirs left by a crash are removed at start-up. Each
layer is unpacked independently into an empty dir (whiteouts in overlayfs form), so the layers
of an image can be unpacked concurrently and stacked later as lowerdir=top:...:base. Snapshots
are shared between images; concurrent requests for one chain id share one unpack.

A request may `follow` a blob the registry proxy is still downloading (see follow.py): the
layer is unpacked as its bytes arrive. Such an unpack is cancelled once every caller watching it
has gone away (the pull it served failed): otherwise it would wait for bytes that never come.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import BinaryIO, cast

from caisson import errors, logs
from caisson.content import ContentStore
from caisson.executor.follow import GrowingBlob
from caisson.executor.rmtree import remove_quietly
from caisson.executor.syscalls import RealSyscalls, Syscalls
from caisson.executor.unpack import Layer, unpack_layer
from caisson.reference import is_sha256

log = logs.get("caisson.executor.snapshots")

TMP_PREFIX = "tmp-"
PROGRESS_INTERVAL = 0.1  # seconds between EXTRACTING reports (~10/s)


def chain_id(parent: str, diff_id: str) -> str:
    """ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n)); the base layer's is its DiffID."""
    if not parent:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    chain_id: str
    parent: str
    diff_id: str
    size: int


@dataclass(frozen=True)
class UnpackRequest:
    blob_digest: str
    media_type: str
    diff_id: str
    chain_id: str
    parent_chain_id: str = ""
    follow: bool = False  # read the blob while it is downloaded, up to blob_size bytes
    blob_size: int = 0

    def check(self) -> None:
        for field, value in (
            ("blob digest", self.blob_digest),
            ("diff id", self.diff_id),
            ("chain id", self.chain_id),
        ):
            if not is_sha256(value):
                raise errors.InvalidArgument(f"invalid {field} {value!r}: expected sha256:<hex>")
        if self.parent_chain_id and not is_sha256(self.parent_chain_id):
            raise errors.InvalidArgument(f"invalid parent chain id {self.parent_chain_id!r}")
        expected = chain_id(self.parent_chain_id, self.diff_id)
        if self.chain_id != expected:
            raise errors.InvalidArgument(
                f"chain id {self.chain_id} does not follow from parent "
                f"{self.parent_chain_id or '(none)'} and diff id {self.diff_id}: "
                f"expected {expected}"
            )
        if self.follow and self.blob_size <= 0:
            raise errors.InvalidArgument(
                f"following layer {self.blob_digest} needs its blob size, got {self.blob_size}"
            )


class State(enum.Enum):
    EXTRACTING = "extracting"
    DONE = "done"
    EXISTS = "exists"


@dataclass(frozen=True)
class Progress:
    chain_id: str
    state: State
    current: int = 0  # compressed bytes read
    total: int = 0  # blob size
    size: int = 0  # with DONE/EXISTS: bytes of file content in the snapshot


class _Job:
    """One unpack in flight, watched by every caller that asked for its chain id."""

    def __init__(self, req: UnpackRequest) -> None:
        self.req = req
        self.current = 0
        self.total = 0
        self.size = 0
        self.exists = False
        self.error: BaseException | None = None
        self.finished = False
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        # Each watcher's cancel event (None: watches for good); see abandoned().
        self.watchers: list[threading.Event | None] = []
        self._abandoned = False

    def join(self, cancel: threading.Event | None) -> bool:
        """Adds a watcher; False when the job is being cancelled for want of watchers."""
        with self.cond:
            if self._is_abandoned():
                return False
            self.watchers.append(cancel)
            return True

    def abandoned(self) -> bool:
        """A follow job is abandoned once all its watchers have cancelled: it may be waiting
        for a download that failed. Final, so no new watcher joins a job being cancelled."""
        with self.cond:
            return self._is_abandoned()

    def _is_abandoned(self) -> bool:
        if not self._abandoned and self.req.follow and self.watchers:
            self._abandoned = all(w is not None and w.is_set() for w in self.watchers)
        return self._abandoned

    def wait(self) -> None:
        with self.cond:
            while not self.finished:
                self.cond.wait()

    def set_current(self, n: int) -> None:
        self.current = n  # read by watchers every PROGRESS_INTERVAL; no lock needed

    def finish(
        self, size: int = 0, exists: bool = False, error: BaseException | None = None
    ) -> None:
        with self.cond:
            self.size, self.exists, self.error = size, exists, error
            self.finished = True
            self.cond.notify_all()

    def watch(self, interval: float) -> Iterator[Progress]:
        cid = self.req.chain_id
        last = -1
        while True:
            with self.cond:
                if not self.finished:
                    self.cond.wait(interval)
                finished = self.finished
            if finished:
                break
            if self.current != last:
                last = self.current
                yield Progress(cid, State.EXTRACTING, last, self.total)
        if self.error is not None:
            e = self.error
            # each watcher raises its own instance (they run in different threads)
            if isinstance(e, errors.CaissonError):
                raise type(e)(str(e))
            raise errors.Internal(f"unpacking {cid}: {e}")
        state = State.EXISTS if self.exists else State.DONE
        yield Progress(cid, state, self.total, self.total, self.size)


class Snapshotter:
    def __init__(
        self,
        root: str,
        content: ContentStore,
        syscalls: Syscalls | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.root = root
        self.content = content
        self.syscalls: Syscalls = syscalls or RealSyscalls()
        self.progress_interval = progress_interval
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._closing = threading.Event()

    def init(self) -> None:
        """Creates the root and removes what a crash left half done."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        for name in os.listdir(self.root):
            if name.startswith(TMP_PREFIX):
                log.info("removing leftover temp dir", path=os.path.join(self.root, name))
                remove_quietly(os.path.join(self.root, name))

    # -- paths ------------------------------------------------------------------------------
    def path(self, chain_id: str) -> str:
        if not is_sha256(chain_id):
            raise errors.InvalidArgument(f"invalid chain id {chain_id!r}: expected sha256:<hex>")
        return os.path.join(self.root, chain_id[len("sha256:") :])

    def fs_path(self, chain_id: str) -> str:
        """The unpacked layer: what an overlay mount stacks as a lowerdir."""
        return os.path.join(self.path(chain_id), "fs")

    # -- queries ----------------------------------------------------------------------------
    def get(self, chain_id: str) -> Snapshot:
        meta = os.path.join(self.path(chain_id), "meta.json")
        try:
            with open(meta) as f:
                return Snapshot(**json.load(f))
        except FileNotFoundError:
            raise errors.NotFound(f"snapshot {chain_id} not found") from None
        except (ValueError, TypeError) as e:
            raise errors.DataLoss(f"snapshot {chain_id}: unreadable meta.json: {e}") from None

    def exists(self, chain_id: str) -> bool:
        return os.path.isdir(self.path(chain_id))

    def list(self) -> list[Snapshot]:
        out = []
        for name in sorted(self._names()):
            try:
                out.append(self.get("sha256:" + name))
            except (errors.NotFound, errors.DataLoss) as e:
                log.warning("skipping snapshot", error=str(e))  # removed meanwhile, or damaged
        return out

    def count(self) -> int:
        return len(self._names())

    def _names(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return [n for n in names if is_sha256("sha256:" + n)]

    # -- changes ----------------------------------------------------------------------------
    def unpack(
        self, req: UnpackRequest, cancel: threading.Event | None = None
    ) -> Iterator[Progress]:
        """Starts unpacking the layer into the snapshot `req.chain_id` (errors in the request
        raise here) and returns its progress: EXTRACTING now and then, then DONE; or EXISTS
        at once when the snapshot is already there. A caller asking for a chain id being
        unpacked watches that unpack, follow or not (both make the same snapshot). The caller
        sets `cancel` when it no longer wants the snapshot: an unpack that follows a download
        stops when all its watchers have; any other goes on."""
        req.check()
        while True:
            with self._lock:
                job = self._jobs.get(req.chain_id)
                if job is None:
                    if self.exists(req.chain_id):
                        size = self.get(req.chain_id).size
                        return iter([Progress(req.chain_id, State.EXISTS, size=size)])
                    job = self._start(req)
                if job.join(cancel):
                    break
            job.wait()  # an abandoned follow job: let it clean up, then start afresh
        return self._watch(job)

    def _start(self, req: UnpackRequest) -> _Job:
        if self._closing.is_set():
            raise errors.Unavailable("executor is stopping")
        job = _Job(req)
        if req.follow:
            job.total = req.blob_size
        elif self.content.exists(req.blob_digest):
            job.total = self.content.size(req.blob_digest)
        else:
            raise errors.NotFound(f"blob {req.blob_digest} not found in the content store")
        job.thread = threading.Thread(
            target=self._run, args=(job,), name=f"unpack-{req.chain_id[7:19]}"
        )
        self._jobs[req.chain_id] = job
        job.thread.start()
        return job

    def _watch(self, job: _Job) -> Iterator[Progress]:
        yield Progress(job.req.chain_id, State.EXTRACTING, 0, job.total)
        yield from job.watch(self.progress_interval)

    def _run(self, job: _Job) -> None:
        req = job.req
        size, exists, error = 0, False, None
        try:
            size, exists = self._unpack(job)
        except BaseException as e:  # noqa: BLE001 - handed to every watcher
            error = e
            if isinstance(e, OSError):
                error = errors.from_os_error(e, f"unpacking layer {req.blob_digest}")
            log.warning("unpack failed", chain_id=req.chain_id, error=str(error))
        finally:
            self._forget(job)  # before finishing: a caller told DONE then finds the snapshot
            job.finish(size, exists, error)

    def _unpack(self, job: _Job) -> tuple[int, bool]:
        """Unpacks into a temp dir and renames it to the snapshot: (size, already existed)."""
        req = job.req
        started = time.monotonic()
        log.info("unpacking", chain_id=req.chain_id, layer=req.blob_digest, follow=req.follow)
        tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.root)
        try:
            fs = os.path.join(tmp, "fs")
            os.mkdir(fs, 0o755)
            os.chmod(fs, 0o755)  # whatever the umask; a "./" entry sets its own
            with self._open_blob(job) as blob:
                done = unpack_layer(
                    blob,
                    Layer(req.blob_digest, req.media_type, req.diff_id),
                    fs,
                    self.syscalls,
                    progress=job.set_current,
                    cancelled=self._closing,
                )
            snap = Snapshot(req.chain_id, req.parent_chain_id, req.diff_id, done.size)
            with open(os.path.join(tmp, "meta.json"), "w") as f:
                json.dump(asdict(snap), f)
            exists = not self._commit(tmp, req.chain_id)
        except BaseException:
            remove_quietly(tmp)  # every failure discards the temp dir
            raise
        if exists:
            remove_quietly(tmp)
        seconds = time.monotonic() - started
        log.info(
            "unpacked",
            chain_id=req.chain_id,
            layer=req.blob_digest,
            compression=done.compression,
            follow=req.follow,
            size=done.size,
            seconds=round(seconds, 3),
            mb_per_s=round(job.total / max(seconds, 1e-9) / 1e6, 1),
        )
        return done.size, exists

    def _open_blob(self, job: _Job) -> BinaryIO:
        req = job.req
        if not req.follow:
            return self.content.open(req.blob_digest)
        blob = GrowingBlob(
            self.content,
            req.blob_digest,
            req.blob_size,
            cancelled=lambda: self._closing.is_set() or job.abandoned(),
        )
        return cast(BinaryIO, blob)  # read/readinto/seek: all the layer stream uses

    def _commit(self, tmp: str, chain_id: str) -> bool:
        """Renames the complete temp dir to the snapshot; False when one appeared meanwhile."""
        try:
            os.rename(tmp, self.path(chain_id))
        except OSError as e:
            if self.exists(chain_id):
                return False
            raise errors.from_os_error(e, f"committing snapshot {chain_id}") from e
        return True

    def _forget(self, job: _Job) -> None:
        with self._lock:
            self._jobs.pop(job.req.chain_id, None)

    def remove(self, chain_id: str) -> None:
        """Removes one snapshot. Others that name it as parent are left alone (each layer is
        unpacked on its own); the caller removes an image's chain top down."""
        final = self.path(chain_id)
        with self._lock:
            if chain_id in self._jobs:
                raise errors.FailedPrecondition(f"snapshot {chain_id} is being unpacked")
            if not os.path.isdir(final):
                raise errors.NotFound(f"snapshot {chain_id} not found")
            # Out of sight at once (rename), then deleted: no one sees a half-removed snapshot.
            doomed = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.root)
            os.rename(final, os.path.join(doomed, "snapshot"))
        remove_quietly(doomed)
        log.info("snapshot removed", chain_id=chain_id)

    def cancel(self) -> None:
        """Refuses new unpacks and cancels those in flight (they remove their temp dirs)."""
        self._closing.set()

    def close(self, timeout: float = 10.0) -> None:
        """Cancels unpacks in flight and waits for them to clean up."""
        self.cancel()
        with self._lock:
            threads = [j.thread for j in self._jobs.values() if j.thread is not None]
        for t in threads:
            t.join(timeout)
