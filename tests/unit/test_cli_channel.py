"""caisson.cli.channel (gRPC without grpcio) and caisson.cli.http2, against real grpcio servers
on a unix socket, on TCP and with mutual TLS, and against a scripted HTTP/2 peer for what a
grpcio server never sends (CONTINUATION, padding, PINGs mid-response, RST_STREAM codes...)."""

from __future__ import annotations

import ast
import hashlib
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from caisson.addresses import Address, TLSConfig
from caisson.cli import channel, http2
from caisson.cli.channel import Channel, ConnectError, RpcError, StatusCode
from caisson_api.daemon.v1 import containers_pb2, containers_pb2_grpc
from tests.support.certs import client_cert, self_signed

MiB = 1 << 20
LONG_NAME = "caisson.daemon.v1.Containers" * 8
OPTIONS = [
    ("grpc.max_send_message_length", 64 * MiB),
    ("grpc.max_receive_message_length", 64 * MiB),
]


@dataclass
class Observed:
    """What the servicers saw, for the tests to check."""

    ended: threading.Event = field(default_factory=threading.Event)
    uploads: list[bytes] = field(default_factory=list)


def echo_handler(seen: Observed) -> grpc.GenericRpcHandler:
    """Methods of a made-up service test.Echo, on raw bytes."""

    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        return request

    def fail(request: bytes, context: grpc.ServicerContext) -> bytes:
        code, _, message = request.decode().partition(":")
        context.abort(grpc.StatusCode[code], message)

    def sleep(request: bytes, context: grpc.ServicerContext) -> bytes:
        deadline = time.monotonic() + float(request)
        while context.is_active() and time.monotonic() < deadline:
            time.sleep(0.01)
        return b"woke"

    def metadata(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen = {"metadata": dict(context.invocation_metadata())}
        seen["remaining"] = context.time_remaining()
        return repr(seen).encode()

    def peer(request: bytes, context: grpc.ServicerContext) -> bytes:
        return context.peer().encode()

    def count(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        n, size = map(int, request.split())
        for i in range(n):
            yield i.to_bytes(4, "big") * (size // 4)

    def forever(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        context.add_callback(seen.ended.set)
        while context.is_active():
            yield b"tick"
            time.sleep(0.005)

    def abort_midway(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for i in range(5):
            yield b"%d" % i
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "stopped after 5")

    def upload(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        digest, size = hashlib.sha256(), 0
        for chunk in requests:
            digest.update(chunk)
            size += len(chunk)
        return f"{size} {digest.hexdigest()}".encode()

    def chat(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        for request in requests:
            yield b"echo " + request

    def stall(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        """Reads no request, so the client soon runs out of window."""
        while context.is_active():
            time.sleep(0.01)
        yield from ()

    return grpc.method_handlers_generic_handler(
        "test.Echo",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
            "Metadata": grpc.unary_unary_rpc_method_handler(metadata),
            "Peer": grpc.unary_unary_rpc_method_handler(peer),
            "Count": grpc.unary_stream_rpc_method_handler(count),
            "Forever": grpc.unary_stream_rpc_method_handler(forever),
            "AbortMidway": grpc.unary_stream_rpc_method_handler(abort_midway),
            "Upload": grpc.stream_unary_rpc_method_handler(upload),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
            "Stall": grpc.stream_stream_rpc_method_handler(stall),
        },
    )


class FakeContainers(containers_pb2_grpc.ContainersServicer):
    def __init__(self, seen: Observed) -> None:
        self.seen = seen

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        ids = ["all" if request.all else "running", *request.filters]
        return containers_pb2.ListContainersResponse(
            containers=[containers_pb2.ContainerSummary(id=i) for i in ids]
        )

    def Logs(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        for i in range(3):
            yield containers_pb2.LogChunk(data=f"{request.container} line {i}\n".encode())

    def CopyTo(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        for request in requests:
            if request.WhichOneof("request") == "data":
                self.seen.uploads.append(request.data)
        from google.protobuf import empty_pb2

        return empty_pb2.Empty()


@dataclass
class Server:
    unix: Address
    tcp: Address
    seen: Observed
    health: health.HealthServicer
    grpc_server: grpc.Server


def start_server(socket_path: str) -> Server:
    seen = Observed()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=OPTIONS)
    srv.add_generic_rpc_handlers((echo_handler(seen),))
    containers_pb2_grpc.add_ContainersServicer_to_server(FakeContainers(seen), srv)
    checker = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, srv)
    checker.set("", health_pb2.HealthCheckResponse.SERVING)
    checker.set("sleepy", health_pb2.HealthCheckResponse.NOT_SERVING)
    checker.set(LONG_NAME, health_pb2.HealthCheckResponse.SERVING)
    srv.add_insecure_port(f"unix:{socket_path}")
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    return Server(
        Address("unix", path=socket_path), Address("tcp", host="127.0.0.1", port=port), seen,
        checker, srv,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(str(tmp_path_factory.mktemp("grpc") / "echo.sock"))
    yield srv
    srv.grpc_server.stop(None).wait()


def our_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("caisson-")}


@pytest.fixture
def channels() -> Iterator[Callable[..., Channel]]:
    """Makes channels; closes them at the end and checks that none left a thread behind."""
    before = our_threads()
    made: list[Channel] = []

    def make(address: Address, tls: TLSConfig | None = None) -> Channel:
        made.append(Channel(address, tls))
        return made[-1]

    yield make
    for ch in made:
        ch.close()
    deadline = time.monotonic() + 5
    while our_threads() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not our_threads() - before


@pytest.fixture(params=["unix", "tcp"])
def ch(request: pytest.FixtureRequest, server: Server, channels: Callable[..., Channel]) -> Channel:
    return channels(getattr(server, request.param))


# -- calls -----------------------------------------------------------------------------------


def test_unary_call(ch: Channel) -> None:
    echo = ch.unary_unary("/test.Echo/Unary")
    assert echo(b"hello") == b"hello"
    assert echo(b"") == b""
    assert echo(b"again", timeout=5) == b"again"


def test_error_status_keeps_a_non_ascii_message(ch: Channel) -> None:
    message = "no such container: «café» ✓ 100% done\nsecond line"
    with pytest.raises(RpcError) as caught:
        ch.unary_unary("/test.Echo/Fail")(f"NOT_FOUND:{message}".encode())
    assert caught.value.code() == StatusCode.NOT_FOUND
    assert caught.value.details() == message
    assert str(caught.value) == f"NOT_FOUND: {message}"
    assert not isinstance(caught.value, ConnectError)


def test_unary_stream_of_many_messages(ch: Channel) -> None:
    call = ch.unary_stream("/test.Echo/Count")(b"2000 8")
    received = list(call)
    assert received == [i.to_bytes(4, "big") * 2 for i in range(2000)]
    assert call.code() == StatusCode.OK
    assert call.details() == ""


@pytest.mark.parametrize("size", [20 << 10, 6 * MiB])
def test_large_messages_both_ways(ch: Channel, size: int) -> None:
    data = os.urandom(size)
    assert ch.unary_unary("/test.Echo/Unary")(data) == data
    # The response side alone, many large messages in a row.
    call = ch.unary_stream("/test.Echo/Count")(f"4 {size}".encode())
    assert [len(m) for m in call] == [size] * 4


def test_client_stream_upload_larger_than_the_windows(ch: Channel) -> None:
    chunks = [os.urandom(64 << 10) for _ in range(160)]  # 10 MiB
    reply = ch.stream_unary("/test.Echo/Upload")(iter(chunks))
    expected = hashlib.sha256(b"".join(chunks)).hexdigest()
    assert reply == f"{10 * MiB} {expected}".encode()


def test_bidi_requests_are_produced_while_responses_are_read(ch: Channel) -> None:
    """As `caisson run -i`: the next request exists only once the last response arrived."""
    requests: queue.Queue[bytes | None] = queue.Queue()

    def produce() -> Iterator[bytes]:
        while (item := requests.get()) is not None:
            yield item

    call = ch.stream_stream("/test.Echo/Chat")(produce())
    requests.put(b"0")
    replies = []
    for reply in call:
        replies.append(reply)
        n = len(replies)
        requests.put(b"%d" % n if n < 50 else None)
    assert replies == [b"echo %d" % i for i in range(50)]
    assert call.code() == StatusCode.OK


def test_cancel_mid_stream(ch: Channel, server: Server) -> None:
    server.seen.ended.clear()
    call = ch.unary_stream("/test.Echo/Forever")(b"")
    assert [next(call) for _ in range(3)] == [b"tick"] * 3
    assert call.cancel() is True
    with pytest.raises(RpcError) as caught:
        for _ in range(10_000):  # what was already received may come first, as with grpc
            next(call)
    assert caught.value.code() == StatusCode.CANCELLED
    assert call.code() == StatusCode.CANCELLED
    assert call.cancel() is False
    assert server.seen.ended.wait(5), "the server did not see the cancellation"
    # The connection is still good for other calls.
    assert ch.unary_unary("/test.Echo/Unary")(b"after") == b"after"


def test_cancel_from_another_thread_wakes_the_reader(ch: Channel) -> None:
    """As `caisson run`'s detach keys: the stdin thread cancels the call while the main thread
    waits for a response that is not coming."""
    requests: queue.Queue[bytes | None] = queue.Queue()
    call = ch.stream_stream("/test.Echo/Chat")(iter(requests.get, None))
    canceller = threading.Timer(0.2, call.cancel)
    canceller.start()
    started = time.monotonic()
    with pytest.raises(RpcError) as caught:
        next(call)
    assert caught.value.code() == StatusCode.CANCELLED
    assert time.monotonic() - started < 5
    canceller.join()
    requests.put(None)  # ends the request thread, as attach.run does


def test_cancel_stops_a_sender_waiting_for_window(ch: Channel) -> None:
    """The request thread blocked on flow control ends with the call, not with the channel."""

    def senders() -> set[threading.Thread]:
        return {t for t in our_threads() if t.name == "caisson-grpc-requests"}

    before = senders()
    sent = []

    def requests() -> Iterator[bytes]:
        for i in range(400):  # 25 MiB, more than the server's windows
            sent.append(i)
            yield bytes(64 << 10)

    call = ch.stream_stream("/test.Echo/Stall")(requests())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(sent) < 2:
        time.sleep(0.01)
    time.sleep(0.3)
    assert 2 <= len(sent) < 400
    call.cancel()
    assert call.code() == StatusCode.CANCELLED
    deadline = time.monotonic() + 5
    while senders() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not senders() - before


def test_empty_streams(ch: Channel) -> None:
    assert list(ch.stream_stream("/test.Echo/Chat")(iter(()))) == []
    assert list(ch.unary_stream("/test.Echo/Count")(b"0 0")) == []
    assert ch.stream_unary("/test.Echo/Upload")(iter(())) == (
        b"0 " + hashlib.sha256().hexdigest().encode()
    )


def test_deadline_exceeded(ch: Channel) -> None:
    started = time.monotonic()
    with pytest.raises(RpcError) as caught:
        ch.unary_unary("/test.Echo/Sleep")(b"10", timeout=0.3)
    assert caught.value.code() == StatusCode.DEADLINE_EXCEEDED
    assert 0.25 < time.monotonic() - started < 3
    call = ch.unary_stream("/test.Echo/Forever")(b"", timeout=0.3)
    with pytest.raises(RpcError) as caught:
        list(call)
    assert caught.value.code() == StatusCode.DEADLINE_EXCEEDED


def test_metadata_and_timeout_reach_the_server(ch: Channel) -> None:
    metadata = [("X-Caisson-Client", "cli"), ("trace-bin", b"\x00\xff\x10")]
    reply = ch.unary_unary("/test.Echo/Metadata")(b"", timeout=30, metadata=metadata)
    seen = ast.literal_eval(reply.decode())
    assert seen["metadata"]["x-caisson-client"] == "cli"
    assert seen["metadata"]["trace-bin"] == b"\x00\xff\x10"
    assert seen["metadata"]["user-agent"].startswith("caisson-cli")
    assert 25 < seen["remaining"] <= 30


def test_server_abort_in_the_middle_of_a_stream(ch: Channel) -> None:
    call = ch.unary_stream("/test.Echo/AbortMidway")(b"")
    received = []
    with pytest.raises(RpcError) as caught:
        for message in call:
            received.append(message)
    assert received == [b"0", b"1", b"2", b"3", b"4"]
    assert caught.value.code() == StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == "stopped after 5"
    assert (call.code(), call.details()) == (StatusCode.FAILED_PRECONDITION, "stopped after 5")


def test_unknown_method(ch: Channel) -> None:
    with pytest.raises(RpcError) as caught:
        ch.unary_unary("/test.Echo/Nope")(b"")
    assert caught.value.code() == StatusCode.UNIMPLEMENTED
    with pytest.raises(RpcError) as caught:
        list(ch.stream_stream("/test.Missing/Chat")(iter([b"x"])))
    assert caught.value.code() == StatusCode.UNIMPLEMENTED


def test_request_iterator_failure_ends_the_call(ch: Channel) -> None:
    def broken() -> Iterator[bytes]:
        yield b"one"
        raise RuntimeError("boom")

    with pytest.raises(RpcError) as caught:
        ch.stream_unary("/test.Echo/Upload")(broken())
    assert caught.value.code() == StatusCode.UNKNOWN


def test_concurrent_calls_share_one_connection(
    server: Server, channels: Callable[..., Channel]
) -> None:
    ch = channels(server.tcp)
    echo, peer = ch.unary_unary("/test.Echo/Unary"), ch.unary_unary("/test.Echo/Peer")
    peers: set[bytes] = set()
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                data = b"%d-%d" % (n, i) * (i + 1)
                assert echo(data, timeout=10) == data
            peers.add(peer(b""))
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    stream = ch.unary_stream("/test.Echo/Count")(b"500 1000")
    assert len(list(stream)) == 500
    for t in threads:
        t.join()
    assert not failures
    assert len(peers) == 1, peers


def test_stub_from_a_service_descriptor(ch: Channel, server: Server) -> None:
    stub = channel.stub(ch, containers_pb2.DESCRIPTOR.services_by_name["Containers"])
    listed = stub.List(containers_pb2.ListContainersRequest(all=True, filters=["name=x"]))
    assert [c.id for c in listed.containers] == ["all", "name=x"]
    logs = stub.Logs(containers_pb2.LogsRequest(container="web"))
    assert [c.data for c in logs] == [b"web line 0\n", b"web line 1\n", b"web line 2\n"]
    server.seen.uploads.clear()
    requests = [
        containers_pb2.CopyToRequest(open=containers_pb2.CopyToOpen(container="web", path="/")),
        containers_pb2.CopyToRequest(data=b"tar bytes"),
    ]
    stub.CopyTo(iter(requests))
    assert server.seen.uploads == [b"tar bytes"]
    with pytest.raises(RpcError) as caught:
        stub.Start(containers_pb2.ContainerRef(container="x"))
    assert caught.value.code() == StatusCode.UNIMPLEMENTED


def test_health_check_against_grpc_health_servicer(ch: Channel) -> None:
    assert channel.health_status(ch) == "SERVING"
    assert channel.health_status(ch, "sleepy") == "NOT_SERVING"
    assert channel.health_status(ch, LONG_NAME) == "SERVING"  # a length of two varint bytes
    assert channel.health_status(ch, "nobody") == "UNREACHABLE: NOT_FOUND"


# -- connecting ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_socket_is_a_connect_error(
    tmp_path: Path, channels: Callable[..., Channel]
) -> None:
    path = str(tmp_path / "nobody.sock")
    ch = channels(Address("unix", path=path))
    with pytest.raises(ConnectError) as caught:
        ch.unary_unary("/test.Echo/Unary")(b"")
    assert caught.value.code() == StatusCode.UNAVAILABLE
    assert caught.value.details() == f"connect unix:{path}: No such file or directory"
    status = channel.health_status(ch)
    assert status == f"UNREACHABLE: connect unix:{path}: No such file or directory"


def test_a_stream_that_cannot_connect_fails_when_iterated(
    tmp_path: Path, channels: Callable[..., Channel]
) -> None:
    """As grpc's: making a streaming call never raises, reading it does."""
    ch = channels(Address("unix", path=str(tmp_path / "nobody.sock")))
    for call in (
        ch.unary_stream("/test.Echo/Count")(b"1 1"),
        ch.stream_stream("/test.Echo/Bidi")(iter([b"x"])),
    ):
        with pytest.raises(ConnectError):
            next(iter(call))
        assert call.code() == StatusCode.UNAVAILABLE
        assert call.cancel() is False


def test_refused_port_is_a_connect_error(channels: Callable[..., Channel]) -> None:
    port = free_port()
    ch = channels(Address("tcp", host="127.0.0.1", port=port))
    with pytest.raises(ConnectError) as caught:
        list(ch.unary_stream("/test.Echo/Count")(b"1 4"))
    assert caught.value.details() == f"connect 127.0.0.1:{port}: Connection refused"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to become another user")
def test_socket_of_another_user_is_a_connect_error(
    tmp_path: Path, channels: Callable[..., Channel]
) -> None:
    path = str(tmp_path / "root-only.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen()
        ch = channels(Address("unix", path=path))
        os.seteuid(65534)  # nobody, for the connect only: root would be let in
        try:
            with pytest.raises(ConnectError) as caught:
                ch.unary_unary("/test.Echo/Unary")(b"")
        finally:
            os.seteuid(0)
    assert caught.value.details() == f"connect unix:{path}: Permission denied"


class ClientLeft(Exception):
    pass


class Peer:
    """A unix socket server running `serve(connection)` for each connection, in a thread."""

    def __init__(self, path: str, serve: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen()
        self.address = Address("unix", path=path)
        self.errors: list[BaseException] = []
        self._serve = serve
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                try:
                    self._serve(conn)
                except ClientLeft:
                    pass
                except (OSError, AssertionError) as e:
                    self.errors.append(e)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(5)


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Callable[[Callable[[socket.socket], None]], Peer]]:
    made: list[Peer] = []

    def make(serve: Callable[[socket.socket], None]) -> Peer:
        made.append(Peer(str(tmp_path / f"peer{len(made)}.sock"), serve))
        return made[-1]

    yield make
    for peer in made:
        peer.close()
    assert not [e for peer in made for e in peer.errors]


def http1(conn: socket.socket) -> None:
    conn.recv(1024)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def ssh(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    while conn.recv(1024):  # stays connected: the client must not wait for more
        pass


def silent(conn: socket.socket) -> None:
    while conn.recv(1024):
        pass


@pytest.mark.parametrize("serve", [http1, ssh], ids=["http1", "ssh"])
def test_peer_that_is_not_http2_is_a_connect_error(
    peers: Callable[..., Peer], channels: Callable[..., Channel], serve: Callable[..., None]
) -> None:
    peer = peers(serve)
    ch = channels(peer.address)
    started = time.monotonic()
    with pytest.raises(ConnectError) as caught:
        ch.unary_unary("/test.Echo/Unary")(b"")
    assert caught.value.code() == StatusCode.UNAVAILABLE
    assert (
        caught.value.details()
        == f"connect unix:{peer.address.path}: the peer is not an HTTP/2 server"
    )
    assert time.monotonic() - started < 1.5


def test_silent_peer_is_bounded_by_the_deadline(
    peers: Callable[..., Peer], channels: Callable[..., Channel]
) -> None:
    ch = channels(peers(silent).address)
    started = time.monotonic()
    assert channel.health_status(ch, timeout=0.3) == "UNREACHABLE: Deadline Exceeded"
    assert time.monotonic() - started < 1.5


def test_reconnects_after_the_server_restarts(
    tmp_path: Path, channels: Callable[..., Channel]
) -> None:
    path = str(tmp_path / "restarting.sock")
    first = start_server(path)
    ch = channels(first.unix)
    echo = ch.unary_unary("/test.Echo/Unary")
    try:
        assert echo(b"one") == b"one"
        running = ch.unary_stream("/test.Echo/Forever")(b"")
        next(running)
    finally:
        first.grpc_server.stop(None).wait()
    with pytest.raises(RpcError) as caught:
        list(running)
    assert caught.value.code() == StatusCode.UNAVAILABLE
    with pytest.raises(ConnectError):
        echo(b"down")
    second = start_server(path)
    try:
        assert echo(b"two") == b"two"
    finally:
        second.grpc_server.stop(None).wait()


def test_calls_on_a_closed_channel(server: Server) -> None:
    ch = Channel(server.unix)
    running = ch.unary_stream("/test.Echo/Forever")(b"")
    next(running)
    ch.close()
    with pytest.raises(RpcError) as caught:
        list(running)
    assert caught.value.code() == StatusCode.CANCELLED
    with pytest.raises(ValueError):
        ch.unary_unary("/test.Echo/Unary")(b"")


# -- TLS -------------------------------------------------------------------------------------


@dataclass
class TLSServer:
    port: int
    ca: str  # the server's certificate, its own CA
    client_cert: str
    client_key: str
    other_ca: str


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSServer]:
    """Mutual TLS, as `caisson-daemon --tlsverify`, on every local address (IPv4 and IPv6)."""
    d = str(tmp_path_factory.mktemp("tls"))
    server_pair = self_signed(d, "server", "caisson-daemon")
    client_ca = self_signed(d, "client-ca", "caisson client CA")
    client = client_cert(d, client_ca)
    other = self_signed(d, "other", "somebody else")
    credentials = grpc.ssl_server_credentials(
        [(Path(server_pair.key_path).read_bytes(), Path(server_pair.cert_path).read_bytes())],
        root_certificates=Path(client_ca.cert_path).read_bytes(),
        require_client_auth=True,
    )
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=OPTIONS)
    srv.add_generic_rpc_handlers((echo_handler(Observed()),))
    port = srv.add_secure_port("[::]:0", credentials)
    srv.start()
    yield TLSServer(port, server_pair.cert_path, client.cert_path, client.key_path, other.cert_path)
    srv.stop(None).wait()


def test_mutual_tls(tls_server: TLSServer, channels: Callable[..., Channel]) -> None:
    tls = TLSConfig(tls_server.ca, tls_server.client_cert, tls_server.client_key, verify=True)
    for host in ("127.0.0.1", "localhost"):
        ch = channels(Address("tcp", host=host, port=tls_server.port), tls)
        echo = ch.unary_unary("/test.Echo/Unary")
        assert echo(b"secret") == b"secret"
        data = os.urandom(3 * MiB)
        assert echo(data) == data


def test_tls_with_the_wrong_ca_is_a_connect_error(
    tls_server: TLSServer, channels: Callable[..., Channel]
) -> None:
    tls = TLSConfig(tls_server.other_ca, tls_server.client_cert, tls_server.client_key, True)
    ch = channels(Address("tcp", host="127.0.0.1", port=tls_server.port), tls)
    with pytest.raises(ConnectError) as caught:
        ch.unary_unary("/test.Echo/Unary")(b"")
    assert caught.value.code() == StatusCode.UNAVAILABLE
    assert "certificate verify failed" in caught.value.details()


def test_tls_checks_the_server_name(
    tls_server: TLSServer, channels: Callable[..., Channel]
) -> None:
    """The certificate names localhost and 127.0.0.1, not ::1."""
    tls = TLSConfig(tls_server.ca, tls_server.client_cert, tls_server.client_key, verify=True)
    ch = channels(Address("tcp", host="::1", port=tls_server.port), tls)
    with pytest.raises(ConnectError) as caught:
        ch.unary_unary("/test.Echo/Unary")(b"")
    assert "certificate verify failed" in caught.value.details()
    assert "::1" in caught.value.details()


def test_tls_without_a_client_certificate_is_refused(
    tls_server: TLSServer, channels: Callable[..., Channel]
) -> None:
    ch = channels(
        Address("tcp", host="127.0.0.1", port=tls_server.port),
        TLSConfig(tls_server.ca, verify=True),
    )
    with pytest.raises(ConnectError) as caught:
        ch.unary_unary("/test.Echo/Unary")(b"")
    assert caught.value.details().endswith("closed by the peer after the TLS handshake")


def test_unreadable_tls_files_fail_when_the_channel_is_made(tmp_path: Path) -> None:
    missing = str(tmp_path / "ca.pem")
    with pytest.raises(OSError):
        Channel(Address("tcp", host="127.0.0.1", port=1), TLSConfig(ca=missing, verify=True))


# -- a scripted HTTP/2 peer ------------------------------------------------------------------


def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes((ftype, flags)) + sid.to_bytes(4, "big") + payload
    )


def literal(name: bytes, value: bytes, indexing: bool = False) -> bytes:
    """An HPACK literal with a literal name (short strings only, no Huffman)."""
    return (
        bytes((0x40 if indexing else 0,))
        + bytes((len(name),))
        + name
        + bytes((len(value),))
        + value
    )


OK_HEADERS = b"\x88" + literal(b"content-type", b"application/grpc")
OK_TRAILERS = literal(b"grpc-status", b"0")


class Script:
    """The server side of one connection, driven by a test: reads the client's frames."""

    def __init__(self, conn: socket.socket, settings: dict[int, int] | None = None) -> None:
        self.conn = conn
        self.buffer = b""
        self.frames: list[tuple[int, int, int, bytes]] = []  # all read, in order
        assert self.read_exactly(24) == http2.PREFACE
        ftype, flags, _, payload = self.read_frame()
        assert (ftype, flags) == (http2.SETTINGS, 0)
        self.client_settings = {
            int.from_bytes(payload[i : i + 2], "big"): int.from_bytes(payload[i + 2 : i + 6], "big")
            for i in range(0, len(payload), 6)
        }
        ours = b"".join(
            k.to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in (settings or {}).items()
        )
        self.send(frame(http2.SETTINGS, 0, 0, ours))

    def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = self.conn.recv(65536)
            if not data:
                raise ClientLeft
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_frame(self) -> tuple[int, int, int, bytes]:
        head = self.read_exactly(9)
        payload = self.read_exactly(int.from_bytes(head[:3], "big"))
        self.frames.append(
            (head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload)
        )
        return self.frames[-1]

    def wait_for(self, ftype: int, flags: int = 0) -> tuple[int, bytes]:
        """Skips frames until one of this type with these flags; its stream and payload."""
        while True:
            got, got_flags, sid, payload = self.read_frame()
            if got == ftype and got_flags & flags == flags:
                return sid, payload

    def request(self) -> int:
        """Waits for a whole request (its HEADERS, then DATA up to END_STREAM)."""
        sid, _ = self.wait_for(http2.HEADERS)
        self.wait_for(http2.DATA, http2.END_STREAM)
        return sid

    def send(self, *frames: bytes) -> None:
        self.conn.sendall(b"".join(frames))


def message(data: bytes, compressed: bool = False) -> bytes:
    return bytes((compressed,)) + len(data).to_bytes(4, "big") + data


def split_headers_padded_data_and_a_ping(script: Script) -> None:
    sid = script.request()
    block = OK_HEADERS
    script.send(
        frame(http2.HEADERS, 0, sid, block[:3]),
        frame(http2.CONTINUATION, 0, sid, block[3:10]),
        frame(http2.CONTINUATION, http2.END_HEADERS, sid, block[10:]),
        # DATA padded with 3 bytes, the message split over two frames.
        frame(http2.DATA, http2.PADDED, sid, b"\x03" + message(b"hello")[:4] + b"\0\0\0"),
        frame(http2.DATA, 0, sid, message(b"hello")[4:]),
        frame(http2.PING, 0, 0, b"12345678"),
    )
    # The trailers come only once the client answered the PING.
    assert script.wait_for(http2.PING, http2.ACK) == (0, b"12345678")
    script.send(frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, sid, OK_TRAILERS))
    # What the client said on the way: no push, large windows, our SETTINGS acknowledged.
    assert script.client_settings[2] == 0
    assert script.client_settings[4] >= MiB
    assert (http2.SETTINGS, http2.ACK, 0, b"") in script.frames
    assert any(f[0] == http2.WINDOW_UPDATE and f[2] == 0 for f in script.frames)


def windows_and_frame_size(script: Script) -> None:
    """Opens the windows bit by bit and checks the client never sends past them, nor DATA
    frames larger than the default maximum (16384); answers with the size received."""
    connection_window = 65535
    while True:
        sid, _ = script.wait_for(http2.HEADERS)
        received = 0
        stream_window = 1000  # from our SETTINGS
        while True:
            ftype, flags, frame_sid, payload = script.read_frame()
            if ftype != http2.DATA:
                continue
            assert frame_sid == sid
            assert len(payload) <= 16384
            received += len(payload)
            connection_window -= len(payload)
            stream_window -= len(payload)
            assert connection_window >= 0 and stream_window >= 0
            if flags & http2.END_STREAM:
                break
            if not connection_window or not stream_window:  # the client has to wait: open
                connection_window += 30000
                stream_window += 50000
                script.send(
                    frame(http2.WINDOW_UPDATE, 0, 0, (30000).to_bytes(4, "big")),
                    frame(http2.WINDOW_UPDATE, 0, sid, (50000).to_bytes(4, "big")),
                )
        script.send(
            frame(http2.HEADERS, http2.END_HEADERS, sid, OK_HEADERS),
            frame(http2.DATA, 0, sid, message(b"%d" % received)),
            frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, sid, OK_TRAILERS),
        )


def dynamic_table_across_responses(script: Script) -> None:
    """The second response refers to fields the first one added to the dynamic table."""
    sid = script.request()
    headers = b"\x88" + literal(b"content-type", b"application/grpc", indexing=True)
    trailers = literal(b"grpc-status", b"0", indexing=True) + literal(b"grpc-message", b"", True)
    script.send(
        frame(http2.HEADERS, http2.END_HEADERS, sid, headers),
        frame(http2.DATA, 0, sid, message(b"first")),
        frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, sid, trailers),
    )
    sid = script.request()
    # Newest first: 62 grpc-message, 63 grpc-status, 64 content-type.
    script.send(
        frame(http2.HEADERS, http2.END_HEADERS, sid, b"\x88\xc0"),
        frame(http2.DATA, 0, sid, message(b"second")),
        frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, sid, b"\xbf\xbe"),
    )
    script.read_exactly(1 << 30)  # until the client leaves


