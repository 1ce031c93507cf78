"""NetworkService on a real store (SQLite in a temp dir) with a fake executor that records
what it is asked to make: records, docker's errors, filters, IPAM through the endpoints table,
and the executor's reconciliation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from caisson import errors
from caisson.daemon import networkdoc
from caisson.daemon.engine import Engine, Events
from caisson.daemon.networks import NetworkService
from caisson.daemon.store import Store
from caisson_api.executor.v1 import networks_pb2 as npb

CID = "c" * 64
CID2 = "d" * 64


@dataclass
class FakeExecutor:
    """The executor's Networks service as the daemon sees it: what it made, and failures."""

    made: dict[str, npb.NetworkSpec] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, errors.CaissonError] = field(default_factory=dict)

    def ensure_network(self, spec: npb.NetworkSpec) -> None:
        self.calls.append(("ensure", spec.id))
        if spec.id in self.fail or "*" in self.fail:
            raise self.fail.get(spec.id) or self.fail["*"]
        self.made[spec.id] = spec

    def remove_network(self, network_id: str) -> None:
        self.calls.append(("remove", network_id))
        if network_id not in self.made:
            raise errors.NotFound(f"network {network_id} is not set up in the executor")
        del self.made[network_id]

    def list_networks(self) -> list[npb.NetworkSpec]:
        if "*" in self.fail:
            raise self.fail["*"]
        return list(self.made.values())


@dataclass
class Env:
    path: str
    store: Store
    executor: FakeExecutor
    routes: list[IPv4Network]
    service: NetworkService

    def restart(self, **kwargs: str) -> NetworkService:
        """A new daemon on the same database (the old store closed, as at a restart)."""
        self.store.close()
        self.store = Store(self.path)
        self.service = service(self.store, self.executor, self.routes, **kwargs)
        return self.service

    def events(self) -> list[tuple[str, str, str, dict[str, str]]]:
        return [
            (e.type, e.action, e.id, e.attributes)
            for e in self.store.events_since(0)
            if e.type == "network"
        ]


def service(
    store: Store, executor: FakeExecutor, routes: list[IPv4Network], **kwargs: str
) -> NetworkService:
    engine = Engine(Events(store))
    svc = NetworkService(store, engine, executor, routes=lambda: routes, **kwargs)  # type: ignore[arg-type]
    svc.container_name = lambda cid: {CID: "web", CID2: "db"}.get(cid, "")
    return svc


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    path = str(tmp_path / "caisson.db")
    store = Store(path)
    executor = FakeExecutor()
    routes = [IPv4Network("192.168.0.0/24")]
    e = Env(path, store, executor, routes, service(store, executor, routes))
    try:
        yield e
    finally:
        e.store.close()


# -- predefined networks -------------------------------------------------------------------


def test_predefined_networks_and_their_stable_ids(env: Env) -> None:
    nets = {n.name: n for n in env.service.list([])}
    assert sorted(nets) == ["bridge", "host", "none"]
    assert [nets[n].driver for n in ("bridge", "host", "none")] == ["bridge", "host", "null"]
    bridge = nets["bridge"]
    assert (bridge.bridge, bridge.subnet, bridge.gateway) == (
        "caisson0",
        "10.87.0.0/16",
        "10.87.0.1",
    )
    assert not bridge.dns and bridge.predefined
    assert all(len(n.id) == 64 for n in nets.values())
    again = {n.name: n.id for n in env.restart().list([])}
    assert again == {name: n.id for name, n in nets.items()}


def test_default_bridge_follows_bridge_and_bip(env: Env) -> None:
    old = env.service.resolve("bridge")
    new = env.restart(bridge="cbr9", bip="10.99.3.1/24").resolve("bridge")
    assert new.id == old.id
    assert (new.bridge, new.subnet, new.gateway) == ("cbr9", "10.99.3.0/24", "10.99.3.1")
    assert new.options["com.docker.network.bridge.name"] == "cbr9"


