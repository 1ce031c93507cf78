"""A layer blob read while the registry proxy is still downloading it.

The proxy appends to `content/ingest/<hex>` and, once the sha256 and size match, renames that
file to `content/blobs/sha256/<hex>`: the same inode, so a descriptor opened on the ingest file
goes on reading the right bytes after the commit. Reads wait for bytes that are not there yet
(polling the file: a short sleep costs little next to a 1 MiB chunk), so the unpack overlaps
the download. What the proxy can do to the file meanwhile, and what the reader makes of it:

- appends (the download goes on, or resumes after a drop): read them;
- renames it into blobs/ (committed): nothing changes for the reader;
- deletes it (digest mismatch): the bytes will never be right; fail;
- truncates it (the registry ignored Range, the download starts over): fail, as the bytes
  already unpacked may not be the ones that come back.

The reader never reads past the blob's size. It does not check the blob's digest (the proxy
does); the unpack checks the DiffID, so a snapshot is only kept when its content is the image's.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable

from caisson import errors
from caisson.content import ContentStore

STALL_TIMEOUT = 120.0  # seconds without a new byte before giving up on a download
_FIRST_DELAY = 0.002  # the first waits are short: the writer is usually just behind
_MAX_DELAY = 0.02


class GrowingBlob(io.RawIOBase):
    """The `size` bytes of blob `digest`, from the committed blob or from its ingest file as it
    grows. A read returns all the bytes asked for (fewer only at `size`), waiting for them, so
    decoders see an ordinary file. Raises Cancelled once `cancelled()` is true, Unavailable when
    the download changes under it or stalls, InvalidArgument when the committed blob is not
    `size` bytes long."""

    def __init__(
        self,
        content: ContentStore,
        digest: str,
        size: int,
        cancelled: Callable[[], bool],
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        super().__init__()
        self.digest = digest
        self.size = size
        self._blob_path = content.path(digest)
        self._ingest_path = content.ingest_path(digest)
        self._cancelled = cancelled
        self._stall_timeout = stall_timeout
        self._file: io.FileIO | None = None
        self._pos = 0
        self._delay = _FIRST_DELAY
        self._last_progress = time.monotonic()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        """Back to bytes already read only (the layer stream rewinds after its magic bytes)."""
        if whence != os.SEEK_SET or not 0 <= pos <= self._pos:
            raise io.UnsupportedOperation("a blob being downloaded only seeks back")
        if self._file is not None:
            self._file.seek(pos)
        self._pos = pos
        return pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        want = min(len(view), self.size - self._pos)
        done = 0
        while done < want:
            if self._cancelled():
                raise errors.Cancelled("unpack cancelled")
            f = self._file or self._open()
            n = f.readinto(view[done:want]) if f is not None else 0
            if n:
                done += n
                self._pos += n
                self._progressed()
            else:
                self._wait()
        return done

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()

    # -- waiting for the download -------------------------------------------------------------
    def _open(self) -> io.FileIO | None:
        """The committed blob, else the ingest file; None while neither exists yet."""
        for path in (self._blob_path, self._ingest_path):  # in this order: commit is a rename
            try:
                f = io.FileIO(path, "r")
            except FileNotFoundError:
                continue
            self._file = f
            f.seek(self._pos)
            self._check(os.fstat(f.fileno()))
            self._progressed()  # the download has started: the stall clock starts now
            return f
        return None

    def _check(self, st: os.stat_result) -> None:
        """Fails when the file open can no longer become the blob."""
        if st.st_nlink == 0:
            raise self._changed("its download was discarded")
        if st.st_size < self._pos:
            raise self._changed("its download started over")
        if self._committed(st) and st.st_size != self.size:
            raise errors.InvalidArgument(
                f"blob size {self.size} does not match layer {self.digest}: "
                f"{st.st_size} bytes in the content store"
            )

    def _committed(self, st: os.stat_result) -> bool:
        try:
            blob = os.stat(self._blob_path)
        except FileNotFoundError:
            return False
        return (blob.st_dev, blob.st_ino) == (st.st_dev, st.st_ino)

    def _changed(self, why: str) -> errors.Unavailable:
        return errors.Unavailable(f"layer {self.digest} changed while it was being unpacked: {why}")

    def _wait(self) -> None:
        if self._file is not None:
            self._check(os.fstat(self._file.fileno()))
        stalled = time.monotonic() - self._last_progress
        if stalled > self._stall_timeout:
            if self._file is None:
                raise errors.Unavailable(
                    f"layer {self.digest}: its download did not start within "
                    f"{self._stall_timeout:g}s"
                )
            raise errors.Unavailable(
                f"layer {self.digest}: its download stalled (no new bytes for "
                f"{self._stall_timeout:g}s, {self._pos} of {self.size} bytes read)"
            )
        time.sleep(self._delay)
        self._delay = min(self._delay * 2, _MAX_DELAY)

    def _progressed(self) -> None:
        self._last_progress = time.monotonic()
        self._delay = _FIRST_DELAY
