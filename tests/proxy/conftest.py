"""Fixtures for the registry proxy's tests against a real registry on 127.0.0.1."""

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
from caisson.registry_proxy.auth import ANONYMOUS, Credentials
from caisson.registry_proxy.distribution import Registry
from caisson.registry_proxy.events import Event
from caisson.registry_proxy.hosts import Hosts
from caisson.registry_proxy.pull import Puller
from caisson.registry_proxy.retry import RetryPolicy

from .registry_env import (
    REGISTRY_BIN,
    Certs,
    Distribution,
    FaultProxy,
    Pusher,
    TokenIssuer,
    layer,
)

if not os.access(REGISTRY_BIN, os.X_OK):
    pytest.skip(f"needs {REGISTRY_BIN} (apt-get install docker-registry)", allow_module_level=True)

ALICE = Credentials("alice", "wonderland")
USERS = {"alice": "wonderland"}

# Retries without the production backoff, so failure tests stay quick.
FAST_RETRIES = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distribution]:
    reg = Distribution(str(tmp_path_factory.mktemp("registry")))
    reg.start()
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def pusher(registry: Distribution) -> Pusher:
    return Pusher(registry.url)


@pytest.fixture
def new_registry(tmp_path: Any) -> Iterator[Callable[..., Distribution]]:
    made: list[Distribution] = []

    def make(auth: dict[str, Any] | None = None, tls: Certs | None = None) -> Distribution:
        d = os.path.join(str(tmp_path), f"registry{len(made)}")
        reg = Distribution(d, auth, tls)
        made.append(reg)
        reg.start()
        return reg

    yield make
    for reg in made:
        reg.stop()


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
        return Puller(self.content, Registry(Hosts(**hosts), policy=policy))

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
def fault_proxy() -> Iterator[Callable[[str], FaultProxy]]:
    made: list[FaultProxy] = []

    def make(upstream: str) -> FaultProxy:
        proxy = FaultProxy(upstream)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name of this test's own on the shared registry."""
    return "t/" + uuid.uuid4().hex[:12]


@pytest.fixture
def issuer(tmp_path: Any) -> Iterator[TokenIssuer]:
    t = TokenIssuer(str(tmp_path), USERS, public=("pub/img",))
    yield t
    t.close()


@pytest.fixture
def token_registry(
    issuer: TokenIssuer, new_registry: Callable[..., Distribution]
) -> tuple[Distribution, Pusher]:
    reg = new_registry(auth=issuer.registry_auth())
    pusher = Pusher(reg.url, token_for=issuer.push_token)
    pusher.image("pub/img", "v1", [layer({"p": b"public"})])
    pusher.image("priv/img", "v1", [layer({"p": os.urandom(50_000)})])
    return reg, pusher