def test_default_bridge_keeps_its_subnet_while_containers_are_on_it(env: Env) -> None:
    bridge = env.service.resolve("bridge")
    env.service.allocate(bridge.id, CID)
    kept = env.restart(bip="10.99.3.1/24").resolve("bridge")
    assert kept.subnet == "10.87.0.0/16"
    env.service.release(bridge.id, CID)
    assert env.restart(bip="10.99.3.1/24").resolve("bridge").subnet == "10.99.3.0/24"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bip": "10.87.0/16"}, "invalid CIDR address: 10.87.0/16"),
        ({"bip": "10.87.0.0/16"}, "invalid bip 10.87.0.0/16: the bridge needs a host address"),
        ({"bridge": "a-name-far-too-long"}, "invalid bridge name 'a-name-far-too-long'"),
    ],
)
def test_bad_daemon_settings(env: Env, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=message):
        env.restart(**kwargs)


# -- create ----------------------------------------------------------------------------------


def test_create_picks_free_subnets_and_asks_the_executor(env: Env) -> None:
    a = env.service.create("a", labels={"x": "1"})
    assert (a.subnet, a.gateway, a.driver, a.bridge) == (
        "10.88.0.0/24",
        "10.88.0.1",
        "bridge",
        f"br-{a.id[:12]}",
    )
    assert a.ipam_config == {} and a.dns
    env.routes.append(IPv4Network("10.88.1.0/24"))  # a host route is in the way
    b = env.service.create("b", internal=True)
    assert b.subnet == "10.88.2.0/24"
    made = env.executor.made[b.id]
    assert (made.bridge, made.subnet, made.gateway, made.internal, made.dns) == (
        b.bridge, "10.88.2.0/24", "10.88.2.1", True, True,
    )  # fmt: skip
    assert ("network", "create", a.id, {"name": "a", "type": "bridge"}) in env.events()


def test_create_with_the_users_ipam_and_options(env: Env) -> None:
    n = env.service.create(
        "mine",
        subnet="172.30.0.0/16",
        ip_range="172.30.5.0/24",
        gateway="172.30.5.254",
        options={
            "com.docker.network.bridge.name": "mybr0",
            "com.docker.network.driver.mtu": "1400",
        },
    )
    assert (n.subnet, n.ip_range, n.gateway, n.bridge, n.mtu) == (
        "172.30.0.0/16", "172.30.5.0/24", "172.30.5.254", "mybr0", 1400,
    )  # fmt: skip
    assert n.ipam_config == {
        "Subnet": "172.30.0.0/16",
        "IPRange": "172.30.5.0/24",
        "Gateway": "172.30.5.254",
    }
    assert env.executor.made[n.id].mtu == 1400


