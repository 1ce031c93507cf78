"""Shared fixtures: a session registry with the test images pushed, Caisson daemons with temp
dirs of their own, and the logs of both attached to a failing test's report."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.support import catalog as catalogs  # noqa: E402
from tests.support.images import Hostile, Image  # noqa: E402
from tests.support.processes import public_tempdir, remove_tree  # noqa: E402
from tests.support.registry import REGISTRY_BIN, Registry  # noqa: E402
from tests.support.services import Daemon  # noqa: E402

USERS = {"alice": "wonderland-s3cret"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("needs root (the executor unpacks device nodes and owners)")
    if not os.access(REGISTRY_BIN, os.X_OK):
        reasons.append(f"needs {REGISTRY_BIN} (apt-get install docker-registry)")
    if not os.path.exists("/bin/busybox"):
        reasons.append("needs /bin/busybox (apt-get install busybox-static)")
    if not reasons:
        return
    skip = pytest.mark.skip(reason="; ".join(reasons))
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for daemon in getattr(item, "caisson_daemons", []):
            report.sections.append(("caisson-daemon log " + daemon.base, daemon.log_tail()))
        for registry in getattr(item, "caisson_registries", []):
            report.sections.append(("registry log " + registry.directory, registry.log_tail()))


def _track(request: pytest.FixtureRequest, attr: str, obj: object) -> None:
    node = request.node
    if not hasattr(node, attr):
        setattr(node, attr, [])
    getattr(node, attr).append(obj)


# -- registries and images -------------------------------------------------------------------


@pytest.fixture(scope="session")
def workdir() -> Iterator[str]:
    """A 0755 session directory under /var/tmp (the registry proxy runs as nobody)."""
    path = public_tempdir("caisson-it-")
    yield path
    remove_tree(path)


@pytest.fixture(scope="session")
def registry(workdir: str) -> Iterator[Registry]:
    """The session's plain-HTTP registry without auth, holding the standard catalogue."""
    reg = Registry(os.path.join(workdir, "registry"))
    os.makedirs(reg.directory, exist_ok=True)
    reg.start()
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def catalog(registry: Registry) -> catalogs.Catalog:
    return catalogs.standard(registry)


@pytest.fixture(scope="session")
def canary_dir(workdir: str) -> str:
    """Where every hostile layer aims; nothing may appear here but `target`."""
    path = os.path.join(workdir, "canary")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def hostile(registry: Registry, canary_dir: str) -> dict[str, Hostile]:
    return catalogs.hostile(registry, canary_dir)


@pytest.fixture(scope="session")
def big_cache(workdir: str) -> str:
    """Blobs of the >= 300 MB image, built once per session."""
    return os.path.join(workdir, "big-cache")


@pytest.fixture(scope="session")
def big_image(registry: Registry, big_cache: str) -> Image:
    return catalogs.big(registry, big_cache)


@pytest.fixture
def new_registry(request: pytest.FixtureRequest) -> Iterator[Callable[..., Registry]]:
    """Factory for registries of a test's own: new_registry(auth="token", users=...)."""
    made: list[tuple[Registry, str]] = []

    def make(**kwargs: Any) -> Registry:
        base = public_tempdir("caisson-reg-")
        reg = Registry(base, **kwargs)
        made.append((reg, base))
        _track(request, "caisson_registries", reg)
        reg.start()
        return reg

    yield make
    for reg, base in made:
        reg.close()
        remove_tree(base)


# -- daemons ---------------------------------------------------------------------------------


@pytest.fixture
def new_daemon(request: pytest.FixtureRequest) -> Iterator[Callable[..., Daemon]]:
    """Factory for started daemons: new_daemon("--max-concurrent-downloads", "1"). Each is
    stopped at teardown, which also asserts it left no socket, pidfile or child process."""
    made: list[Daemon] = []

    def make(*extra_args: str, start: bool = True) -> Daemon:
        d = Daemon(public_tempdir("caisson-d-"), extra_args)
        made.append(d)
        _track(request, "caisson_daemons", d)
        if start:
            d.start()
        return d

    yield make
    errors = []
    for d in made:
        try:
            d.stop(check=True)
        except AssertionError as e:
            errors.append(str(e))
    for d in made:
        remove_tree(d.base)
    assert not errors, "\n".join(errors)


@pytest.fixture
def daemon(new_daemon: Callable[..., Daemon]) -> Daemon:
    return new_daemon()
