"""Network namespaces, bridges and veth pairs on this host's real kernel (root only).

Every test uses its own names: bridges `cst<hex>`, veth ends named by the test, namespace files
under its tmp_path, a random /24 of 10.250.0.0/16. Fixtures delete all of them even when a test
fails, and the last checks are that no link or mount of the test is left. What the code made is
observed from outside, with `ip -j`, `nsenter` and busybox, not through the code under test.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from caisson import errors
from caisson.executor import links, netns

F = TypeVar("F", bound=Callable[..., Any])
_needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or any(shutil.which(t) is None for t in ("ip", "nsenter")),
    reason="needs root, ip and nsenter",
)


def root(test: F) -> F:
    return pytest.mark.root(_needs_root(test))


busybox = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs /bin/busybox")
_SO_NETNS_COOKIE = 71  # Linux 5.14+; not in Python 3.11's socket module


def _ip(*args: str, netns_path: Path | None = None, check: bool = True) -> Any:
    cmd = ["ip", "-j", *args]
    if netns_path is not None:
        cmd = ["nsenter", f"--net={netns_path}", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=check)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


def _del_link(name: str) -> None:
    subprocess.run(["ip", "link", "del", "dev", name], capture_output=True)


def _mounted_under(directory: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if str(directory) in line.split()[4]]


def _ping(netns_path: Path, address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net={netns_path}", "/bin/busybox", "ping", "-c1", "-W2", address],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def subnet() -> str:
    """A random "10.250.N" (the first three octets of a /24) that no host route uses yet: two
    bridges with one subnet would send the host's replies out of the wrong one."""
    used = {r["dst"] for r in _ip("route", "show") or [] if "dst" in r}
    free = [n for n in range(256) if f"10.250.{n}.0/24" not in used]
    return f"10.250.{secrets.choice(free)}"