PD, IA = errors.PermissionDenied, errors.InvalidArgument
NAME_OPT, MTU_OPT = "com.docker.network.bridge.name", "com.docker.network.driver.mtu"


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "message"),
    [
        ("bridge", {}, PD, "operation is not permitted on predefined bridge network"),
        ("default", {}, PD, "operation is not permitted on predefined default network"),
        (" ", {}, IA, "invalid name:  "),
        ("taken", {}, errors.AlreadyExists, "network with name taken already exists"),
        ("n", {"driver": "host"}, PD, 'only one instance of "host" network is allowed'),
        ("n", {"driver": "null"}, PD, 'only one instance of "null" network is allowed'),
        ("n", {"driver": "macvlan"}, errors.NotFound, 'plugin "macvlan" not found'),
        (
            "n",
            {"subnet": "10.0.0/24"},
            IA,
            "Invalid subnet 10.0.0/24 : invalid CIDR address: 10.0.0/24",
        ),
        (
            "n",
            {"gateway": "10.0.0.1"},
            IA,
            "every ip-range or gateway must have a corresponding subnet",
        ),
        ("n", {"subnet": "10.87.3.0/24"}, PD, "Pool overlaps with other one on this address space"),
        (
            "n",
            {"subnet": "10.1.0.0/24", "gateway": "10.2.0.1"},
            IA,
            "no matching subnet for gateway 10.2.0.1",
        ),
        (
            "n",
            {"options": {MTU_OPT: "big"}},
            IA,
            f'failed to parse {MTU_OPT} value: big (strconv.Atoi: parsing "big": invalid syntax)',
        ),
        ("n", {"options": {MTU_OPT: "9"}}, IA, "invalid MTU 9"),
        ("n", {"options": {NAME_OPT: "bad name"}}, IA, "invalid bridge name 'bad name'"),
        ("n", {"options": {NAME_OPT: "caisson0"}}, PD, "networks have same bridge name"),
    ],
)
def test_create_errors(
    env: Env, name: str, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    env.service.create("taken")
    before = sorted(n.name for n in env.service.list([]))
    with pytest.raises(error) as e:
        env.service.create(name, **kwargs)  # type: ignore[arg-type]
    assert message in str(e.value)
    assert sorted(n.name for n in env.service.list([])) == before


def test_a_network_the_executor_cannot_make_is_not_kept(env: Env) -> None:
    env.executor.fail["*"] = errors.InvalidArgument("bridge exists and is not ours")
    with pytest.raises(errors.InvalidArgument, match="not ours"):
        env.service.create("n")
    assert [n.name for n in env.service.list(["type=custom"])] == []


# -- resolve, list ---------------------------------------------------------------------------


def test_resolve_by_id_name_and_prefix(env: Env) -> None:
    n = env.service.create("web")
    assert env.service.resolve(n.id).name == "web"
    assert env.service.resolve("web").id == n.id
    assert env.service.resolve(n.id[:5]).id == n.id
    for missing in ("nope", ""):
        with pytest.raises(errors.NotFound) as e:
            env.service.resolve(missing)
        assert str(e.value) == f"network {missing} not found"
    other = env.service.create("other")
    env.store.add_network(
        n.id[:3] + "0" * 61, "clash", other.to_json().replace(other.id, n.id[:3] + "0" * 61)
    )
    with pytest.raises(
        errors.InvalidArgument, match=rf"network {n.id[:3]} is ambiguous \(2 matches"
    ):
        env.service.resolve(n.id[:3])


def test_list_filters(env: Env) -> None:
    web = env.service.create("web", labels={"tier": "front", "x": ""})
    env.service.create("db", labels={"tier": "back"})
    env.service.allocate(web.id, CID)

    def names(*filters: str) -> list[str]:
        return sorted(n.name for n in env.service.list(list(filters)))

    assert names() == ["bridge", "db", "host", "none", "web"]
    assert names("type=custom") == ["db", "web"]
    assert names("type=builtin") == ["bridge", "host", "none"]
    assert names("type=custom", "type=builtin") == names()
    assert names("driver=null", "driver=host") == ["host", "none"]
    assert names("name=^w") == ["web"]
    assert names("name=b") == ["bridge", "db", "web"]
    assert names("name=[") == []  # not a regexp: matches nothing, as docker
    assert names(f"id={web.id[:6]}") == ["web"]
    assert names("label=tier") == ["db", "web"]
    assert names("label=tier=front", "label=x") == ["web"]
    assert names("scope=local") == names()
    assert names("scope=swarm") == []
    assert names("dangling=true") == ["db"]
    assert names("dangling=0") == ["bridge", "host", "none", "web"]
    assert env.service.counts() == {web.id: 1}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (["bogus=1"], "Invalid filter 'bogus'"),
        (["type=other"], "invalid filter: 'type'='other'"),
        (["dangling=maybe"], 'invalid value for filter \'dangling\', must be "true" (or "1")'),
        (["dangling=true", "dangling=false"], 'got more than one value for filter key "dangling"'),
    ],
)
def test_list_filter_errors(env: Env, filters: list[str], message: str) -> None:
    with pytest.raises(errors.InvalidArgument) as e:
        env.service.list(filters)
    assert message in str(e.value)


# -- remove, prune ---------------------------------------------------------------------------


def test_remove(env: Env) -> None:
    n = env.service.create("n")
    env.service.allocate(n.id, CID)
    with pytest.raises(errors.FailedPrecondition) as e:
        env.service.remove("n")
    assert str(e.value) == f"error while removing network: network n id {n.id} has active endpoints"
    env.service.release(n.id, CID)
    env.service.remove(n.id[:12])
    assert n.id not in env.executor.made
    assert ("network", "destroy", n.id, {"name": "n", "type": "bridge"}) in env.events()
    with pytest.raises(errors.NotFound, match="network n not found"):
        env.service.remove("n")


