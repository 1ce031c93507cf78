"""The firewall (Caisson's own nftables table) and host-port reservations, on the real kernel.

The root tests build a small lab with `ip` (test code only): bridges `cst<hex>` on free /24s
of 10.251.0.0/16 (route_localnet=1, as links.ensure_bridge sets it), "container" network
namespaces with a veth on a bridge and a server that answers with the address it sees, an
"outside" namespace behind a second veth (its only route: its own /24), another host address
(10.252.x.1/32 on a veth pair of its own). The firewall works in a table `caisson_test_<hex>`.
Fixtures delete every link, namespace, process and the table even when a test fails, and
check nothing is left. Traffic goes only to 127.0.0.1 and to these namespaces.

Expected failures wait a short timeout (a dropped SYN has no answer); nothing asserts a
duration.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from caisson import errors
from caisson.executor import nftables, ports
from caisson.executor.firewall import Firewall, Publish


def _forwarding() -> bool:
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def root(test: Callable[..., None]) -> Callable[..., None]:
    """Marks a test that works on the host's network stack."""
    for mark in (
        pytest.mark.root,
        pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
        pytest.mark.skipif(
            not _forwarding(), reason="needs net.ipv4.ip_forward=1 (the tests do not change it)"
        ),
    ):
        test = mark(test)
    return test


PORT = 8000  # the servers' port inside their namespaces
OK_TIMEOUT = 10.0  # an answer expected
BLOCKED_TIMEOUT = 1.0  # no answer expected (dropped packets only time out)

# Answers every TCP connection and UDP datagram with the peer's address, so a test sees who
# the server thinks it talks to (masquerade or not).
SERVER = r"""
import socket, sys, threading
port = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", port))
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", port))
t.listen(16)
def udp():
    while True:
        _, peer = u.recvfrom(100)
        u.sendto(peer[0].encode(), peer)
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
while True:
    c, peer = t.accept()
    c.sendall(peer[0].encode())
    c.close()
"""


def ask(proto: str, address: str, port: int, timeout: float) -> str:
    """The server's answer, or "" when there is none. Runs on the host, and inside a lab
    namespace as source code (Lab.ask_from)."""
    import socket

    try:
        if proto == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(b"who", (address, port))
                return s.recvfrom(100)[0].decode()
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(100).decode()
    except OSError:
        return ""


def _sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def _tables() -> set[str]:
    out = json.loads(_sh("nft", "-j", "list", "tables").stdout)["nftables"]
    return {f"{o['table']['family']} {o['table']['name']}" for o in out if "table" in o}


