"""The words of a failed registry request: Go's net/http errors, as docker prints them.

Each failure is real (a closed port, a full accept queue, a TLS handshake with an untrusted
certificate or without the client certificate the server wants); only its wording is checked.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3 as u3

from caisson.registry_proxy import transport
from caisson.registry_proxy.hosts import Hosts
from caisson.registry_proxy.transport import ConnectionFailure, Transport, describe
from tests.support import certs
from tests.support.processes import free_port


def failure(t: Transport, method: str, url: str) -> str:
    with pytest.raises(ConnectionFailure) as e:
        t.send(method, url, {})
    return str(e.value)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Transport]:
    t = Transport(Hosts(certs_dir=str(tmp_path)))
    yield t
    t.clear()


def test_refused_names_the_url_and_the_dialed_address(plain: Transport) -> None:
    port = free_port()
    assert failure(plain, "GET", f"http://127.0.0.1:{port}/v2/") == (
        f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )


def test_the_dialed_port_is_the_schemes_when_the_url_has_none(plain: Transport) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.3", 443)) == 0:
            pytest.skip("something listens on port 443 here")
    assert failure(plain, "HEAD", "https://127.0.0.3/v2/x/manifests/v1") == (
        'Head "https://127.0.0.3/v2/x/manifests/v1": dial tcp 127.0.0.3:443: connect: '
        "connection refused"
    )


def test_connect_timeout_is_an_io_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "CONNECT_TIMEOUT", 0.5)
    t = Transport(Hosts(certs_dir=str(tmp_path)))
    # Linux drops a SYN while the listener's accept queue is full: the connect times out.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        queued = [socket.socket() for _ in range(3)]
        try:
            for s in queued:
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
            assert failure(t, "GET", f"http://127.0.0.1:{port}/v2/") == (
                f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: i/o timeout'
            )
        finally:
            for s in queued:
                s.close()
            t.clear()


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "no such host"),
        (
            socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
            "Temporary failure in name resolution",
        ),
    ],
)
def test_a_name_that_does_not_resolve(error: socket.gaierror, reason: str) -> None:
    """Go's "no such host" for a name the resolver says does not exist, else its own words.
    The resolver's errors are made here: a real lookup would leave 127.0.0.0/8."""
    url = "https://registry.invalid/v2/"
    try:
        try:
            raise error
        except socket.gaierror as e:  # as urllib3's connection raises it
            raise u3.exceptions.NameResolutionError("registry.invalid", None, e) from e  # type: ignore[arg-type]
    except u3.exceptions.NameResolutionError as failed:
        got = describe(u3.exceptions.MaxRetryError(None, "/v2/", failed), "GET", url)  # type: ignore[arg-type]
    assert str(got) == f'Get "{url}": dial tcp: lookup registry.invalid: {reason}'


class _Redirects(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "/again")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirect_loop_stops_in_gos_words(plain: Transport) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirects)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        assert failure(plain, "GET", f"http://127.0.0.1:{port}/v2/") == (
            f'Get "http://127.0.0.1:{port}/again": stopped after 10 redirects'
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> ssl.SSLError:
    """The client's error from a real TLS session with `server_ctx` over a socket pair."""
    a, b = socket.socketpair()

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname="registry.example") as c:
            # TLS 1.3: the server judges the client's certificate after the client's
            # handshake is done; its alert arrives with the first read.
            c.sendall(b"GET /v2/ HTTP/1.1\r\n\r\n")
            c.recv(1)
    except ssl.SSLError as e:
        return e
    finally:
        b.close()
        thread.join()
    raise AssertionError("the handshake succeeded")


def _server_context(tmp_path: Path, want_client_cert: bool) -> ssl.SSLContext:
    keys = certs.self_signed(str(tmp_path), "server", "registry.example")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(keys.cert_path, keys.key_path)
    if want_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(keys.cert_path)
    return ctx


def test_an_untrusted_certificate_is_an_unknown_authority(tmp_path: Path) -> None:
    e = _handshake(_server_context(tmp_path, False), ssl.create_default_context())
    f = describe(e, "GET", "https://registry.example/v2/")
    assert f.tls
    assert (
        str(f)
        == 'Get "https://registry.example/v2/": x509: certificate signed by unknown authority'
    )


def test_a_servers_alert_is_a_remote_error(tmp_path: Path) -> None:
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    e = _handshake(_server_context(tmp_path, True), client)
    f = describe(e, "GET", "https://registry.example/v2/")
    assert f.tls
    assert str(f) == 'Get "https://registry.example/v2/": remote error: tls: certificate required'
