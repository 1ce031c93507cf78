"""Registry authentication without the transport: challenges, credentials, tokens.

The flow (distribution's token spec): a request answered 401 carries `WWW-Authenticate`.
`Basic` means: send the credentials on every request. `Bearer realm=..,service=..,scope=..`
means: ask the realm for a token for this scope (anonymously, with Basic credentials, or with
an OAuth2 refresh token), then send `Authorization: Bearer TOKEN`. Tokens are cached per
registry, scope and identity until shortly before they expire.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from caisson import errors

# The token spec: no `expires_in` means 60 s, and no token lives shorter than that.
DEFAULT_TOKEN_LIFETIME = 60
# Ask for a new token this long before the old one expires, so a request never races expiry.
EXPIRY_MARGIN = 10
# OAuth2 client id sent with refresh-token grants (Docker sends "docker").
CLIENT_ID = "caisson"


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    # An OAuth2 refresh token (Docker's "identitytoken") used instead of a password.
    identity_token: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)

    def identity(self) -> str:
        """A cache key for whoever these credentials are, without keeping the secret."""
        if self.empty:
            return ""
        secret = self.identity_token or self.password
        return self.username + ":" + hashlib.sha256(secret.encode()).hexdigest()[:16]

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


ANONYMOUS = Credentials()


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lowercase: "bearer" or "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parses RFC 7235 challenges: `Bearer realm="a",service="b", Basic realm="c"`.

    Parameter names are case-insensitive (lowercased here); values may be tokens or quoted
    strings with backslash escapes. Anything unparseable ends the parse with what was read.
    """
    challenges: list[Challenge] = []
    i, n = 0, len(header)

    def skip(chars: str) -> None:
        nonlocal i
        while i < n and header[i] in chars:
            i += 1

    def token() -> str:
        nonlocal i
        start = i
        while i < n and header[i] not in ' \t,="':
            i += 1
        return header[start:i]

    while i < n:
        skip(" \t,")
        scheme = token()
        if not scheme:
            break
        params: dict[str, str] = {}
        while i < n:
            skip(" \t")
            save = i
            name = token()
            skip(" \t")
            if not name or i >= n or header[i] != "=":
                # Not `name=`: either the next challenge's scheme or the end.
                i = save
                break
            i += 1
            skip(" \t")
            if i < n and header[i] == '"':
                i += 1
                value = []
                while i < n and header[i] != '"':
                    if header[i] == "\\" and i + 1 < n:
                        i += 1
                    value.append(header[i])
                    i += 1
                i += 1
                params[name.lower()] = "".join(value)
            else:
                params[name.lower()] = token()
            skip(" \t")
            if i < n and header[i] == ",":
                i += 1
        challenges.append(Challenge(scheme.lower(), params))
    return challenges


def pick(challenges: list[Challenge]) -> Challenge | None:
    """Bearer when offered (a token never exposes the password again), else Basic."""
    for scheme in ("bearer", "basic"):
        for c in challenges:
            if c.scheme == scheme:
                return c
    return None


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


@dataclass(frozen=True)
class TokenRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


def token_request(challenge: Challenge, scope: str, creds: Credentials) -> TokenRequest:
    """How to ask the challenge's realm for a token for `scope` with `creds`.

    With a refresh token: the OAuth2 POST grant. Otherwise a GET carrying the credentials as
    Basic auth (anonymous when there are none), which every token server accepts.
    """
    if not challenge.realm:
        raise errors.Unauthenticated("registry sent a Bearer challenge without a realm")
    query: list[tuple[str, str]] = []
    if challenge.service:
        query.append(("service", challenge.service))
    if scope:
        query.append(("scope", scope))
    if creds.identity_token:
        form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", creds.identity_token),
            ("client_id", CLIENT_ID),
            *query,
        ]
        return TokenRequest(
            "POST",
            challenge.realm,
            {"Content-Type": "application/x-www-form-urlencoded"},
            urllib.parse.urlencode(form).encode(),
        )
    sep = "&" if "?" in challenge.realm else "?"
    url = challenge.realm + (sep + urllib.parse.urlencode(query) if query else "")
    headers = {} if creds.empty else {"Authorization": creds.basic_header()}
    return TokenRequest("GET", url, headers)


@dataclass(frozen=True)
class Token:
    value: str
    expires_in: int


def parse_token_response(body: bytes) -> Token:
    try:
        doc = json.loads(body)
    except ValueError:
        raise errors.Unauthenticated(
            "authorization server sent an invalid token response"
        ) from None
    if not isinstance(doc, dict):
        raise errors.Unauthenticated("authorization server sent an invalid token response")
    # OAuth2's access_token wins over the older `token` when a server sends both.
    value = doc.get("access_token") or doc.get("token")
    if not isinstance(value, str) or not value:
        raise errors.Unauthenticated("authorization server did not include a token in the response")
    expires_in = doc.get("expires_in")
    if not isinstance(expires_in, int) or expires_in < DEFAULT_TOKEN_LIFETIME:
        expires_in = DEFAULT_TOKEN_LIFETIME
    return Token(value, expires_in)


class TokenCache:
    """Bearer tokens per (registry, scope, identity), kept until shortly before expiry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, registry: str, scope: str, creds: Credentials) -> str | None:
        key = (registry, scope, creds.identity())
        with self._lock:
            hit = self._tokens.get(key)
            if hit is None:
                return None
            value, deadline = hit
            if self._clock() >= deadline:
                del self._tokens[key]
                return None
            return value

    def put(self, registry: str, scope: str, creds: Credentials, token: Token) -> None:
        lifetime = max(token.expires_in - EXPIRY_MARGIN, token.expires_in / 2)
        with self._lock:
            self._tokens[(registry, scope, creds.identity())] = (
                token.value,
                self._clock() + lifetime,
            )

    def forget(self, registry: str, scope: str, creds: Credentials) -> None:
        with self._lock:
            self._tokens.pop((registry, scope, creds.identity()), None)
