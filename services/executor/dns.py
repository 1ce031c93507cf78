"""The embedded DNS server: docker's 127.0.0.11 for containers on user networks.

Each container on a network with `dns` gets a UDP and a TCP socket bound to 127.0.0.11:53 in
its own network namespace (`open_sockets`, called in that namespace); the executor hands them
to one `Resolver`, whose single thread serves every container's sockets with a selector.
Names the daemon set for the container's networks are answered here (A, with the AAAA and
other types of a known name answered empty, and PTR for their addresses); anything else is
forwarded, as raw bytes, to the host's nameservers from the executor's own namespace and the
reply relayed unchanged. Forwards are non-blocking sockets in a pending table of the same
loop, so a slow upstream never holds up the answers for other queries.

The wire format is written by hand (RFC 1035): only the question is parsed, answers are built
with a compression pointer to it, and a query's EDNS OPT record (RFC 6891) is honoured for the
UDP size limit.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import queue
import random
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from caisson import errors, logs

log = logs.get("caisson.executor.dns")

RESOLV_CONF = "/etc/resolv.conf"
TTL = 600  # docker's, for the names it answers
UPSTREAM_TIMEOUT = 5.0  # per upstream, like a resolv.conf `timeout:5`
TCP_IDLE = 10.0  # a container's TCP connection with nothing pending is closed after this
MAX_FORWARDS = 256  # in flight over every container; beyond, SERVFAIL (docker: 100, dropped)
MAX_TCP_CONNS = 16  # per container

_A, _PTR, _AAAA, _OPT = 1, 12, 28, 41
_IN = 1
_NOERROR, _SERVFAIL, _NOTIMP, _REFUSED = 0, 2, 4, 5
_QR, _TC, _RD, _RA = 0x8000, 0x0200, 0x0100, 0x0080
_UDP_PLAIN = 512  # the limit of a UDP answer without EDNS
_UDP_EDNS = 4096  # what we accept and offer with EDNS
_TCP_MAX = 65535


# -- configuration -----------------------------------------------------------------------


def upstreams_from_resolv_conf(text: str) -> list[str]:
    """The `nameserver` addresses of a resolv.conf text, without loopback ones (127.0.0.0/8,
    ::1): the host's local stub resolver is not what a container should be sent to, and docker
    filters them the same way. Unparseable addresses are skipped."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "nameserver":
            continue
        try:
            addr = ipaddress.ip_address(words[1])
        except ValueError:
            continue
        if not addr.is_loopback:
            found.append(words[1])
    return found


