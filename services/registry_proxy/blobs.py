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
        path = self.content.ingest_path(digest)
        started = self._clock()
        try:
            offset, hasher = self._prefix(path, digest, total)
        except OSError as e:
            raise errors.from_os_error(e, f"reading partial download of {digest}") from e
        resumed_from = offset
        flight.emit(LayerProgress(digest, LayerState.DOWNLOADING, offset, total))
        try:
            f = open(path, "ab")  # noqa: SIM115 - closed below, after the retry loop
        except OSError as e:
            raise errors.from_os_error(e, f"writing layer {digest}") from e
        try:
            offset, hasher = self._transfer(repo, desc, flight, f, offset, hasher)
            # On disk before the rename: a crash must never leave a short file in blobs/.
            f.flush()
            os.fsync(f.fileno())
        except OSError as e:
            raise errors.from_os_error(e, f"writing layer {digest}") from e
        except errors.DataLoss:
            f.close()
            _unlink(path)
            raise
        finally:
            f.close()

        flight.emit(LayerProgress(digest, LayerState.VERIFYING, offset, total))
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            _unlink(path)
            raise errors.DataLoss(
                f"digest mismatch for layer {digest}: expected {digest}, got {actual}"
            )
        try:
            os.replace(path, self.content.path(digest))
        except OSError as e:
            raise errors.from_os_error(e, f"storing layer {digest}") from e
        flight.emit(LayerProgress(digest, LayerState.DOWNLOADED, total, total))
        log.info(
            "blob downloaded",
            digest=digest,
            bytes=total - resumed_from,
            size=total,
            resumed_from=resumed_from,
            registry=repo.host,
            seconds=round(self._clock() - started, 3),
        )

    def _prefix(self, path: str, digest: str, total: int) -> tuple[int, Any]:
        """What an earlier attempt left in the ingest file: (bytes, hasher over them)."""
        hasher = hashlib.sha256()
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return 0, hasher
        if size == 0:
            return 0, hasher
        if size <= total:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    hasher.update(chunk)
            if size < total or "sha256:" + hasher.hexdigest() == digest:
                return size, hasher
        # Longer than the blob, or complete but wrong: nothing in it can be trusted.
        log.warning("discarding bad partial download", digest=digest, bytes=size)
        os.truncate(path, 0)
        return 0, hashlib.sha256()

    def _transfer(
        self,
        repo: Repository,
        desc: Descriptor,
        flight: _Flight,
        f: Any,
        offset: int,
        hasher: Any,
    ) -> tuple[int, Any]:
        """Requests and copies until all bytes are in `f`, resuming and retrying as needed."""
        digest, total = desc.digest, desc.size
        failures = 0

        def retrying(message: str) -> None:
            flight.emit(LayerProgress(digest, LayerState.RETRYING, offset, total, message))

        while offset < total:
            if flight.abandoned():
                raise errors.Cancelled("pull cancelled")
            resp = repo.open_blob(digest, offset, on_retry=retrying)
            before = offset
            try:
                start = _response_start(resp, offset)
                if start != offset:
                    # Range ignored (200: the body is the whole blob) or unusable (416, or a
                    # 206 for another range): start over from byte 0.
                    f.seek(0)
                    f.truncate()
                    offset, before, hasher = 0, 0, hashlib.sha256()
                    if start != 0:
                        discard(resp)
                        continue
                offset = self._copy(resp, f, hasher, offset, desc, flight)
                if offset < total:
                    raise errors.DataLoss(
                        f"size mismatch for layer {digest}: expected {total} bytes, "
                        f"the registry sent {offset}"
                    )
            except ConnectionFailure as e:
                failures = 1 if offset > before else failures + 1
                if not self.policy.should_retry(failures):
                    raise errors.Unavailable(
                        f"registry {repo.host} is unreachable: {e.reason} "
                        f"(downloading layer {digest}, {offset} of {total} bytes)"
                    ) from None
                delay = self.policy.delay(failures)
                retrying(f"{e.reason}; retrying in {delay:g}s")
                log.info(
                    "blob download interrupted",
                    digest=digest,
                    offset=offset,
                    reason=e.reason,
                    attempt=failures,
                )
                self._wait(delay, flight)
            finally:
                resp.release_conn()
        return offset, hasher

    def _copy(
        self, resp: Response, f: Any, hasher: Any, offset: int, desc: Descriptor, flight: _Flight
    ) -> int:
        """The hot loop: read 1 MiB, write, hash; progress at most every 100 ms."""
        digest, total = desc.digest, desc.size
        read, write, update = resp.read, f.write, hasher.update
        clock = self._clock
        next_event = clock() + PROGRESS_INTERVAL
        while True:
            try:
                chunk = read(CHUNK)
            except (u3.HTTPError, OSError) as e:
                f.flush()
                raise describe(e) from e
            if not chunk:
                f.flush()
                return offset
            if offset + len(chunk) > total:
                raise errors.DataLoss(
                    f"size mismatch for layer {digest}: expected {total} bytes, "
                    "the registry sent more"
                )
            try:
                write(chunk)
            except OSError as e:
                raise errors.from_os_error(e, f"writing layer {digest}") from e
            update(chunk)
            offset += len(chunk)
            now = clock()
            if now >= next_event:
                next_event = now + PROGRESS_INTERVAL
                if flight.abandoned():
                    f.flush()
                    raise errors.Cancelled("pull cancelled")
                flight.emit(LayerProgress(digest, LayerState.DOWNLOADING, offset, total))

    def _wait(self, seconds: float, flight: _Flight) -> None:
        deadline = self._clock() + seconds
        while (left := deadline - self._clock()) > 0:
            if flight.abandoned():
                raise errors.Cancelled("pull cancelled")
            time.sleep(min(left, 0.1))


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