@dataclass
class Lab:
    """The test's links, namespaces and processes, all named after `prefix`."""

    prefix: str
    links: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def _link(self, suffix: str) -> str:
        name = self.prefix + suffix
        assert len(name) <= 15
        return name

    def bridge(self, suffix: str, subnet: str) -> str:
        """A bridge named prefix+suffix holding subnet's .1, up, with route_localnet=1."""
        name = self._link(suffix)
        net = ipaddress.IPv4Network(subnet)
        self.links.append(name)
        _sh("ip", "link", "add", name, "type", "bridge")
        _sh("ip", "addr", "add", f"{net.network_address + 1}/{net.prefixlen}", "dev", name)
        _sh("ip", "link", "set", name, "up")
        with open(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "w") as f:
            f.write("1")
        return name

    def namespace(self, suffix: str, subnet: str, host: int, bridge: str = "") -> str:
        """A namespace with eth0 = subnet's .host, its default route via .1, and a server.

        With `bridge`, the host end of its veth joins the bridge; without, the host end
        holds .1 itself (an "outside" host behind its own link, no route elsewhere)."""
        name = f"{self.prefix}-{suffix}"
        net = ipaddress.IPv4Network(subnet)
        host_end = self._link(suffix)
        self.links.append(host_end)
        _sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        _sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", name)
        if bridge:
            _sh("ip", "link", "set", host_end, "master", bridge)
        else:
            _sh("ip", "addr", "add", f"{net.network_address + 1}/{net.prefixlen}", "dev", host_end)
        _sh("ip", "link", "set", host_end, "up")
        inside = ["ip", "netns", "exec", name]
        _sh(*inside, "ip", "link", "set", "lo", "up")
        _sh(
            *inside,
            "ip",
            "addr",
            "add",
            f"{net.network_address + host}/{net.prefixlen}",
            "dev",
            "eth0",
        )
        _sh(*inside, "ip", "link", "set", "eth0", "up")
        if bridge:
            _sh(*inside, "ip", "route", "add", "default", "via", str(net.network_address + 1))
        proc = subprocess.Popen(
            [*inside, sys.executable, "-c", SERVER, str(PORT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return name

    def extra_address(self, suffix: str, address: str) -> str:
        """Another address of the host, on a link of its own: a veth pair with both ends in
        the host's namespace (this kernel may have no dummy links)."""
        name, peer = self._link(suffix), self._link(suffix + "p")
        self.links.append(name)
        _sh("ip", "link", "add", name, "type", "veth", "peer", "name", peer)
        _sh("ip", "addr", "add", f"{address}/32", "dev", name)
        _sh("ip", "link", "set", peer, "up")
        _sh("ip", "link", "set", name, "up")
        return name

    def ask_from(self, namespace: str, proto: str, address: str, port: int, timeout: float) -> str:
        """Asks a server from inside one of the lab's namespaces."""
        call = f"print(ask({proto!r}, {address!r}, {port}, {timeout}), end='')"
        code = inspect.getsource(ask) + call
        out = _sh("ip", "netns", "exec", namespace, sys.executable, "-c", code)
        return out.stdout

    def cleanup(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
        for name in self.namespaces:
            _sh("ip", "netns", "del", name, check=False)
        for name in self.links:
            _sh("ip", "link", "del", name, check=False)

    def leftovers(self) -> list[str]:
        links = _sh("ip", "-o", "link", "show").stdout
        netns = _sh("ip", "netns", "list").stdout
        return [line for line in (links + netns).splitlines() if self.prefix in line]


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab("cst" + secrets.token_hex(3))
    try:
        yield lab
    finally:
        lab.cleanup()
        assert lab.leftovers() == []


@pytest.fixture
def subnets() -> list[str]:
    """Three /24s of 10.251.0.0/16 that no host route uses yet."""
    routes = _sh("ip", "-4", "route", "show").stdout
    free = [n for n in range(256) if f"10.251.{n}." not in routes]
    return [f"10.251.{n}.0/24" for n in secrets.SystemRandom().sample(free, 3)]


@pytest.fixture
def firewall() -> Iterator[Firewall]:
    fw = Firewall("caisson_test_" + secrets.token_hex(4))
    try:
        fw.setup()
        yield fw
    finally:
        fw.destroy()
        assert f"ip {fw.table}" not in _tables()


def _host(subnet: str, n: int) -> str:
    return str(ipaddress.IPv4Network(subnet).network_address + n)


def _extra_address(subnet: str) -> str:
    return "10.252." + subnet.split(".")[2] + ".1"


def _net_id() -> str:
    return secrets.token_hex(32)


# -- published ports -------------------------------------------------------------------------


@root
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_published_port_from_the_host(
    proto: str, lab: Lab, subnets: list[str], firewall: Firewall
) -> None:
    """The host reaches a published port on 127.0.0.1 and on another host address; the
    reservation holds the port meanwhile; unpublish takes the rules away."""
    net = subnets[0]
    bridge = lab.bridge("a", net)
    lab.namespace("c1", net, 2, bridge)
    extra_ip = _extra_address(net)
    lab.extra_address("x", extra_ip)
    firewall.ensure_network(_net_id(), bridge, net, internal=False)
    ctr = secrets.token_hex(32)

    with ports.reserve(proto, "", 0) as reservation:
        host_port = reservation.getsockname()[1]
        firewall.publish(ctr, bridge, [Publish(proto, "", host_port, _host(net, 2), PORT)])
        assert firewall.container_ids() == {ctr}
        # 127.0.0.1 leaves masqueraded as the bridge's address; the extra address is local
        # to the host, so the server sees it as it is
        assert ask(proto, "127.0.0.1", host_port, OK_TIMEOUT) == _host(net, 1)
        assert ask(proto, extra_ip, host_port, OK_TIMEOUT) == extra_ip

        firewall.unpublish(ctr)
        assert firewall.container_ids() == set()
        assert ask(proto, "127.0.0.1", host_port, BLOCKED_TIMEOUT) == ""


@root
def test_published_port_on_one_host_address(
    lab: Lab, subnets: list[str], firewall: Firewall
) -> None:
    """host_ip 127.0.0.1: the host reaches it there, not on its other addresses; publish
    again replaces the rules (another host port)."""
    net = subnets[0]
    bridge = lab.bridge("a", net)
    lab.namespace("c1", net, 2, bridge)
    extra_ip = _extra_address(net)
    lab.extra_address("x", extra_ip)
    firewall.ensure_network(_net_id(), bridge, net, internal=False)
    ctr = secrets.token_hex(32)
    with (
        ports.reserve("tcp", "127.0.0.1", 0) as first,
        ports.reserve("tcp", "127.0.0.1", 0) as second,
    ):
        port1, port2 = first.getsockname()[1], second.getsockname()[1]
        firewall.publish(ctr, bridge, [Publish("tcp", "127.0.0.1", port1, _host(net, 2), PORT)])
        assert ask("tcp", "127.0.0.1", port1, OK_TIMEOUT) == _host(net, 1)
        assert ask("tcp", extra_ip, port1, BLOCKED_TIMEOUT) == ""

        firewall.publish(ctr, bridge, [Publish("tcp", "127.0.0.1", port2, _host(net, 2), PORT)])
        assert ask("tcp", "127.0.0.1", port2, OK_TIMEOUT) == _host(net, 1)
        assert ask("tcp", "127.0.0.1", port1, BLOCKED_TIMEOUT) == ""


@root
def test_published_port_from_another_host(lab: Lab, subnets: list[str], firewall: Firewall) -> None:
    """Another host (the outside namespace) reaches a published port on the host's address
    on its link (DNAT in prerouting), but not the container's address directly, even with a
    route to it."""
    net, outside_net = subnets[0], subnets[1]
    bridge = lab.bridge("a", net)
    lab.namespace("c1", net, 2, bridge)
    outside = lab.namespace("o", outside_net, 2)
    host_on_link = _host(outside_net, 1)
    _sh("ip", "netns", "exec", outside, "ip", "route", "add", net, "via", host_on_link)
    ctr_ip = _host(net, 2)
    # before Caisson's rules, nothing stops the direct route (this host forwards)
    assert lab.ask_from(outside, "tcp", ctr_ip, PORT, OK_TIMEOUT) == _host(outside_net, 2)

    firewall.ensure_network(_net_id(), bridge, net, internal=False)
    with ports.reserve("tcp", "", 0) as reservation:
        host_port = reservation.getsockname()[1]
        firewall.publish(
            secrets.token_hex(32), bridge, [Publish("tcp", "", host_port, ctr_ip, PORT)]
        )
        got = lab.ask_from(outside, "tcp", host_on_link, host_port, OK_TIMEOUT)
        assert got == _host(outside_net, 2)
        assert lab.ask_from(outside, "tcp", ctr_ip, PORT, BLOCKED_TIMEOUT) == ""


@root
def test_hairpin_to_a_published_port_of_the_same_bridge(
    lab: Lab, subnets: list[str], firewall: Firewall
) -> None:
    """A container reaches another container's published port through a host address; the
    server sees the bridge's address, so its reply comes back through the host's NAT."""
    net = subnets[0]
    bridge = lab.bridge("a", net)
    lab.namespace("c1", net, 2, bridge)
    client = lab.namespace("c2", net, 3, bridge)
    extra_ip = _extra_address(net)
    lab.extra_address("x", extra_ip)
    firewall.ensure_network(_net_id(), bridge, net, internal=False)
    with ports.reserve("tcp", "", 0) as reservation:
        host_port = reservation.getsockname()[1]
        firewall.publish(
            secrets.token_hex(32), bridge, [Publish("tcp", "", host_port, _host(net, 2), PORT)]
        )
        got = lab.ask_from(client, "tcp", extra_ip, host_port, OK_TIMEOUT)
        assert got == _host(net, 1)


# -- networks --------------------------------------------------------------------------------


@root
def test_masquerade_and_internal(lab: Lab, subnets: list[str], firewall: Firewall) -> None:
    """A container reaches an outside host, which sees the host's address (the outside has no
    route back to the container's subnet); the same network made internal cannot; made
    non-internal again, it can (ensure_network replaces a network's rules)."""
    net, outside_net = subnets[0], subnets[1]
    bridge = lab.bridge("a", net)
    ctr = lab.namespace("c1", net, 2, bridge)
    lab.namespace("o", outside_net, 2)
    outside_ip = _host(outside_net, 2)
    net_id = _net_id()

    firewall.ensure_network(net_id, bridge, net, internal=False)
    for proto in ("tcp", "udp"):
        got = lab.ask_from(ctr, proto, outside_ip, PORT, OK_TIMEOUT)
        assert got == _host(outside_net, 1)

    firewall.ensure_network(net_id, bridge, net, internal=True)
    assert lab.ask_from(ctr, "tcp", outside_ip, PORT, BLOCKED_TIMEOUT) == ""
    # the host itself still talks to a container of an internal network
    assert ask("tcp", _host(net, 2), PORT, OK_TIMEOUT) == _host(net, 1)

    firewall.ensure_network(net_id, bridge, net, internal=False)
    assert lab.ask_from(ctr, "tcp", outside_ip, PORT, OK_TIMEOUT) == _host(outside_net, 1)
    assert firewall.network_ids() == {net_id}


@root
def test_isolation_between_bridges(lab: Lab, subnets: list[str], firewall: Firewall) -> None:
    """Two Caisson networks do not reach each other, not even through a published port on a
    host address (docker's DOCKER-ISOLATION); both still reach the outside. remove_network
    takes a network's rules away."""
    net_a, net_b, outside_net = subnets
    bridge_a = lab.bridge("a", net_a)
    bridge_b = lab.bridge("b", net_b)
    a = lab.namespace("c1", net_a, 2, bridge_a)
    b = lab.namespace("c2", net_b, 2, bridge_b)
    lab.namespace("o", outside_net, 2)
    extra_ip = _extra_address(net_a)
    lab.extra_address("x", extra_ip)
    a_ip, b_ip = _host(net_a, 2), _host(net_b, 2)
    # the host forwards between the bridges until the rules are there
    assert lab.ask_from(a, "tcp", b_ip, PORT, OK_TIMEOUT) == a_ip

    id_a, id_b = _net_id(), _net_id()
    firewall.ensure_network(id_a, bridge_a, net_a, internal=False)
    firewall.ensure_network(id_b, bridge_b, net_b, internal=False)
    assert firewall.network_ids() == {id_a, id_b}
    assert lab.ask_from(a, "tcp", b_ip, PORT, BLOCKED_TIMEOUT) == ""
    assert lab.ask_from(b, "tcp", a_ip, PORT, BLOCKED_TIMEOUT) == ""
    for ns in (a, b):
        got = lab.ask_from(ns, "tcp", _host(outside_net, 2), PORT, OK_TIMEOUT)
        assert got == _host(outside_net, 1)
    with ports.reserve("tcp", "", 0) as reservation:
        host_port = reservation.getsockname()[1]
        firewall.publish(
            secrets.token_hex(32), bridge_a, [Publish("tcp", "", host_port, a_ip, PORT)]
        )
        assert ask("tcp", extra_ip, host_port, OK_TIMEOUT) == extra_ip
        assert lab.ask_from(b, "tcp", extra_ip, host_port, BLOCKED_TIMEOUT) == ""

    firewall.remove_network(id_b)
    firewall.remove_network(id_b)  # already gone: nothing to do
    assert firewall.network_ids() == {id_a}
    # b's bridge is no Caisson bridge any more: only a's own rule (into its bridge) is left,
    # and b -> a is new traffic entering a's bridge from elsewhere
    assert lab.ask_from(b, "tcp", a_ip, PORT, BLOCKED_TIMEOUT) == ""
    firewall.remove_network(id_a)
    assert firewall.network_ids() == set()
    assert lab.ask_from(b, "tcp", a_ip, PORT, OK_TIMEOUT) == b_ip


def _udp_to_host_loopback(namespace: str, bridge: str, src: str, port: int) -> None:
    """Sends from `namespace` a hand-made UDP datagram to 127.0.0.1:port, framed to the
    bridge's MAC: what a container with CAP_NET_RAW could do to reach the host's loopback
    through route_localnet=1."""
    with open(f"/sys/class/net/{bridge}/address") as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    payload = b"from a container"
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, socket.IPPROTO_UDP, 0,
        socket.inet_aton(src), socket.inet_aton("127.0.0.1"),
    )  # fmt: skip
    words = sum(struct.unpack("!10H", header))
    while words > 0xFFFF:
        words = (words & 0xFFFF) + (words >> 16)
    header = header[:10] + struct.pack("!H", ~words & 0xFFFF) + header[12:]
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))\n"
        f"s.sendto({header + udp!r}, ('eth0', 0x0800, 0, 0, {mac!r}))\n"
    )
    _sh("ip", "netns", "exec", namespace, sys.executable, "-c", code)


