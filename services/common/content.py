"""The content store under DATA_ROOT/content: blobs addressed by digest.

Layout: `blobs/sha256/<hex>` (complete, verified blobs only) and `ingest/<hex>` (partial
downloads, kept across a failure so a later pull resumes from the stored offset). A blob
enters `blobs/` only by rename after its sha256 and size have been checked, so a reader never
sees partial data. The registry proxy is the only writer; the daemon and executor read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import BinaryIO

from caisson import errors
from caisson.reference import is_sha256


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        self.ingest = os.path.join(root, "ingest")

    def init(self) -> None:
        os.makedirs(self.blobs, exist_ok=True)
        os.makedirs(self.ingest, exist_ok=True)

    def path(self, digest: str) -> str:
        if not is_sha256(digest):
            raise errors.InvalidArgument(f"unsupported digest {digest!r}")
        return os.path.join(self.blobs, digest[len("sha256:") :])

    def ingest_path(self, digest: str) -> str:
        if not is_sha256(digest):
            raise errors.InvalidArgument(f"unsupported digest {digest!r}")
        return os.path.join(self.ingest, digest[len("sha256:") :])

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise errors.NotFound(f"blob {digest} not found in the content store") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise errors.NotFound(f"blob {digest} not found in the content store") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def write(self, digest: str, data: bytes) -> None:
        """Stores a small blob (manifest, config) after checking its digest."""
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise errors.DataLoss(f"digest mismatch: expected {digest}, got {actual}")
        if self.exists(digest):
            return
        tmp = self.ingest_path(digest) + f".{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path(digest))
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise errors.from_os_error(e, f"writing blob {digest}") from e

    def delete(self, digest: str) -> int:
        """Removes a blob; returns the bytes freed (0 if it was not there)."""
        p = self.path(digest)
        try:
            size = os.stat(p).st_size
            os.unlink(p)
        except FileNotFoundError:
            return 0
        return size

    def list(self) -> list[str]:
        try:
            names = os.listdir(self.blobs)
        except FileNotFoundError:
            return []
        return ["sha256:" + n for n in names if len(n) == 64]