def respond(*frames: Callable[[int], bytes]) -> Callable[[Script], None]:
    """Answers the first request with frames made for its stream id."""

    def serve(script: Script) -> None:
        sid = script.request()
        script.send(*(make(sid) for make in frames))
        script.read_exactly(1 << 30)

    return serve


def headers(block: bytes, end: bool = True) -> Callable[[int], bytes]:
    flags = http2.END_HEADERS | (http2.END_STREAM if end else 0)
    return lambda sid: frame(http2.HEADERS, flags, sid, block)


def data(payload: bytes) -> Callable[[int], bytes]:
    return lambda sid: frame(http2.DATA, 0, sid, payload)


def reset(code: int) -> Callable[[int], bytes]:
    return lambda sid: frame(http2.RST_STREAM, 0, sid, code.to_bytes(4, "big"))


def goaway(last: int, code: int, debug: bytes) -> Callable[[int], bytes]:
    return lambda _: frame(
        http2.GOAWAY, 0, 0, last.to_bytes(4, "big") + code.to_bytes(4, "big") + debug
    )


def push(sid: int) -> bytes:
    return frame(http2.PUSH_PROMISE, http2.END_HEADERS, sid, (2).to_bytes(4, "big"))


TOO_LARGE = f"Received message larger than max ({65 * MiB} vs. {64 * MiB})"
DENIED = OK_HEADERS + literal(b"grpc-status", b"7") + literal(b"grpc-message", b"no%20%E2%9C%93%zz")


