"""HTTP for the registry client: pooled connections per host, TLS per host, safe redirects.

Redirects are followed here rather than by urllib3 so the rule is explicit: the Authorization
header goes only to the origin (scheme, host, port) it was meant for, never to the CDN or
object store a blob request is redirected to. Each target host gets its own TLS settings.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import threading
import urllib.parse
from typing import Any

import urllib3
from urllib3 import exceptions as u3

from caisson.registry_proxy.hosts import Hosts

MAX_REDIRECTS = 10
CONNECT_TIMEOUT = 15.0
# A blob stream that stays silent this long is treated as dropped (and resumed).
READ_TIMEOUT = 60.0
# Idle connections kept per host; above the download concurrency so they are reused.
POOL_SIZE = 16
USER_AGENT = "caisson-registry-proxy"

Response = urllib3.BaseHTTPResponse

# Unverified HTTPS happens only for registries the operator marked insecure (or loopback);
# hosts.py logs that once per registry instead of urllib3 warning on every request.
urllib3.disable_warnings(u3.InsecureRequestWarning)


class ConnectionFailure(Exception):
    """The request got no (complete) response: refused, reset, timed out, TLS failed.

    Docker's messages are Go's net/http errors, so `reason` uses Go's words where they map and
    str() frames it as Go's url.Error does: `Get "https://host/v2/": <reason>`.
    """

    def __init__(self, reason: str, method: str, url: str, *, tls: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.method = method
        self.url = url
        self.tls = tls

    def __str__(self) -> str:
        op = self.method[:1] + self.method[1:].lower()
        return f'{op} "{self.url}": {self.reason}'


class BodyTooLarge(Exception):
    pass


def describe(exc: BaseException, method: str, url: str) -> ConnectionFailure:
    """The failure of `method url` (the URL actually requested, after redirects)."""
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, ConnectionFailure):
        return exc
    reason, tls = _reason(exc, url)
    return ConnectionFailure(reason, method, url, tls=tls)


def _reason(exc: BaseException, url: str) -> tuple[str, bool]:
    """(reason, whether TLS failed) for a urllib3/socket exception."""
    if isinstance(exc, u3.NameResolutionError):
        cause = _root_cause(exc)
        host = urllib.parse.urlsplit(url).hostname
        # Go says "no such host" for a name that does not exist, else the resolver's words.
        if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_NONAME:
            return f"dial tcp: lookup {host}: {cause.strerror}", False
        return f"dial tcp: lookup {host}: no such host", False
    if isinstance(exc, (u3.SSLError, ssl.SSLError)):
        return _tls_reason(exc), True
    if isinstance(exc, u3.NewConnectionError):
        cause = _root_cause(exc)
        if isinstance(cause, OSError) and cause.errno:
            return f"dial tcp {_dial_address(url)}: connect: {_go_errno(cause.errno)}", False
        return f"dial tcp {_dial_address(url)}: {cause or exc}", False
    if isinstance(exc, u3.ConnectTimeoutError):
        return f"dial tcp {_dial_address(url)}: i/o timeout", False
    if isinstance(exc, u3.ReadTimeoutError):
        return "timed out waiting for data", False
    if isinstance(exc, u3.ProtocolError):
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLError):
            return _tls_reason(cause), True
        if isinstance(cause, ConnectionResetError):
            return "connection reset by peer", False
        return "connection closed unexpectedly", False
    if isinstance(exc, OSError):
        return exc.strerror or str(exc), False
    return str(exc) or type(exc).__name__, False


def _dial_address(url: str) -> str:
    """HOST:PORT as Go's dialer names it: the scheme's port when the URL has none."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _go_errno(code: int) -> str:
    # Go's syscall error strings are glibc's with a lower-case first letter.
    text = os.strerror(code)
    return text[:1].lower() + text[1:]


def _root_cause(exc: BaseException) -> BaseException | None:
    seen = exc
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, BaseException):
            seen = arg
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        assert nxt is not None
        seen = nxt
    return seen if seen is not exc else None


# OpenSSL verify results that Go reports as an unknown authority (no trusted issuer).
_UNKNOWN_AUTHORITY = frozenset({2, 18, 19, 20, 21})
_ALERT = re.compile(r"(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)")
# Go's words (crypto/tls alert.go) where they are not OpenSSL's alert name in lower case.
_GO_ALERTS = {
    "BAD_RECORD_MAC": "bad record MAC",
    "CERTIFICATE_REVOKED": "revoked certificate",
    "CERTIFICATE_EXPIRED": "expired certificate",
    "CERTIFICATE_UNKNOWN": "unknown certificate",
    "UNKNOWN_CA": "unknown certificate authority",
    "DECODE_ERROR": "error decoding message",
    "DECRYPT_ERROR": "error decrypting message",
    "PROTOCOL_VERSION": "protocol version not supported",
    "INSUFFICIENT_SECURITY": "insufficient security level",
    "USER_CANCELLED": "user canceled",
}


