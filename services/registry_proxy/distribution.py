"""The OCI distribution API client: probe, authentication, retries and the error wording.

`Registry` is one per process: it holds the HTTP transport, the token cache and what each
registry host answered to `GET /v2/` (the scheme that worked and its auth challenge), so a
pull after the first goes straight to work. `Repository` is one repository on one endpoint,
with the credentials of one pull.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from caisson import errors, logs
from caisson.registry_proxy import auth, mediatypes
from caisson.registry_proxy.hosts import Endpoint, Hosts, registry_name
from caisson.registry_proxy.retry import RetryPolicy, parse_retry_after, retryable_status
from caisson.registry_proxy.transport import (
    BodyTooLarge,
    ConnectionFailure,
    Response,
    Transport,
    discard,
    origin,
    read_body,
)

log = logs.get("caisson.registry_proxy")

MAX_MANIFEST = 4 * 1024 * 1024
MAX_ERROR_BODY = 64 * 1024
MAX_TOKEN_BODY = 1024 * 1024

RetryHook = Callable[[str], None]


@dataclass(frozen=True)
class _HostState:
    base: str  # "https://host:port"
    challenge: auth.Challenge | None


def error_messages(body: bytes) -> tuple[str, str]:
    """(code words, message) from an OCI error body, e.g. ("manifest unknown", "manifest
    unknown"); token servers' `details`/`error` fields too. Empty strings when absent."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(doc, dict):
        return "", ""
    errs = doc.get("errors")
    if isinstance(errs, list) and errs and isinstance(errs[0], dict):
        first = errs[0]
        code = str(first.get("code", "")).lower().replace("_", " ")
        msgs = [str(e.get("message", "")) for e in errs if isinstance(e, dict) and e.get("message")]
        return code, "; ".join(msgs)
    for key in ("details", "error_description", "error", "message"):
        if isinstance(doc.get(key), str) and doc[key]:
            return "", doc[key]
    return "", ""


class Registry:
    def __init__(
        self,
        hosts: Hosts,
        policy: RetryPolicy | None = None,
        tokens: auth.TokenCache | None = None,
    ) -> None:
        self.hosts = hosts
        self.policy = policy or RetryPolicy()
        self.tokens = tokens or auth.TokenCache()
        self.transport = Transport(hosts)
        self._lock = threading.Lock()
        self._state: dict[str, _HostState] = {}

    def repository(
        self,
        endpoint: Endpoint,
        name: str,
        path: str,
        creds: auth.Credentials,
        cancel: threading.Event | None = None,
    ) -> Repository:
        """A client for `path` on `endpoint`; `name` is the canonical name used in messages."""
        state = self._connect(endpoint)
        return Repository(self, endpoint, state, name, path, creds, cancel or threading.Event())

    def _connect(self, endpoint: Endpoint, fresh: bool = False) -> _HostState:
        """Probes `GET /v2/` over each allowed scheme; remembers what worked.

        When none works, the last attempt's failure is the error, as docker reports it;
        except that a TLS failure outranks a later plain-HTTP answer that is not the registry
        API (the port speaks TLS, so that answer says nothing about why the pull failed).
        """
        with self._lock:
            state = self._state.get(endpoint.host)
        if state is not None and not fresh:
            return state
        failure = tls_failure = ""
        for scheme in endpoint.schemes:
            base = f"{scheme}://{endpoint.host}"
            try:
                resp = self.transport.send("GET", base + "/v2/", {})
            except ConnectionFailure as e:
                failure = str(e)
                tls_failure = failure if e.tls else ""
                continue
            if resp.status in (200, 401):
                header = _header(resp, "WWW-Authenticate")
                discard(resp)
                challenge = auth.pick(auth.parse_www_authenticate(header)) if header else None
                state = _HostState(base, challenge)
                with self._lock:
                    self._state[endpoint.host] = state
                return state
            # Not the registry API (e.g. plain HTTP sent to a TLS port answers 400).
            try:
                _, msg = error_messages(read_body(resp, MAX_ERROR_BODY))
            except (ConnectionFailure, BodyTooLarge):
                msg = ""
            answer = f"{resp.status} {resp.reason or ''}".rstrip()
            failure = tls_failure or (
                f"registry {endpoint.host} answered {answer} to GET {base}/v2/"
                + (f": {msg}" if msg else "")
            )
            if resp.status >= 500:
                break
        raise errors.Unavailable(failure)

    def forget(self, host: str) -> None:
        """Probe again next time (after the host stopped answering)."""
        with self._lock:
            self._state.pop(host, None)

    def remember_challenge(self, host: str, challenge: auth.Challenge) -> None:
        with self._lock:
            state = self._state.get(host)
            if state is not None:
                self._state[host] = _HostState(state.base, challenge)

    def fetch_token(
        self, challenge: auth.Challenge, scope: str, creds: auth.Credentials
    ) -> auth.Token:
        req = auth.token_request(challenge, scope, creds)
        scheme, realm_host = origin(req.url)
        if not creds.empty and scheme != "https" and not self.hosts.is_insecure(realm_host):
            raise errors.Unauthenticated(
                f"refusing to send credentials over plain HTTP to the authorization server "
                f"{realm_host}"
            )
        try:
            resp = self.transport.send(req.method, req.url, req.headers, req.body)
            body = read_body(resp, MAX_TOKEN_BODY, req.method)
        except ConnectionFailure as e:
            raise errors.Unavailable(str(e)) from None
        except BodyTooLarge:
            raise errors.Unauthenticated(
                "authorization server sent an oversized response"
            ) from None
        if resp.status == 200:
            return auth.parse_token_response(body)
        _, msg = error_messages(body)
        if resp.status in (401, 403):
            default = "incorrect username or password" if not creds.empty else "access denied"
            raise errors.Unauthenticated(f"unauthorized: {msg or default}")
        raise errors.Unavailable(
            f"authorization server {realm_host} answered {resp.status} {resp.reason or ''}".strip()
            + (f": {msg}" if msg else "")
        )

    def login(self, registry: str, creds: auth.Credentials) -> str:
        """Checks `creds` against `registry` (a host, "docker.io" for Docker Hub)."""
        if creds.empty:
            raise errors.InvalidArgument("login needs a username and password or an identity token")
        registry = registry_name(registry)
        endpoint = self.hosts.endpoints(registry)[-1]
        state = self._connect(endpoint, fresh=True)
        if state.challenge is None:
            return "Login Succeeded"
        if state.challenge.scheme == "bearer":
            token = self.fetch_token(state.challenge, "", creds)
            header = "Bearer " + token.value
        elif state.challenge.scheme == "basic":
            if not (creds.username and creds.password):
                raise errors.InvalidArgument(f"{registry} needs a username and password")
            header = creds.basic_header()
        else:
            raise errors.Unauthenticated(
                f"{registry} asks for unsupported authentication {state.challenge.scheme!r}"
            )
        try:
            resp = self.transport.send("GET", state.base + "/v2/", {"Authorization": header})
            discard(resp)
        except ConnectionFailure as e:
            raise errors.Unavailable(str(e)) from None
        if resp.status == 200:
            return "Login Succeeded"
        if resp.status in (401, 403):
            # Registries say "authentication required" here; the user needs to hear why.
            raise errors.Unauthenticated(
                f"login to {registry} failed: unauthorized: incorrect username or password"
            )
        raise errors.Unavailable(f"login to {registry} failed: registry answered {resp.status}")


def _header(resp: Response, name: str) -> str:
    return resp.headers.get(name) or ""


class Repository:
    """Requests to one repository: auth on demand, retries, errors in Docker's words."""

    def __init__(
        self,
        registry: Registry,
        endpoint: Endpoint,
        state: _HostState,
        name: str,
        path: str,
        creds: auth.Credentials,
        cancel: threading.Event,
    ) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.name = name
        self.path = path
        self.creds = creds
        self.cancel = cancel
        self._base = state.base
        self._origin = origin(state.base)
        self._challenge = state.challenge
        self._scope = auth.pull_scope(path)
        self._token_lock = threading.Lock()

    @property
    def host(self) -> str:
        return self.endpoint.host

    # --- requests -------------------------------------------------------------------------

    def _authorization(self) -> tuple[str | None, bool]:
        """(Authorization header or None, whether it was just obtained from the realm)."""
        c = self._challenge
        if c is None:
            return None, False
        if c.scheme == "basic":
            return (None if self.creds.empty else self.creds.basic_header()), True
        if c.scheme != "bearer":
            return None, False
        with self._token_lock:
            cached = self.registry.tokens.get(self.host, self._scope, self.creds)
            if cached is not None:
                return "Bearer " + cached, False
            token = self.registry.fetch_token(c, self._scope, self.creds)
            self.registry.tokens.put(self.host, self._scope, self.creds, token)
            return "Bearer " + token.value, True

    def _take_challenge(self, resp: Response) -> bool:
        """After a 401: adopts the registry's challenge; True if a retry can succeed."""
        c = auth.pick(auth.parse_www_authenticate(_header(resp, "WWW-Authenticate")))
        if c is None:
            return False
        if c.scheme == "bearer":
            # The cached token was refused (expired early, revoked): get a fresh one.
            self.registry.tokens.forget(self.host, self._scope, self.creds)
        self._challenge = c
        self.registry.remember_challenge(self.host, c)
        return not (c.scheme == "basic" and self.creds.empty)

    def _sleep(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise errors.Cancelled("pull cancelled")

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        on_retry: RetryHook | None = None,
    ) -> Response:
        """Sends `method /v2/<repo>/<path>` with auth and retries; returns the final response.

        Connection failures and 5xx/429 are retried with backoff (`on_retry` hears why);
        when attempts run out a connection failure raises Unavailable, a status is returned
        for the caller to word. A 401 is answered once with the registry's challenge.
        """
        url = f"{self._base}/v2/{self.path}/{path}"
        failures = 0
        auth_retried = False
        while True:
            if self.cancel.is_set():
                raise errors.Cancelled("pull cancelled")
            hdrs = dict(headers or {})
            authorization, fresh = self._authorization()
            if authorization:
                hdrs["Authorization"] = authorization
            try:
                resp = self.registry.transport.send(method, url, hdrs, auth_origin=self._origin)
            except ConnectionFailure as e:
                failures += 1
                if not self.registry.policy.should_retry(failures) or e.tls:
                    self.registry.forget(self.host)
                    raise errors.Unavailable(str(e)) from None
                delay = self.registry.policy.delay(failures)
                self._retrying(on_retry, f"{e.reason}; retrying in {delay:g}s", failures)
                self._sleep(delay)
                continue
            # A 401 is worth one more try when we sent nothing or a cached token (it may have
            # been revoked); fresh credentials that were refused would only be refused again.
            if resp.status == 401 and not auth_retried and not (authorization and fresh):
                auth_retried = True
                if self._take_challenge(resp):
                    discard(resp)
                    continue
            if retryable_status(resp.status):
                failures += 1
                if self.registry.policy.should_retry(failures):
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    delay = self.registry.policy.delay(failures, retry_after)
                    discard(resp)
                    why = f"registry answered {resp.status} {resp.reason or ''}".rstrip()
                    self._retrying(on_retry, f"{why}; retrying in {delay:g}s", failures)
                    self._sleep(delay)
                    continue
            return resp

    def _retrying(self, hook: RetryHook | None, message: str, failures: int) -> None:
        log.info("retrying registry request", registry=self.host, attempt=failures, reason=message)
        if hook is not None:
            hook(message)

    def error(self, resp: Response, subject: str, kind: str = "manifest") -> errors.CaissonError:
        """The domain error for a failed response about `subject` (a ref or a digest)."""
        try:
            body = read_body(resp, MAX_ERROR_BODY) if resp.status != 200 else b""
        except (ConnectionFailure, BodyTooLarge):
            body = b""
        return status_error(
            resp.status, resp.reason or "", body, self.host, self.name, subject, kind
        )

    # --- manifests ------------------------------------------------------------------------

    def head_manifest(self, reference: str) -> str | None:
        """The digest a tag points at, without downloading the manifest (not counted by rate
        limits). None when the registry does not say (then GET it)."""
        resp = self.request(
            "HEAD", f"manifests/{reference}", {"Accept": mediatypes.MANIFEST_ACCEPT}
        )
        discard(resp)
        if resp.status != 200:
            return None
        digest = _header(resp, "Docker-Content-Digest")
        return digest or None

    def get_manifest(self, reference: str, subject: str) -> tuple[bytes, str]:
        """(body, content type) of a manifest, by tag or digest."""
        resp = self.request("GET", f"manifests/{reference}", {"Accept": mediatypes.MANIFEST_ACCEPT})
        if resp.status != 200:
            raise self.error(resp, subject)
        try:
            body = read_body(resp, MAX_MANIFEST)
        except BodyTooLarge:
            raise errors.InvalidArgument(
                f"manifest for {subject} is larger than {MAX_MANIFEST // (1024 * 1024)} MiB"
            ) from None
        except ConnectionFailure as e:
            raise errors.Unavailable(str(e)) from None
        return body, _header(resp, "Content-Type")

    # --- blobs ----------------------------------------------------------------------------

    def open_blob(
        self, digest: str, offset: int = 0, on_retry: RetryHook | None = None
    ) -> Response:
        """A streaming response for a blob from `offset` (206, or 200 if Range was ignored,
        or 416 when the offset is past the end). The caller reads and releases it."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request("GET", f"blobs/{digest}", headers, on_retry=on_retry)
        if resp.status in (200, 206, 416):
            return resp
        raise self.error(resp, digest, kind="blob")

    def get_blob(self, digest: str, limit: int) -> bytes:
        resp = self.open_blob(digest)
        if resp.status != 200:
            discard(resp)
            raise errors.Unavailable(
                f"registry {self.host} answered {resp.status} for blob {digest}"
            )
        try:
            return read_body(resp, limit)
        except BodyTooLarge:
            raise errors.DataLoss(f"blob {digest} is larger than its descriptor says") from None
        except ConnectionFailure as e:
            raise errors.Unavailable(str(e)) from None


def status_error(
    status: int, reason: str, body: bytes, host: str, name: str, subject: str, kind: str
) -> errors.CaissonError:
    """Docker's wording for a registry's error answer."""
    code, msg = error_messages(body)
    if status == 404:
        if code == "name unknown":
            return errors.NotFound(f"repository {name} not found: {msg or 'name unknown'}")
        if kind == "blob":
            return errors.NotFound(f"blob {subject} not found in {name}: {msg or 'blob unknown'}")
        return errors.NotFound(f"manifest for {subject} not found: {msg or 'manifest unknown'}")
    if status == 401:
        return errors.Unauthenticated(
            f"{code or 'unauthorized'}: {msg or 'authentication required'} for {name}"
        )
    if status == 403:
        return errors.PermissionDenied(
            f"{code or 'denied'}: {msg or 'requested access to the resource is denied'} for {name}"
        )
    if status == 429:
        return errors.ResourceExhausted(
            f"toomanyrequests: {msg or 'too many requests'} (registry {host})"
        )
    text = f"registry {host} answered {status} {reason}".rstrip()
    if status >= 500:
        return errors.Unavailable(text + (f": {msg}" if msg else ""))
    return errors.InvalidArgument(f"{text} for {kind} {subject}" + (f": {msg}" if msg else ""))