@pytest.mark.parametrize(
    ("serve", "code", "details"),
    [
        (
            respond(headers(b"\x88" + literal(b"content-type", b"text/html"))),
            StatusCode.UNKNOWN,
            "unexpected content-type 'text/html'",
        ),
        (
            respond(headers(literal(b":status", b"503"))),
            StatusCode.UNAVAILABLE,
            "Received http2 header with status: 503",
        ),
        (
            respond(headers(literal(b":status", b"404"))),
            StatusCode.UNIMPLEMENTED,
            "Received http2 header with status: 404",
        ),
        (respond(headers(DENIED)), StatusCode.PERMISSION_DENIED, "no ✓%zz"),
        (respond(reset(7)), StatusCode.UNAVAILABLE, "Received RST_STREAM with error code 7"),
        (respond(reset(8)), StatusCode.CANCELLED, "Received RST_STREAM with error code 8"),
        (respond(reset(2)), StatusCode.INTERNAL, "Received RST_STREAM with error code 2"),
        (
            respond(headers(OK_HEADERS, end=False), data(message(b"zip", compressed=True))),
            StatusCode.INTERNAL,
            "compressed message received",
        ),
        (
            respond(headers(OK_HEADERS, end=False), data(b"\0" + (65 * MiB).to_bytes(4, "big"))),
            StatusCode.RESOURCE_EXHAUSTED,
            TOO_LARGE,
        ),
        (
            respond(goaway(0, 0, b"bye")),
            StatusCode.UNAVAILABLE,
            "the server is going away (GOAWAY with error code 0: bye)",
        ),
        (
            respond(push),
            StatusCode.UNAVAILABLE,
            "HTTP/2 protocol error: PUSH_PROMISE with push disabled",
        ),
    ],
    ids=[
        "content-type",
        "http-503",
        "http-404",
        "trailers-only",
        "refused",
        "cancel",
        "internal",
        "compressed",
        "too-large",
        "goaway",
        "push",
    ],
)
def test_scripted_failures(
    peers: Callable[..., Peer],
    channels: Callable[..., Channel],
    serve: Callable[[Script], None],
    code: StatusCode,
    details: str,
) -> None:
    ch = channels(peers(lambda conn: serve(Script(conn))).address)
    with pytest.raises(RpcError) as caught:
        ch.unary_unary("/test.Echo/Unary")(b"x", timeout=10)
    assert (caught.value.code(), caught.value.details()) == (code, details)
    assert not isinstance(caught.value, ConnectError)


