"""A small ctypes binding to libnftables (libnftables.so.1), the library behind `nft`.

Why ctypes: Debian's binding (python3-nftables) is installed for the system Python only and
is not on PyPI, so the executor's venv cannot import it; pyroute2's nftables support has no
DNAT. libnftables itself is the stable interface: a context, a command buffer in (nft's
language or its JSON), a buffered output and error text out. Every buffer holds one
transaction: nft applies all of it or none of it.

The context prints JSON, so `list` commands answer in JSON whichever syntax was sent.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import threading
from typing import Any

from caisson import errors

_LIBRARY = "libnftables.so.1"
_OUTPUT_HANDLE = 1 << 3  # NFT_CTX_OUTPUT_HANDLE: rule handles in listings
_OUTPUT_JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON

# What nft says when the kernel, or the ruleset as it is, refused a well-formed command (a
# missing table, a busy object, no permission); anything else (a parse error) is a command
# Caisson built wrong.
_REFUSED = ("Could not process rule:",) + tuple(
    os.strerror(e)
    for e in (errno.ENOENT, errno.EEXIST, errno.EBUSY, errno.EPERM, errno.EACCES, errno.EOPNOTSUPP)
)


def _load() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(_LIBRARY, use_errno=True)
    except OSError as e:
        raise errors.FailedPrecondition(
            f"cannot load {_LIBRARY} ({e}): install nftables (Debian: libnftables1)"
        ) from None
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_free.restype = None
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_ctx_output_set_flags.restype = None
    for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_int
    for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_char_p
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    return lib


class Context:
    """One libnftables context. Calls are serialized: a context is not thread-safe and its
    output buffers are shared by every command run on it."""

    def __init__(self) -> None:
        self._lib = _load()
        ctx = self._lib.nft_ctx_new(0)  # NFT_CTX_DEFAULT
        if not ctx:
            raise errors.Internal("nft_ctx_new failed")
        self._ctx: int | None = ctx
        self._lock = threading.Lock()
        self._lib.nft_ctx_output_set_flags(ctx, _OUTPUT_JSON | _OUTPUT_HANDLE)
        if self._lib.nft_ctx_buffer_output(ctx) or self._lib.nft_ctx_buffer_error(ctx):
            self.close()
            raise errors.Internal("cannot buffer libnftables output")

    def run(self, cmd: str) -> str:
        """Runs `cmd` (nft's language or its JSON) as one transaction; returns nft's output
        (JSON for listings, "" for changes)."""
        with self._lock:
            if self._ctx is None:
                raise errors.Internal("nftables context is closed")
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, cmd.encode())
            # Both buffers are read after every command: reading one rewinds it, so what is
            # left unread would leak into the next command's text.
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            message = " ".join(err.split()) or f"nft failed with status {rc}"
            if any(marker in message for marker in _REFUSED):
                raise errors.FailedPrecondition(f"nftables: {message}")
            raise errors.Internal(f"nftables: {message}")
        return out

    def run_json(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Runs a JSON command ({"nftables": [...]}); returns the parsed output ({} when nft
        prints nothing, as for changes)."""
        out = self.run(json.dumps(obj))
        return json.loads(out) if out.strip() else {}

    def close(self) -> None:
        with self._lock:
            if self._ctx is not None:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None


_shared: Context | None = None
_shared_lock = threading.Lock()


def _context() -> Context:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Context()
        return _shared


def run(cmd: str) -> str:
    """Runs `cmd` on the process's shared context (see Context.run)."""
    return _context().run(cmd)


def run_json(obj: dict[str, Any]) -> dict[str, Any]:
    """Runs a JSON command on the process's shared context (see Context.run_json)."""
    return _context().run_json(obj)
