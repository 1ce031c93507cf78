"""Pulls from registries that need credentials: distribution's token auth (with the test token
issuer) and htpasswd basic auth, through `caisson login` and `caisson pull`."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.support import catalog as catalogs
from tests.support import images
from tests.support.catalog import Catalog
from tests.support.expect import fails, inspect, ok
from tests.support.registry import Registry
from tests.support.services import CliResult, Daemon

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "wonderland-s3cret"


@dataclass
class Private:
    registry: Registry
    catalog: Catalog

    @property
    def host(self) -> str:
        return self.registry.host

    @property
    def ref(self) -> str:
        return self.catalog.ref("test/private")

    @property
    def image(self) -> images.Image:
        return self.catalog.images["test/private"]


@pytest.fixture(params=["token", "basic"])
def private(request: pytest.FixtureRequest, new_registry: Callable[..., Registry]) -> Private:
    reg = new_registry(auth=request.param, users={USER: PASSWORD})
    catalog = Catalog(reg.host, images={"test/private": images.busybox_image()})
    catalogs.push(reg, catalog)
    return Private(reg, catalog)


def stored_auths(daemon: Daemon) -> dict[str, object]:
    try:
        with open(os.path.join(daemon.home, ".caisson", "config.json")) as f:
            return dict(json.load(f).get("auths", {}))
    except FileNotFoundError:
        return {}


def login(daemon: Daemon, host: str, password: str = PASSWORD) -> CliResult:
    return daemon.cli("login", "-u", USER, "--password-stdin", host, input=password + "\n")


def test_pull_without_login_is_unauthorized(daemon: Daemon, private: Private) -> None:
    fails(daemon.cli("pull", private.ref), "unauthorized")
    assert ok(daemon.cli("images", "-q")).out.strip() == ""


def test_login_with_a_wrong_password_fails(daemon: Daemon, private: Private) -> None:
    fails(login(daemon, private.host, "not-the-password"), "unauthorized")
    assert private.host not in stored_auths(daemon)


def test_login_then_pull(daemon: Daemon, private: Private) -> None:
    r = ok(login(daemon, private.host))
    assert "Login Succeeded" in r.out, r

    config = os.path.join(daemon.home, ".caisson", "config.json")
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert private.host in stored_auths(daemon)

    ok(daemon.cli("pull", private.ref))
    assert inspect(daemon, private.ref)["Id"] == private.image.id

    if private.registry.issuer is not None:
        granted = [t for t in private.registry.issuer.requests if t.authorized]
        assert any("repository:test/private:pull" in t.scopes for t in granted), granted
        assert all(t.account == USER for t in granted)


def test_logout_forgets_the_credentials(daemon: Daemon, private: Private) -> None:
    ok(login(daemon, private.host))
    ok(daemon.cli("logout", private.host))
    assert private.host not in stored_auths(daemon)
    fails(daemon.cli("pull", private.ref), "unauthorized")