@root
def test_containers_cannot_reach_the_host_loopback(
    lab: Lab, subnets: list[str], firewall: Firewall
) -> None:
    """route_localnet=1 on a bridge would let a crafted packet from a container reach the
    host's 127.0.0.1 services; the input chain drops them once the bridge is Caisson's."""
    net = subnets[0]
    bridge = lab.bridge("a", net)
    ctr = lab.namespace("c1", net, 2, bridge)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.settimeout(OK_TIMEOUT)
        _udp_to_host_loopback(ctr, bridge, _host(net, 2), port)
        assert listener.recvfrom(100) == (b"from a container", (_host(net, 2), 40000))

        firewall.ensure_network(_net_id(), bridge, net, internal=False)
        listener.settimeout(BLOCKED_TIMEOUT)
        _udp_to_host_loopback(ctr, bridge, _host(net, 2), port)
        with pytest.raises(TimeoutError):
            listener.recvfrom(100)


# -- the table -------------------------------------------------------------------------------


def _ruleset(fw: Firewall) -> list[str]:
    """The table's rules and set elements as nft lists them, without handles."""
    listing = json.loads(nftables.run(f"list table ip {fw.table}"))["nftables"]
    out = []
    for item in listing:
        if "rule" in item:
            item["rule"].pop("handle")
            out.append(json.dumps(item["rule"], sort_keys=True))
        if "set" in item:
            out.append(json.dumps(item["set"].get("elem", []), sort_keys=True))
    return sorted(out)


