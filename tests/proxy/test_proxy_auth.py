"""Authentication against a real registry: token auth (a test token issuer), Basic auth
(htpasswd), token caching, redirects that must not carry credentials, and Login."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from caisson import errors
from caisson.content import ContentStore
from caisson.registry_proxy.auth import Credentials
from caisson.registry_proxy.distribution import Registry
from caisson.registry_proxy.hosts import Hosts

from .conftest import ALICE, USERS, Pulls
from .registry_env import (
    BlobHost,
    Distribution,
    FaultProxy,
    Pusher,
    TokenIssuer,
    htpasswd,
    layer,
)


@pytest.fixture
def basic_registry(
    tmp_path: Any, new_registry: Callable[..., Distribution]
) -> tuple[Distribution, Pusher]:
    path = htpasswd(USERS, os.path.join(str(tmp_path), "htpasswd"))
    reg = new_registry(auth={"htpasswd": {"realm": "proxy-test", "path": path}})
    pusher = Pusher(reg.url, basic=("alice", "wonderland"))
    pusher.image("priv/img", "v1", [layer({"b": b"basic"})])
    return reg, pusher


def test_anonymous_token_for_a_public_repository(
    token_registry: tuple[Distribution, Pusher], issuer: TokenIssuer, pulls: Pulls
) -> None:
    reg, _ = token_registry
    pulls.run(f"{reg.host}/pub/img:v1")
    assert ("", "repository:pub/img:pull") in issuer.requests
    assert all(a == "" for a in issuer.authorizations)


def test_private_repository_needs_credentials(
    token_registry: tuple[Distribution, Pusher], pulls: Pulls
) -> None:
    reg, _ = token_registry
    with pytest.raises(errors.Unauthenticated) as e:
        pulls.run(f"{reg.host}/priv/img:v1")
    assert str(e.value) == f"unauthorized: authentication required for {reg.host}/priv/img"


def test_credentialed_token_is_cached(
    token_registry: tuple[Distribution, Pusher],
    issuer: TokenIssuer,
    pulls: Pulls,
    content: ContentStore,
) -> None:
    reg, pusher = token_registry
    image = pusher.image("priv/img", "v2", [layer({"two": b"2"})])
    puller = pulls.puller()
    pulls.run(f"{reg.host}/priv/img:v1", puller, creds=ALICE)
    assert issuer.requests == [("alice", "repository:priv/img:pull")]
    pulls.run(f"{reg.host}/priv/img:v2", puller, creds=ALICE)
    assert len(issuer.requests) == 1
    assert content.exists(image.layers[0])


def test_access_token_field(
    token_registry: tuple[Distribution, Pusher], issuer: TokenIssuer, pulls: Pulls
) -> None:
    reg, _ = token_registry
    issuer.field = "access_token"
    pulls.run(f"{reg.host}/priv/img:v1", creds=ALICE)


def test_wrong_password_for_the_token_server(
    token_registry: tuple[Distribution, Pusher], pulls: Pulls
) -> None:
    reg, _ = token_registry
    with pytest.raises(errors.Unauthenticated) as e:
        pulls.run(f"{reg.host}/priv/img:v1", creds=Credentials("alice", "wrong"))
    assert str(e.value) == "unauthorized: incorrect username or password"


def test_blob_redirect_to_another_host_carries_no_token(
    token_registry: tuple[Distribution, Pusher],
    pulls: Pulls,
    content: ContentStore,
    fault_proxy: Callable[[str], FaultProxy],
) -> None:
    reg, pusher = token_registry
    data = layer({"cdn": os.urandom(20_000)})
    image = pusher.image("priv/img", "cdn", [data])
    cdn = BlobHost({image.layers[0]: data})
    try:
        proxy = fault_proxy(reg.url)
        pulls.run(f"{proxy.host}/priv/img:cdn", creds=ALICE)  # manifests and config
        os.unlink(content.path(image.layers[0]))
        proxy.seen.clear()
        proxy.redirect_to = cdn.url
        pulls.run(f"{proxy.host}/priv/img:cdn", creds=ALICE)
    finally:
        cdn.close()
    assert content.exists(image.layers[0])
    [redirected] = proxy.gets(image.layers[0])
    assert redirected.headers["Authorization"].startswith("Bearer ")
    assert [r.digest for r in cdn.seen] == [image.layers[0]]
    assert "Authorization" not in cdn.seen[0].headers


def test_basic_auth(
    basic_registry: tuple[Distribution, Pusher], pulls: Pulls, content: ContentStore
) -> None:
    reg, pusher = basic_registry
    with pytest.raises(errors.Unauthenticated) as e:
        pulls.run(f"{reg.host}/priv/img:v1")
    assert str(e.value) == f"unauthorized: authentication required for {reg.host}/priv/img"
    with pytest.raises(errors.Unauthenticated):
        pulls.run(f"{reg.host}/priv/img:v1", creds=Credentials("alice", "wrong"))
    pulls.run(f"{reg.host}/priv/img:v1", creds=ALICE)


def test_login(
    token_registry: tuple[Distribution, Pusher],
    basic_registry: tuple[Distribution, Pusher],
    registry: Distribution,
) -> None:
    client = Registry(Hosts())
    token_reg, basic_reg = token_registry[0], basic_registry[0]
    for reg in (token_reg, basic_reg):
        assert client.login(reg.host, ALICE) == "Login Succeeded"
        with pytest.raises(errors.Unauthenticated, match="incorrect username or password"):
            client.login(reg.host, Credentials("alice", "nope"))
    assert client.login(registry.host, ALICE) == "Login Succeeded"
    with pytest.raises(errors.InvalidArgument):
        client.login(registry.host, Credentials())