def _tls_reason(exc: BaseException) -> str:
    cause = _root_cause(exc) or exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        if cause.verify_code in _UNKNOWN_AUTHORITY:
            return "x509: certificate signed by unknown authority"
        detail = (cause.verify_message or "certificate verify failed").rstrip(".")
        return f"TLS handshake failed: {detail}"
    if isinstance(cause, ssl.SSLError) and cause.reason:
        alert = _ALERT.fullmatch(cause.reason)
        if alert:
            name = alert.group(1)
            return "remote error: tls: " + _GO_ALERTS.get(name, name.lower().replace("_", " "))
        return "TLS handshake failed: " + cause.reason.lower().replace("_", " ")
    return f"TLS handshake failed: {cause}"


def origin(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) with default ports dropped, to compare redirect targets."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.lower().rsplit("@", 1)[-1]
    default = {"https": ":443", "http": ":80"}.get(parts.scheme, "")
    if default and host.endswith(default):
        host = host[: -len(default)]
    return parts.scheme, host


class Transport:
    def __init__(self, hosts: Hosts) -> None:
        self.hosts = hosts
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, str], urllib3.PoolManager] = {}
        self._timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
        # One quiet retry of an idempotent request whose pooled connection the server had
        # already closed; everything else is retried (with backoff) by the caller.
        self._retries = urllib3.Retry(
            total=1, connect=0, read=1, redirect=False, status=0, other=0, raise_on_status=False
        )

    def _pool(self, scheme: str, host: str) -> urllib3.PoolManager:
        key = (scheme, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                kw: dict[str, Any] = {"maxsize": POOL_SIZE, "num_pools": 4}
                if scheme == "https":
                    kw["ssl_context"] = self.hosts.ssl_context(host)
                pool = self._pools[key] = urllib3.PoolManager(**kw)
            return pool

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None = None,
        *,
        auth_origin: tuple[str, str] | None = None,
    ) -> Response:
        """One request, redirects followed; the body is left unread (stream it or .data it).

        `Authorization` is sent only while the URL's origin is `auth_origin` (default: the
        first URL's). Raises ConnectionFailure when no response arrives. The response's `url`
        is the absolute URL that answered (after redirects), for the messages of body reads.
        """
        auth_origin = auth_origin or origin(url)
        # Go's url.Error names the first request's method, whatever a redirect turned it into.
        op = method
        for _ in range(MAX_REDIRECTS + 1):
            target = origin(url)
            hdrs = {"User-Agent": USER_AGENT, **headers}
            if target != auth_origin:
                hdrs.pop("Authorization", None)
            try:
                resp = self._pool(*target).urlopen(
                    method,
                    url,
                    body=body,
                    headers=hdrs,
                    redirect=False,
                    retries=self._retries,
                    timeout=self._timeout,
                    preload_content=False,
                    assert_same_host=False,
                )
            except (u3.HTTPError, OSError) as e:
                raise describe(e, op, url) from e
            location = resp.headers.get("Location")
            if resp.status not in (301, 302, 303, 307, 308) or not location:
                resp.url = url
                return resp
            discard(resp)
            url = urllib.parse.urljoin(url, location)
            if resp.status == 303:
                method, body = "GET", None
        raise ConnectionFailure(f"stopped after {MAX_REDIRECTS} redirects", op, url)

    def clear(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for p in pools:
            p.clear()


def discard(resp: Response) -> None:
    """Drains a small response body so its connection goes back to the pool."""
    try:
        resp.drain_conn()
    except (u3.HTTPError, OSError):
        pass
    finally:
        resp.release_conn()


def read_body(resp: Response, limit: int, method: str = "GET") -> bytes:
    """The whole body, refusing more than `limit` bytes (manifests, configs, errors)."""
    try:
        data = resp.read(limit + 1)
    except (u3.HTTPError, OSError) as e:
        resp.release_conn()
        raise describe(e, method, resp.url or "") from e
    if len(data) > limit:
        resp.close()
        raise BodyTooLarge(f"response larger than {limit} bytes")
    discard(resp)
    return data