@root
def test_setup_and_ensure_are_idempotent(firewall: Firewall) -> None:
    """Calling setup and ensure_network again changes nothing; setup keeps the networks' and
    containers' rules; destroy leaves no table."""
    net_id, ctr = _net_id(), secrets.token_hex(32)
    firewall.ensure_network(net_id, "cstidem0", "10.251.0.0/24", internal=False)
    firewall.publish(ctr, "cstidem0", [Publish("udp", "", 5353, "10.251.0.2", 53)])
    before = _ruleset(firewall)
    firewall.setup()
    firewall.ensure_network(net_id, "cstidem0", "10.251.0.0/24", internal=False)
    firewall.publish(ctr, "cstidem0", [Publish("udp", "", 5353, "10.251.0.2", 53)])
    assert _ruleset(firewall) == before
    assert firewall.network_ids() == {net_id}
    assert firewall.container_ids() == {ctr}

    other = Firewall(firewall.table)
    other.destroy()
    assert f"ip {firewall.table}" not in _tables()
    with pytest.raises(errors.FailedPrecondition, match="does not exist"):
        other.network_ids()
    other.destroy()  # already gone: nothing to do


@root
def test_other_tables_are_left_alone(firewall: Firewall) -> None:
    """Another table (as docker's iptables-nft ones) keeps its rules through setup, ensure
    and destroy."""
    other = "caisson_test_other_" + secrets.token_hex(4)
    nftables.run(
        f"add table ip {other}\n"
        f"add chain ip {other} forward {{ type filter hook forward priority 0; policy accept; }}\n"
        f'add rule ip {other} forward iifname "cstnothing" drop'
    )
    try:
        before = nftables.run(f"list table ip {other}")
        firewall.setup()
        firewall.ensure_network(_net_id(), "cstidem0", "10.251.0.0/24", internal=True)
        firewall.destroy()
        assert nftables.run(f"list table ip {other}") == before
    finally:
        nftables.run(f"delete table ip {other}")