def test_scripted_frames_grpc_never_sends(
    peers: Callable[..., Peer], channels: Callable[..., Channel]
) -> None:
    ch = channels(peers(lambda conn: split_headers_padded_data_and_a_ping(Script(conn))).address)
    assert ch.unary_unary("/test.Echo/Unary")(b"x", timeout=10) == b"hello"


def test_scripted_flow_control(
    peers: Callable[..., Peer], channels: Callable[..., Channel]
) -> None:
    initial_window = {4: 1000}  # SETTINGS_INITIAL_WINDOW_SIZE
    ch = channels(peers(lambda conn: windows_and_frame_size(Script(conn, initial_window))).address)
    assert ch.unary_unary("/test.Echo/Unary")(bytes(300_000), timeout=10) == b"300005"
    chunks = iter([bytes(70_000)] * 5)
    assert ch.stream_unary("/test.Echo/Upload")(chunks, timeout=10) == b"350025"


def test_scripted_dynamic_table(
    peers: Callable[..., Peer], channels: Callable[..., Channel]
) -> None:
    ch = channels(peers(lambda conn: dynamic_table_across_responses(Script(conn))).address)
    echo = ch.unary_unary("/test.Echo/Unary")
    assert echo(b"x", timeout=10) == b"first"
    assert echo(b"x", timeout=10) == b"second"


