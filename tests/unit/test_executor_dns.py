"""The embedded DNS server on real sockets: bound on 127.0.0.1 with a free port in the host's
namespace (no root), queries written by hand here and by busybox nslookup, a fake upstream
server on 127.0.0.1 for forwarded names; as root, the server bound at 127.0.0.11:53 in a
network namespace made by the test and asked from inside it."""

from __future__ import annotations

import os
import select
import shutil
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from caisson import errors
from caisson.executor import dns, namespaces

A, PTR, MX, AAAA, OPT = 1, 12, 15, 28, 41
NOERROR, SERVFAIL, NOTIMP = 0, 2, 4
BUSYBOX = "/bin/busybox"
MakeResolver = Callable[..., dns.Resolver]


# -- a client written from RFC 1035, apart from the server's own code ----------------------


def build_query(
    name: str, qtype: int = A, qid: int = 0x1234, edns: int | None = None, opcode: int = 0
) -> bytes:
    flags = 0x0100 | (opcode << 11)  # RD
    head = struct.pack("!6H", qid, flags, 1, 0, 0, 1 if edns else 0)
    qname = b"".join(bytes([len(x)]) + x for x in name.encode().split(b".") if x) + b"\0"
    opt = b"\0" + struct.pack("!HHIH", OPT, edns, 0, 0) if edns else b""
    return head + qname + struct.pack("!HH", qtype, 1) + opt


def _name(data: bytes, pos: int) -> tuple[str, int]:
    labels, end = [], None
    while data[pos]:
        if data[pos] >= 0xC0:
            end = end or pos + 2
            pos = struct.unpack_from("!H", data, pos)[0] & 0x3FFF
            continue
        labels.append(data[pos + 1 : pos + 1 + data[pos]].decode())
        pos += 1 + data[pos]
    return ".".join(labels), end or pos + 1


@dataclass
class Response:
    id: int
    flags: int
    rcode: int
    question: tuple[str, int]
    answers: list[tuple[str, int, int, str]] = field(default_factory=list)  # name type ttl data
    additional: list[int] = field(default_factory=list)  # types

    @property
    def truncated(self) -> bool:
        return bool(self.flags & 0x0200)

    @property
    def addresses(self) -> set[str]:
        return {a[3] for a in self.answers if a[1] in (A, AAAA)}


def parse_response(data: bytes) -> Response:
    qid, flags, qd, an, _ns, ar = struct.unpack_from("!6H", data)
    assert flags & 0x8000 and qd == 1
    qname, pos = _name(data, 12)
    (qtype,) = struct.unpack_from("!H", data, pos)
    r = Response(qid, flags, flags & 0xF, (qname, qtype))
    pos += 4
    for i in range(an + ar):
        rname, pos = _name(data, pos)
        rtype, _cls, ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        rdata = data[pos : pos + rdlen]
        if i >= an:
            r.additional.append(rtype)
        elif rtype == A:
            r.answers.append((rname, rtype, ttl, socket.inet_ntoa(rdata)))
        elif rtype == AAAA:
            r.answers.append((rname, rtype, ttl, socket.inet_ntop(socket.AF_INET6, rdata)))
        elif rtype == PTR:
            r.answers.append((rname, rtype, ttl, _name(data, pos)[0]))
        pos += rdlen
    return r


def ask_raw(port: int, packet: bytes, host: str = "127.0.0.1") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(packet, (host, port))
        return s.recv(65535)


def ask(port: int, name: str, qtype: int = A, **kw: int) -> Response:
    return parse_response(ask_raw(port, build_query(name, qtype, **kw)))


def tcp_exchange(conn: socket.socket, packet: bytes) -> None:
    conn.sendall(struct.pack("!H", len(packet)) + packet)


