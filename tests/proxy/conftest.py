"""Fixtures for the registry proxy's tests against a real registry on 127.0.0.1. The registry,
its token issuer, the fault proxy and the images come from tests/support (the session
`registry` and the `new_registry` factory from tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from caisson.content import ContentStore
from caisson.platforms import Platform
from caisson.reference import parse
from caisson.registry_proxy import distribution
from caisson.registry_proxy.auth import ANONYMOUS, Credentials
from caisson.registry_proxy.events import Event
from caisson.registry_proxy.hosts import Hosts
from caisson.registry_proxy.pull import Puller
from caisson.registry_proxy.retry import RetryPolicy
from tests.support.catalog import client_for
from tests.support.client import RegistryClient
from tests.support.faults import FaultProxy
from tests.support.images import files_layer, make_image
from tests.support.registry import REGISTRY_BIN, Registry, TokenIssuer

if not os.access(REGISTRY_BIN, os.X_OK):
    pytest.skip(f"needs {REGISTRY_BIN} (apt-get install docker-registry)", allow_module_level=True)

ALICE = Credentials("alice", "wonderland")
USERS = {"alice": "wonderland"}

# Retries without the production backoff, so failure tests stay quick.
FAST_RETRIES = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def pusher(registry: Registry) -> RegistryClient:
    """Pushes images to the session registry."""
    return client_for(registry)


@pytest.fixture
def content(tmp_path: Any) -> Iterator[ContentStore]:
    store = ContentStore(os.path.join(str(tmp_path), "content"))
    store.init()
    yield store
    shutil.rmtree(store.root, ignore_errors=True)


class Pulls:
    """Builds pullers over one content store and runs pulls to completion."""

    def __init__(self, content: ContentStore) -> None:
        self.content = content

    def puller(self, policy: RetryPolicy = FAST_RETRIES, **hosts: Any) -> Puller:
        return Puller(self.content, distribution.Registry(Hosts(**hosts), policy=policy))

    def run(
        self,
        ref: str,
        puller: Puller | None = None,
        platform: Platform | None = None,
        creds: Credentials = ANONYMOUS,
        cancel: threading.Event | None = None,
        max_concurrent_downloads: int = 0,
    ) -> list[Event]:
        p = puller or self.puller()
        return list(p.pull(parse(ref), platform, creds, max_concurrent_downloads, cancel=cancel))


@pytest.fixture
def pulls(content: ContentStore) -> Pulls:
    return Pulls(content)


@pytest.fixture
def faults(registry: Registry) -> Iterator[FaultProxy]:
    """A fault proxy in front of the session registry (loopback: plain HTTP is allowed)."""
    with FaultProxy("127.0.0.1", registry.port) as proxy:
        yield proxy


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name of this test's own on the shared registry."""
    return "t/" + uuid.uuid4().hex[:12]


@pytest.fixture
def token_registry(new_registry: Callable[..., Registry]) -> tuple[Registry, RegistryClient]:
    """A registry with token auth: anonymous clients may pull pub/img, alice everything."""
    reg = new_registry(auth="token", users=USERS, public=("pub/img",))
    pusher = client_for(reg)
    pusher.push_image("pub/img", "v1", make_image([files_layer({"p": b"public"})]))
    pusher.push_image("priv/img", "v1", make_image([files_layer({"p": os.urandom(50_000)})]))
    assert reg.issuer is not None
    reg.issuer.requests.clear()  # the pushes' own
    return reg, pusher


@pytest.fixture
def issuer(token_registry: tuple[Registry, RegistryClient]) -> TokenIssuer:
    assert token_registry[0].issuer is not None
    return token_registry[0].issuer
