"""Authentication against a real registry: token auth (a test token issuer), Basic auth
(htpasswd), token caching, redirects that must not carry credentials, and Login."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from caisson import errors
from caisson.content import ContentStore
from caisson.registry_proxy import distribution
from caisson.registry_proxy.auth import Credentials
from caisson.registry_proxy.hosts import Hosts
from tests.support.catalog import client_for
from tests.support.client import RegistryClient
from tests.support.faults import BlobHost, FaultProxy
from tests.support.images import files_layer, make_image
from tests.support.registry import Registry, TokenIssuer

from .conftest import ALICE, USERS, Pulls


def asked(issuer: TokenIssuer) -> list[tuple[str, str]]:
    """(account, scope) of each token request."""
    return [(r.account, " ".join(r.scopes)) for r in issuer.requests]


@pytest.fixture
def basic_registry(new_registry: Callable[..., Registry]) -> tuple[Registry, RegistryClient]:
    reg = new_registry(auth="basic", users=USERS)
    pusher = client_for(reg)
    pusher.push_image("priv/img", "v1", make_image([files_layer({"b": b"basic"})]))
    return reg, pusher


def test_anonymous_token_for_a_public_repository(
    token_registry: tuple[Registry, RegistryClient], issuer: TokenIssuer, pulls: Pulls
) -> None:
    reg, _ = token_registry
    pulls.run(f"{reg.host}/pub/img:v1")
    assert ("", "repository:pub/img:pull") in asked(issuer)
    assert all(r.authorization == "" for r in issuer.requests)


def test_private_repository_needs_credentials(
    token_registry: tuple[Registry, RegistryClient], pulls: Pulls
) -> None:
    reg, _ = token_registry
    with pytest.raises(errors.Unauthenticated) as e:
        pulls.run(f"{reg.host}/priv/img:v1")
    assert str(e.value) == f"unauthorized: authentication required for {reg.host}/priv/img"


def test_credentialed_token_is_cached(
    token_registry: tuple[Registry, RegistryClient],
    issuer: TokenIssuer,
    pulls: Pulls,
    content: ContentStore,
) -> None:
    reg, pusher = token_registry
    image = pusher.push_image("priv/img", "v2", make_image([files_layer({"two": b"2"})]))
    issuer.requests.clear()  # the push's own
    puller = pulls.puller()
    pulls.run(f"{reg.host}/priv/img:v1", puller, creds=ALICE)
    assert asked(issuer) == [("alice", "repository:priv/img:pull")]
    pulls.run(f"{reg.host}/priv/img:v2", puller, creds=ALICE)
    assert len(issuer.requests) == 1
    assert content.exists(image.layer_digests[0])


def test_access_token_field(
    token_registry: tuple[Registry, RegistryClient], issuer: TokenIssuer, pulls: Pulls
) -> None:
    reg, _ = token_registry
    issuer.token_fields = ("access_token",)
    pulls.run(f"{reg.host}/priv/img:v1", creds=ALICE)


def test_wrong_password_for_the_token_server(
    token_registry: tuple[Registry, RegistryClient], pulls: Pulls
) -> None:
    reg, _ = token_registry
    with pytest.raises(errors.Unauthenticated) as e:
        pulls.run(f"{reg.host}/priv/img:v1", creds=Credentials("alice", "wrong"))
    assert str(e.value) == "unauthorized: incorrect username or password"


def test_blob_redirect_to_another_host_carries_no_token(
    token_registry: tuple[Registry, RegistryClient], pulls: Pulls, content: ContentStore
) -> None:
    reg, pusher = token_registry
    data = files_layer({"cdn": os.urandom(20_000)})
    image = pusher.push_image("priv/img", "cdn", make_image([data]))
    digest = image.layer_digests[0]
    with BlobHost([data.blob]) as cdn, FaultProxy("127.0.0.1", reg.port) as proxy:
        pulls.run(f"{proxy.host}/priv/img:cdn", creds=ALICE)  # manifests and config
        os.unlink(content.path(digest))
        proxy.reset_records()
        proxy.redirect_blobs(cdn.url)
        pulls.run(f"{proxy.host}/priv/img:cdn", creds=ALICE)
    assert content.exists(digest)
    [redirected] = proxy.blob_records(digest)
    assert redirected.headers["Authorization"].startswith("Bearer ")
    assert [r.digest for r in cdn.records] == [digest]
    assert "Authorization" not in cdn.records[0].headers


def test_basic_auth(
    basic_registry: tuple[Registry, RegistryClient], pulls: Pulls, content: ContentStore
) -> None:
    reg, pusher = basic_registry
    with pytest.raises(errors.Unauthenticated) as e:
        pulls.run(f"{reg.host}/priv/img:v1")
    assert str(e.value) == f"unauthorized: authentication required for {reg.host}/priv/img"
    with pytest.raises(errors.Unauthenticated):
        pulls.run(f"{reg.host}/priv/img:v1", creds=Credentials("alice", "wrong"))
    pulls.run(f"{reg.host}/priv/img:v1", creds=ALICE)


def test_login(
    token_registry: tuple[Registry, RegistryClient],
    basic_registry: tuple[Registry, RegistryClient],
    registry: Registry,
) -> None:
    client = distribution.Registry(Hosts())
    token_reg, basic_reg = token_registry[0], basic_registry[0]
    for reg in (token_reg, basic_reg):
        assert client.login(reg.host, ALICE) == "Login Succeeded"
        with pytest.raises(errors.Unauthenticated, match="incorrect username or password"):
            client.login(reg.host, Credentials("alice", "nope"))
    assert client.login(registry.host, ALICE) == "Login Succeeded"
    with pytest.raises(errors.InvalidArgument):
        client.login(registry.host, Credentials())