def test_predefined_networks_cannot_go(env: Env) -> None:
    for name in ("bridge", "host", "none"):
        with pytest.raises(errors.PermissionDenied) as e:
            env.service.remove(name)
        assert str(e.value) == f"{name} is a pre-defined network and cannot be removed"


def test_remove_a_network_the_executor_lost(env: Env) -> None:
    n = env.service.create("n")
    env.executor.made.clear()
    env.service.remove("n")
    assert env.store.network(n.id) is None


def test_prune_removes_unused_user_networks(env: Env) -> None:
    used = env.service.create("used")
    env.service.create("free", labels={"keep": "no"})
    env.service.create("kept", labels={"keep": "yes"})
    env.service.allocate(used.id, CID)
    assert env.service.prune(["label!=keep=yes"]) == ["free"]
    assert env.service.prune(["until=1h"]) == []  # all younger than an hour
    assert env.service.prune([]) == ["kept"]
    assert sorted(n.name for n in env.service.list([])) == ["bridge", "host", "none", "used"]
    assert ("network", "prune", "", {"reclaimed": "0"}) in env.events()
    with pytest.raises(errors.InvalidArgument, match="Invalid filter 'dangling'"):
        env.service.prune(["dangling=true"])


# -- endpoints -------------------------------------------------------------------------------


def test_allocation_is_lowest_free_and_survives_a_restart(env: Env) -> None:
    n = env.service.create("n")
    a = env.service.allocate(n.id, CID, aliases=["www"])
    assert (a.address, a.prefix_len, a.gateway, a.mac) == (
        "10.88.0.2",
        24,
        "10.88.0.1",
        "02:42:0a:58:00:02",
    )
    assert (a.network_name, a.bridge, a.aliases, len(a.endpoint_id)) == ("n", n.bridge, ["www"], 64)
    b = env.service.allocate(n.id, CID2)
    assert b.address == "10.88.0.3"
    env.service.release(n.id, CID)
    env.service.release(n.id, CID)  # idempotent
    svc = env.restart()
    assert [e.address for e in svc.endpoints(n.id)] == ["10.88.0.3"]
    assert svc.allocate(n.id, "e" * 64).address == "10.88.0.2"


def test_allocating_again_keeps_the_endpoint(env: Env) -> None:
    n = env.service.create("n", subnet="10.10.0.0/24")
    first = env.service.allocate(n.id, CID)
    again = env.service.allocate(n.id, CID, aliases=["a"])
    assert (again.address, again.endpoint_id, again.aliases) == (
        first.address,
        first.endpoint_id,
        ["a"],
    )
    moved = env.service.allocate(n.id, CID, "10.10.0.50")
    assert (moved.address, moved.endpoint_id) == ("10.10.0.50", first.endpoint_id)
    assert [e.address for e in env.service.endpoints(n.id)] == ["10.10.0.50"]


def test_requested_addresses(env: Env) -> None:
    n = env.service.create("n", subnet="10.10.0.0/24", ip_range="10.10.0.128/25")
    assert env.service.allocate(n.id, CID).address == "10.10.0.129"  # .128 is the gateway
    assert env.service.allocate(n.id, CID2, "10.10.0.7").address == "10.10.0.7"
    with pytest.raises(errors.PermissionDenied, match="^Address already in use$"):
        env.service.allocate(n.id, "e" * 64, "10.10.0.7")
    with pytest.raises(
        errors.InvalidArgument, match="It does not belong to any of this network's subnets"
    ):
        env.service.allocate(n.id, "e" * 64, "10.11.0.7")
    auto = env.service.create("auto")
    with pytest.raises(errors.InvalidArgument) as e:
        env.service.allocate(auto.id, CID, "10.88.1.9")
    assert str(e.value) == (
        "user specified IP address is supported only when connecting to networks with user "
        "configured subnets"
    )
    bridge = env.service.resolve("bridge")
    with pytest.raises(
        errors.InvalidArgument,
        match="^user specified IP address is supported on user defined networks only$",
    ):
        env.service.allocate(bridge.id, CID, "10.87.0.9")
    with pytest.raises(errors.InvalidArgument, match="^network-scoped alias is supported only"):
        env.service.allocate(bridge.id, CID, aliases=["x"])


