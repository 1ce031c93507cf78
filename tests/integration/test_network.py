"""Container networking with real containers on the real kernel (issue 4, section 3): the
default bridge, published TCP and UDP ports reached from the host (127.0.0.1, another host
address, and a fake "outside" host in a network namespace the test makes), port conflicts,
user networks with the embedded DNS (names, aliases, 127.0.0.11), --internal networks and
outbound NAT, --ip, network connect/disconnect, --network container:NAME, the /etc files,
network rm/prune, and networking across SIGKILLs of the executor and of the daemon.

Everything the tests make on the host has a test-only name (cst...) and a test-only address
(10.240.0.0/12, away from the daemon's subnets and the host's routes) and is removed by its
fixture even when the test fails; traffic only goes to 127.0.0.1, to those addresses and to
the containers. Names are only looked up on user networks (their embedded DNS answers them
itself), never on the default bridge (whose resolv.conf is the host's).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.support import leaks
from tests.support.catalog import Catalog
from tests.support.expect import fails, ok
from tests.support.processes import (
    alive,
    cmdline,
    descendants,
    public_tempdir,
    remove_tree,
    stop_process,
    wait_for,
)
from tests.support.services import CliResult, Daemon

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaks")]

# busybox httpd serving the container's /etc: GET /hostname names the container that answered.
HTTPD = ("httpd", "-f", "-p", "80", "-h", "/etc")
# (busybox 1.35's `wget -T` crashes: time limits are `timeout N wget ...`, never as PID 1.)
SLEEP = ("sleep", "600")
EMBEDDED_DNS = "127.0.0.11"
PORT_TAKEN = (
    r"Error response from daemon: driver failed programming external connectivity on endpoint "
    r"{name} \([0-9a-f]{{64}}\): Bind for 0\.0\.0\.0:{port} failed: port is already allocated\."
)
# The host's Python, run in a container with the host's /usr (busybox has no UDP server).
HOST_PYTHON = "/usr/bin/python3"
WITH_HOST_PYTHON = ("-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro")
UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo " + data, peer)
"""
# The fake outside host's server: tells each client the address it came from.
PEER_SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
while True:
    c, peer = s.accept()
    c.sendall(peer[0].encode() + b"\\n")
    c.close()
"""
HTTP_CLIENT = """
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")
"""


# --- helpers -----------------------------------------------------------------------------


def run(d: Daemon, *args: str, **kw: object) -> CliResult:
    return d.cli("run", *args, **kw)  # type: ignore[arg-type]


def inspect(d: Daemon, name: str) -> dict:  # type: ignore[type-arg]
    docs = json.loads(ok(d.cli("inspect", name)).out)
    assert isinstance(docs, list) and len(docs) == 1
    return dict(docs[0])


def net_inspect(d: Daemon, name: str) -> dict:  # type: ignore[type-arg]
    docs = json.loads(ok(d.cli("network", "inspect", name)).out)
    assert isinstance(docs, list) and len(docs) == 1
    return dict(docs[0])


def address_on(d: Daemon, container: str, network: str) -> str:
    addr = inspect(d, container)["NetworkSettings"]["Networks"][network]["IPAddress"]
    assert isinstance(addr, str) and addr, f"{container} has no address on {network}"
    return addr


def reservations(d: Daemon, network: str) -> dict[str, str]:
    """container name -> IPv4Address/len, from `network inspect`'s Containers."""
    return {c["Name"]: c["IPv4Address"] for c in net_inspect(d, network)["Containers"].values()}


def ipv4_of(d: Daemon, container: str, ifname: str) -> list[str]:
    """The address/len of `ifname` inside a running container (`ip` from busybox)."""
    r = d.cli("exec", container, "ip", "-4", "-o", "addr", "show", ifname)
    return re.findall(r"inet (\S+)", r.out) if r.code == 0 else []


def http_get(host: str, port: int, path: str = "/hostname", timeout: float = 2.0) -> str:
    url = f"http://{host}:{port}{path}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def wait_http(host: str, port: int, path: str = "/hostname", timeout: float = 15.0) -> str:
    """The body once the server answers (the container's httpd may not listen yet)."""
    body: list[str] = []

    def answered() -> bool:
        try:
            body.append(http_get(host, port, path))
            return True
        except OSError:
            return False

    wait_for(answered, timeout, interval=0.1, what=f"http://{host}:{port}{path}")
    return body[-1]


def refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def bindable(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def free_ports(count: int = 1, kind: int = socket.SOCK_STREAM) -> int:
    """The first of `count` consecutive host ports nothing holds now (below the ephemeral
    range, so the kernel does not hand them out meanwhile)."""
    for _ in range(1000):
        first = 20000 + int.from_bytes(os.urandom(2)) % 12000
        if all(bindable(p, kind) for p in range(first, first + count)):
            return first
    raise RuntimeError("no free host ports")


def udp_ask(host: str, port: int, data: bytes, timeout: float = 15.0) -> bytes:
    """Sends `data` until an answer comes back (the server in the container may not be
    bound yet: the first datagrams are lost)."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                s.sendto(data, (host, port))
                return s.recvfrom(2048)[0]
    raise TimeoutError(f"no UDP answer from {host}:{port}")


def _a_records(r: CliResult) -> list[str]:
    answer = r.out.split("Name:", 1)[1] if "Name:" in r.out else ""
    return sorted(re.findall(r"Address: (\d+\.\d+\.\d+\.\d+)", answer))


def resolve_in(d: Daemon, container: str, name: str) -> list[str]:
    """The A records the embedded DNS answers `container` for `name` (busybox nslookup)."""
    return _a_records(d.cli("exec", container, "nslookup", "-type=a", name, EMBEDDED_DNS))


def resolve_on(d: Daemon, image: str, network: str, name: str) -> list[str]:
    """The same, asked from a new container on `network`."""
    cmd = ("nslookup", "-type=a", name, EMBEDDED_DNS)
    return _a_records(run(d, "--rm", "--network", network, image, *cmd))


def fetch_in(d: Daemon, container: str, url: str) -> CliResult:
    """busybox wget of `url` in `container`, retried while the server may still start."""
    script = (
        f"for i in $(seq 50); do timeout 3 wget -q -O- {url} && exit 0; sleep 0.1; done; exit 1"
    )
    return d.cli("exec", container, "sh", "-c", script)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def executor_pid(d: Daemon) -> int:
    """The executor the daemon runs now (0 while there is none)."""
    assert d.proc is not None
    for pid in descendants(d.proc.pid):
        if "caisson.executor" in cmdline(pid) or "caisson-executor" in cmdline(pid):
            return pid
    return 0


def log_size(d: Daemon) -> int:
    return os.path.getsize(d.log_path)


def wait_names_pushed(d: Daemon, network_id: str, since: int) -> None:
    """Waits until the executor logged the daemon's names for `network_id` after offset
    `since` of the daemon's log: until then the embedded DNS does not know them and would
    forward the question to the host's nameservers (not a place the tests send traffic)."""

    def pushed() -> bool:
        with open(d.log_path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        return any("dns names set" in line and network_id in line for line in text.splitlines())

    wait_for(pushed, 30, interval=0.1, what=f"the names of network {network_id[:12]}")


def kill_daemon(d: Daemon) -> None:
    """SIGKILL, as a crash: no cleanup runs (its children die with it by PDEATHSIG)."""
    assert d.proc is not None
    kids = descendants(d.proc.pid)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    wait_for(lambda: not any(alive(p) for p in kids), 10, what="the daemon's children to die")


# --- fixtures: networks, host addresses, an outside host ------------------------------------


@pytest.fixture
def networks(runner: Daemon) -> Iterator[Callable[..., str]]:
    """`networks(NAME, *create_flags)` creates a network on the module's daemon (its id is
    returned); all are removed at the end, after the containers."""
    made: list[str] = []

    def create(name: str, *flags: str) -> str:
        out = ok(runner.cli("network", "create", *flags, name)).out.strip()
        made.append(name)
        return out

    yield create
    runner.remove_containers()
    for name in made:
        runner.cli("network", "rm", name)


def avoid(d: Daemon, *more: str) -> list[str]:
    return [d.bip, d.address_pool, *more]


@dataclass
class HostAddress:
    address: str
    link: str


@pytest.fixture
def host_address(runner: Daemon) -> Iterator[HostAddress]:
    """Another address of the host: a test-only /32 on one end of a veth pair whose both
    ends stay on the host, up."""
    tag = os.urandom(3).hex()
    a, b = f"csth{tag}a", f"csth{tag}b"
    address = str(leaks.free_test_subnet(32, avoid(runner)).network_address)
    try:
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        ip("addr", "add", f"{address}/32", "dev", a)
        ip("link", "set", a, "up")
        ip("link", "set", b, "up")
        yield HostAddress(address, a)
    finally:
        subprocess.run(["ip", "link", "del", a], capture_output=True, check=False)


@dataclass
class Outside:
    """A fake host outside: a network namespace joined to the host by a veth, with a /30:
    the host's end has `host_ip`, the namespace's `peer_ip`."""

    netns: str
    host_ip: str
    peer_ip: str
    port: int  # where PEER_SERVER answers

    def run(self, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def outside(runner: Daemon) -> Iterator[Outside]:
    tag = os.urandom(3).hex()
    netns, host_end, peer_end = f"cstout{tag}", f"csto{tag}h", f"csto{tag}p"
    subnet = leaks.free_test_subnet(30, avoid(runner))
    host_ip, peer_ip = (str(a) for a in list(subnet.hosts())[:2])
    server: subprocess.Popen[bytes] | None = None
    try:
        ip("netns", "add", netns)
        ip("link", "add", host_end, "type", "veth", "peer", "name", peer_end)
        ip("link", "set", peer_end, "netns", netns)
        ip("addr", "add", f"{host_ip}/30", "dev", host_end)
        ip("link", "set", host_end, "up")
        ip("-n", netns, "addr", "add", f"{peer_ip}/30", "dev", peer_end)
        ip("-n", netns, "link", "set", peer_end, "up")
        ip("-n", netns, "link", "set", "lo", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", PEER_SERVER, peer_ip, "8000"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        o = Outside(netns, host_ip, peer_ip, 8000)
        # The host reaches it directly (no NAT): the server tells the host's own address.
        wait_for(lambda: peer_says(o) == host_ip, 10, interval=0.1, what="the outside server")
        yield o
    finally:
        if server is not None:
            stop_process(server, 5)
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)


def peer_says(o: Outside) -> str:
    try:
        with socket.create_connection((o.peer_ip, o.port), timeout=1) as s:
            return s.recv(100).decode().strip()
    except OSError:
        return ""


# --- the default bridge ------------------------------------------------------------------


def test_default_bridge_interface_route_mtu_and_inspect(runner: Daemon, image: str) -> None:
    bip = ipaddress.ip_interface(runner.bip)
    ok(run(runner, "-d", "--name", "onbridge", image, *SLEEP))

    def inside(*argv: str) -> str:
        return ok(runner.cli("exec", "onbridge", *argv)).out

    address = re.search(r"inet (\S+)", inside("ip", "-4", "-o", "addr", "show", "eth0"))
    assert address
    own = ipaddress.ip_interface(address.group(1))
    assert own.network == bip.network and own.ip != bip.ip, own
    routes = inside("ip", "route")
    assert routes.splitlines()[0].split() == ["default", "via", str(bip.ip), "dev", "eth0"], routes
    lo = inside("ip", "-o", "link", "show", "lo")
    assert "UP" in lo.split("<")[1].split(">")[0].split(","), lo
    mtu = int(inside("cat", "/sys/class/net/eth0/mtu"))
    mac = inside("cat", "/sys/class/net/eth0/address").strip()
    bridge = json.loads(
        subprocess.run(
            ["ip", "-j", "link", "show", runner.bridge], capture_output=True, check=True
        ).stdout
    )[0]
    assert mtu == bridge["mtu"]
    # The host end of its veth is on the daemon's bridge.
    assert leaks.veths_on({runner.bridge}), "no veth on the bridge"

    ns = inspect(runner, "onbridge")["NetworkSettings"]
    assert ns["IPAddress"] == str(own.ip), ns
    assert ns["IPPrefixLen"] == bip.network.prefixlen, ns
    assert ns["Gateway"] == str(bip.ip), ns
    # docker's MAC of an IPv4 endpoint: 02:42 and the address.
    expected_mac = "02:42:" + ":".join(f"{int(b):02x}" for b in str(own.ip).split("."))
    assert ns["MacAddress"] == expected_mac == mac, (ns, mac)
    assert set(ns["Networks"]) == {"bridge"}, ns
    net = ns["Networks"]["bridge"]
    assert net["IPAddress"] == str(own.ip) and net["Gateway"] == str(bip.ip), net
    assert net["MacAddress"] == expected_mac and net["IPPrefixLen"] == bip.network.prefixlen
    assert net["NetworkID"] == net_inspect(runner, "bridge")["Id"], net
    assert net["EndpointID"] and net["EndpointID"] == ns["EndpointID"], net
    assert ns["Ports"] == {"8080/tcp": None}, ns  # the image's ExposedPorts, not published
    assert reservations(runner, "bridge") == {"onbridge": f"{own}"}

    row = ok(runner.cli("ps", "--filter", "name=onbridge", "--format", "{{.Ports}}|{{.Networks}}"))
    assert row.out == "8080/tcp|bridge\n", row
    # A stopped container has no address, no PORTS, and its reservation is gone.
    ok(runner.cli("stop", "-t", "0", "onbridge"))
    ns = inspect(runner, "onbridge")["NetworkSettings"]
    assert ns["IPAddress"] == "" and ns["Networks"]["bridge"]["IPAddress"] == "", ns
    assert reservations(runner, "bridge") == {}
    row = ok(runner.cli("ps", "-a", "--filter", "name=onbridge", "--format", "{{.Ports}}"))
    assert row.out == "\n", row


def test_bridge_has_no_embedded_dns_and_none_has_no_eth0(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", image, "cat", "/etc/resolv.conf"))
    assert EMBEDDED_DNS not in r.out, r
    r = ok(run(runner, "--rm", "--network", "none", image, "ip", "-o", "link"))
    assert "eth0" not in r.out and "lo:" in r.out, r


# --- published ports ---------------------------------------------------------------------


def test_published_port_reached_on_loopback_another_address_and_from_outside(
    runner: Daemon, image: str, host_address: HostAddress, outside: Outside
) -> None:
    port = free_ports(2)
    ok(run(runner, "-d", "--name", "web", "-p", f"{port}:80", image, *HTTPD))
    ok(run(runner, "-d", "--name", "local", "-p", f"127.0.0.1:{port + 1}:80", image, *HTTPD))
    web, local = (inspect(runner, n)["Id"][:12] for n in ("web", "local"))
    assert wait_http("127.0.0.1", port) == web + "\n"
    assert http_get(host_address.address, port) == web + "\n"
    # Another host's view: the outside namespace connects to the host's address on its link.
    r = outside.run(sys.executable, "-c", HTTP_CLIENT, f"http://{outside.host_ip}:{port}/hostname")
    assert r.returncode == 0 and r.stdout == web + "\n", r
    # Bound to 127.0.0.1 only: the host's other addresses do not forward it.
    assert wait_http("127.0.0.1", port + 1) == local + "\n"
    assert refused(host_address.address, port + 1)
    r = outside.run(
        sys.executable, "-c", HTTP_CLIENT, f"http://{outside.host_ip}:{port + 1}/hostname"
    )
    assert r.returncode != 0, r

    assert ok(runner.cli("port", "web")).out == f"80/tcp -> 0.0.0.0:{port}\n"
    assert ok(runner.cli("port", "local")).out == f"80/tcp -> 127.0.0.1:{port + 1}\n"
    ports = inspect(runner, "web")["NetworkSettings"]["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}], "8080/tcp": None}
    rows = ok(runner.cli("ps", "--format", "{{.Names}}|{{.Ports}}")).out.splitlines()
    cells = {n: set(p.split(", ")) for n, p in (row.split("|") for row in rows)}
    assert cells == {
        "web": {f"0.0.0.0:{port}->80/tcp", "8080/tcp"},
        "local": {f"127.0.0.1:{port + 1}->80/tcp", "8080/tcp"},
    }, rows

    # Removed: the port is the host's again, at once.
    ok(runner.cli("rm", "-f", "web", "local"))
    assert refused("127.0.0.1", port)
    assert bindable(port) and bindable(port + 1)


def test_random_host_ports_publish_all_and_ranges(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "rnd", "-p", "80", "-p", "81/udp", image, *HTTPD))
    out = ok(runner.cli("port", "rnd")).out
    m = re.fullmatch(r"80/tcp -> 0\.0\.0\.0:(\d+)\n81/udp -> 0\.0\.0\.0:(\d+)\n", out)
    assert m, out
    tcp, udp = int(m.group(1)), int(m.group(2))
    assert ok(runner.cli("port", "rnd", "80")).out == f"0.0.0.0:{tcp}\n"
    assert ok(runner.cli("port", "rnd", "80/tcp")).out == f"0.0.0.0:{tcp}\n"
    assert ok(runner.cli("port", "rnd", "81/udp")).out == f"0.0.0.0:{udp}\n"
    rid = inspect(runner, "rnd")["Id"][:12]
    assert wait_http("127.0.0.1", tcp) == rid + "\n"
    # docker's words for a port that is not published (also the image's exposed 8080).
    for spec, key in (("81", "81/tcp"), ("8080", "8080/tcp"), ("80/udp", "80/udp")):
        fails(
            runner.cli("port", "rnd", spec),
            f"Error: No public port '{key}' published for rnd",
        )
    fails(runner.cli("port", "nosuch"), "No such container: nosuch")

    # -P: the image's ExposedPorts (8080/tcp) and --expose, each on a random host port.
    ok(
        run(
            runner,
            "-d",
            "--name",
            "all",
            "-P",
            "--expose",
            "80",
            "--expose",
            "7000-7001/udp",
            image,
            *HTTPD,
        )
    )
    out = ok(runner.cli("port", "all")).out
    keys = [line.split(" -> ")[0] for line in out.splitlines()]
    assert keys == ["80/tcp", "7000/udp", "7001/udp", "8080/tcp"], out
    assert all(re.fullmatch(r"0\.0\.0\.0:\d+", line.split(" -> ")[1]) for line in out.splitlines())
    all_80 = int(ok(runner.cli("port", "all", "80")).out.split(":")[1])
    assert wait_http("127.0.0.1", all_80) == inspect(runner, "all")["Id"][:12] + "\n"

    # A range: two host ports to two container ports, each reached.
    first = free_ports(2)
    ok(
        run(
            runner,
            "-d",
            "--name",
            "span",
            "-p",
            f"{first}-{first + 1}:80-81",
            image,
            "sh",
            "-c",
            "mkdir /w && echo eighty >/w/id && httpd -p 81 -h /etc && exec httpd -f -p 80 -h /w",
        )
    )
    assert ok(runner.cli("port", "span")).out == (
        f"80/tcp -> 0.0.0.0:{first}\n81/tcp -> 0.0.0.0:{first + 1}\n"
    )
    sid = inspect(runner, "span")["Id"][:12]
    assert wait_http("127.0.0.1", first, "/id") == "eighty\n"
    assert wait_http("127.0.0.1", first + 1) == sid + "\n"
    ok(runner.cli("rm", "-f", "rnd", "all", "span"))
    assert bindable(tcp) and bindable(udp, socket.SOCK_DGRAM) and bindable(first)


def test_ps_ports_column_is_dockers(runner: Daemon, image: str) -> None:
    port = free_ports(2)
    ok(run(runner, "-d", "--name", "mapped", "-p", f"{port}:80", image, *SLEEP))
    ok(run(runner, "-d", "--name", "same", "-p", f"{port + 1}:{port + 1}", image, *SLEEP))
    ok(run(runner, "-d", "--name", "exposed", "--expose", "7000-7001", image, *SLEEP))
    rows = ok(runner.cli("ps", "--format", "{{.Names}}|{{.Ports}}")).out.splitlines()
    assert dict(row.split("|") for row in rows) == {
        "mapped": f"8080/tcp, 0.0.0.0:{port}->80/tcp",
        "same": f"8080/tcp, 0.0.0.0:{port + 1}->{port + 1}/tcp",
        "exposed": "7000-7001/tcp, 8080/tcp",
    }, rows


@pytest.mark.skipif(not os.access(HOST_PYTHON, os.X_OK), reason=f"needs {HOST_PYTHON}")
def test_udp_publish(runner: Daemon, image: str, host_address: HostAddress) -> None:
    port = free_ports(1, socket.SOCK_DGRAM)
    ok(
        run(
            runner,
            "-d",
            "--name",
            "udp",
            "-p",
            f"{port}:9999/udp",
            *WITH_HOST_PYTHON,
            image,
            HOST_PYTHON,
            "-c",
            UDP_ECHO,
        )
    )
    assert ok(runner.cli("port", "udp", "9999/udp")).out == f"0.0.0.0:{port}\n"
    fails(runner.cli("port", "udp", "9999"), "No public port '9999/tcp' published for udp")
    assert udp_ask("127.0.0.1", port, b"over loopback") == b"echo over loopback"
    assert udp_ask(host_address.address, port, b"over veth") == b"echo over veth"
    ok(runner.cli("rm", "-f", "udp"))
    assert bindable(port, socket.SOCK_DGRAM)


# --- port conflicts ----------------------------------------------------------------------


def test_port_held_by_a_host_socket_is_a_clear_error(runner: Daemon, image: str) -> None:
    port = free_ports(1)
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", port))
        holder.listen()
        r = run(runner, "--rm", "-p", f"{port}:80", image, "true")
        assert r.code == 125, r
        assert re.search(PORT_TAKEN.format(name=r"\S+", port=port), r.err), r
        assert ok(runner.cli("ps", "-aq")).out == "", "--rm left the container"
        r = run(runner, "-d", "--name", "blocked", "-p", f"{port}:80", image, *HTTPD)
        assert r.code == 125, r
        assert re.search(PORT_TAKEN.format(name="blocked", port=port), r.err), r
        # Not half started: created, no address, no rules, no veth.
        state = inspect(runner, "blocked")["State"]
        assert state["Status"] == "created" and state["Pid"] == 0, state
        assert reservations(runner, "bridge") == {}
        assert leaks.container_rules(runner.firewall_table) == set()
        assert leaks.settled_veths({runner.bridge}) == set()
    finally:
        holder.close()
    # The holder went: the same container starts and serves on that port.
    ok(runner.cli("start", "blocked"))
    assert wait_http("127.0.0.1", port) == inspect(runner, "blocked")["Id"][:12] + "\n"


def test_a_host_port_range_for_one_port_takes_its_first_free_port(
    runner: Daemon, image: str
) -> None:
    port = free_ports(3)
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", port))
        ok(run(runner, "-d", "--name", "ranged", "-p", f"{port}-{port + 2}:80", image, *HTTPD))
        assert ok(runner.cli("port", "ranged", "80")).out == f"0.0.0.0:{port + 1}\n"
        assert wait_http("127.0.0.1", port + 1) == inspect(runner, "ranged")["Id"][:12] + "\n"
        holder.close()
        r = run(runner, "--rm", "-p", f"{port + 1}-{port + 1}:80", image, "true")
        assert r.code == 125 and "port is already allocated" in r.err, r
    finally:
        holder.close()


def test_port_held_by_another_container_is_a_clear_error(runner: Daemon, image: str) -> None:
    port = free_ports(1)
    ok(run(runner, "-d", "--name", "first", "-p", f"{port}:80", image, *HTTPD))
    r = run(runner, "--rm", "-p", f"{port}:80", image, "true")
    assert r.code == 125, r
    assert re.search(PORT_TAKEN.format(name=r"\S+", port=port), r.err), r
    assert ok(runner.cli("ps", "-aq")).out.split() == [inspect(runner, "first")["Id"][:12]]
    # Only the other container's rules and reservation are there.
    fid = inspect(runner, "first")["Id"]
    assert leaks.container_rules(runner.firewall_table) == {f"ctr:{fid}"}
    assert list(reservations(runner, "bridge")) == ["first"]
    assert bindable(port) is False
    ok(runner.cli("rm", "-f", "first"))
    assert bindable(port)
    ok(run(runner, "-d", "--name", "second", "-p", f"{port}:80", image, *HTTPD))
    assert wait_http("127.0.0.1", port) == inspect(runner, "second")["Id"][:12] + "\n"


def test_detached_rm_run_with_a_taken_port_says_why(runner: Daemon, image: str) -> None:
    port = free_ports(1)
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", port))
        holder.listen()
        r = run(runner, "--rm", "-d", "-p", f"{port}:80", image, "true")
    assert r.code == 125, r
    assert ok(runner.cli("ps", "-aq")).out == "", "--rm left the container"
    assert re.search(PORT_TAKEN.format(name=r"\S+", port=port), r.err), r


# --- user networks and the embedded DNS -----------------------------------------------------


def test_user_network_names_aliases_and_embedded_dns(
    runner: Daemon, image: str, networks: Callable[..., str]
) -> None:
    subnet = leaks.free_test_subnet(24, avoid(runner))
    networks("front", "--subnet", str(subnet))
    networks("back")
    ipam = net_inspect(runner, "front")["IPAM"]["Config"]
    assert ipam == [{"Subnet": str(subnet)}], ipam  # docker 20.10 shows only what was asked
    back = net_inspect(runner, "back")["IPAM"]["Config"][0]
    assert ipaddress.ip_network(back["Subnet"]).subnet_of(
        ipaddress.ip_network(runner.address_pool)
    ), back

    # One started earlier asks for those started after it.
    ok(run(runner, "-d", "--name", "early", "--network", "front", image, *SLEEP))
    ok(run(runner, "-d", "--name", "api", "--network", "front", "--network-alias", "svc", image,
           *HTTPD))  # fmt: skip
    api = address_on(runner, "api", "front")
    assert ipaddress.ip_address(api) in subnet
    resolv = ok(runner.cli("exec", "early", "cat", "/etc/resolv.conf")).out
    assert [line for line in resolv.splitlines() if line.startswith("nameserver")] == [
        f"nameserver {EMBEDDED_DNS}"
    ], resolv
    # By name, alias and short id: over HTTP and with the DNS server asked directly.
    api_id = inspect(runner, "api")["Id"][:12]
    for name in ("api", "svc", api_id):
        r = fetch_in(runner, "early", f"http://{name}/hostname")
        assert r.code == 0 and r.out == api_id + "\n", r
        assert resolve_in(runner, "early", name) == [api], name
    assert resolve_on(runner, image, "front", "api") == [api]
    # A container on another network does not reach it by address (nc -w: a connect time
    # limit; `timeout` cannot stop a PID 1 that ignores SIGTERM).
    r = run(runner, "--rm", "--network", "back", image, "nc", "-w", "1", api, "80")
    assert r.code != 0 and "timed out" in r.err, r

    # Two share the alias: both answer it, in some order.
    ok(run(runner, "-d", "--name", "late", "--network", "front", "--network-alias", "svc",
           image, *HTTPD))  # fmt: skip
    late = address_on(runner, "late", "front")
    assert resolve_in(runner, "early", "late") == [late]
    assert resolve_in(runner, "early", "svc") == sorted([api, late])
    assert reservations(runner, "front") == {
        "api": f"{api}/24",
        "early": f"{address_on(runner, 'early', 'front')}/24",
        "late": f"{late}/24",
    }
    # Removed: its records go (asked through the shared alias: answered here either way).
    ok(runner.cli("rm", "-f", "late"))
    assert resolve_in(runner, "early", "svc") == [api]
    assert "late" not in reservations(runner, "front")
    rows = ok(runner.cli("ps", "--filter", "name=api", "--format", "{{.Networks}}")).out
    assert rows == "front\n", rows


def test_outbound_nat_reaches_an_outside_host_as_the_host(
    runner: Daemon, image: str, networks: Callable[..., str], outside: Outside
) -> None:
    networks("egress")
    for network in ("bridge", "egress"):
        r = run(runner, "--rm", "--network", network, image, "nc", outside.peer_ip,
                str(outside.port))  # fmt: skip
        # The outside host sees the host's address on its link, not the container's.
        assert r.code == 0 and r.out == outside.host_ip + "\n", (network, r)


def test_internal_network_cannot_reach_out(
    runner: Daemon, image: str, networks: Callable[..., str], outside: Outside
) -> None:
    networks("sealed", "--internal")
    assert net_inspect(runner, "sealed")["Internal"] is True
    ok(run(runner, "-d", "--name", "inner", "--network", "sealed", image, *HTTPD))
    ok(run(runner, "-d", "--name", "client", "--network", "sealed", image, *SLEEP))
    # No default route (docker's bridge driver gives internal networks no gateway): neither
    # the outside host nor the host's addresses on other links are reachable.
    assert "default" not in ok(runner.cli("exec", "client", "ip", "route")).out
    assert address_on(runner, "client", "sealed")
    for target in (outside.peer_ip, outside.host_ip):
        r = runner.cli("exec", "client", "nc", "-w", "1", target, str(outside.port))
        assert r.code != 0 and "network is unreachable" in r.err.lower(), r
    # Inside it, containers still talk (and resolve each other).
    r = fetch_in(runner, "client", "http://inner/hostname")
    assert r.code == 0 and r.out == inspect(runner, "inner")["Id"][:12] + "\n", r


# --- --ip ----------------------------------------------------------------------------------


def test_static_ip_on_a_user_network(
    runner: Daemon, image: str, networks: Callable[..., str]
) -> None:
    subnet = leaks.free_test_subnet(24, avoid(runner))
    networks("fixed", "--subnet", str(subnet))
    networks("auto")
    wanted = str(subnet.network_address + 50)
    ok(run(runner, "-d", "--name", "pinned", "--network", "fixed", "--ip", wanted, image, *SLEEP))
    assert address_on(runner, "pinned", "fixed") == wanted
    settings = inspect(runner, "pinned")["NetworkSettings"]["Networks"]["fixed"]
    assert settings["IPAMConfig"] == {"IPv4Address": wanted}, settings
    assert ipv4_of(runner, "pinned", "eth0") == [f"{wanted}/24"]

    r = run(runner, "--rm", "--network", "fixed", "--ip", wanted, image, "true")
    assert r.code == 125 and "Error response from daemon: Address already in use" in r.err, r
    outside_subnet = str(leaks.free_test_subnet(24, avoid(runner, str(subnet))).network_address + 5)
    r = run(runner, "--rm", "--network", "fixed", "--ip", outside_subnet, image, "true")
    assert r.code == 125, r
    assert (
        f"Invalid address {outside_subnet}: It does not belong to any of this network's "
        "subnets" in r.err
    ), r
    r = run(runner, "--rm", "--ip", str(ipaddress.ip_interface(runner.bip).ip + 9), image, "true")
    assert r.code == 125, r
    assert "user specified IP address is supported on user defined networks only" in r.err, r
    auto_net = ipaddress.ip_network(net_inspect(runner, "auto")["IPAM"]["Config"][0]["Subnet"])
    r = run(runner, "--rm", "--network", "auto", "--ip", str(auto_net.network_address + 9),
            image, "true")  # fmt: skip
    assert r.code == 125, r
    assert (
        "user specified IP address is supported only when connecting to networks with user "
        "configured subnets" in r.err
    ), r
    assert list(reservations(runner, "fixed")) == ["pinned"]
    # Stopped, the address is free for another; the first cannot start while it is taken.
    ok(runner.cli("stop", "-t", "0", "pinned"))
    ok(run(runner, "-d", "--name", "taker", "--network", "fixed", "--ip", wanted, image, *SLEEP))
    r = runner.cli("start", "pinned")
    assert r.code != 0 and "Address already in use" in r.err, r
    ok(runner.cli("rm", "-f", "taker"))
    ok(runner.cli("start", "pinned"))
    assert address_on(runner, "pinned", "fixed") == wanted


# --- connect / disconnect ------------------------------------------------------------------


def test_connect_and_disconnect_a_running_container(
    runner: Daemon, image: str, networks: Callable[..., str]
) -> None:
    networks("home")
    networks("extra")
    ok(run(runner, "-d", "--name", "mover", "--network", "home", image, *HTTPD))
    ok(run(runner, "-d", "--name", "peer", "--network", "extra", "--network-alias", "svc",
           image, *SLEEP))  # fmt: skip
    peer = address_on(runner, "peer", "extra")
    ok(runner.cli("network", "connect", "--alias", "svc", "extra", "mover"))
    moved = address_on(runner, "mover", "extra")
    extra_net = ipaddress.ip_network(net_inspect(runner, "extra")["IPAM"]["Config"][0]["Subnet"])
    assert ipaddress.ip_address(moved) in extra_net
    assert ipv4_of(runner, "mover", "eth1") == [f"{moved}/{extra_net.prefixlen}"]
    assert set(inspect(runner, "mover")["NetworkSettings"]["Networks"]) == {"home", "extra"}
    assert set(reservations(runner, "extra")) == {"mover", "peer"}
    # Reached by name and alias on the new network; the route out stays on eth0.
    assert resolve_in(runner, "peer", "svc") == sorted([peer, moved])
    assert resolve_in(runner, "peer", "mover") == [moved]
    r = ok(runner.cli("exec", "peer", "timeout", "3", "wget", "-q", "-O-", "http://mover/hostname"))
    assert r.out == inspect(runner, "mover")["Id"][:12] + "\n", r
    routes = ok(runner.cli("exec", "mover", "ip", "route")).out.splitlines()
    home_gw = inspect(runner, "mover")["NetworkSettings"]["Networks"]["home"]["Gateway"]
    default = [r.split() for r in routes if r.startswith("default")]
    assert default == [["default", "via", home_gw, "dev", "eth0"]], routes

    ok(runner.cli("network", "disconnect", "extra", "mover"))
    r = runner.cli("exec", "mover", "ip", "link", "show", "eth1")
    assert r.code != 0, r
    assert set(inspect(runner, "mover")["NetworkSettings"]["Networks"]) == {"home"}
    assert set(reservations(runner, "extra")) == {"peer"}
    assert resolve_in(runner, "peer", "svc") == [peer]
    r = runner.cli("network", "disconnect", "extra", "mover")
    assert r.code == 1 and "is not connected to network extra" in r.err, r


def test_connect_a_stopped_container_takes_effect_at_start(
    runner: Daemon, image: str, networks: Callable[..., str]
) -> None:
    networks("home")
    networks("extra")
    ok(runner.cli("create", "--name", "later", "--network", "home", image, *SLEEP))
    ok(runner.cli("network", "connect", "extra", "later"))
    settings = inspect(runner, "later")["NetworkSettings"]["Networks"]
    assert set(settings) == {"home", "extra"} and settings["extra"]["IPAddress"] == "", settings
    assert reservations(runner, "extra") == {}
    ok(runner.cli("start", "later"))
    extra = address_on(runner, "later", "extra")
    assert ipv4_of(runner, "later", "eth1") == [f"{extra}/24"]
    assert list(reservations(runner, "extra")) == ["later"]


# --- container:NAME, the /etc files ------------------------------------------------------


def test_container_network_mode_shares_the_other_ones(
    runner: Daemon, image: str, networks: Callable[..., str]
) -> None:
    networks("shared")
    port = free_ports(1)
    ok(run(runner, "-d", "--name", "owner", "--network", "shared", "-p", f"{port}:80",
           "--hostname", "ownerhost", image, *SLEEP))  # fmt: skip
    owner = address_on(runner, "owner", "shared")
    # The joiner serves on the owner's namespace: the owner's published port reaches it.
    ok(run(runner, "-d", "--name", "joiner", "--network", "container:owner", image, *HTTPD))
    assert wait_http("127.0.0.1", port) == "ownerhost\n"
    r = ok(runner.cli("exec", "joiner", "sh", "-c", "hostname; cat /etc/resolv.conf /etc/hosts"))
    assert r.out.startswith("ownerhost\n"), r
    assert f"nameserver {EMBEDDED_DNS}" in r.out and f"{owner}\townerhost" in r.out, r
    assert ipv4_of(runner, "joiner", "eth0") == ipv4_of(runner, "owner", "eth0")
    doc = inspect(runner, "joiner")
    mode = doc["HostConfig"]["NetworkMode"]
    assert mode in ("container:owner", f"container:{inspect(runner, 'owner')['Id']}"), mode
    assert doc["NetworkSettings"]["Networks"] == {}, doc["NetworkSettings"]
    assert list(reservations(runner, "shared")) == ["owner"]
    r = run(runner, "--rm", "--network", "container:nosuch", image, "true")
    assert r.code == 125 and "No such container: nosuch" in r.err, r


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("-p", "80"), "port publishing and the container type network mode"),
        (("-P",), "port publishing and the container type network mode"),
        (("--dns", "10.1.2.3"), "dns and the network mode"),
        (("--add-host", "x:10.1.2.3"), "custom host-to-IP mapping and the network mode"),
        (("--hostname", "other"), "hostname and the network mode"),
        (("--expose", "90"), "port exposing and the container type network mode"),
    ],
)
def test_container_network_mode_refuses_its_own_network_settings(
    runner: Daemon, image: str, flags: tuple[str, ...], words: str
) -> None:
    """docker's validateNetContainerMode, in its order (-p exposes the port too)."""
    ok(run(runner, "-d", "--name", "owner", image, *SLEEP))
    r = run(runner, "--rm", "--network", "container:owner", *flags, image, "true")
    assert r.code == 125, r
    assert f"Error response from daemon: conflicting options: {words}" in r.err, r
    assert ok(runner.cli("ps", "-aq")).out.split() == [inspect(runner, "owner")["Id"][:12]]


def test_dns_search_options_hostname_in_etc_files(
    runner: Daemon, image: str, networks: Callable[..., str]
) -> None:
    flags = ("--hostname", "box", "--dns", "10.1.2.3", "--dns-search", "example.test",
             "--dns-option", "ndots:2", "--add-host", "db.test:10.9.8.7")  # fmt: skip
    script = "hostname; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hosts"
    r = ok(run(runner, "--rm", *flags, image, "sh", "-c", script))
    name, resolv, hosts = r.out.split("---\n")
    assert name == "box\n", r
    assert resolv == "nameserver 10.1.2.3\nsearch example.test\noptions ndots:2\n", r
    lines = hosts.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost", r
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+\tbox", lines[-1]), r
    assert "10.9.8.7\tdb.test" in lines, r

    # On a user network the embedded server is the container's only nameserver.
    networks("named")
    r = ok(run(runner, "--rm", "--network", "named", *flags, image, "sh", "-c", script))
    name, resolv, hosts = r.out.split("---\n")
    assert name == "box\n", r
    assert [line for line in resolv.splitlines() if line.startswith("nameserver")] == [
        f"nameserver {EMBEDDED_DNS}"
    ], r
    assert "search example.test" in resolv and "ndots:2" in resolv, r
    assert "10.9.8.7\tdb.test" in hosts.splitlines(), r
    ok(runner.cli("create", "--name", "kept", *flags, image, "true"))
    hc = inspect(runner, "kept")["HostConfig"]
    assert hc["Dns"] == ["10.1.2.3"] and hc["DnsSearch"] == ["example.test"], hc
    assert hc["DnsOptions"] == ["ndots:2"] and hc["ExtraHosts"] == ["db.test:10.9.8.7"], hc


# --- network rm / prune --------------------------------------------------------------------


def test_network_rm_and_prune_remove_bridge_and_rules(runner: Daemon, image: str) -> None:
    before = leaks.bridges_of(runner.exec_root)
    made = []
    try:
        ids = {}
        for name in ("gone", "spare", "unused", "used"):
            ids[name] = ok(runner.cli("network", "create", name)).out.strip()
            made.append(name)
        by_id = leaks.network_bridges(runner.exec_root)
        bridges = {name: by_id[nid] for name, nid in ids.items()}
        for name, bridge in bridges.items():
            assert leaks.link_exists(bridge), (name, bridge)
            assert f"net:{ids[name]}" in leaks.firewall_tags(runner.firewall_table), name

        ok(run(runner, "-d", "--name", "user", "--network", "gone", image, *SLEEP))
        ok(run(runner, "-d", "--name", "user2", "--network", "used", image, *SLEEP))
        r = runner.cli("network", "rm", "gone")
        fails(
            r,
            "Error response from daemon: error while removing network: network gone id "
            f"{ids['gone']} has active endpoints",
        )
        fails(runner.cli("network", "rm", "bridge"), "bridge is a pre-defined network")
        fails(runner.cli("network", "rm", "nosuch"), "Error: No such network: nosuch")
        ok(runner.cli("rm", "-f", "user"))
        assert ok(runner.cli("network", "rm", "gone")).out == "gone\n"
        made.remove("gone")
        assert not leaks.link_exists(bridges["gone"])
        tags = leaks.firewall_tags(runner.firewall_table)
        assert f"net:{ids['gone']}" not in tags, tags

        r = ok(runner.cli("network", "prune", "-f"))
        lines = r.out.split("\n")
        assert lines[0] == "Deleted Networks:" and lines[-2:] == ["", ""], r
        assert sorted(lines[1:-2]) == ["spare", "unused"], r
        made.remove("spare")
        made.remove("unused")
        tags = leaks.firewall_tags(runner.firewall_table)
        for name in ("spare", "unused"):
            assert not leaks.link_exists(bridges[name]), name
            assert f"net:{ids[name]}" not in tags, (name, tags)
        # In use: kept, bridge and rules too.
        assert leaks.link_exists(bridges["used"])
        assert f"net:{ids['used']}" in tags
        names = ok(runner.cli("network", "ls", "--format", "{{.Name}}")).out.split()
        assert "used" in names and not {"gone", "spare", "unused"} & set(names), names
    finally:
        runner.remove_containers()
        for name in made:
            runner.cli("network", "rm", name)
    assert leaks.bridges_of(runner.exec_root) == before


# --- durability: SIGKILLed executor and daemon ---------------------------------------------


@pytest.fixture(scope="module")
def spare(catalog: Catalog) -> Iterator[Daemon]:
    """A daemon of its own for the tests that kill its services."""
    d = Daemon(public_tempdir("caisson-netdur-"))
    d.start()
    try:
        ok(d.cli("pull", "-q", catalog.ref("test/run")))
        yield d
    finally:
        if d.proc is None:
            d.start()
        d.remove_containers()
        for name in d.cli("network", "ls", "--format", "{{.Name}}").out.split():
            if name not in ("bridge", "host", "none"):
                d.cli("network", "rm", name)
        d.stop()
        ids = leaks.container_ids(d.data_root)
        left = leaks.state(d.base, d.data_root, d.exec_root, ids)
        remove_tree(d.base)
        assert left.empty(), left


def assert_clean(d: Daemon) -> None:
    d.remove_containers()
    problems = leaks.network_leaks(d)
    assert not problems, "; ".join(problems)


def test_executor_sigkill_keeps_published_port_and_dns(spare: Daemon, image: str) -> None:
    d = spare
    nid = ok(d.cli("network", "create", "durable")).out.strip()
    try:
        port = free_ports(1)
        ok(run(d, "-d", "--name", "web", "--network", "durable", "--network-alias", "svc",
               "-p", f"{port}:80", image, *HTTPD))  # fmt: skip
        wid = inspect(d, "web")["Id"][:12]
        web = address_on(d, "web", "durable")
        assert wait_http("127.0.0.1", port) == wid + "\n"
        assert resolve_in(d, "web", "svc") == [web]
        old = executor_pid(d)
        assert old
        since = log_size(d)
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: executor_pid(d) not in (0, old), 30, what="a new executor")
        # The port and the container's embedded DNS answer again (the new executor serves it).
        assert wait_http("127.0.0.1", port) == wid + "\n"
        wait_names_pushed(d, nid, since)
        assert resolve_in(d, "web", "svc") == [web]
        assert resolve_on(d, image, "durable", "web") == [web]
        assert inspect(d, "web")["State"]["Status"] == "running"
        # New containers get their port and name as before.
        port2 = free_ports(1)
        ok(run(d, "-d", "--name", "after", "--network", "durable", "-p", f"{port2}:80",
               image, *HTTPD))  # fmt: skip
        assert wait_http("127.0.0.1", port2) == inspect(d, "after")["Id"][:12] + "\n"
        assert resolve_in(d, "web", "after") == [address_on(d, "after", "durable")]
        assert_clean(d)
        assert bindable(port) and bindable(port2)
    finally:
        d.remove_containers()
        d.cli("network", "rm", "durable")