def test_server_closing_mid_stream_is_unavailable(
    peers: Callable[..., Peer], channels: Callable[..., Channel]
) -> None:
    def serve(conn: socket.socket) -> None:
        script = Script(conn)
        sid = script.request()
        script.send(
            frame(http2.HEADERS, http2.END_HEADERS, sid, OK_HEADERS),
            frame(http2.DATA, 0, sid, message(b"partial")[:8]),
        )

    ch = channels(peers(serve).address)
    with pytest.raises(RpcError) as caught:
        ch.unary_unary("/test.Echo/Unary")(b"x", timeout=10)
    assert caught.value.code() == StatusCode.UNAVAILABLE
    assert not isinstance(caught.value, ConnectError)


# -- HPACK -----------------------------------------------------------------------------------

# RFC 7541 Appendix C.4 and C.6: strings and their Huffman codes.
HUFFMAN_VECTORS = [
    ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
    ("no-cache", "a8eb 1064 9cbf"),
    ("custom-key", "25a8 49e9 5ba9 7d7f"),
    ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
    ("302", "6402"),
    ("307", "640e ff"),
    ("private", "aec3 771a 4b"),
    ("Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"),
    ("Mon, 21 Oct 2013 20:13:22 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"),
    ("https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"),
    ("gzip", "9bd9 ab"),
    (
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587"
        " 3160 65c0 03ed 4ee5 b106 3d50 07",
    ),
]