@pytest.fixture
def made_links() -> Iterator[list[str]]:
    """Host link names the test makes or may make: deleted at the end, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        _del_link(name)
    assert [n for n in names if _link_exists(n)] == []


@pytest.fixture
def bridge(made_links: list[str]) -> str:
    name = "cst" + secrets.token_hex(4)
    made_links.append(name)
    return name


@pytest.fixture
def new_ns(tmp_path: Path) -> Iterator[Callable[[], Path]]:
    """Makes namespaces under tmp_path; all are deleted at the end and none stays mounted."""
    made: list[Path] = []

    def make() -> Path:
        path = tmp_path / f"ns{len(made)}"
        made.append(path)
        netns.create(path)
        return path

    yield make
    for path in made:
        netns.delete(path)
    assert _mounted_under(tmp_path) == []


def _endpoint(subnet: str, host: int, mtu: int = 1500, gateway: bool = True) -> links.EndpointLink:
    return links.EndpointLink(
        ifname="eth0",
        address=f"{subnet}.{host}",
        prefix_len=24,
        gateway=f"{subnet}.1" if gateway else "",
        mac=f"02:42:0a:fa:00:{host:02x}",
        mtu=mtu,
    )


# -- namespaces ---------------------------------------------------------------------------


@root
def test_create_makes_a_namespace_with_lo_up_and_delete_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    try:
        netns.create(path)
        assert len(_mounted_under(tmp_path)) == 1
        inside = _ip("link", netns_path=path)
        assert [link["ifname"] for link in inside] == ["lo"]
        assert "UP" in inside[0]["flags"]
        host_ns = os.stat("/proc/self/ns/net").st_ino
        assert os.stat(path).st_ino != host_ns
    finally:
        netns.delete(path)
    assert not path.exists()
    assert _mounted_under(tmp_path) == []
    netns.delete(path)  # a missing path is fine


@root
def test_create_refuses_an_existing_file_and_keeps_it(new_ns: Callable[[], Path]) -> None:
    path = new_ns()
    with pytest.raises(errors.AlreadyExists, match="failed to create network namespace"):
        netns.create(path)
    assert [link["ifname"] for link in _ip("link", netns_path=path)] == ["lo"]


@root
def test_create_in_a_missing_directory_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound, match="failed to create network namespace"):
        netns.create(tmp_path / "missing" / "ns")
    assert _mounted_under(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@root
def test_run_in_makes_sockets_that_stay_in_the_namespace(new_ns: Callable[[], Path]) -> None:
    path = new_ns()

    def listener() -> socket.socket:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        return s

    def cookie(s: socket.socket) -> int:
        return int.from_bytes(s.getsockopt(socket.SOL_SOCKET, _SO_NETNS_COOKIE, 8), "little")

    server = netns.run_in(path, listener)
    try:
        port = server.getsockname()[1]
        with socket.socket() as host_sock:
            assert cookie(host_sock) != cookie(server)
        # Another socket made in the namespace reaches the listener, accepted by this thread.
        client = netns.run_in(path, lambda: socket.create_connection(("127.0.0.1", port), 2))
        with client:
            assert cookie(client) == cookie(server)
            conn, _ = server.accept()
            with conn:
                client.sendall(b"hi")
                assert conn.recv(2) == b"hi"
    finally:
        server.close()


@root
def test_run_in_returns_results_and_raises_errors(new_ns: Callable[[], Path]) -> None:
    path = new_ns()
    assert netns.run_in(path, lambda: 42) == 42

    def fail() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        netns.run_in(path, fail)


@root
def test_run_in_a_missing_or_non_namespace_path_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound, match="not found"):
        netns.run_in(tmp_path / "missing", lambda: None)
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(errors.FailedPrecondition, match="not a network namespace"):
        netns.run_in(plain, lambda: None)


@root
def test_enable_ip_forward_turns_it_on(new_ns: Callable[[], Path]) -> None:
    # In a namespace of the test: /proc/sys/net is the namespace of the thread that opens it,
    # so the host's setting is neither read nor changed (checked before anything is written).
    knob = "/proc/sys/net/ipv4/ip_forward"

    def inside(write: str = "") -> str:
        assert sorted(os.listdir("/proc/sys/net/ipv4/conf")) == ["all", "default", "lo"]
        if write:
            Path(knob).write_text(write)
        return Path(knob).read_text().strip()

    host = Path(knob).read_text()
    path = new_ns()
    # A new namespace inherits the host's value: start from off.
    assert netns.run_in(path, lambda: inside("0")) == "0"
    netns.run_in(path, links.enable_ip_forward)
    assert netns.run_in(path, inside) == "1"
    netns.run_in(path, links.enable_ip_forward)
    assert netns.run_in(path, inside) == "1"
    assert Path(knob).read_text() == host


# -- bridges ------------------------------------------------------------------------------


def _bridge_state(name: str) -> tuple[list[str], int, bool, str]:
    [link] = _ip("addr", "show", "dev", name)
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["family"] == "inet"]
    with open(f"/proc/sys/net/ipv4/conf/{name}/route_localnet") as f:
        localnet = f.read().strip()
    return addrs, link["mtu"], "UP" in link["flags"], localnet


@root
def test_ensure_bridge_makes_it_and_is_idempotent(bridge: str, subnet: str) -> None:
    assert not links.bridge_exists(bridge)
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    assert links.bridge_exists(bridge)
    assert _bridge_state(bridge) == ([f"{subnet}.1/24"], 1500, True, "1")
    [detail] = _ip("-d", "link", "show", "dev", bridge)
    assert detail["linkinfo"]["info_kind"] == "bridge"
    mac = detail["address"]
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    assert _bridge_state(bridge) == ([f"{subnet}.1/24"], 1500, True, "1")
    assert _ip("link", "show", "dev", bridge)[0]["address"] == mac


@root
def test_ensure_bridge_corrects_an_existing_bridge(bridge: str, subnet: str) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    subprocess.run(["ip", "addr", "add", f"{subnet}.7/24", "dev", bridge], check=True)
    subprocess.run(["ip", "addr", "add", "10.250.255.9/32", "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "down", "mtu", "1400"], check=True)
    links.ensure_bridge(bridge, f"{subnet}.1", 24, mtu=1450)
    assert _bridge_state(bridge) == ([f"{subnet}.1/24"], 1450, True, "1")
    # A new gateway replaces the old address.
    links.ensure_bridge(bridge, f"{subnet}.254", 24, mtu=1450)
    assert _bridge_state(bridge) == ([f"{subnet}.254/24"], 1450, True, "1")


@root
def test_ensure_bridge_from_several_threads_at_once(bridge: str, subnet: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(links.ensure_bridge, bridge, f"{subnet}.1", 24) for _ in range(4)]:
            f.result()
    assert _bridge_state(bridge) == ([f"{subnet}.1/24"], 1500, True, "1")


@root
def test_a_link_that_is_not_a_bridge_is_refused(made_links: list[str], subnet: str) -> None:
    name = "cst" + secrets.token_hex(4)
    made_links.append(name)
    peer = "cst" + secrets.token_hex(4)
    made_links.append(peer)
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", peer], check=True)
    with pytest.raises(errors.FailedPrecondition, match=f"{name} exists and is not a bridge"):
        links.ensure_bridge(name, f"{subnet}.1", 24)
    assert not links.bridge_exists(name)
    with pytest.raises(errors.FailedPrecondition, match="not a bridge"):
        links.remove_bridge(name)
    assert _link_exists(name)
    assert _ip("addr", "show", "dev", name)[0]["addr_info"] == []


@root
def test_remove_bridge(bridge: str, subnet: str) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    links.remove_bridge(bridge)
    assert not _link_exists(bridge)
    assert not links.bridge_exists(bridge)
    links.remove_bridge(bridge)  # missing is fine


def test_bad_bridge_arguments_are_invalid() -> None:
    with pytest.raises(errors.InvalidArgument, match="interface name"):
        links.ensure_bridge("a-name-far-too-long", "10.250.0.1", 24)
    with pytest.raises(errors.InvalidArgument, match="not an IPv4 address"):
        links.ensure_bridge("cstx", "10.250.0.300", 24)
    with pytest.raises(errors.InvalidArgument, match="prefix length"):
        links.ensure_bridge("cstx", "10.250.0.1", 33)


# -- veth pairs ---------------------------------------------------------------------------


def test_host_ifname_is_short_stable_and_distinct() -> None:
    cid = "a" * 64
    name = links.host_ifname(cid, 0)
    assert name.startswith("veth") and len(name.encode()) <= 15
    assert links.host_ifname(cid, 0) == name
    assert links.host_ifname(cid, 1) != name
    assert links.host_ifname("b" * 64, 0) != name


def test_bad_endpoint_arguments_are_invalid(tmp_path: Path) -> None:
    good = _endpoint("10.250.0", 2)
    bad = [
        (links.EndpointLink("eth0", "10.250.0.x", 24, "", "", 0), "not an IPv4 address"),
        (links.EndpointLink("eth0", "10.250.0.2", 24, "gw", "", 0), "not an IPv4 address"),
        (links.EndpointLink("eth0", "10.250.0.2", 0, "", "", 0), "prefix length"),
        (links.EndpointLink("eth0", "10.250.0.2", 24, "", "02:42", 0), "MAC"),
        (links.EndpointLink("", "10.250.0.2", 24, "", "", 0), "interface name"),
    ]
    for ep, message in bad:
        with pytest.raises(errors.InvalidArgument, match=message):
            links.attach(tmp_path / "ns", "cstx", "vethx", ep)
    with pytest.raises(errors.InvalidArgument, match="interface name"):
        links.attach(tmp_path / "ns", "cstx", "veth-name-too-long", good)


@root
@busybox
def test_attach_configures_the_namespace_and_reaches_the_gateway(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24, mtu=1450)
    path = new_ns()
    host_if = links.host_ifname(secrets.token_hex(32), 0)
    made_links.append(host_if)
    ep = _endpoint(subnet, 2, mtu=1450)
    bridge_mac = _ip("link", "show", "dev", bridge)[0]["address"]
    links.attach(path, bridge, host_if, ep)
    # The gateway's MAC does not change as ports come (the bridge's own address was set).
    assert _ip("link", "show", "dev", bridge)[0]["address"] == bridge_mac

    [eth0] = _ip("addr", "show", "dev", "eth0", netns_path=path)
    assert eth0["address"] == ep.mac
    assert eth0["mtu"] == 1450
    assert "UP" in eth0["flags"]
    assert [(a["local"], a["prefixlen"]) for a in eth0["addr_info"] if a["family"] == "inet"] == [
        (ep.address, 24)
    ]
    routes = _ip("route", "show", "default", netns_path=path)
    assert [(r["gateway"], r["dev"]) for r in routes] == [(f"{subnet}.1", "eth0")]

    [host] = _ip("link", "show", "dev", host_if)
    assert host["master"] == bridge
    assert host["mtu"] == 1450
    assert "UP" in host["flags"]
    assert links.veth_peers_on(bridge) == [host_if]

    result = _ping(path, f"{subnet}.1")
    assert result.returncode == 0, result.stdout + result.stderr


@root
def test_attach_without_gateway_adds_no_default_route(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    path = new_ns()
    host_if = "cst" + secrets.token_hex(4)
    made_links.append(host_if)
    links.attach(path, bridge, host_if, _endpoint(subnet, 3, gateway=False))
    assert _ip("route", "show", "default", netns_path=path) == []
    [eth0] = _ip("addr", "show", "dev", "eth0", netns_path=path)
    assert eth0["mtu"] == 1500


@root
@busybox
def test_two_namespaces_on_one_bridge_reach_each_other(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    a, b = new_ns(), new_ns()
    a_if, b_if = "cst" + secrets.token_hex(4), "cst" + secrets.token_hex(4)
    made_links.extend([a_if, b_if])
    links.attach(a, bridge, a_if, _endpoint(subnet, 2))
    links.attach(b, bridge, b_if, _endpoint(subnet, 3))
    assert links.veth_peers_on(bridge) == sorted([a_if, b_if])
    for path, peer in ((a, f"{subnet}.3"), (b, f"{subnet}.2")):
        result = _ping(path, peer)
        assert result.returncode == 0, result.stdout + result.stderr


@root
def test_attach_from_several_threads_at_once(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    # The executor serves gRPC from several threads: each call has its own netlink socket.
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    paths = [new_ns() for _ in range(4)]
    names = ["cst" + secrets.token_hex(4) for _ in paths]
    made_links.extend(names)
    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(links.attach, path, bridge, name, _endpoint(subnet, 2 + i))
            for i, (path, name) in enumerate(zip(paths, names, strict=True))
        ]
        for f in futures:
            f.result()
    assert links.veth_peers_on(bridge) == sorted(names)
    for i, path in enumerate(paths):
        [eth0] = _ip("addr", "show", "dev", "eth0", netns_path=path)
        assert [a["local"] for a in eth0["addr_info"] if a["family"] == "inet"] == [
            f"{subnet}.{2 + i}"
        ]


@root
def test_detach_removes_both_ends(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path], tmp_path: Path
) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    path = new_ns()
    host_if = "cst" + secrets.token_hex(4)
    made_links.append(host_if)
    links.attach(path, bridge, host_if, _endpoint(subnet, 2))
    links.detach(path, "eth0")
    assert not _link_exists(host_if)
    assert links.veth_peers_on(bridge) == []
    assert [link["ifname"] for link in _ip("link", netns_path=path)] == ["lo"]
    links.detach(path, "eth0")  # missing interface: fine
    links.detach(tmp_path / "gone", "eth0")  # missing namespace: fine


@root
def test_attach_to_a_missing_bridge_leaves_no_veth(
    subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    path = new_ns()
    host_if = "cst" + secrets.token_hex(4)
    made_links.append(host_if)
    missing = "cst" + secrets.token_hex(4)
    with pytest.raises(errors.NotFound, match=f"bridge {missing} not found"):
        links.attach(path, missing, host_if, _endpoint(subnet, 2))
    assert not _link_exists(host_if)
    assert [link["ifname"] for link in _ip("link", netns_path=path)] == ["lo"]


@root
def test_attach_failing_inside_the_namespace_removes_the_pair(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    path = new_ns()
    host_if = "cst" + secrets.token_hex(4)
    made_links.append(host_if)
    # A gateway outside the interface's subnet: the route is refused after the pair exists.
    ep = links.EndpointLink("eth0", f"{subnet}.2", 24, "10.249.0.1", "", 0)
    with pytest.raises(errors.CaissonError, match="failed to configure eth0: "):
        links.attach(path, bridge, host_if, ep)
    assert not _link_exists(host_if)
    assert links.veth_peers_on(bridge) == []
    assert [link["ifname"] for link in _ip("link", netns_path=path)] == ["lo"]


@root
def test_attach_to_a_missing_namespace_fails_clearly(
    bridge: str, subnet: str, made_links: list[str], tmp_path: Path
) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    host_if = "cst" + secrets.token_hex(4)
    made_links.append(host_if)
    with pytest.raises(errors.NotFound, match="network namespace .* not found"):
        links.attach(tmp_path / "gone", bridge, host_if, _endpoint(subnet, 2))
    assert not _link_exists(host_if)


@root
def test_attach_replaces_a_stale_veth_of_the_same_name(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    # What a restarted container meets while the kernel is still freeing its old namespace.
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    path = new_ns()
    host_if, old_peer = "cst" + secrets.token_hex(4), "cst" + secrets.token_hex(4)
    made_links.extend([host_if, old_peer])
    subprocess.run(
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", old_peer], check=True
    )
    links.attach(path, bridge, host_if, _endpoint(subnet, 2))
    assert not _link_exists(old_peer)
    assert links.veth_peers_on(bridge) == [host_if]
    assert _ip("addr", "show", "dev", "eth0", netns_path=path)[0]["operstate"] == "UP"


@root
def test_attach_refuses_a_host_name_taken_by_another_kind(
    bridge: str, subnet: str, made_links: list[str], new_ns: Callable[[], Path]
) -> None:
    links.ensure_bridge(bridge, f"{subnet}.1", 24)
    path = new_ns()
    taken = "cst" + secrets.token_hex(4)
    made_links.append(taken)
    subprocess.run(["ip", "link", "add", taken, "type", "bridge"], check=True)
    with pytest.raises(errors.AlreadyExists, match=f"failed to create veth {taken} .*File exists"):
        links.attach(path, bridge, taken, _endpoint(subnet, 2))
    assert _ip("-d", "link", "show", "dev", taken)[0]["linkinfo"]["info_kind"] == "bridge"
    assert [link["ifname"] for link in _ip("link", netns_path=path)] == ["lo"]


@root
def test_veth_peers_on_a_missing_bridge_is_empty() -> None:
    assert links.veth_peers_on("cst" + secrets.token_hex(4)) == []