def _upstream_address(spec: str) -> tuple[int, tuple[Any, ...]]:
    """ "IP", "IP:PORT", "[IPV6]:PORT" or "IPV6" -> (family, sockaddr)."""
    host, port = spec, "53"
    if spec.startswith("["):
        host, sep, rest = spec[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise errors.InvalidArgument(f"invalid DNS server {spec!r}")
        port = rest[1:] or "53"
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    try:
        addr = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise errors.InvalidArgument(f"invalid DNS server {spec!r}: want IP or IP:PORT") from None
    if not 0 < number < 65536:
        raise errors.InvalidArgument(f"invalid DNS server {spec!r}: port out of range")
    if addr.version == 4:
        return socket.AF_INET, (host, number)
    # getaddrinfo resolves a scope (fe80::1%eth0) into the sockaddr's scope id.
    return socket.AF_INET6, socket.getaddrinfo(
        host, number, socket.AF_INET6, flags=socket.AI_NUMERICHOST
    )[0][4]


def open_sockets(
    address: str = "127.0.0.11", port: int = 53
) -> tuple[socket.socket, socket.socket]:
    """A UDP socket and a listening TCP socket bound to address:port in the calling thread's
    network namespace (the executor calls this inside `netns.run_in`): a socket stays in the
    namespace it was made in, whichever thread serves it later. Non-blocking, close-on-exec
    (Python's default). Port 0: one free port, the same for both."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    what = f"failed to listen for DNS on {address}:{port}"
    for _ in range(50 if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            udp.bind((address, port))
            # A restarted executor rebinds while old connections are in TIME_WAIT.
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, udp.getsockname()[1]))
            tcp.listen(64)
        except OSError as e:
            udp.close()
            tcp.close()
            if port == 0 and e.errno == 98:  # EADDRINUSE: TCP has it, try another
                continue
            raise errors.from_os_error(e, what) from None
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise errors.Unavailable(f"{what}: no port free for both UDP and TCP")


# -- the wire format -----------------------------------------------------------------------


@dataclass
class Query:
    """What the server looks at in a query: the header, the one question and EDNS."""

    id: int
    flags: int
    name: str | None  # lower-case, no trailing dot; None: not plain ASCII labels
    qtype: int
    qclass: int
    question: bytes  # the question section as received, echoed in answers
    edns_size: int | None  # the client's UDP size if it sent an OPT record


def parse_query(data: bytes) -> Query | None:
    """The query in `data`, or None for anything that is not a well-formed one-question query
    (those are ignored, as a response or garbage sent to us must be)."""
    if len(data) < 12:
        return None
    qid, flags, qd, an, ns, ar = struct.unpack_from("!6H", data)
    if flags & _QR or qd != 1:
        return None
    labels: list[bytes] = []
    pos = 12
    while True:
        if pos >= len(data):
            return None
        n = data[pos]
        if n == 0:
            pos += 1
            break
        # No compression pointer can come before the first name; a label is at most 63.
        if n > 63 or pos + 1 + n > len(data):
            return None
        labels.append(data[pos + 1 : pos + 1 + n])
        pos += 1 + n
    if pos - 12 > 255 or pos + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    question = data[12 : pos + 4]
    name: str | None = None
    if all(label.isascii() and b"." not in label for label in labels):
        name = b".".join(labels).decode("ascii").lower()
    edns = _edns_size(data, pos + 4, an + ns + ar, an + ns)
    return Query(qid, flags, name, qtype, qclass, question, edns)


def _edns_size(data: bytes, pos: int, count: int, first_additional: int) -> int | None:
    """The payload size of an OPT record among the additional records, if any."""
    try:
        for i in range(count):
            while data[pos] and data[pos] < 0xC0:  # labels, up to a root or a pointer
                pos += 1 + data[pos]
            pos += 1 if data[pos] == 0 else 2
            rtype, rclass, _ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
            if i >= first_additional and rtype == _OPT:
                return max(rclass, _UDP_PLAIN)
            pos += 10 + rdlen
    except (IndexError, struct.error):
        pass
    return None


def _header(q: Query, rcode: int, answers: int, additional: int, truncated: bool = False) -> bytes:
    # Keep the opcode and RD; recursion is available (we forward what we don't know).
    flags = _QR | (q.flags & 0x7900) | _RA | rcode | (_TC if truncated else 0)
    return struct.pack("!6H", q.id, flags, 1, answers, 0, additional)


def _opt() -> bytes:
    return b"\x00" + struct.pack("!HHIH", _OPT, _UDP_EDNS, 0, 0)


def reply(q: Query, rcode: int, records: list[bytes], limit: int) -> bytes:
    """An answer to `q` with resource records `records`, as many as fit in `limit` bytes
    (TC set when some did not: the client retries over TCP)."""
    opt = _opt() if q.edns_size is not None else b""
    room = limit - 12 - len(q.question) - len(opt)
    fitting: list[bytes] = []
    for rr in records:
        if len(rr) > room:
            break
        fitting.append(rr)
        room -= len(rr)
    truncated = len(fitting) < len(records)
    head = _header(q, rcode, len(fitting), 1 if opt else 0, truncated)
    return head + q.question + b"".join(fitting) + opt


def servfail(q: Query) -> bytes:
    return reply(q, _SERVFAIL, [], _TCP_MAX)


def _record(rtype: int, rdata: bytes) -> bytes:
    # 0xC00C: a pointer to the question's name, at offset 12.
    return struct.pack("!HHHIH", 0xC00C, rtype, _IN, TTL, len(rdata)) + rdata


def _encode_name(name: str) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in name.encode("ascii").split(b".") if x) + b"\0"


# -- names ---------------------------------------------------------------------------------


def _normal(name: str) -> str:
    name = name.lower()
    return name[:-1] if name.endswith(".") else name


@dataclass
class _Table:
    """One network's names: name -> addresses, and reverse pointer -> the first name."""

    forward: dict[str, list[str]]
    reverse: dict[str, str]


def _table(network_id: str, records: dict[str, list[str]]) -> _Table:
    forward: dict[str, list[str]] = {}
    reverse: dict[str, str] = {}
    for raw, addresses in records.items():
        name = _normal(raw)
        if not name:
            raise errors.InvalidArgument(f"empty DNS name on network {network_id}")
        try:
            name.encode("ascii")
        except UnicodeEncodeError:
            raise errors.InvalidArgument(f"DNS name {raw!r} is not ASCII") from None
        for a in addresses:
            try:
                addr = ipaddress.ip_address(a)
            except ValueError:
                raise errors.InvalidArgument(
                    f"invalid address {a!r} for DNS name {raw!r}"
                ) from None
            known = forward.setdefault(name, [])
            if str(addr) not in known:
                known.append(str(addr))
            # The first name given for an address is its PTR answer (the daemon lists the
            # container's name before its aliases).
            reverse.setdefault(addr.reverse_pointer, name)
    return _Table(forward, reverse)


# -- the server's state --------------------------------------------------------------------


@dataclass(eq=False)
class _Client:
    """A served container: its two sockets and the TCP connections it has open."""

    container_id: str
    udp: socket.socket
    tcp: socket.socket
    log: Any
    conns: set[_Conn] = field(default_factory=set)
    # The container's own --dns servers, asked instead of the host's when given (docker's).
    upstreams: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)


