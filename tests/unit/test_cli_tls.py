"""Docker's TLS flags and files: --tlsverify/--tlscacert/--tlscert/--tlskey and
$CAISSON_TLS_VERIFY with ca.pem/cert.pem/key.pem in $CAISSON_CERT_PATH, against a fake
daemon serving mutual TLS on 127.0.0.1."""

from __future__ import annotations

import io
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from caisson import server
from caisson.cli import app, client
from caisson.cli.errors import CLIError, UsageError
from caisson_api.daemon.v1 import daemon_pb2, daemon_pb2_grpc
from tests.support.certs import self_signed


class FakeImages(daemon_pb2_grpc.ImagesServicer):
    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        return daemon_pb2.ListImagesResponse(
            images=[daemon_pb2.ImageSummary(id="sha256:" + "ab" * 32)]
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tls_daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A mutual-TLS daemon; returns its address and a cert dir laid out as docker's."""
    srv_pair = self_signed(str(tmp_path), "server", "caisson-daemon")
    cli_pair = self_signed(str(tmp_path), "client", "caisson-client")
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(srv_pair.cert_path, certs / "ca.pem")
    shutil.copy(cli_pair.cert_path, certs / "cert.pem")
    shutil.copy(cli_pair.key_path, certs / "key.pem")
    srv = server.Server("fake-daemon", max_workers=2)
    srv.add(daemon_pb2_grpc.add_ImagesServicer_to_server, FakeImages(), "caisson.daemon.v1.Images")
    address = server.Address("tcp", host="127.0.0.1", port=free_port())
    tls = server.TLSConfig(
        ca=cli_pair.cert_path, cert=srv_pair.cert_path, key=srv_pair.key_path, verify=True
    )
    srv.listen(address, tls)
    srv.start()
    try:
        yield str(address), certs
    finally:
        srv.stop(0)


def run(argv: list[str], environ: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = app.run(argv, stdout=out, stderr=err, environ=environ)
    return code, out.getvalue(), err.getvalue()


def test_tlsverify_with_files_in_the_cert_path(tls_daemon: tuple[str, Path]) -> None:
    host, certs = tls_daemon
    env = {"CAISSON_TLS_VERIFY": "1", "CAISSON_CERT_PATH": str(certs)}
    assert run(["-H", host, "images", "-q"], env) == (0, "abababababab\n", "")


def test_tls_files_named_by_flags(tls_daemon: tuple[str, Path]) -> None:
    host, certs = tls_daemon
    argv = [
        "-H", host, "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
        "--tlscert", str(certs / "cert.pem"), "--tlskey", str(certs / "key.pem"),
        "images", "-q",
    ]  # fmt: skip
    assert run(argv, {"CAISSON_CERT_PATH": "/nonexistent"})[0] == 0


def test_plain_client_cannot_talk_to_a_tls_daemon(tls_daemon: tuple[str, Path]) -> None:
    host, _ = tls_daemon
    code, out, err = run(["-H", host, "images"], {})
    assert code == 1 and out == ""
    assert err.startswith(f"Cannot connect to the Caisson daemon at {host}")
    assert len(err.splitlines()) == 1


def test_tls_options(tmp_path: Path) -> None:
    assert client.tls_config(client.TLSOptions(), str(tmp_path)) is None
    (tmp_path / "ca.pem").write_text("x")
    cfg = client.tls_config(client.TLSOptions(tls=True), str(tmp_path))
    assert cfg == server.TLSConfig(ca=str(tmp_path / "ca.pem"), verify=True)
    with pytest.raises(UsageError, match="together"):
        client.tls_config(client.TLSOptions(verify=True, cert="c.pem"), str(tmp_path))
    with pytest.raises(CLIError, match="could not read --tlscacert"):
        client.tls_config(client.TLSOptions(verify=True, cacert="/nonexistent"), str(tmp_path))
