"""Registry auth without a network: challenges, token requests and responses, the cache."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from caisson import errors
from caisson.registry_proxy import auth
from caisson.registry_proxy.auth import Challenge, Credentials, Token, TokenCache


def test_parse_bearer_challenge() -> None:
    [c] = auth.parse_www_authenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"'
    )
    assert c.scheme == "bearer"
    assert c.realm == "https://auth.docker.io/token"
    assert c.service == "registry.docker.io"
    assert c.params["scope"] == "repository:library/busybox:pull"


def test_parse_several_challenges_spaces_tokens_and_escapes() -> None:
    cs = auth.parse_www_authenticate(
        'Basic realm="Registry \\"Realm\\"" , BEARER Realm=https://x/token, service = svc'
    )
    assert [c.scheme for c in cs] == ["basic", "bearer"]
    assert cs[0].realm == 'Registry "Realm"'
    assert cs[1].realm == "https://x/token"
    assert cs[1].service == "svc"


def test_parse_bare_scheme_and_garbage() -> None:
    assert auth.parse_www_authenticate("Basic") == [Challenge("basic", {})]
    assert auth.parse_www_authenticate("") == []


def test_pick_prefers_bearer() -> None:
    basic, bearer = Challenge("basic"), Challenge("bearer", {"realm": "r"})
    assert auth.pick([basic, bearer]) == bearer
    assert auth.pick([basic]) == basic
    assert auth.pick([Challenge("negotiate")]) is None


def _query(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


def test_anonymous_token_request() -> None:
    c = Challenge("bearer", {"realm": "https://auth.example/token", "service": "reg"})
    req = auth.token_request(c, "repository:a/b:pull", auth.ANONYMOUS)
    assert req.method == "GET"
    assert req.url.startswith("https://auth.example/token?")
    assert _query(req.url) == {"service": ["reg"], "scope": ["repository:a/b:pull"]}
    assert "Authorization" not in req.headers


def test_credentialed_token_request_uses_basic_and_keeps_realm_query() -> None:
    c = Challenge("bearer", {"realm": "https://auth.example/token?x=1", "service": "reg"})
    req = auth.token_request(c, "repository:a:pull", Credentials("alice", "s3cret"))
    assert _query(req.url) == {"x": ["1"], "service": ["reg"], "scope": ["repository:a:pull"]}
    kind, _, value = req.headers["Authorization"].partition(" ")
    assert kind == "Basic"
    assert base64.b64decode(value) == b"alice:s3cret"


def test_identity_token_uses_oauth_refresh_grant() -> None:
    c = Challenge("bearer", {"realm": "https://auth.example/token", "service": "reg"})
    req = auth.token_request(c, "repository:a:pull", Credentials("alice", "", "refresh-me"))
    assert req.method == "POST"
    assert req.body is not None
    form = urllib.parse.parse_qs(req.body.decode())
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["refresh-me"]
    assert form["scope"] == ["repository:a:pull"]
    assert "Authorization" not in req.headers


def test_token_request_without_realm_is_refused() -> None:
    with pytest.raises(errors.Unauthenticated, match="without a realm"):
        auth.token_request(Challenge("bearer", {}), "", auth.ANONYMOUS)


@pytest.mark.parametrize(
    ("body", "value", "expires"),
    [
        (b'{"token": "t1", "expires_in": 300}', "t1", 300),
        (b'{"access_token": "a1"}', "a1", 60),
        (b'{"token": "t1", "access_token": "a1", "expires_in": 5}', "a1", 60),
    ],
)
def test_token_response(body: bytes, value: str, expires: int) -> None:
    assert auth.parse_token_response(body) == Token(value, expires)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"expires_in": 60}', b'{"token": ""}'])
def test_bad_token_response(body: bytes) -> None:
    with pytest.raises(errors.Unauthenticated):
        auth.parse_token_response(body)


def test_token_cache_expires_and_is_per_scope_and_identity() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    alice = Credentials("alice", "pw")
    cache.put("reg", "repository:a:pull", alice, Token("tok", 300))
    assert cache.get("reg", "repository:a:pull", alice) == "tok"
    assert cache.get("reg", "repository:b:pull", alice) is None
    assert cache.get("other", "repository:a:pull", alice) is None
    assert cache.get("reg", "repository:a:pull", auth.ANONYMOUS) is None
    assert cache.get("reg", "repository:a:pull", Credentials("alice", "other")) is None
    now[0] += 300 - auth.EXPIRY_MARGIN - 1
    assert cache.get("reg", "repository:a:pull", alice) == "tok"
    now[0] += 2
    assert cache.get("reg", "repository:a:pull", alice) is None


def test_token_cache_forget() -> None:
    cache = TokenCache()
    cache.put("reg", "s", auth.ANONYMOUS, Token("tok", 60))
    cache.forget("reg", "s", auth.ANONYMOUS)
    assert cache.get("reg", "s", auth.ANONYMOUS) is None


def test_identity_never_contains_the_secret() -> None:
    assert "pw" not in Credentials("alice", "pw").identity()
    assert auth.ANONYMOUS.identity() == ""