@pytest.mark.parametrize(("text", "encoded"), HUFFMAN_VECTORS)
def test_huffman_decoding_rfc7541_vectors(text: str, encoded: str) -> None:
    assert http2.huffman_decode(bytes.fromhex(encoded)) == text.encode()


# Rows of RFC 7541 Appendix B: (symbol, code, bits), from the shortest codes to the longest.
APPENDIX_B = [
    (48, 0x0, 5), (101, 0x5, 5), (32, 0x14, 6), (58, 0x5C, 7), (38, 0xF8, 8), (33, 0x3F8, 10),
    (124, 0x7FC, 11), (35, 0xFFA, 12), (0, 0x1FF8, 13), (94, 0x3FFC, 14), (60, 0x7FFC, 15),
    (92, 0x7FFF0, 19), (128, 0xFFFE6, 20), (153, 0x1FFFDC, 21), (129, 0x3FFFD2, 22),
    (1, 0x7FFFD8, 23), (9, 0xFFFFEA, 24), (199, 0x1FFFFEC, 25), (255, 0x3FFFFEE, 26),
    (203, 0x7FFFFDE, 27), (2, 0xFFFFFE2, 28), (254, 0x7FFFFF0, 27), (249, 0xFFFFFFE, 28),
    (10, 0x3FFFFFFC, 30), (22, 0x3FFFFFFE, 30),
]  # fmt: skip