def test_daemon_sigkill_keeps_running_and_releases_exited(spare: Daemon, image: str) -> None:
    d = spare
    ctl = public_tempdir("caisson-netctl-")
    try:
        nid = ok(d.cli("network", "create", "durable")).out.strip()
        port = free_ports(2)
        ok(run(d, "-d", "--name", "keep", "--network", "durable", "--network-alias", "svc",
               "-p", f"{port}:80", image, *HTTPD))  # fmt: skip
        # `brief` ends when the test says so, through a file in a bind-mounted directory.
        ok(run(d, "-d", "--name", "brief", "--network", "durable", "--network-alias", "svc",
               "-p", f"{port + 1}:80", "-v", f"{ctl}:/ctl", image, "sh", "-c",
               "httpd -p 80 -h /etc; while [ ! -e /ctl/stop ]; do sleep 0.05; done"))  # fmt: skip
        keep, brief = (address_on(d, n, "durable") for n in ("keep", "brief"))
        keep_id, brief_id = (inspect(d, n)["Id"] for n in ("keep", "brief"))
        assert wait_http("127.0.0.1", port) == keep_id[:12] + "\n"
        assert wait_http("127.0.0.1", port + 1) == brief_id[:12] + "\n"
        brief_pid = inspect(d, "brief")["State"]["Pid"]
        assert brief_pid

        kill_daemon(d)
        with open(os.path.join(ctl, "stop"), "w"):
            pass
        wait_for(lambda: not alive(brief_pid), 15, what="brief to exit")
        since = log_size(d)
        d.start()

        assert inspect(d, "brief")["State"]["Status"] == "exited"
        assert inspect(d, "keep")["State"]["Status"] == "running"
        assert address_on(d, "keep", "durable") == keep
        assert reservations(d, "durable") == {"keep": f"{keep}/24"}
        assert inspect(d, "brief")["NetworkSettings"]["Networks"]["durable"]["IPAddress"] == ""
        # keep's port still works; brief's rules, veth and port are gone.
        assert wait_http("127.0.0.1", port) == keep_id[:12] + "\n"
        wait_for(
            lambda: f"ctr:{brief_id}" not in leaks.container_rules(d.firewall_table),
            10,
            what="brief's rules to go",
        )
        assert leaks.container_rules(d.firewall_table) == {f"ctr:{keep_id}"}
        wait_for(
            lambda: len(leaks.veths_on(leaks.bridges_of(d.exec_root))) == 1,
            5,
            what="brief's veth to go",
        )
        assert bindable(port + 1)
        # The names: svc is keep alone now, from keep itself and from a new container.
        wait_names_pushed(d, nid, since)
        assert resolve_in(d, "keep", "svc") == [keep]
        assert resolve_on(d, image, "durable", "svc") == [keep]
        # brief's address is free again: a new container may be given it.
        assert brief not in reservations(d, "durable").values()
        assert_clean(d)
        assert bindable(port)
    finally:
        if d.proc is None:
            d.start()
        d.remove_containers()
        d.cli("network", "rm", "durable")
        remove_tree(ctl)