# -- without root: arguments, nft errors, port reservations --------------------------------


def test_invalid_arguments() -> None:
    with pytest.raises(errors.InvalidArgument, match="table name"):
        Firewall("caisson; flush ruleset")
    fw = Firewall("caisson_test_never_made")
    bad_calls = [
        (lambda: fw.ensure_network("", "cst0", "10.251.0.0/24", False), "network id"),
        (lambda: fw.ensure_network("n", "a-bridge-name-too-long", "10.0.0.0/8", False), "bridge"),
        (lambda: fw.ensure_network("n", "cst0", "fd00::/64", False), "subnet"),
        (lambda: fw.publish("c", "cst0", [Publish("sctp", "", 80, "10.0.0.2", 80)]), "protocol"),
        (lambda: fw.publish("c", "cst0", [Publish("tcp", "", 0, "10.0.0.2", 80)]), "host port"),
        (lambda: fw.publish("c", "cst0", [Publish("tcp", "::1", 80, "10.0.0.2", 80)]), "host"),
        (lambda: fw.publish("c", "cst0", [Publish("tcp", "", 80, "10.0.0.2", 70000)]), "contai"),
        (lambda: fw.publish("c", "cst0", [Publish("tcp", "", 80, "nowhere", 80)]), "container"),
        (lambda: fw.unpublish("c d"), "container id"),
    ]
    for call, words in bad_calls:
        with pytest.raises(errors.InvalidArgument, match=words):
            call()


