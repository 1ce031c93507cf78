"""The `caisson-registry-proxy` process over gRPC: health, Info, Pull's event stream, error
codes, Login, cancellation by the client, SIGTERM, and running as an unprivileged user."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from caisson.content import ContentStore
from caisson_api.registry.v1 import registry_pb2, registry_pb2_grpc
from tests.support.catalog import client_for
from tests.support.client import RegistryClient
from tests.support.faults import FaultProxy
from tests.support.images import files_layer, make_image
from tests.support.processes import public_tempdir, remove_tree, wait_for
from tests.support.registry import Registry

PROXY_BIN = os.path.join(os.path.dirname(sys.executable), "caisson-registry-proxy")
S = registry_pb2.LayerState


class ProxyProcess:
    def __init__(self, base: str, *args: str) -> None:
        self.base = base
        self.socket = os.path.join(base, "run", "registry-proxy.sock")
        self.content = ContentStore(os.path.join(base, "content"))
        self.log_path = os.path.join(base, "proxy.log")
        cmd = [
            PROXY_BIN,
            "--listen",
            f"unix://{self.socket}",
            "--content-root",
            self.content.root,
            "--certs-dir",
            os.path.join(base, "certs.d"),
            *args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.channel = grpc.insecure_channel(f"unix:{self.socket}")
        self.stub = registry_pb2_grpc.RegistryStub(self.channel)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            with contextlib.suppress(grpc.RpcError):
                resp = health_pb2_grpc.HealthStub(self.channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            time.sleep(0.05)
        raise AssertionError("registry proxy did not become healthy: " + self.log())

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def pull(self, ref: str, **kw: object) -> list[registry_pb2.PullEvent]:
        return list(self.stub.Pull(registry_pb2.PullRequest(reference=ref, **kw), timeout=60))

    def stop(self) -> int:
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("registry proxy ignored SIGTERM") from None
        return self.proc.returncode


@pytest.fixture
def start_proxy() -> Iterator[Callable[..., ProxyProcess]]:
    made: list[tuple[ProxyProcess, str]] = []

    def start(*args: str, owner: str | None = None) -> ProxyProcess:
        base = public_tempdir("caisson-proxy-")
        if owner is not None:
            pw = pwd.getpwnam(owner)
            os.chown(base, pw.pw_uid, pw.pw_gid)
        p = ProxyProcess(base, *args)
        made.append((p, base))
        return p

    yield start
    for p, base in made:
        with contextlib.suppress(AssertionError):
            p.stop()
        remove_tree(base)


def test_health_info_and_a_pull_stream(
    registry: Registry,
    pusher: RegistryClient,
    repo_name: str,
    start_proxy: Callable[..., ProxyProcess],
) -> None:
    image = make_image([files_layer({"a": os.urandom(300_000)}), files_layer({"b": b"b"})])
    pusher.push_image(repo_name, "v1", image)
    proxy = start_proxy(
        "--insecure-registry",
        "10.0.0.0/8",
        "--registry-mirror",
        "https://mirror.example",
        "--max-concurrent-downloads",
        "2",
    )
    info = proxy.stub.Info(empty_pb2.Empty())
    assert info.content_root == proxy.content.root
    assert list(info.insecure_registries) == ["10.0.0.0/8"]
    assert list(info.mirrors) == ["https://mirror.example"]
    assert info.max_concurrent_downloads == 2
    assert info.uid == os.getuid()
    assert info.version

    events = proxy.pull(f"{registry.host}/{repo_name}:v1")
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "resolved" and kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"layer"}
    resolved = events[0].resolved
    assert resolved.manifest.digest == image.digest
    assert [x.digest for x in resolved.layers] == image.layer_digests
    assert not resolved.HasField("index")
    assert events[-1].done.manifest.digest == image.digest
    for digest in image.layer_digests:
        states = [e.layer.state for e in events[1:-1] if e.layer.digest == digest]
        assert states[0] == S.LAYER_STATE_WAITING
        assert states[-2:] == [S.LAYER_STATE_VERIFYING, S.LAYER_STATE_DOWNLOADED]
        assert proxy.content.exists(digest)

    again = proxy.pull(f"{registry.host}/{repo_name}:v1")
    assert [e.layer.state for e in again[1:-1]] == [S.LAYER_STATE_EXISTS] * 2

    log = proxy.log()
    assert "pull started" in log and "pull finished" in log and "blob downloaded" in log
    assert proxy.stop() == 0
    assert not os.path.exists(proxy.socket)


def test_errors_become_status_codes(
    registry: Registry, start_proxy: Callable[..., ProxyProcess]
) -> None:
    proxy = start_proxy()
    cases = [
        ("NOPE", grpc.StatusCode.INVALID_ARGUMENT, "invalid reference format"),
        (f"{registry.host}/no/such:v1", grpc.StatusCode.NOT_FOUND, "manifest for"),
        (
            "127.0.0.1:1/x:v1",
            grpc.StatusCode.UNAVAILABLE,
            'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
        ),
    ]
    for ref, code, text in cases:
        with pytest.raises(grpc.RpcError) as e:
            proxy.pull(ref)
        assert e.value.code() == code, ref
        assert text in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        proxy.pull(f"{registry.host}/x:v1", max_concurrent_downloads=-1)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_login(registry: Registry, start_proxy: Callable[..., ProxyProcess]) -> None:
    proxy = start_proxy()
    resp = proxy.stub.Login(
        registry_pb2.LoginRequest(
            registry=registry.host, auth=registry_pb2.AuthConfig(username="u", password="p")
        )
    )
    assert resp.status == "Login Succeeded"


def test_client_going_away_stops_the_download_and_a_new_pull_resumes(
    registry: Registry,
    pusher: RegistryClient,
    repo_name: str,
    start_proxy: Callable[..., ProxyProcess],
    faults: FaultProxy,
) -> None:
    image = make_image([files_layer({"a": os.urandom(3 * 1024 * 1024)})])
    pusher.push_image(repo_name, "v1", image)
    digest = image.layer_digests[0]
    faults.stall_blob(digest, after=2 * 1024 * 1024)
    proxy = start_proxy()
    call = proxy.stub.Pull(registry_pb2.PullRequest(reference=f"{faults.host}/{repo_name}:v1"))
    for event in call:
        if event.WhichOneof("event") == "layer" and event.layer.state == S.LAYER_STATE_DOWNLOADING:
            break
    wait_for(lambda: faults.stalled(digest), 20, what="the stalled download")
    call.cancel()
    wait_for_log(proxy, "pull cancelled")
    faults.release()  # the download thread sees the pull is gone at its next chunk
    wait_for_log(proxy, "blob download stopped")
    assert os.path.getsize(proxy.content.ingest_path(digest)) > 0
    assert not proxy.content.exists(digest)

    proxy.pull(f"{faults.host}/{repo_name}:v1")
    assert faults.blob_records(digest)[-1].headers.get("Range", "").startswith("bytes=")
    assert proxy.content.exists(digest)


def wait_for_log(proxy: ProxyProcess, text: str) -> None:
    deadline = time.monotonic() + 20
    while text not in proxy.log():
        assert time.monotonic() < deadline, f"{text!r} not logged: {proxy.log()}"
        time.sleep(0.05)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")
def test_drops_to_nobody_and_still_does_everything(
    registry: Registry,
    pusher: RegistryClient,
    repo_name: str,
    token_registry: tuple[Registry, RegistryClient],
    new_registry: Callable[..., Registry],
    start_proxy: Callable[..., ProxyProcess],
) -> None:
    """As a root daemon starts it: `--user nobody`. After the drop the interpreter's own
    directory may be unreadable (a venv under /root), so every path that could import a
    module late is walked here: plain HTTP, token auth, TLS with a client certificate,
    errors, login, reflection."""
    nobody = pwd.getpwnam("nobody").pw_uid
    plain = pusher.push_image(repo_name, "v1", make_image([files_layer({"n": b"nobody"})]))
    token_reg, _ = token_registry
    tls_reg = new_registry(tls=True, client_certs=True)
    secure = make_image([files_layer({"t": b"tls"})])
    client_for(tls_reg).push_image("tls/img", "v1", secure)

    proxy = start_proxy("--user", "nobody", owner="nobody")
    host_dir = os.path.join(proxy.base, "certs.d", tls_reg.host)
    os.makedirs(host_dir)
    for path in tls_reg.client_files():
        shutil.copy(path, host_dir)
        os.chmod(os.path.join(host_dir, os.path.basename(path)), 0o644)

    assert proxy.stub.Info(empty_pb2.Empty()).uid == nobody
    proxy.pull(f"{registry.host}/{repo_name}:v1")
    proxy.pull(
        f"{token_reg.host}/priv/img:v1",
        auth=registry_pb2.AuthConfig(username="alice", password="wonderland"),
    )
    proxy.pull(f"{tls_reg.host}/tls/img:v1")
    with pytest.raises(grpc.RpcError) as e:
        proxy.pull(f"{token_reg.host}/priv/img:v1")
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    login = proxy.stub.Login(
        registry_pb2.LoginRequest(
            registry=token_reg.host,
            auth=registry_pb2.AuthConfig(username="alice", password="wonderland"),
        )
    )
    assert login.status == "Login Succeeded"
    services = reflection_pb2_grpc.ServerReflectionStub(proxy.channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = [s.name for r in services for s in r.list_services_response.service]
    assert "caisson.registry.v1.Registry" in names

    for digest in (plain.layer_digests[0], secure.layer_digests[0]):
        assert os.stat(proxy.content.path(digest)).st_uid == nobody
    written = sorted(
        os.path.relpath(os.path.join(d, n), proxy.base)
        for d, dirs, files in os.walk(proxy.base)
        for n in dirs + files
        if os.stat(os.path.join(d, n)).st_uid == nobody
    )
    assert all(w.startswith(("content", "run")) for w in written), written
    log = proxy.log()
    assert "Traceback" not in log and "Error" not in log, log
    assert proxy.stop() == 0


@pytest.mark.parametrize(
    ("args", "rc", "message"),
    [
        (["--registry-mirror", "mirror.example"], 1, "invalid registry mirror 'mirror.example'"),
        (["--insecure-registry", "a/b/c"], 1, "invalid insecure registry 'a/b/c'"),
        (["--listen", "tcp://nowhere"], 1, "expected tcp://HOST:PORT"),
        (["--max-concurrent-downloads", "0"], 2, "must be at least 1"),
    ],
)
def test_bad_flags_fail_clearly(tmp_path: object, args: list[str], rc: int, message: str) -> None:
    result = subprocess.run(
        [PROXY_BIN, "--content-root", os.path.join(str(tmp_path), "content"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == rc
    assert message in result.stderr
    assert not os.path.exists(os.path.join(str(tmp_path), "content"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")
def test_started_alone_as_root_it_hands_its_directories_to_the_user(
    registry: Registry,
    pusher: RegistryClient,
    repo_name: str,
    start_proxy: Callable[..., ProxyProcess],
) -> None:
    """As docker-compose.yml starts it: root-owned directories, `--user nobody`."""
    nobody = pwd.getpwnam("nobody").pw_uid
    pusher.push_image(repo_name, "v1", make_image([files_layer({"n": b"alone"})]))
    proxy = start_proxy("--user", "nobody")
    assert proxy.stub.Info(empty_pb2.Empty()).uid == nobody
    proxy.pull(f"{registry.host}/{repo_name}:v1")
    assert os.stat(proxy.content.blobs).st_uid == nobody