def huffman_encode(codes: list[tuple[int, int]]) -> bytes:
    """(code, bits) pairs one after the other, padded with ones as RFC 7541 5.2 says."""
    value, bits = 0, 0
    for code, n in codes:
        value, bits = value << n | code, bits + n
    padding = -bits % 8
    return (value << padding | (1 << padding) - 1).to_bytes((bits + padding) // 8, "big")


@pytest.mark.parametrize(("symbol", "code", "bits"), APPENDIX_B)
def test_huffman_codes_of_appendix_b(symbol: int, code: int, bits: int) -> None:
    assert http2.huffman_decode(huffman_encode([(code, bits)])) == bytes((symbol,))


def test_huffman_codes_of_appendix_b_in_a_row() -> None:
    codes = [(code, bits) for _, code, bits in APPENDIX_B if code != 0x3FFFFFFF]
    expected = bytes(symbol for symbol, _, _ in APPENDIX_B)
    assert http2.huffman_decode(huffman_encode(codes * 3)) == expected * 3


@pytest.mark.parametrize(
    "encoded",
    [
        "ff ff ff fc",  # EOS (30 ones) decoded as a symbol
        "1f ff",  # "0" then 11 bits of padding: more than 7
        "00",  # "0" then 3 zero bits: padding must be ones
    ],
)
def test_huffman_decoding_rejects_bad_strings(encoded: str) -> None:
    with pytest.raises(http2.HPACKError):
        http2.huffman_decode(bytes.fromhex(encoded))


# RFC 7541 C.3 (plain) and C.4 (Huffman): three requests on one connection, as (encodings,
# decoded header list, dynamic table after).
GET, HTTP, ROOT = (":method", "GET"), (":scheme", "http"), (":path", "/")
WWW, NO_CACHE = (":authority", "www.example.com"), ("cache-control", "no-cache")
CUSTOM = ("custom-key", "custom-value")
REQUESTS = [
    (
        (
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        ),
        [GET, HTTP, ROOT, WWW],
        [WWW],
    ),
    (
        ("8286 84be 5808 6e6f 2d63 6163 6865", "8286 84be 5886 a8eb 1064 9cbf"),
        [GET, HTTP, ROOT, WWW, NO_CACHE],
        [NO_CACHE, WWW],
    ),
    (
        (
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ),
        [GET, (":scheme", "https"), (":path", "/index.html"), WWW, CUSTOM],
        [CUSTOM, NO_CACHE, WWW],
    ),
]

# RFC 7541 C.5 (plain) and C.6 (Huffman): three responses, with a 256-byte table (evictions).
PRIVATE, LOCATION = ("cache-control", "private"), ("location", "https://www.example.com")
DATE1, DATE2 = ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT")
GZIP = ("content-encoding", "gzip")
COOKIE = ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")
RESPONSES = [
    (
        (
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
            " 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
            " 6c65 2e63 6f6d",
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
            " 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        ),
        [(":status", "302"), PRIVATE, DATE1, LOCATION],
        [LOCATION, DATE1, PRIVATE, (":status", "302")],
    ),
    (
        ("4803 3330 37c1 c0bf", "4883 640e ffc1 c0bf"),
        [(":status", "307"), PRIVATE, DATE1, LOCATION],
        [(":status", "307"), LOCATION, DATE1, PRIVATE],
    ),
    (
        (
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d"
            " 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049"
            " 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e"
            " 3d31",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
            " 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
            " 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ),
        [(":status", "200"), PRIVATE, DATE2, LOCATION, GZIP, COOKIE],
        [COOKIE, GZIP, DATE2],
    ),
]


@pytest.mark.parametrize("huffman", [False, True], ids=["plain", "huffman"])
@pytest.mark.parametrize(
    ("examples", "table_size"), [(REQUESTS, 4096), (RESPONSES, 256)], ids=["requests", "responses"]
)
def test_hpack_decoder_rfc7541_examples(
    examples: list[Any], table_size: int, huffman: bool
) -> None:
    decoder = http2.Decoder(table_size)
    for encodings, headers, table in examples:
        assert decoder.decode(bytes.fromhex(encodings[huffman])) == headers
        assert decoder.table == table


def test_hpack_decoder_errors() -> None:
    decoder = http2.Decoder()
    # Index 62 (the table is empty) and 0, a field without its value, an integer without its
    # continuation, a table size above ours, an integer of more than 32 bits.
    for bad in ["be", "80", "41", "0f", "3fe221", "1fffffffffff01"]:
        with pytest.raises(http2.HPACKError):
            decoder.decode(bytes.fromhex(bad))
    with pytest.raises(http2.HPACKError):
        decoder.decode(bytes.fromhex("82 20"))  # a size update after a field


def test_hpack_encoder_round_trip() -> None:
    headers = [
        (":method", "POST"), (":scheme", "http"), (":path", "/caisson.daemon.v1.Containers/List"),
        (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers"),
        ("x-long", "v" * 300),
    ]  # fmt: skip
    block = http2.encode_headers(headers)
    assert block[:2] == b"\x83\x86"  # fully indexed static fields
    decoder = http2.Decoder()
    assert decoder.decode(block) == headers
    assert decoder.table == []  # nothing indexed: blocks can be cached and concatenated
