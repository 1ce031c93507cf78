"""Stored logins: config.json's shape, modes and atomic writes, lookup by registry, and the
login/logout commands (login checked by a fake daemon's System.Login over a unix socket)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from caisson import errors, server
from caisson.cli import app, auth, config
from caisson.cli.errors import CLIError
from caisson_api.daemon.v1 import daemon_pb2, daemon_pb2_grpc


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def read(config_dir: Path) -> dict[str, Any]:
    return json.loads((config_dir / "config.json").read_text())


@pytest.mark.parametrize(
    ("given", "host"),
    [
        ("docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://Reg.Example:5000/v2/", "reg.example:5000"),
        ("http://localhost:5000", "localhost:5000"),
    ],
)
def test_registry_host(given: str, host: str) -> None:
    assert auth.registry_host(given) == host


def test_store_writes_dockers_shape_with_private_modes(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    auth.store(str(cfg), "docker.io", "alice", "s3cret")
    auth.store(str(cfg), "127.0.0.1:5000", "bob", "pa:ss")
    assert read(cfg) == {
        "auths": {
            "https://index.docker.io/v1/": {"auth": b64("alice:s3cret")},
            "127.0.0.1:5000": {"auth": b64("bob:pa:ss")},
        }
    }
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cfg / "config.json").st_mode) == 0o600
    assert os.listdir(cfg) == ["config.json"]  # no temp file left behind


def test_store_keeps_other_keys_and_replaces_aliases(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"index.docker.io": {"auth": b64("old:old")}}, "psFormat": "x"})
    )
    auth.store(str(tmp_path), "docker.io", "new", "new")
    assert read(tmp_path) == {
        "auths": {"https://index.docker.io/v1/": {"auth": b64("new:new")}},
        "psFormat": "x",
    }


def test_credentials_lookup(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": b64("hub:pw")},
                    "http://127.0.0.1:5000": {"username": "u", "password": "p"},
                    "tok.example": {"identitytoken": "T"},
                    "broken.example": {"auth": "%%%"},
                }
            }
        )
    )
    d = str(tmp_path)
    hub = auth.credentials_for_reference(d, "busybox")
    assert hub is not None and (hub.username, hub.password) == ("hub", "pw")
    local = auth.credentials_for_reference(d, "127.0.0.1:5000/x:1")
    assert local is not None and (local.username, local.password) == ("u", "p")
    token = auth.credentials(d, "tok.example")
    assert token is not None and token.identity_token == "T"
    assert auth.credentials(d, "broken.example") is None
    assert auth.credentials(d, "nowhere.example") is None
    assert auth.credentials_for_reference(d, "NOT a reference") is None


def test_no_config_means_no_credentials(tmp_path: Path) -> None:
    assert auth.credentials(str(tmp_path / "missing"), "docker.io") is None


def test_corrupt_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CLIError, match="cannot read client config"):
        config.load(str(tmp_path))


def test_config_dir_from_environment(tmp_path: Path) -> None:
    assert config.default_dir({"CAISSON_CONFIG": str(tmp_path)}) == str(tmp_path)
    assert config.default_dir({}).endswith("/.caisson")


class FakeSystem(daemon_pb2_grpc.SystemServicer):
    def __init__(self) -> None:
        self.logins: list[daemon_pb2.LoginRequest] = []

    def Login(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.logins.append(request)
        if request.auth.password != "secret":
            raise errors.Unauthenticated(f"login to {request.registry} failed: unauthorized")
        return daemon_pb2.LoginResponse(status="Login Succeeded")


@pytest.fixture
def login_daemon() -> Iterator[tuple[str, FakeSystem]]:
    tmp = tempfile.mkdtemp(prefix="caisson-cli-")
    fake = FakeSystem()
    srv = server.Server("fake-daemon", max_workers=2)
    srv.add(daemon_pb2_grpc.add_SystemServicer_to_server, fake, "caisson.daemon.v1.System")
    sock = os.path.join(tmp, "d.sock")
    srv.listen(server.Address("unix", path=sock))
    srv.start()
    try:
        yield f"unix://{sock}", fake
    finally:
        srv.stop(0)
        shutil.rmtree(tmp, ignore_errors=True)


def run(host: str, cfg: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = app.run(
        ["-H", host, "--config", str(cfg), *argv],
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        environ={},
    )
    return code, out.getvalue(), err.getvalue()


def test_login_stores_only_after_the_daemon_accepts(
    login_daemon: tuple[str, FakeSystem], tmp_path: Path
) -> None:
    host, fake = login_daemon
    cfg = tmp_path / "cfg"
    code, out, err = run(host, cfg, "login", "-u", "alice", "-p", "wrong", "127.0.0.1:5000")
    assert code == 1
    assert err.endswith(
        "Error response from daemon: login to 127.0.0.1:5000 failed: unauthorized\n"
    )
    assert not cfg.exists()

    code, out, err = run(
        host, cfg, "login", "-u", "alice", "--password-stdin", "http://127.0.0.1:5000/",
        stdin="secret\n",
    )  # fmt: skip
    assert (code, out) == (0, "Login Succeeded\n")
    assert "stored unencrypted" in err
    assert fake.logins[-1].registry == "127.0.0.1:5000"
    assert (fake.logins[-1].auth.username, fake.logins[-1].auth.password) == ("alice", "secret")
    assert read(cfg) == {"auths": {"127.0.0.1:5000": {"auth": b64("alice:secret")}}}
    assert stat.S_IMODE(os.stat(cfg / "config.json").st_mode) == 0o600


def test_login_to_docker_hub_by_default_and_logout(
    login_daemon: tuple[str, FakeSystem], tmp_path: Path
) -> None:
    host, fake = login_daemon
    code, _, err = run(host, tmp_path, "login", "-u", "alice", "-p", "secret")
    assert code == 0
    assert "WARNING! Using --password via the CLI is insecure" in err
    assert fake.logins[-1].registry == "docker.io"
    assert list(read(tmp_path)["auths"]) == ["https://index.docker.io/v1/"]

    code, out, _ = run(host, tmp_path, "logout", "index.docker.io")
    assert (code, out) == (0, "Removing login credentials for https://index.docker.io/v1/\n")
    assert read(tmp_path) == {"auths": {}}
    code, out, _ = run(host, tmp_path, "logout")
    assert (code, out) == (0, "Not logged in to https://index.docker.io/v1/\n")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["login"], 1, "Cannot perform an interactive login from a non TTY device"),
        (["login", "-u", "a"], 1, "Cannot perform an interactive login from a non TTY device"),
        (["login", "--password-stdin"], 1, "Must provide --username with --password-stdin"),
        (["login", "-u", "a", "-p", "x", "--password-stdin"], 1, "mutually exclusive"),
        (["login", "-u", "a", "--password-stdin"], 1, "Password Required"),
    ],
)
def test_login_usage(tmp_path: Path, argv: list[str], code: int, message: str) -> None:
    # Never reaches a daemon: the address is a socket that does not exist.
    got, _, err = run(f"unix://{tmp_path}/none.sock", tmp_path, *argv)
    assert got == code
    assert message in err
    assert not (tmp_path / "config.json").exists()
