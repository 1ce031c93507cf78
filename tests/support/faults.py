"""A fault-injecting HTTP proxy to put in front of the test registry.

Clients talk plain HTTP/1.1 to 127.0.0.1:<port>; each request is forwarded to the registry and
the response streamed back, except that blob responses (`GET .../blobs/sha256:...`) can be
- corrupted: one byte of the body flipped (the client must catch the digest mismatch),
- dropped once: the connection closed abruptly after N body bytes (the client must retry,
  ideally resuming with Range),
- stalled: the body held after N bytes until released or the proxy stops (to stop the
  registry while a pull is provably in the middle of that blob).
Every request is recorded with the bytes of body sent, so tests can tell what was downloaded.
The proxy can stop and start again on the same port, like the registry it fronts.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.processes import free_port

CHUNK = 64 * 1024
_BLOB = re.compile(r"/v2/.+/blobs/(sha256:[a-f0-9]{64})")
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
    digest: str  # blob digest, "" for other requests
    range: str  # the Range header the client sent
    status: int = 0
    sent: int = 0  # body bytes sent to the client
    complete: bool = False  # the whole body went out
    fault: str = ""  # "corrupt", "drop", "stall" when one was applied


@dataclass
class Faults:
    corrupt: set[str] = field(default_factory=set)  # digests; "*" for every blob
    drop_once: dict[str, int] = field(default_factory=dict)  # digest -> after N bytes
    stall: dict[str, int] = field(default_factory=dict)  # digest -> after N bytes


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

    def drop_blob_once(self, digest: str, after: int) -> None:
        self.faults.drop_once[digest] = after

    def stall_blob(self, digest: str, after: int) -> None:
        self._release.clear()
        self.faults.stall[digest] = after

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
                if r.method == "GET" and r.digest and (digest is None or r.digest == digest)
            ]

    def bytes_sent(self, digest: str) -> int:
        return sum(r.sent for r in self.blob_records(digest))

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
        match = _BLOB.match(h.path)
        record = Record(
            h.command, h.path, match.group(1) if match else "", h.headers.get("Range", "")
        )
        with self._lock:
            self.records.append(record)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP_BY_HOP}
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
        corrupt = bool(digest) and ("*" in self.faults.corrupt or digest in self.faults.corrupt)
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
