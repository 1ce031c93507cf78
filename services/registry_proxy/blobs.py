"""Layer downloads into the content store: streamed, hashed, resumable, verified, shared.

A blob is streamed into `ingest/<hex>` while being hashed, in 1 MiB reads (the per-chunk
Python work is a read, a hash update and a write, all of which release the GIL). A dropped
connection is resumed with `Range: bytes=N-`; so is a later pull, after re-hashing the prefix
already on disk. Only when the sha256 and size match does the file move into `blobs/` by
rename; a mismatch deletes it. Two pulls wanting one blob share a single download.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from urllib3 import exceptions as u3

from caisson import errors, logs
from caisson.content import ContentStore
from caisson.registry_proxy.distribution import Repository
from caisson.registry_proxy.events import Descriptor, LayerProgress, LayerState
from caisson.registry_proxy.retry import RetryPolicy
from caisson.registry_proxy.transport import ConnectionFailure, Response, describe, discard

log = logs.get("caisson.registry_proxy")

CHUNK = 1 << 20
# At most this many DOWNLOADING events per second per layer.
PROGRESS_INTERVAL = 0.1

Listener = Callable[[LayerProgress], None]

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class _Flight:
    """One blob being downloaded, and the pulls waiting for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._participants: dict[int, tuple[Listener, threading.Event]] = {}
        self._next = 0
        self._last: LayerProgress | None = None
        self.done = threading.Event()
        self.error: BaseException | None = None
        # The response being read, so a cancelled pull can interrupt a stalled read.
        self.response: Response | None = None

    def join(self, listener: Listener, cancel: threading.Event) -> int:
        with self._lock:
            token = self._next
            self._next += 1
            self._participants[token] = (listener, cancel)
            last = self._last
        if last is not None:
            listener(last)
        return token

    def leave(self, token: int) -> None:
        with self._lock:
            self._participants.pop(token, None)

    def emit(self, event: LayerProgress) -> None:
        with self._lock:
            if event.state is not LayerState.RETRYING:
                self._last = event
            listeners = [listener for listener, _ in self._participants.values()]
        for listener in listeners:
            listener(event)

    def abandoned(self) -> bool:
        """Every pull that wanted this blob has gone away."""
        with self._lock:
            return all(cancel.is_set() for _, cancel in self._participants.values())


def _same_error(err: BaseException) -> BaseException:
    if isinstance(err, errors.CaissonError):
        return type(err)(str(err))
    return errors.Internal(f"download failed: {err}")


