"""HTTP for the registry client: pooled connections per host, TLS per host, safe redirects.

Redirects are followed here rather than by urllib3 so the rule is explicit: the Authorization
header goes only to the origin (scheme, host, port) it was meant for, never to the CDN or
object store a blob request is redirected to. Each target host gets its own TLS settings.
"""

from __future__ import annotations

import errno
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
    """The request got no (complete) response: refused, reset, timed out, TLS failed."""

    def __init__(self, reason: str, *, refused: bool = False, tls: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused
        self.tls = tls


class BodyTooLarge(Exception):
    pass


def describe(exc: BaseException) -> ConnectionFailure:
    """Turns a urllib3/socket exception into a short human reason."""
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, ConnectionFailure):
        return exc
    if isinstance(exc, u3.NameResolutionError):
        return ConnectionFailure("cannot resolve host name")
    if isinstance(exc, (u3.SSLError, ssl.SSLError)):
        return ConnectionFailure(f"TLS handshake failed: {_ssl_reason(exc)}", tls=True)
    if isinstance(exc, u3.NewConnectionError):
        cause = _root_cause(exc)
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in str(exc):
            return ConnectionFailure("connection refused", refused=True)
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return ConnectionFailure("network is unreachable")
        return ConnectionFailure(f"cannot connect: {cause or exc}")
    if isinstance(exc, u3.ConnectTimeoutError):
        return ConnectionFailure("connection timed out")
    if isinstance(exc, u3.ReadTimeoutError):
        return ConnectionFailure("timed out waiting for data")
    if isinstance(exc, u3.ProtocolError):
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLError):
            return ConnectionFailure(f"TLS handshake failed: {_ssl_reason(cause)}", tls=True)
        if isinstance(cause, ConnectionResetError):
            return ConnectionFailure("connection reset by peer")
        return ConnectionFailure("connection closed unexpectedly")
    if isinstance(exc, OSError):
        return ConnectionFailure(exc.strerror or str(exc))
    return ConnectionFailure(str(exc) or type(exc).__name__)


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


def _ssl_reason(exc: BaseException) -> str:
    cause = _root_cause(exc) or exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return cause.verify_message or "certificate verify failed"
    if isinstance(cause, ssl.SSLError) and cause.reason:
        return cause.reason.lower().replace("_", " ")
    return str(cause)


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
        first URL's). Raises ConnectionFailure when no response arrives.
        """
        auth_origin = auth_origin or origin(url)
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
                raise describe(e) from e
            location = resp.headers.get("Location")
            if resp.status not in (301, 302, 303, 307, 308) or not location:
                return resp
            discard(resp)
            url = urllib.parse.urljoin(url, location)
            if resp.status == 303:
                method, body = "GET", None
        raise ConnectionFailure(f"too many redirects (more than {MAX_REDIRECTS})")

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


def read_body(resp: Response, limit: int) -> bytes:
    """The whole body, refusing more than `limit` bytes (manifests, configs, errors)."""
    try:
        data = resp.read(limit + 1)
    except (u3.HTTPError, OSError) as e:
        resp.release_conn()
        raise describe(e) from e
    if len(data) > limit:
        resp.close()
        raise BodyTooLarge(f"response larger than {limit} bytes")
    discard(resp)
    return data