def test_a_full_network(env: Env) -> None:
    n = env.service.create("tiny", subnet="10.10.0.0/30")
    assert env.service.allocate(n.id, CID).address == "10.10.0.2"
    with pytest.raises(errors.ResourceExhausted) as e:
        env.service.allocate(n.id, CID2)
    assert (
        str(e.value)
        == f"no available IPv4 addresses on this network's address pools: tiny ({n.id})"
    )


def test_host_and_none_endpoints_have_no_address(env: Env) -> None:
    host, none = env.service.resolve("host"), env.service.resolve("none")
    h = env.service.allocate(host.id, CID)
    env.service.allocate(host.id, CID2)
    assert (h.address, h.mac, h.gateway, h.prefix_len) == ("", "", "", 0)
    env.service.allocate(none.id, CID)
    n = env.service.create("n")
    env.service.allocate(n.id, CID)
    assert [e.network_name for e in env.service.endpoints_of(CID)] == ["host", "none", "n"]
    with pytest.raises(errors.NotFound):
        env.service.allocate("f" * 64, CID)


# -- the executor ----------------------------------------------------------------------------


def test_ensure_all_makes_known_networks_and_removes_unknown_ones(env: Env) -> None:
    a = env.service.create("a")
    b = env.service.create("b")
    env.executor.made.clear()
    env.executor.made["0" * 64] = npb.NetworkSpec(id="0" * 64, bridge="br-000000000000")
    env.executor.fail[b.id] = errors.InvalidArgument("cannot")
    env.service.ensure_all()
    bridge = env.service.resolve("bridge")
    assert sorted(env.executor.made) == sorted([bridge.id, a.id])
    assert ("ensure", b.id) in env.executor.calls and ("remove", "0" * 64) in env.executor.calls


def test_ensure_all_raises_when_the_executor_is_unreachable(env: Env) -> None:
    env.executor.fail["*"] = errors.Unavailable("executor unavailable: connection refused")
    with pytest.raises(errors.Unavailable):
        env.service.ensure_all()


# -- inspect ---------------------------------------------------------------------------------


def test_inspect_document(env: Env) -> None:
    n = env.service.create("n", labels={"b": "2", "a": "1"}, attachable=True)
    ep = env.service.allocate(n.id, CID)
    doc = networkdoc.inspect(n, env.service.endpoints(n.id), env.service.container_name)
    assert list(doc) == [
        "Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal",
        "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels",
    ]  # fmt: skip
    assert doc["IPAM"] == {
        "Driver": "default",
        "Options": {},
        "Config": [{"Subnet": "10.88.0.0/24", "Gateway": "10.88.0.1"}],
    }
    assert doc["Containers"] == {
        CID: {
            "Name": "web",
            "EndpointID": ep.endpoint_id,
            "MacAddress": "02:42:0a:58:00:02",
            "IPv4Address": "10.88.0.2/24",
            "IPv6Address": "",
        }
    }
    assert (doc["Attachable"], doc["Scope"], doc["Labels"]) == (True, "local", {"a": "1", "b": "2"})
    assert doc["Created"].endswith("Z")
    json.dumps(doc)


def test_inspect_shows_the_users_ipam_as_given(env: Env) -> None:
    n = env.service.create("n", subnet="10.10.0.0/24")
    doc = networkdoc.inspect(n, [], env.service.container_name)
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.10.0.0/24"}]
    bridge = networkdoc.inspect(env.service.resolve("bridge"), [], env.service.container_name)
    assert bridge["IPAM"] == {
        "Driver": "default",
        "Options": None,
        "Config": [{"Subnet": "10.87.0.0/16", "Gateway": "10.87.0.1"}],
    }
    assert bridge["Options"]["com.docker.network.bridge.name"] == "caisson0"
    host = networkdoc.inspect(env.service.resolve("host"), [], env.service.container_name)
    assert (host["IPAM"]["Config"], host["Options"], host["Driver"]) == ([], {}, "host")