@dataclass(eq=False)
class _Conn:
    """A TCP connection from a container: queries are 2-byte length-prefixed messages."""

    client: _Client
    sock: socket.socket
    deadline: float
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    pending: int = 0  # forwards not answered yet
    eof: bool = False
    registered: bool = False
    closed: bool = False


@dataclass(eq=False)
class _Forward:
    """A query on its way to the upstreams, tried in turn until one answers."""

    client: _Client
    query: Query
    data: bytes
    deliver: Callable[[bytes], None]
    tcp: bool
    upstreams: list[tuple[int, tuple[Any, ...]]]
    sock: socket.socket | None = None
    deadline: float = 0.0
    outbuf: bytes = b""
    inbuf: bytearray = field(default_factory=bytearray)


class Resolver:
    """Answers the DNS queries of the containers it serves (see the module's doc)."""

    def __init__(self, upstreams: list[str] | None = None, *, timeout: float = UPSTREAM_TIMEOUT):
        """`upstreams`: "IP" or "IP:PORT" servers for names not known here; None: the host's
        resolv.conf nameservers (without loopback ones). `timeout`: per upstream."""
        if upstreams is None:
            try:
                with open(RESOLV_CONF, encoding="utf-8", errors="replace") as f:
                    upstreams = upstreams_from_resolv_conf(f.read())
            except OSError as e:
                log.warning("no upstream DNS servers", path=RESOLV_CONF, error=e.strerror)
                upstreams = []
        self._upstreams = [_upstream_address(u) for u in upstreams]
        self._timeout = timeout
        # Names and the containers' networks: set from gRPC threads, read by the loop.
        self._lock = threading.Lock()
        self._tables: dict[str, _Table] = {}
        self._networks_of: dict[str, tuple[str, ...]] = {}
        # The loop thread and what only it touches; other threads reach it through _call.
        self._thread_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._sel: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._calls: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = (
            queue.SimpleQueue()
        )
        self._clients: dict[str, _Client] = {}
        self._forwards: set[_Forward] = set()
        self._running = False

    # -- the API (any thread) --------------------------------------------------------------

    def set_names(self, network_id: str, records: dict[str, list[str]]) -> None:
        """Replaces the names answered for containers on `network_id`."""
        table = _table(network_id, records)
        with self._lock:
            self._tables[network_id] = table
        log.debug("dns names set", network=network_id, names=len(table.forward))

    def drop_network(self, network_id: str) -> None:
        with self._lock:
            self._tables.pop(network_id, None)

    def serve(
        self,
        container_id: str,
        sockets: tuple[socket.socket, socket.socket],
        network_ids: list[str],
        upstreams: list[str] | None = None,
    ) -> None:
        """Answers on `sockets` (from `open_sockets`; the resolver owns them now) for a
        container on `network_ids`, replacing an earlier registration of the container.
        `upstreams`: the container's --dns servers for names not known here (default: the
        resolver's)."""
        own = [_upstream_address(u) for u in upstreams or []]
        udp, tcp = sockets
        udp.setblocking(False)
        tcp.setblocking(False)
        with self._lock:
            self._networks_of[container_id] = tuple(network_ids)
        with self._thread_lock:
            self._start()
            self._call(lambda: self._add(container_id, udp, tcp, own))
        log.info("dns serving", container=container_id, networks=",".join(network_ids))

    def set_networks(self, container_id: str, network_ids: list[str]) -> None:
        """The networks a served container is on now (after a connect or disconnect)."""
        with self._lock:
            if container_id in self._networks_of:
                self._networks_of[container_id] = tuple(network_ids)

    def stop(self, container_id: str) -> None:
        """Stops serving a container and closes its sockets (unknown: nothing to do)."""
        with self._lock:
            self._networks_of.pop(container_id, None)
        with self._thread_lock:
            if self._thread is not None:
                self._call(lambda: self._remove(container_id))

    def close(self) -> None:
        """Stops serving every container (the executor's shutdown); `serve` starts again."""
        with self._lock:
            self._networks_of.clear()
        with self._thread_lock:
            if self._thread is None:
                return
            self._call(self._shutdown)
            self._thread.join()
            assert self._sel and self._wake_r and self._wake_w
            self._sel.close()
            self._wake_r.close()
            self._wake_w.close()
            self._thread = self._sel = self._wake_r = self._wake_w = None

    # -- the loop thread -------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="dns", daemon=True)
        self._thread.start()

    def _call(self, fn: Callable[[], None]) -> None:
        """Runs `fn` in the loop thread (the only one that touches sockets and the selector)
        and waits for it."""
        assert self._wake_w is not None
        done: Future[None] = Future()
        self._calls.put((fn, done))
        with contextlib.suppress(BlockingIOError):  # full: wake-ups are pending already
            self._wake_w.send(b"\0")
        done.result()

    def _on_wake(self, _mask: int) -> None:
        assert self._wake_r is not None
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                fn, done = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            except BaseException as e:
                done.set_exception(e)
            else:
                done.set_result(None)

    def _loop(self) -> None:
        assert self._sel is not None
        sel = self._sel
        while self._running:
            events = sel.select(self._next_deadline())
            for key, mask in events:
                # A handler earlier in this batch may have closed this socket.
                if sel.get_map().get(key.fd) is not key:
                    continue
                try:
                    key.data(mask)
                except Exception:
                    # A bug in one query's handling must not end the thread every served
                    # container (and every API call waiting in _call) depends on.
                    log.exception("dns handler failed")
            try:
                self._expire(time.monotonic())
            except Exception:
                log.exception("dns expiry failed")

    def _next_deadline(self) -> float | None:
        deadlines = [f.deadline for f in self._forwards if f.sock is not None]
        deadlines += [
            c.deadline for cl in self._clients.values() for c in cl.conns if not c.pending
        ]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _expire(self, now: float) -> None:
        for f in [f for f in self._forwards if f.sock is not None and f.deadline <= now]:
            f.client.log.debug("dns upstream timed out", name=f.query.name)
            self._next_upstream(f)
        for cl in list(self._clients.values()):
            for c in [c for c in cl.conns if c.deadline <= now and not c.pending]:
                self._close_conn(c)

    def _register(self, sock: socket.socket, events: int, handler: Callable[[int], None]) -> None:
        assert self._sel is not None
        self._sel.register(sock, events, handler)

    def _unregister(self, sock: socket.socket) -> None:
        assert self._sel is not None
        with contextlib.suppress(KeyError, ValueError):  # not registered, or closed already
            self._sel.unregister(sock)

    def _unregister_close(self, sock: socket.socket) -> None:
        self._unregister(sock)
        sock.close()

    def _add(
        self,
        container_id: str,
        udp: socket.socket,
        tcp: socket.socket,
        upstreams: list[tuple[int, tuple[Any, ...]]],
    ) -> None:
        old = self._clients.get(container_id)
        if old is not None:
            self._drop_client(old, keep=(udp, tcp))
        client = _Client(
            container_id, udp, tcp, log.bind(container=container_id), upstreams=upstreams
        )
        self._clients[container_id] = client
        try:
            self._register(udp, selectors.EVENT_READ, lambda _m: self._on_udp(client))
            self._register(tcp, selectors.EVENT_READ, lambda _m: self._on_accept(client))
        except BaseException:
            self._drop_client(client)
            raise

    def _remove(self, container_id: str) -> None:
        client = self._clients.get(container_id)
        if client is not None:
            self._drop_client(client)
            client.log.info("dns stopped")

    def _drop_client(self, client: _Client, keep: tuple[socket.socket, ...] = ()) -> None:
        del self._clients[client.container_id]
        for f in [f for f in self._forwards if f.client is client]:
            self._end_forward(f)
        for c in list(client.conns):
            self._close_conn(c)
        for s in (client.udp, client.tcp):
            if s in keep:  # served again, by the new registration
                self._unregister(s)
            else:
                self._unregister(s)
                s.close()

    def _shutdown(self) -> None:
        for client in list(self._clients.values()):
            self._drop_client(client)
        self._running = False

    # -- queries -------------------------------------------------------------------------

    def _on_udp(self, client: _Client) -> None:
        for _ in range(64):  # then let the other sockets have a turn
            try:
                data, addr = client.udp.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError as e:
                # e.g. an ICMP error for an earlier answer: not this socket's end.
                client.log.debug("dns receive failed", error=e.strerror)
                continue
            q = parse_query(data)
            if q is None:
                client.log.debug("dns malformed query ignored", size=len(data))
                continue
            limit = min(q.edns_size or _UDP_PLAIN, _UDP_EDNS)

            def send(answer: bytes, addr: Any = addr) -> None:
                try:
                    client.udp.sendto(answer, addr)
                except OSError as e:
                    client.log.debug("dns answer not sent", error=e.strerror)

            self._handle(client, q, data, send, limit, tcp=False)

    def _handle(
        self,
        client: _Client,
        q: Query,
        data: bytes,
        deliver: Callable[[bytes], None],
        limit: int,
        tcp: bool,
    ) -> None:
        answer = self._answer(client.container_id, q, limit)
        if answer is not None:
            deliver(answer)
            return
        upstreams = client.upstreams or self._upstreams
        if not upstreams or len(self._forwards) >= MAX_FORWARDS:
            client.log.debug("dns cannot forward", name=q.name, in_flight=len(self._forwards))
            deliver(servfail(q))
            return
        f = _Forward(client, q, data, deliver, tcp, list(upstreams))
        self._forwards.add(f)
        self._next_upstream(f)

    def _answer(self, container_id: str, q: Query, limit: int) -> bytes | None:
        """The local answer to `q`, or None to forward it."""
        if (q.flags >> 11) & 0xF != 0:  # not a standard query
            return reply(q, _NOTIMP, [], limit)
        if q.qclass != _IN or q.name is None:
            return None
        with self._lock:
            tables = [
                self._tables[n]
                for n in self._networks_of.get(container_id, ())
                if n in self._tables
            ]
        if q.qtype == _PTR:
            for t in tables:
                if q.name in t.reverse:
                    return reply(
                        q, _NOERROR, [_record(_PTR, _encode_name(t.reverse[q.name]))], limit
                    )
            return None
        addresses: list[str] = []
        for t in tables:
            for a in t.forward.get(q.name, ()):
                if a not in addresses:
                    addresses.append(a)
        if not addresses:
            return None
        # A known name: its addresses of the asked family, or no answer at all (NOERROR, so the
        # client does not look the name up elsewhere), e.g. AAAA on IPv4-only networks.
        records = []
        if q.qtype == _A:
            records = [_record(_A, socket.inet_aton(a)) for a in addresses if ":" not in a]
        elif q.qtype == _AAAA:
            v6 = [a for a in addresses if ":" in a]
            records = [_record(_AAAA, socket.inet_pton(socket.AF_INET6, a)) for a in v6]
        random.shuffle(records)  # round robin between a name's containers, as docker does
        return reply(q, _NOERROR, records, limit)

    # -- forwarding ----------------------------------------------------------------------

    def _next_upstream(self, f: _Forward) -> None:
        """Sends `f` to its next upstream, or answers SERVFAIL when none is left."""
        if f.sock is not None:
            self._unregister_close(f.sock)
            f.sock = None
        while f.upstreams:
            family, addr = f.upstreams.pop(0)
            sock = socket.socket(family, socket.SOCK_STREAM if f.tcp else socket.SOCK_DGRAM)
            sock.setblocking(False)
            try:
                if f.tcp:
                    # Connecting: writable once connected (or failed).
                    sock.connect_ex(addr)
                    f.outbuf = struct.pack("!H", len(f.data)) + f.data
                    f.inbuf.clear()
                    self._register(sock, selectors.EVENT_WRITE, lambda m: self._on_tcp_up(f, m))
                else:
                    sock.connect(addr)
                    sock.send(f.data)
                    self._register(sock, selectors.EVENT_READ, lambda _m: self._on_udp_up(f))
            except OSError as e:
                f.client.log.debug("dns upstream failed", upstream=addr[0], error=e.strerror)
                sock.close()
                continue
            f.sock = sock
            f.deadline = time.monotonic() + self._timeout
            return
        f.client.log.info("dns forward failed", name=f.query.name, qtype=f.query.qtype)
        self._finish(f, servfail(f.query))

    def _on_udp_up(self, f: _Forward) -> None:
        assert f.sock is not None
        try:
            data = f.sock.recv(65535)
        except BlockingIOError:
            return
        except OSError as e:  # ECONNREFUSED: nothing listens there
            f.client.log.debug("dns upstream failed", error=e.strerror)
            self._next_upstream(f)
            return
        self._upstream_reply(f, data)

    def _on_tcp_up(self, f: _Forward, mask: int) -> None:
        sock = f.sock
        assert sock is not None and self._sel is not None
        try:
            if mask & selectors.EVENT_WRITE:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                sent = sock.send(f.outbuf)
                f.outbuf = f.outbuf[sent:]
                if not f.outbuf:
                    self._sel.modify(sock, selectors.EVENT_READ, lambda m: self._on_tcp_up(f, m))
                return
            chunk = sock.recv(65537)
        except BlockingIOError:
            return
        except OSError as e:
            f.client.log.debug("dns upstream failed", error=e.strerror)
            self._next_upstream(f)
            return
        if not chunk:
            self._next_upstream(f)
            return
        f.inbuf += chunk
        if len(f.inbuf) >= 2:
            (n,) = struct.unpack_from("!H", f.inbuf)
            if len(f.inbuf) >= 2 + n:
                self._upstream_reply(f, bytes(f.inbuf[2 : 2 + n]))

    def _upstream_reply(self, f: _Forward, data: bytes) -> None:
        if len(data) < 12 or data[:2] != f.data[:2] or not data[2] & 0x80:
            return  # not the answer to this query: keep waiting
        rcode = data[3] & 0xF
        if rcode in (_SERVFAIL, _REFUSED) and f.upstreams:
            self._next_upstream(f)  # docker tries the next server for these too
            return
        self._finish(f, data)

    def _finish(self, f: _Forward, data: bytes) -> None:
        self._end_forward(f)
        f.deliver(data)

    def _end_forward(self, f: _Forward) -> None:
        self._forwards.discard(f)
        if f.sock is not None:
            self._unregister_close(f.sock)
            f.sock = None

    # -- TCP from containers -------------------------------------------------------------

    def _on_accept(self, client: _Client) -> None:
        for _ in range(16):
            try:
                sock, _addr = client.tcp.accept()
            except BlockingIOError:
                return
            except OSError as e:
                client.log.debug("dns accept failed", error=e.strerror)
                return
            if len(client.conns) >= MAX_TCP_CONNS:
                client.log.debug("dns too many TCP connections")
                sock.close()
                continue
            sock.setblocking(False)
            conn = _Conn(client, sock, time.monotonic() + TCP_IDLE)
            client.conns.add(conn)
            self._interest(conn)

    def _on_conn(self, conn: _Conn, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(conn)
        if not mask & selectors.EVENT_READ or conn.closed:
            return
        try:
            chunk = conn.sock.recv(65537)
        except BlockingIOError:
            return
        except OSError:
            self._close_conn(conn)
            return
        conn.deadline = time.monotonic() + TCP_IDLE
        if not chunk:
            conn.eof = True
            self._interest(conn)
            return
        conn.inbuf += chunk
        while len(conn.inbuf) >= 2 and not conn.closed:
            (n,) = struct.unpack_from("!H", conn.inbuf)
            if len(conn.inbuf) < 2 + n:
                break
            data = bytes(conn.inbuf[2 : 2 + n])
            del conn.inbuf[: 2 + n]
            q = parse_query(data)
            if q is None:
                conn.client.log.debug("dns malformed query ignored", size=len(data))
                continue
            conn.pending += 1
            self._handle(conn.client, q, data, lambda a, c=conn: self._send(c, a), _TCP_MAX, True)

    def _send(self, conn: _Conn, answer: bytes) -> None:
        conn.pending -= 1
        conn.deadline = time.monotonic() + TCP_IDLE
        if conn.closed:
            return
        conn.outbuf += struct.pack("!H", len(answer)) + answer
        self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.outbuf) if conn.outbuf else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self._close_conn(conn)
            return
        del conn.outbuf[:sent]
        self._interest(conn)

    def _interest(self, conn: _Conn) -> None:
        """Watches the connection for what it waits for: more queries until the client shuts
        its side down (some do right after their query, and still want the answer), room
        for the answers not sent yet. Closed once it waits for nothing."""
        assert self._sel is not None
        events = (0 if conn.eof else selectors.EVENT_READ) | (
            selectors.EVENT_WRITE if conn.outbuf else 0
        )
        if not events:
            self._unregister(conn.sock)
            conn.registered = False
            if not conn.pending:
                self._close_conn(conn)
            return
        handler = lambda m, c=conn: self._on_conn(c, m)  # noqa: E731
        if conn.registered:
            self._sel.modify(conn.sock, events, handler)
        else:
            self._sel.register(conn.sock, events, handler)
            conn.registered = True

    def _close_conn(self, conn: _Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        conn.client.conns.discard(conn)
        self._unregister_close(conn.sock)