def test_nft_errors_carry_nft_text() -> None:
    with pytest.raises(errors.Internal, match="syntax error"):
        nftables.run("this is not nft")
    with pytest.raises(errors.Internal, match="Unknown object"):
        nftables.run_json({"nftables": [{"add": {"nothing": {}}}]})


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_reserve_holds_the_port(proto: str) -> None:
    """Port 0 gets a free port; while held, binding it again (even with SO_REUSEADDR, from
    another process, as `nc -l` does) fails; docker's words for a second reservation."""
    kind = "SOCK_STREAM" if proto == "tcp" else "SOCK_DGRAM"
    with ports.reserve(proto, "", 0) as held:
        port = held.getsockname()[1]
        assert port != 0
        assert held.get_inheritable() is False
        with pytest.raises(errors.FailedPrecondition) as e:
            ports.reserve(proto, "", port)
        assert str(e.value) == f"Bind for 0.0.0.0:{port} failed: port is already allocated"
        with pytest.raises(errors.FailedPrecondition) as e:
            ports.reserve(proto, "127.0.0.1", port)
        assert str(e.value) == f"Bind for 127.0.0.1:{port} failed: port is already allocated"
        other = (
            "import socket\n"
            f"s = socket.socket(socket.AF_INET, socket.{kind})\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('127.0.0.1', {port}))\n"
        )
        result = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True)
        assert result.returncode != 0
        assert "Address already in use" in result.stderr
    # released with the socket
    ports.reserve(proto, "127.0.0.1", port).close()


def test_reserve_errors() -> None:
    with pytest.raises(errors.InvalidArgument, match="protocol"):
        ports.reserve("sctp", "", 80)
    with pytest.raises(errors.InvalidArgument, match="host port"):
        ports.reserve("tcp", "", 65536)
    with pytest.raises(errors.InvalidArgument, match="IPv4"):
        ports.reserve("tcp", "localhost", 80)
    with pytest.raises(errors.FailedPrecondition, match="cannot assign requested address"):
        ports.reserve("tcp", "192.0.2.1", 0)  # TEST-NET-1: not an address of this host
