"""A layer blob as its uncompressed tar stream, hashed as it is read.

The compression is taken from the blob's magic bytes (the media type is only a hint: registries
and tools mislabel layers). A producer thread reads the blob in 1 MiB chunks, decompresses
(ISA-L for gzip, zstandard for zstd) and feeds sha256 with the uncompressed bytes; the consumer
(the tar extractor) takes whole chunks from a bounded queue. Decompression, hashing and file
writes all release the GIL, so on two cores the producer and the writer run side by side.

The stream is forward-only: `read`/`tell`/`seek` are what `tarfile.TarFile` needs to parse
headers, and `copy_to` hands file content to `os.write` straight from the chunk, without a copy.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
from collections.abc import Callable
from typing import BinaryIO

import zstandard
from isal import igzip

from caisson import errors

CHUNK = 1 << 20
_QUEUE_CHUNKS = 16  # bounds the memory a fast decompressor can fill ahead of the writer

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_UNSUPPORTED = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}


def detect_compression(head: bytes) -> str:
    """ "gzip", "zstd" or "tar" (uncompressed) from the first bytes of a blob."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in _UNSUPPORTED.items():
        if head.startswith(magic):
            raise errors.InvalidArgument(f"unsupported layer compression {name}")
    return "tar"


def compression_of_media_type(media_type: str) -> str:
    """What the media type claims: "gzip", "zstd", "tar", or "" when it does not say."""
    mt = media_type.lower()
    if mt.endswith(("+gzip", ".gzip", "tar.gz")):
        return "gzip"
    if mt.endswith(("+zstd", ".zstd")):
        return "zstd"
    if mt.endswith(("tar", ".tar")):
        return "tar"
    return ""


class DecodeError(Exception):
    """The blob is not valid gzip/zstd data (corrupt or truncated)."""


class _Counting(io.RawIOBase):
    """The blob file, counting the compressed bytes the decompressor has taken."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._f.readinto(b)  # type: ignore[attr-defined]
        self.count += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self.count += len(data)
        return data


_EOF = object()


class LayerStream:
    """Forward-only reader of a blob's uncompressed bytes. Close it (or use `with`)."""

    def __init__(self, blob: BinaryIO, cancelled: threading.Event | None = None) -> None:
        head = blob.read(8)
        blob.seek(0)
        self.compression = detect_compression(head)
        self._src = _Counting(blob)
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._cancelled = cancelled or threading.Event()
        self._chunk = b""
        self._view = memoryview(self._chunk)
        self._off = 0
        self._pos = 0  # uncompressed offset of the consumer
        self._eof = False
        self._thread = threading.Thread(target=self._produce, name="layer-decompress", daemon=True)
        self._thread.start()

    # -- producer thread ------------------------------------------------------------------
    def _reader(self) -> Callable[[int], bytes]:
        if self.compression == "gzip":
            return igzip.GzipFile(fileobj=self._src, mode="rb").read  # type: ignore[arg-type]
        if self.compression == "zstd":
            dctx = zstandard.ZstdDecompressor()
            return dctx.stream_reader(self._src, read_size=CHUNK, read_across_frames=True).read
        return self._src.read

    def _produce(self) -> None:
        try:
            read = self._reader()
            while not self._stop.is_set():
                try:
                    data = read(CHUNK)
                except errors.CaissonError:
                    raise  # from the blob itself (a followed download that failed, cancel)
                except Exception as e:  # noqa: BLE001 - whatever the decoder raises
                    raise DecodeError(f"{self.compression}: {e}") from e
                if not data:
                    break
                self._hash.update(data)
                self._put(data)
            self._put(_EOF)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(e)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    # -- consumer -------------------------------------------------------------------------
    @property
    def compressed_read(self) -> int:
        return self._src.count

    def _next_chunk(self) -> bool:
        if self._eof:
            return False
        if self._cancelled.is_set():
            raise errors.Cancelled("unpack cancelled")
        item = self._queue.get()
        if item is _EOF:
            self._eof = True
            return False
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        assert isinstance(item, bytes)
        self._chunk = item
        self._view = memoryview(item)
        self._off = 0
        return True

    def _available(self) -> int:
        left = len(self._chunk) - self._off
        if left == 0 and self._next_chunk():
            left = len(self._chunk)
        return left

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes; fewer only at the end of the stream."""
        if size < 0:
            raise ValueError("LayerStream.read needs a size")
        left = self._available()
        if size <= left:
            data = self._chunk[self._off : self._off + size]
            self._off += size
            self._pos += size
            return data
        parts: list[bytes] = []
        while size > 0:
            left = self._available()
            if left == 0:
                break
            n = min(size, left)
            parts.append(self._chunk[self._off : self._off + n])
            self._off += n
            self._pos += n
            size -= n
        return b"".join(parts)

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        """Forward only: tarfile skips the data of entries it was not asked to read."""
        if whence != os.SEEK_SET or pos < self._pos:
            raise io.UnsupportedOperation("layer stream only seeks forward")
        while self._pos < pos:
            left = self._available()
            if left == 0:
                break
            n = min(pos - self._pos, left)
            self._off += n
            self._pos += n
        return self._pos

    def copy_to(self, fd: int, size: int, tick: Callable[[], None] | None = None) -> int:
        """Writes the next `size` bytes to `fd`; returns how many the stream had."""
        done = 0
        while done < size:
            left = self._available()
            if left == 0:
                break
            n = min(size - done, left)
            view = self._view[self._off : self._off + n]
            while view:
                view = view[os.write(fd, view) :]
            self._off += n
            done += n
            if tick is not None:
                tick()
        self._pos += done
        return done

    def drain(self) -> str:
        """Reads to the end (tar padding and anything after the archive count in the DiffID)
        and returns the sha256 digest of the whole uncompressed stream."""
        while self._available():
            self._pos += len(self._chunk) - self._off
            self._off = len(self._chunk)
        return "sha256:" + self._hash.hexdigest()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> LayerStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
