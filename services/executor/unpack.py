"""Unpacks one layer blob into an empty directory and checks its DiffID.

The blob is read once: decompressed by its magic bytes, hashed uncompressed (the DiffID) and
extracted in the same pass. The caller owns the directory and discards it on any error.
"""

from __future__ import annotations

import os
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from caisson import errors, logs
from caisson.executor.extract import Extractor, Hostile
from caisson.executor.layerstream import DecodeError, LayerStream, compression_of_media_type
from caisson.executor.syscalls import Syscalls

log = logs.get("caisson.executor.unpack")


@dataclass(frozen=True)
class Layer:
    blob_digest: str
    media_type: str
    diff_id: str  # expected, from the image config


@dataclass(frozen=True)
class Unpacked:
    diff_id: str
    size: int  # bytes of regular file content
    compression: str


def unpack_layer(
    blob: BinaryIO,
    layer: Layer,
    dest: str,
    syscalls: Syscalls,
    progress: Callable[[int], None] = lambda _read: None,
    cancelled: threading.Event | None = None,
) -> Unpacked:
    """Extracts `blob` into the empty directory `dest`. `progress` gets the compressed bytes
    read so far. Raises InvalidArgument for a hostile or corrupt layer, DataLoss when the
    uncompressed stream is not `layer.diff_id`, Cancelled when `cancelled` is set."""
    digest = layer.blob_digest
    root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        stream = LayerStream(blob, cancelled)
    except BaseException as e:
        os.close(root_fd)
        if isinstance(e, errors.InvalidArgument) and digest not in str(e):
            raise errors.InvalidArgument(f"layer {digest}: {e}") from None
        raise  # reading the first bytes of a followed blob can fail or be cancelled
    try:
        claimed = compression_of_media_type(layer.media_type)
        if claimed and claimed != stream.compression:
            log.warning(
                "layer compression differs from its media type; using the content's",
                layer=digest,
                media_type=layer.media_type,
                compression=stream.compression,
            )
        extractor = Extractor(
            root_fd, digest, stream, syscalls, lambda: progress(stream.compressed_read)
        )
        size = extractor.run()
        diff_id = stream.drain()
        progress(stream.compressed_read)
    except Hostile as e:
        raise errors.InvalidArgument(str(e)) from None
    except DecodeError as e:
        raise errors.InvalidArgument(f"layer {digest}: cannot decompress: {e}") from None
    except tarfile.TarError as e:
        raise errors.InvalidArgument(f"layer {digest}: not a valid tar archive: {e}") from None
    finally:
        stream.close()
        os.close(root_fd)
    if diff_id != layer.diff_id:
        raise errors.DataLoss(
            f"layer {digest}: uncompressed content is {diff_id}, but the image config says "
            f"{layer.diff_id}"
        )
    return Unpacked(diff_id=diff_id, size=size, compression=stream.compression)