def tcp_read(conn: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            assert chunk, "connection closed before the answer"
            buf += chunk
        return buf

    (n,) = struct.unpack("!H", exactly(2))
    return exactly(n)


def ask_tcp(port: int, name: str, qtype: int = A, qid: int = 0x4321) -> Response:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        tcp_exchange(c, build_query(name, qtype, qid))
        return parse_response(tcp_read(c))


# -- a fake upstream server ----------------------------------------------------------------


class Upstream:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) that answers every query with
    192.0.2.7 and a TTL of 42, or SERVFAIL, or nothing; it records what it was asked."""

    def __init__(self, mode: str = "answer") -> None:
        self.mode = mode
        self.queries: list[tuple[str, bytes]] = []  # transport, raw query
        self.replies: list[bytes] = []
        self.udp, self.tcp = dns.open_sockets("127.0.0.1", 0)
        self.udp.setblocking(True)
        self.tcp.setblocking(True)
        self.port = self.udp.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _reply(self, query: bytes) -> bytes | None:
        if self.mode == "silent":
            return None
        qid, flags = struct.unpack_from("!HH", query)
        end = query.index(b"\0", 12) + 5
        rcode = SERVFAIL if self.mode == "servfail" else NOERROR
        an = 0 if rcode else 1
        head = struct.pack("!6H", qid, 0x8000 | (flags & 0x0100) | 0x0080 | rcode, 1, an, 0, 0)
        answer = struct.pack("!HHHIH", 0xC00C, A, 1, 42, 4) + socket.inet_aton("192.0.2.7")
        data = head + query[12:end] + (answer if an else b"")
        self.replies.append(data)
        return data

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.udp, self.tcp], [], [], 0.1)
            if self.udp in ready:
                query, addr = self.udp.recvfrom(65535)
                self.queries.append(("udp", query))
                if (data := self._reply(query)) is not None:
                    self.udp.sendto(data, addr)
            if self.tcp in ready:
                conn, _ = self.tcp.accept()
                conn.settimeout(5)
                query = tcp_read(conn)
                self.queries.append(("tcp", query))
                if (data := self._reply(query)) is not None:
                    tcp_exchange(conn, data)
                    conn.close()
                else:
                    self._held.append(conn)  # silent: keep the client waiting

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for s in (self.udp, self.tcp, *self._held):
            s.close()


def dead_address() -> str:
    """A 127.0.0.1 port nothing listens on (bound, then closed): queries there are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    u = Upstream()
    yield u
    u.close()