class BlobFetcher:
    def __init__(
        self,
        content: ContentStore,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.content = content
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def in_flight(self) -> list[str]:
        with self._lock:
            return list(self._flights)

    def interrupt(self, everything: bool = False) -> None:
        """Cuts the connections of downloads no pull waits for any more (or of all of them,
        at shutdown), so a read stalled on a silent registry ends now, not at its timeout."""
        with self._lock:
            flights = list(self._flights.values())
        for flight in flights:
            resp = flight.response
            if resp is not None and (everything or flight.abandoned()):
                with contextlib.suppress(ValueError, RuntimeError, OSError):
                    resp.shutdown()

    def fetch(
        self,
        repo: Repository,
        desc: Descriptor,
        listener: Listener,
        cancel: threading.Event,
    ) -> None:
        """Makes `desc` present in the content store, reporting progress to `listener`.

        Ends with an EXISTS or DOWNLOADED event, or raises: DataLoss (nothing kept),
        Unavailable (the partial file is kept for the next try), Cancelled, ResourceExhausted.
        """
        while True:
            if self.content.exists(desc.digest):
                listener(LayerProgress(desc.digest, LayerState.EXISTS, desc.size, desc.size))
                return
            with self._lock:
                flight = self._flights.get(desc.digest)
                owner = flight is None
                if flight is None:
                    flight = self._flights[desc.digest] = _Flight()
                token = flight.join(listener, cancel)
            if owner:
                try:
                    self._download(repo, desc, flight)
                except BaseException as e:
                    flight.error = e
                    raise
                finally:
                    flight.leave(token)
                    with self._lock:
                        del self._flights[desc.digest]
                    flight.done.set()
                return
            try:
                while not flight.done.wait(0.1):
                    if cancel.is_set():
                        raise errors.Cancelled("pull cancelled")
            finally:
                flight.leave(token)
            if flight.error is None:
                return
            if isinstance(flight.error, errors.Cancelled) and not cancel.is_set():
                # The pull that was downloading went away; this one still wants the blob.
                continue
            raise _same_error(flight.error)

    # --- the download ---------------------------------------------------------------------

    def _download(self, repo: Repository, desc: Descriptor, flight: _Flight) -> None:
        digest, total = desc.digest, desc.size
        if self.content.exists(digest):
            flight.emit(LayerProgress(digest, LayerState.EXISTS, total, total))
            return
        started = self._clock()
        ingest = _Ingest(self.content.ingest_path(digest), digest, total)
        resumed_from = 0
        try:
            ingest.open()
            resumed_from = ingest.offset
            flight.emit(LayerProgress(digest, LayerState.DOWNLOADING, ingest.offset, total))
            self._transfer(repo, desc, flight, ingest)
            ingest.commit(flight, self.content.path(digest))
        except BaseException as e:
            if isinstance(e, errors.DataLoss):
                ingest.discard()
            ingest.close()
            log.info(
                "blob download stopped",
                digest=digest,
                bytes=ingest.offset - resumed_from,
                offset=ingest.offset,
                size=total,
                error=str(e),
                seconds=round(self._clock() - started, 3),
            )
            if isinstance(e, OSError):
                raise errors.from_os_error(e, f"writing layer {digest}") from e
            raise
        finally:
            ingest.close()
        log.info(
            "blob downloaded",
            digest=digest,
            bytes=total - resumed_from,
            size=total,
            resumed_from=resumed_from,
            registry=repo.host,
            seconds=round(self._clock() - started, 3),
        )

    def _transfer(
        self, repo: Repository, desc: Descriptor, flight: _Flight, ingest: _Ingest
    ) -> None:
        """Requests and copies until all bytes are in the ingest file, resuming and retrying
        as needed."""
        digest, total = desc.digest, desc.size
        failures = 0

        def retrying(message: str) -> None:
            flight.emit(LayerProgress(digest, LayerState.RETRYING, ingest.offset, total, message))

        while ingest.offset < total:
            if flight.abandoned():
                raise errors.Cancelled("pull cancelled")
            resp = repo.open_blob(digest, ingest.offset, on_retry=retrying)
            flight.response = resp
            before = ingest.offset
            try:
                start = _response_start(resp, ingest.offset)
                if start != ingest.offset:
                    # Range ignored (200: the body is the whole blob) or unusable (416, or a
                    # 206 for another range): start over from byte 0.
                    ingest.restart()
                    before = 0
                    if start != 0:
                        discard(resp)
                        continue
                self._copy(resp, ingest, flight)
                if ingest.offset < total:
                    raise errors.DataLoss(
                        f"size mismatch for layer {digest}: expected {total} bytes, "
                        f"the registry sent {ingest.offset}"
                    )
            except ConnectionFailure as e:
                if flight.abandoned():
                    raise errors.Cancelled("pull cancelled") from None
                failures = 1 if ingest.offset > before else failures + 1
                if not self.policy.should_retry(failures):
                    raise errors.Unavailable(
                        f"{e} (downloading layer {digest}, {ingest.offset} of {total} bytes)"
                    ) from None
                delay = self.policy.delay(failures)
                retrying(f"{e.reason}; retrying in {delay:g}s")
                log.info(
                    "blob download interrupted",
                    digest=digest,
                    offset=ingest.offset,
                    reason=e.reason,
                    attempt=failures,
                )
                self._wait(delay, flight)
            finally:
                flight.response = None
                resp.release_conn()

    def _copy(self, resp: Response, ingest: _Ingest, flight: _Flight) -> None:
        """The hot loop: read 1 MiB, write, hash; progress at most every 100 ms."""
        digest, total = ingest.digest, ingest.total
        read, write, update = resp.read, ingest.file.write, ingest.hasher.update
        clock = self._clock
        next_event = clock() + PROGRESS_INTERVAL
        while True:
            try:
                chunk = read(CHUNK)
            except (u3.HTTPError, OSError) as e:
                raise describe(e, "GET", resp.url or "") from e
            if not chunk:
                return
            n = len(chunk)
            if ingest.offset + n > total:
                raise errors.DataLoss(
                    f"size mismatch for layer {digest}: expected {total} bytes, "
                    "the registry sent more"
                )
            write(chunk)
            update(chunk)
            ingest.offset += n
            if flight.abandoned():
                raise errors.Cancelled("pull cancelled")
            now = clock()
            if now >= next_event:
                next_event = now + PROGRESS_INTERVAL
                flight.emit(LayerProgress(digest, LayerState.DOWNLOADING, ingest.offset, total))

    def _wait(self, seconds: float, flight: _Flight) -> None:
        deadline = self._clock() + seconds
        while (left := deadline - self._clock()) > 0:
            if flight.abandoned():
                raise errors.Cancelled("pull cancelled")
            time.sleep(min(left, 0.1))


class _Ingest:
    """The ingest file of one blob, and the sha256 of the bytes in it so far."""

    def __init__(self, path: str, digest: str, total: int) -> None:
        self.path = path
        self.digest = digest
        self.total = total
        self.offset = 0
        self.hasher: Any = hashlib.sha256()
        self.file: Any = None

    def open(self) -> None:
        """Opens for appending after re-hashing what an earlier attempt left."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            size = 0
        if 0 < size <= self.total:
            with open(self.path, "rb") as f:
                while chunk := f.read(CHUNK):
                    self.hasher.update(chunk)
            if size < self.total or "sha256:" + self.hasher.hexdigest() == self.digest:
                self.offset = size
            else:
                self.hasher = hashlib.sha256()
        if size and not self.offset:
            # Longer than the blob, or complete but wrong: nothing in it can be trusted.
            log.warning("discarding bad partial download", digest=self.digest, bytes=size)
        self.file = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        if size and not self.offset:
            self.file.truncate(0)

    def restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()
        self.offset = 0
        self.hasher = hashlib.sha256()

    def commit(self, flight: _Flight, target: str) -> None:
        """Verifies and moves the file into blobs/; DataLoss (file removed) on mismatch."""
        flight.emit(LayerProgress(self.digest, LayerState.VERIFYING, self.offset, self.total))
        # On disk before the rename: a crash must never leave a short file in blobs/.
        self.file.flush()
        os.fsync(self.file.fileno())
        self.close()
        actual = "sha256:" + self.hasher.hexdigest()
        if actual != self.digest:
            raise errors.DataLoss(
                f"digest mismatch for layer {self.digest}: expected {self.digest}, got {actual}"
            )
        os.replace(self.path, target)
        flight.emit(LayerProgress(self.digest, LayerState.DOWNLOADED, self.total, self.total))

    def discard(self) -> None:
        self.close()
        _unlink(self.path)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _response_start(resp: Response, offset: int) -> int:
    """Where the body of a blob response starts in the blob (-1: not satisfiable)."""
    if resp.status == 416:
        return -1
    if resp.status != 206:
        return 0
    m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "").strip())
    return int(m.group(1)) if m else offset


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
