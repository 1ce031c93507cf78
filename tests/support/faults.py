"""A fault-injecting HTTP proxy to put in front of the test registry, and a blob host for it
to redirect to.

Clients talk plain HTTP/1.1 to 127.0.0.1:<port>; each request is forwarded to the registry and
the response streamed back, except that responses for a digest (`GET .../blobs/sha256:...`,
or a manifest fetched by digest) can be
- corrupted: one byte of the body flipped (the client must catch the digest mismatch),
- dropped once: the connection closed abruptly after N body bytes (the client must retry,
  ideally resuming with Range),
- stalled: the body held after N bytes until released or the proxy stops (to stop the
  registry while a pull is provably in the middle of that blob),
- failed: answered with an error status (5xx) the first N times, without asking the registry.
The proxy can also strip Range headers (a registry that ignores them) and answer blob GETs
with a 307 to another host (`BlobHost`, a CDN without auth).
Every request is recorded with its headers and the bytes of body sent, so tests can tell what
was downloaded and how. The proxy can stop and start again on the same port, like the registry
it fronts.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.images import Blob
from tests.support.processes import free_port

CHUNK = 64 * 1024
_DIGEST = re.compile(r"/v2/.+/(blobs|manifests)/(sha256:[a-f0-9]{64})")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class Record:
    method: str
    path: str
    digest: str  # blob digest (or manifest digest), "" for other requests
    range: str  # the Range header the client sent
    status: int = 0
    sent: int = 0  # body bytes sent to the client
    complete: bool = False  # the whole body went out
    fault: str = ""  # "corrupt", "drop", "stall", "fail", "redirect" when one was applied
    kind: str = ""  # "blob", "manifest" (by digest) or ""
    headers: dict[str, str] = field(default_factory=dict)  # as the client sent them


def _record(h: BaseHTTPRequestHandler) -> Record:
    match = _DIGEST.match(h.path)
    return Record(
        h.command,
        h.path,
        match.group(2) if match else "",
        h.headers.get("Range", ""),
        kind=match.group(1)[:-1] if match else "",
        headers=dict(h.headers.items()),
    )


@dataclass
class Faults:
    corrupt: set[str] = field(default_factory=set)  # digests; "*" for every blob
    drop_once: dict[str, int] = field(default_factory=dict)  # digest -> after N bytes
    stall: dict[str, int] = field(default_factory=dict)  # digest -> after N bytes
    fail: dict[str, list[int]] = field(default_factory=dict)  # digest -> [status, times left]
    ignore_range: bool = False
    redirect: str = ""  # base URL blob GETs are redirected to


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port or free_port()
        self.faults = Faults()
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- faults ------------------------------------------------------------------------------
    def corrupt_blob(self, digest: str = "*") -> None:
        self.faults.corrupt.add(digest)

    def corrupt_manifest(self, digest: str) -> None:
        """Corrupts the manifest when a client fetches it by digest."""
        self.faults.corrupt.add(digest)

    def drop_blob_once(self, digest: str, after: int) -> None:
        self.faults.drop_once[digest] = after

    def stall_blob(self, digest: str, after: int) -> None:
        self._release.clear()
        self.faults.stall[digest] = after

    def fail_blob(self, digest: str, status: int, times: int = 1) -> None:
        """Answers `status` (with a registry error body) to the next `times` requests."""
        self.faults.fail[digest] = [status, times]

    def ignore_ranges(self) -> None:
        """Strips Range headers: the registry sends whole blobs, as some do."""
        self.faults.ignore_range = True

    def redirect_blobs(self, base_url: str) -> None:
        """Answers blob GETs with a 307 to the same path on `base_url` (a CDN)."""
        self.faults.redirect = base_url.rstrip("/")

    def release(self) -> None:
        """Lets stalled blobs go on and stops stalling new ones."""
        self.faults.stall.clear()
        self._release.set()

    def clear(self) -> None:
        self.faults = Faults()
        self._release.set()

    # -- what was seen -----------------------------------------------------------------------
    def blob_records(self, digest: str | None = None) -> list[Record]:
        with self._lock:
            return [
                r
                for r in self.records
                if r.method == "GET" and r.kind == "blob" and (digest is None or r.digest == digest)
            ]

    def bytes_sent(self, digest: str) -> int:
        return sum(r.sent for r in self.blob_records(digest))

    def stalled(self, digest: str | None = None) -> bool:
        """True once a download of `digest` (any blob if None) is being held."""
        return any(r.fault == "stall" for r in self.blob_records(digest))

    def reset_records(self) -> None:
        with self._lock:
            self.records.clear()

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self._server is not None:
            return
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._conns.add(self.connection)

            def finish(self) -> None:
                with contextlib.suppress(OSError):
                    super().finish()
                with proxy._lock:
                    proxy._conns.discard(self.connection)

            def do_GET(self) -> None:  # noqa: N802
                proxy._forward(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        if self.faults.stall:
            self._release.clear()
        else:
            self._release.set()
        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Closes the listener and every open connection, abruptly (like a dead server)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._release.set()  # wake stalled handlers so they notice and exit

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- forwarding --------------------------------------------------------------------------
    def _forward(self, h: BaseHTTPRequestHandler) -> None:
        record = _record(h)
        with self._lock:
            self.records.append(record)
            fail = self.faults.fail.get(record.digest) if record.digest else None
            if fail is not None and fail[1] > 0:
                fail[1] -= 1
            else:
                fail = None
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        if fail is not None:
            error = {"errors": [{"code": "UNAVAILABLE", "message": "fault injected by the test"}]}
            _answer(h, record, fail[0], {"Content-Type": "application/json"}, error)
            record.fault = "fail"
            return
        if self.faults.redirect and record.kind == "blob" and h.command == "GET":
            _answer(h, record, 307, {"Location": self.faults.redirect + h.path})
            record.fault = "redirect"
            return
        headers = {
            k: v
            for k, v in h.headers.items()
            if k.lower() not in _HOP_BY_HOP
            and not (self.faults.ignore_range and k.lower() == "range")
        }
        headers["Host"] = f"{self.upstream[0]}:{self.upstream[1]}"
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            try:
                upstream.request(h.command, h.path, body=body, headers=headers)
                resp = upstream.getresponse()
            except OSError:
                # The registry is gone: look gone too, not like a gateway answering 502.
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return
            record.status = resp.status
            self._relay(h, resp, record)
        finally:
            upstream.close()

    def _relay(
        self, h: BaseHTTPRequestHandler, resp: http.client.HTTPResponse, record: Record
    ) -> None:
        chunked = resp.getheader("Transfer-Encoding", "").lower() == "chunked"
        data = resp.read() if chunked else b""
        h.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in _HOP_BY_HOP and not (chunked and key.lower() == "content-length"):
                h.send_header(key, value)
        if chunked:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command == "HEAD":
            record.complete = True
            return

        digest = record.digest if h.command == "GET" and 200 <= resp.status < 300 else ""
        corrupt = bool(digest) and (
            digest in self.faults.corrupt or ("*" in self.faults.corrupt and record.kind == "blob")
        )
        drop_at = self.faults.drop_once.pop(digest, None) if digest else None
        stall_at = self.faults.stall.get(digest) if digest else None
        total = int(resp.getheader("Content-Length") or 0) if not chunked else len(data)
        flip_at = total // 2 if corrupt else -1

        try:
            while True:
                if chunked:
                    chunk, data = data[:CHUNK], data[CHUNK:]
                else:
                    chunk = resp.read(CHUNK)
                if not chunk:
                    break
                if drop_at is not None and record.sent + len(chunk) >= drop_at:
                    h.wfile.write(chunk[: max(0, drop_at - record.sent)])
                    record.sent = drop_at
                    record.fault = "drop"
                    h.wfile.flush()
                    h.close_connection = True
                    h.connection.shutdown(socket.SHUT_RDWR)
                    return
                if stall_at is not None and record.sent + len(chunk) >= stall_at:
                    record.fault = "stall"
                    self._release.wait()
                    if self._server is None:  # stopped while stalled
                        h.close_connection = True
                        with contextlib.suppress(OSError):
                            h.connection.shutdown(socket.SHUT_RDWR)
                        return
                    stall_at = None
                if 0 <= flip_at - record.sent < len(chunk):
                    i = flip_at - record.sent
                    chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1 :]
                    record.fault = "corrupt"
                h.wfile.write(chunk)
                record.sent += len(chunk)
            h.wfile.flush()
            record.complete = True
        except OSError:
            h.close_connection = True


def _answer(
    h: BaseHTTPRequestHandler,
    record: Record,
    status: int,
    headers: dict[str, str],
    doc: dict[str, Any] | None = None,
) -> None:
    """A whole (small) response made up here rather than relayed from the registry."""
    body = json.dumps(doc).encode() if doc is not None else b""
    h.send_response(status)
    for key, value in headers.items():
        h.send_header(key, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
        record.sent = len(body)
    record.status = status
    record.complete = True


class BlobHost:
    """Another host serving blobs without auth, as a CDN a registry redirects downloads to
    (see `FaultProxy.redirect_blobs`): GET/HEAD of any path ending in a digest it holds."""

    def __init__(self, blobs: Iterable[Blob]) -> None:
        self.blobs = {blob.digest: blob for blob in blobs}
        self.records: list[Record] = []
        self.port = 0
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        record = _record(h)
        self.records.append(record)
        blob = self.blobs.get(record.digest)
        if blob is None:
            error = {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}
            _answer(h, record, 404, {"Content-Type": "application/json"}, error)
            return
        data = blob.read()
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command == "GET":
            h.wfile.write(data)
            record.sent = len(data)
        record.status, record.complete = 200, True

    def start(self) -> None:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                host._handle(self)

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> BlobHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