@pytest.fixture
def make_resolver() -> Iterator[MakeResolver]:
    made: list[dns.Resolver] = []

    def make(upstreams: list[str] | None = None, **kw: float) -> dns.Resolver:
        r = dns.Resolver(upstreams if upstreams is not None else [], **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@dataclass
class Served:
    resolver: dns.Resolver
    sockets: tuple[socket.socket, socket.socket]

    @property
    def port(self) -> int:
        return self.sockets[0].getsockname()[1]


def serve(r: dns.Resolver, container: str = "c1", networks: tuple[str, ...] = ("n1",)) -> Served:
    socks = dns.open_sockets("127.0.0.1", 0)
    r.serve(container, socks, list(networks))
    return Served(r, socks)


@pytest.fixture
def served(make_resolver: MakeResolver, upstream: Upstream) -> Served:
    r = make_resolver([upstream.address])
    r.set_names("n1", {"web": ["10.88.0.2"], "Db.": ["10.88.0.3", "10.88.0.4"]})
    return serve(r)


# -- names answered here --------------------------------------------------------------------


def test_a_for_a_known_name(served: Served, upstream: Upstream) -> None:
    r = ask(served.port, "web", qid=0xBEEF)
    assert r.id == 0xBEEF and r.rcode == NOERROR and r.question == ("web", A)
    assert r.answers == [("web", A, 600, "10.88.0.2")]
    assert r.flags & 0x0080 and r.flags & 0x0100  # RA; RD echoed
    assert sorted(ask(served.port, "db").addresses) == ["10.88.0.3", "10.88.0.4"]
    assert upstream.queries == []


def test_names_are_case_insensitive_with_one_trailing_dot(served: Served) -> None:
    for name in ("WEB", "Web", "web."):
        assert ask(served.port, name).addresses == {"10.88.0.2"}
    # set as "Db.": found as db, DB
    assert ask(served.port, "DB").addresses == {"10.88.0.3", "10.88.0.4"}
    # the question is echoed as asked
    assert ask(served.port, "WeB").question == ("WeB", A)


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")
def test_busybox_nslookup_resolves_a_known_name(served: Served) -> None:
    # busybox asks A and AAAA: the AAAA comes back empty, not NXDOMAIN
    out = subprocess.run(
        [BUSYBOX, "nslookup", "db", f"127.0.0.1:{served.port}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Address: 10.88.0.3" in out.stdout and "Address: 10.88.0.4" in out.stdout
    ptr = subprocess.run(
        [BUSYBOX, "nslookup", "-type=ptr", "2.0.88.10.in-addr.arpa", f"127.0.0.1:{served.port}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "name = web" in ptr.stdout, ptr.stdout + ptr.stderr


def test_aaaa_and_other_types_of_a_known_name_are_empty_noerror(
    served: Served, upstream: Upstream
) -> None:
    for qtype in (AAAA, MX):
        r = ask(served.port, "web", qtype)
        assert r.rcode == NOERROR and r.answers == []
    assert upstream.queries == []


def test_aaaa_answers_an_ipv6_address(make_resolver: MakeResolver) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2", "fd00::2"]})
    s = serve(r)
    assert ask(s.port, "web", AAAA).addresses == {"fd00::2"}
    assert ask(s.port, "web", A).addresses == {"10.88.0.2"}


def test_ptr_for_a_known_address_is_the_first_name(make_resolver: MakeResolver) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2"], "www": ["10.88.0.2"], "abc123": ["10.88.0.2"]})
    s = serve(r)
    resp = ask(s.port, "2.0.88.10.in-addr.arpa", PTR)
    assert resp.rcode == NOERROR
    assert [(a[1], a[3]) for a in resp.answers] == [(PTR, "web")]


def test_a_container_sees_the_union_of_its_networks(make_resolver: MakeResolver) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2"], "both": ["10.88.0.9"]})
    r.set_names("n2", {"db": ["10.88.1.2"], "both": ["10.88.1.9"]})
    r.set_names("n3", {"other": ["10.88.2.2"]})
    s = serve(r, networks=("n1", "n2"))
    assert ask(s.port, "web").addresses == {"10.88.0.2"}
    assert ask(s.port, "db").addresses == {"10.88.1.2"}
    assert ask(s.port, "both").addresses == {"10.88.0.9", "10.88.1.9"}
    # not on n3, so not one of its names (forwarded, and no upstream here: SERVFAIL)
    assert ask(s.port, "other").rcode == SERVFAIL


def test_set_networks_after_a_disconnect_hides_that_network(
    make_resolver: MakeResolver,
) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2"]})
    r.set_names("n2", {"db": ["10.88.1.2"]})
    s = serve(r, networks=("n1", "n2"))
    assert ask(s.port, "db").addresses == {"10.88.1.2"}
    r.set_networks("c1", ["n1"])
    assert ask(s.port, "db").rcode == SERVFAIL
    assert ask(s.port, "web").addresses == {"10.88.0.2"}
    r.set_networks("c1", ["n1", "n2"])  # connected again
    assert ask(s.port, "db").addresses == {"10.88.1.2"}


def test_set_names_replaces_and_drop_network_forgets(make_resolver: MakeResolver) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2"]})
    s = serve(r)
    r.set_names("n1", {"web2": ["10.88.0.5"]})
    assert ask(s.port, "web").rcode == SERVFAIL
    assert ask(s.port, "web2").addresses == {"10.88.0.5"}
    r.drop_network("n1")
    assert ask(s.port, "web2").rcode == SERVFAIL


def test_two_containers_are_answered_from_their_own_networks(
    make_resolver: MakeResolver,
) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2"]})
    r.set_names("n2", {"web": ["10.88.1.2"]})
    a, b = serve(r, "a", ("n1",)), serve(r, "b", ("n2",))
    assert ask(a.port, "web").addresses == {"10.88.0.2"}
    assert ask(b.port, "web").addresses == {"10.88.1.2"}


def test_bad_names_are_invalid_arguments(make_resolver: MakeResolver) -> None:
    r = make_resolver()
    with pytest.raises(errors.InvalidArgument, match="invalid address 'nope' for DNS name 'web'"):
        r.set_names("n1", {"web": ["nope"]})
    with pytest.raises(errors.InvalidArgument, match="empty DNS name"):
        r.set_names("n1", {".": ["10.0.0.1"]})


def test_many_addresses_truncate_over_udp_and_come_whole_over_tcp(
    make_resolver: MakeResolver,
) -> None:
    r = make_resolver()
    r.set_names("n1", {"svc": [f"10.88.{i // 250}.{i % 250 + 1}" for i in range(300)]})
    s = serve(r)
    plain = ask(s.port, "svc")
    assert plain.truncated and 0 < len(plain.answers) < 300
    edns = ask(s.port, "svc", edns=4096)
    assert edns.truncated and len(plain.answers) < len(edns.answers) < 300
    assert edns.additional == [OPT]
    whole = ask_tcp(s.port, "svc")
    assert not whole.truncated and len(whole.addresses) == 300


def test_other_opcodes_are_not_implemented(served: Served) -> None:
    assert ask(served.port, "web", opcode=2).rcode == NOTIMP


# -- forwarding -------------------------------------------------------------------------------


def test_an_unknown_name_is_forwarded_and_the_reply_relayed_as_is(
    served: Served, upstream: Upstream
) -> None:
    query = build_query("example.test", A, qid=0x0A0B)
    reply = ask_raw(served.port, query)
    assert upstream.queries == [("udp", query)]
    assert reply == upstream.replies[0]
    r = parse_response(reply)
    assert r.id == 0x0A0B and r.answers == [("example.test", A, 42, "192.0.2.7")]


def test_an_unknown_address_is_forwarded(served: Served, upstream: Upstream) -> None:
    ask(served.port, "9.9.0.10.in-addr.arpa", PTR)
    assert [q[0] for q in upstream.queries] == ["udp"]


def test_a_tcp_query_is_forwarded_over_tcp(served: Served, upstream: Upstream) -> None:
    r = ask_tcp(served.port, "example.test", qid=0x0C0D)
    assert r.id == 0x0C0D and r.addresses == {"192.0.2.7"}
    assert [q[0] for q in upstream.queries] == ["tcp"]


def test_a_containers_own_dns_servers_are_asked_instead_of_the_hosts(
    make_resolver: MakeResolver, upstream: Upstream
) -> None:
    r = make_resolver([dead_address()])  # the host's: never asked for this container
    socks = dns.open_sockets("127.0.0.1", 0)
    r.serve("c1", socks, ["n1"], [upstream.address])
    s = Served(r, socks)
    assert ask(s.port, "example.test").addresses == {"192.0.2.7"}
    assert [q[0] for q in upstream.queries] == ["udp"]


def test_no_upstream_is_servfail(make_resolver: MakeResolver) -> None:
    s = serve(make_resolver([]))
    r = ask(s.port, "example.test", qid=0x0E0F)
    assert r.id == 0x0E0F and r.rcode == SERVFAIL and r.question == ("example.test", A)


def test_an_upstream_that_is_down_is_servfail(make_resolver: MakeResolver) -> None:
    s = serve(make_resolver([dead_address()]))
    assert ask(s.port, "example.test").rcode == SERVFAIL
    assert ask_tcp(s.port, "example.test").rcode == SERVFAIL


def test_an_upstream_that_does_not_answer_times_out_to_servfail(
    make_resolver: MakeResolver,
) -> None:
    silent = Upstream("silent")
    try:
        s = serve(make_resolver([silent.address], timeout=0.2))
        assert ask(s.port, "example.test").rcode == SERVFAIL
        assert ask_tcp(s.port, "example.test").rcode == SERVFAIL
    finally:
        silent.close()


def test_each_upstream_is_tried_in_turn(make_resolver: MakeResolver, upstream: Upstream) -> None:
    silent, failing = Upstream("silent"), Upstream("servfail")
    try:
        r = make_resolver(
            [dead_address(), silent.address, failing.address, upstream.address], timeout=0.2
        )
        s = serve(r)
        assert ask(s.port, "example.test").addresses == {"192.0.2.7"}
        assert ask_tcp(s.port, "example.test").addresses == {"192.0.2.7"}
        assert len(silent.queries) == 2 and len(failing.queries) == 2
        assert [q[0] for q in upstream.queries] == ["udp", "tcp"]
    finally:
        silent.close()
        failing.close()


def test_a_slow_upstream_does_not_hold_up_other_answers(
    make_resolver: MakeResolver,
) -> None:
    silent = Upstream("silent")
    try:
        r = make_resolver([silent.address], timeout=60)
        r.set_names("n1", {"web": ["10.88.0.2"]})
        s = serve(r)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as pending:
            pending.sendto(build_query("slow.test"), ("127.0.0.1", s.port))
            with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
                tcp_exchange(c, build_query("slow.test"))
                # both forwards are waiting for the silent upstream; names known here are
                # still answered, over UDP and TCP
                assert ask(s.port, "web").addresses == {"10.88.0.2"}
                assert ask_tcp(s.port, "web").addresses == {"10.88.0.2"}
    finally:
        silent.close()


# -- TCP and bad input ------------------------------------------------------------------------


def test_tcp_answers_queries_in_a_row_and_after_a_half_close(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as c:
        tcp_exchange(c, build_query("web", qid=1))
        tcp_exchange(c, build_query("db", qid=2))
        c.shutdown(socket.SHUT_WR)
        first, second = parse_response(tcp_read(c)), parse_response(tcp_read(c))
        assert (first.id, first.addresses) == (1, {"10.88.0.2"})
        assert (second.id, second.addresses) == (2, {"10.88.0.3", "10.88.0.4"})
        assert c.recv(1) == b""  # closed once answered


def test_a_forwarded_tcp_answer_after_a_half_close(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as c:
        tcp_exchange(c, build_query("example.test", qid=7))
        c.shutdown(socket.SHUT_WR)
        r = parse_response(tcp_read(c))
        assert (r.id, r.addresses) == (7, {"192.0.2.7"})
        assert c.recv(1) == b""


BAD = [
    b"",
    b"\x12",
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00",  # 11-byte header
    build_query("web")[:-2],  # question cut short
    build_query("web")[:2] + b"\x81\x80" + build_query("web")[4:],  # a response
    build_query("web")[:4] + b"\x00\x02" + build_query("web")[6:],  # two questions, one there
    build_query("web")[:4] + b"\x00\x00" + build_query("web")[6:],  # no question
    build_query("web")[:12] + b"\xc0\x0c\x00\x01\x00\x01",  # a pointer loop as the name
    build_query("web")[:12] + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",  # label > 63
    build_query("web")[:12] + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",  # > 255
    os.urandom(1),
    b"\xff" * 512,
]


def test_malformed_queries_are_ignored_and_the_server_still_answers(
    served: Served, upstream: Upstream
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for packet in BAD:
            s.sendto(packet, ("127.0.0.1", served.port))
        s.settimeout(5)
        s.sendto(build_query("web", qid=99), ("127.0.0.1", served.port))
        # the first thing that comes back is the answer to the good query
        r = parse_response(s.recv(65535))
        assert (r.id, r.addresses) == (99, {"10.88.0.2"})
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as c:
        for packet in BAD:
            tcp_exchange(c, packet)
        tcp_exchange(c, build_query("web", qid=100))
        r = parse_response(tcp_read(c))
        assert (r.id, r.addresses) == (100, {"10.88.0.2"})
    assert upstream.queries == []


def test_a_garbage_reply_from_upstream_is_not_relayed(make_resolver: MakeResolver) -> None:
    # A reply with the wrong id (or no QR bit) is not the answer: the forward waits for the
    # right one, then times out.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake:
        fake.bind(("127.0.0.1", 0))
        fake.settimeout(5)
        s = serve(make_resolver([f"127.0.0.1:{fake.getsockname()[1]}"], timeout=1))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(build_query("x.test", qid=5), ("127.0.0.1", s.port))
            query, addr = fake.recvfrom(65535)
            fake.sendto(b"\x00\x06" + query[2:], addr)  # wrong id
            fake.sendto(query, addr)  # the query itself, not a reply
            fake.sendto(b"\x00", addr)
            r = parse_response(client.recv(65535))
            assert (r.id, r.rcode) == (5, SERVFAIL)


# -- lifecycle --------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def test_open_sockets_are_non_blocking_close_on_exec_on_one_port() -> None:
    udp, tcp = dns.open_sockets("127.0.0.1", 0)
    try:
        assert udp.getsockname() == tcp.getsockname()
        for s in (udp, tcp):
            assert not s.getblocking() and not s.get_inheritable()
    finally:
        udp.close()
        tcp.close()


def test_open_sockets_on_a_port_in_use_is_a_clear_error() -> None:
    udp, tcp = dns.open_sockets("127.0.0.1", 0)
    try:
        with pytest.raises(errors.CaissonError, match="failed to listen for DNS on 127.0.0.1"):
            dns.open_sockets("127.0.0.1", udp.getsockname()[1])
    finally:
        udp.close()
        tcp.close()


def test_stop_closes_the_sockets(make_resolver: MakeResolver) -> None:
    r = make_resolver()
    s = serve(r)
    port = s.port
    r.stop("c1")
    assert s.sockets[0].fileno() == -1 and s.sockets[1].fileno() == -1
    assert _port_free(port)
    r.stop("c1")  # again: nothing to do
    r.stop("never-served")


def test_serve_again_replaces_the_old_sockets(make_resolver: MakeResolver) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2"]})
    r.set_names("n2", {"web": ["10.88.1.2"]})
    old = serve(r)
    new = serve(r, networks=("n2",))
    assert old.sockets[0].fileno() == -1 and old.sockets[1].fileno() == -1
    assert ask(new.port, "web").addresses == {"10.88.1.2"}
    r.serve("c1", new.sockets, ["n1"])  # the same sockets: kept open
    assert ask(new.port, "web").addresses == {"10.88.0.2"}


def test_close_stops_everything_and_serve_starts_again(
    make_resolver: MakeResolver,
) -> None:
    r = make_resolver()
    r.set_names("n1", {"web": ["10.88.0.2"]})
    a, b = serve(r, "a"), serve(r, "b")
    with socket.create_connection(("127.0.0.1", a.port), timeout=5) as open_conn:
        tcp_exchange(open_conn, build_query("web"))
        tcp_read(open_conn)  # accepted, and kept open for more
        r.close()
        assert all(x.fileno() == -1 for x in (*a.sockets, *b.sockets))
        assert open_conn.recv(1) == b""  # its TCP connections are closed too
    assert not any(t.name == "dns" and t.is_alive() for t in threading.enumerate())
    r.close()  # again: nothing to do
    c = serve(r, "c")
    assert ask(c.port, "web").addresses == {"10.88.0.2"}


# -- upstream configuration -------------------------------------------------------------------


def test_upstreams_from_resolv_conf_skip_loopback_and_junk() -> None:
    text = """# generated
nameserver 127.0.0.53
nameserver 10.0.0.2   # the office
; a comment
nameserver ::1
nameserver 2001:db8::53
nameserver
nameserver not-an-ip
  nameserver 127.1.2.3
search example.com
options ndots:2 timeout:1
nameserver 192.0.2.1
"""
    assert dns.upstreams_from_resolv_conf(text) == ["10.0.0.2", "2001:db8::53", "192.0.2.1"]
    assert dns.upstreams_from_resolv_conf("") == []


def test_upstream_forms(make_resolver: MakeResolver) -> None:
    make_resolver(["10.0.0.2", "10.0.0.2:5353", "2001:db8::53", "[2001:db8::53]:5353"])
    for bad in ("example.com", "10.0.0.2:0", "10.0.0.2:x", "[2001:db8::53", "[::1]x"):
        with pytest.raises(errors.InvalidArgument, match="invalid DNS server"):
            make_resolver([bad])


# -- as root: in a real network namespace -----------------------------------------------------


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    if shutil.which("ip") is None or not os.path.exists(BUSYBOX):
        pytest.skip("needs ip (iproute2) and /bin/busybox")
    name = f"caisson-dnstest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def open_in(ns: str) -> tuple[socket.socket, socket.socket]:
    """open_sockets() in a thread that has joined the namespace, as the executor does."""
    got: list[tuple[socket.socket, socket.socket]] = []
    failed: list[BaseException] = []

    def body() -> None:
        try:
            with open(f"/run/netns/{ns}", "rb") as f:
                namespaces.setns(f.fileno(), namespaces.CLONE_NEWNET)
            got.append(dns.open_sockets())
        except BaseException as e:
            failed.append(e)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if failed:
        raise failed[0]
    return got[0]


@pytest.mark.root
def test_served_at_127_0_0_11_in_a_network_namespace(
    netns: str, make_resolver: MakeResolver, upstream: Upstream
) -> None:
    # the upstream listens on the host's 127.0.0.1: reached because forwards leave from the
    # executor's namespace, not the container's
    r = make_resolver([upstream.address])
    r.set_names("n1", {"web": ["10.88.0.2"]})
    r.serve("c1", open_in(netns), ["n1"])

    def nslookup(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = ["ip", "netns", "exec", netns, BUSYBOX, "nslookup", *args, "127.0.0.11"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30)

    out = nslookup("web")
    assert out.returncode == 0 and "Address: 10.88.0.2" in out.stdout, out.stdout + out.stderr
    out = nslookup("-type=a", "example.test")
    assert "Address: 192.0.2.7" in out.stdout, out.stdout + out.stderr
    assert [parse_response(reply).question[0] for reply in upstream.replies] == ["example.test"]
    r.stop("c1")
    out = nslookup("web")
    assert out.returncode != 0
