"""`caisson network ...` end to end in-process: the CLI against a real gRPC server on a unix
socket serving the real NetworksServicer over a NetworkService (a store in a temp dir), with a
fake executor and a fake container service for connect and disconnect."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network

import pytest

from caisson import errors, server
from caisson.cli import app
from caisson.daemon.engine import Engine, Events
from caisson.daemon.networks import NetworkService
from caisson.daemon.servicer_networks import NETWORKS, NetworksServicer
from caisson.daemon.store import Store
from caisson_api.daemon.v1 import networks_pb2_grpc
from caisson_api.executor.v1 import networks_pb2 as npb

CID = "c" * 64


class FakeExecutor:
    def ensure_network(self, spec: npb.NetworkSpec) -> None:
        pass

    def remove_network(self, network_id: str) -> None:
        pass

    def list_networks(self) -> list[npb.NetworkSpec]:
        return []


@dataclass
class FakeContainers:
    """The container service's connect and disconnect: records calls, knows one container."""

    networks: NetworkService
    calls: list[tuple[object, ...]] = field(default_factory=list)

    def _find(self, container: str) -> str:
        if container != "web":
            raise errors.NotFound(f"No such container: {container}")
        return CID

    def connect_network(self, container: str, network: str, ipv4: str, aliases: list[str]) -> None:
        self.calls.append(("connect", container, network, ipv4, aliases))
        net = self.networks.resolve(network)
        self.networks.allocate(net.id, self._find(container), ipv4, aliases)

    def disconnect_network(self, container: str, network: str, force: bool) -> None:
        self.calls.append(("disconnect", container, network, force))
        net = self.networks.resolve(network)
        self.networks.release(net.id, self._find(container))


@dataclass
class Daemon:
    host: str
    networks: NetworkService
    containers: FakeContainers

    def run(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = app.run(
            ["-H", self.host, *argv],
            stdin=io.StringIO(stdin),
            stdout=out,
            stderr=err,
            environ={"CAISSON_CONFIG": "/nonexistent"},
        )
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    # Not tmp_path: a unix socket path must stay under 108 bytes.
    tmp = tempfile.mkdtemp(prefix="caisson-net-")
    store = Store(os.path.join(tmp, "caisson.db"))
    routes: list[IPv4Network] = []
    networks = NetworkService(
        store,
        Engine(Events(store)),
        FakeExecutor(),  # type: ignore[arg-type]
        routes=lambda: routes,
    )
    networks.container_name = lambda cid: "web" if cid == CID else ""
    containers = FakeContainers(networks)
    srv = server.Server("fake-daemon", max_workers=4)
    srv.add(
        networks_pb2_grpc.add_NetworksServicer_to_server,
        NetworksServicer(networks, containers),
        NETWORKS,
    )
    sock = os.path.join(tmp, "daemon.sock")
    srv.listen(server.Address("unix", path=sock))
    srv.start()
    try:
        yield Daemon(f"unix://{sock}", networks, containers)
    finally:
        srv.stop(0)
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_create_prints_the_id_and_ls_shows_docker_columns(daemon: Daemon) -> None:
    code, out, err = daemon.run("network", "create", "web-net")
    assert (code, err) == (0, "")
    nid = out.strip()
    assert len(nid) == 64 and daemon.networks.resolve("web-net").id == nid
    daemon.run("network", "create", "net10")
    daemon.run("network", "create", "net9")
    code, out, _ = daemon.run("network", "ls")
    lines = out.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert lines[0].index("NAME") == 15  # 12 hex digits and tabwriter's padding of 3
    names = [line.split()[1] for line in lines[1:]]
    assert names == ["bridge", "host", "net9", "net10", "none", "web-net"]  # natural order
    row = lines[-1].split()
    assert row == [nid[:12], "web-net", "bridge", "local"]


def test_ls_quiet_no_trunc_filter_and_formats(daemon: Daemon) -> None:
    nid = daemon.run("network", "create", "--label", "a=1", "n1")[1].strip()
    assert daemon.run("network", "ls", "-q", "-f", "type=custom") == (0, nid[:12] + "\n", "")
    assert daemon.run("network", "ls", "-q", "--no-trunc", "--filter", "name=n1")[1] == nid + "\n"
    out = daemon.run(
        "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}", "-f", "label=a"
    )
    assert out[1] == "n1 bridge a=1\n"
    row = json.loads(daemon.run("network", "ls", "--format", "json", "-f", "name=n1")[1])
    assert (row["ID"], row["Name"], row["IPv6"], row["Internal"], row["Scope"]) == (
        nid[:12], "n1", "false", "false", "local",
    )  # fmt: skip
    table = daemon.run("network", "list", "--format", "table {{.Name}}\t{{.Internal}}")[1]
    assert table.splitlines()[0].split() == ["NAME", "INTERNAL"]
    code, _, err = daemon.run("network", "ls", "-f", "bogus=1")
    assert (code, err) == (1, "Error response from daemon: Invalid filter 'bogus'\n")


def test_create_flags_reach_the_daemon(daemon: Daemon) -> None:
    code, _, err = daemon.run(
        "network", "create", "--subnet", "172.30.0.0/16", "--ip-range", "172.30.5.0/24",
        "--gateway", "172.30.5.254", "--internal", "--attachable", "--label", "k=v",
        "-o", "com.docker.network.bridge.name=mybr0", "-d", "bridge", "mine",
    )  # fmt: skip
    assert (code, err) == (0, "")
    n = daemon.networks.resolve("mine")
    assert (n.subnet, n.ip_range, n.gateway, n.internal, n.attachable, n.bridge, n.labels) == (
        "172.30.0.0/16", "172.30.5.0/24", "172.30.5.254", True, True, "mybr0", {"k": "v"},
    )  # fmt: skip


DAEMON = "Error response from daemon: "
SUBNET = ["--subnet", "10.0.0.0/24"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gateway", "10.0.0.1"], "every ip-range or gateway must have a corresponding subnet"),
        ([*SUBNET, "--gateway", "10.1.0.1"], "no matching subnet for gateway 10.1.0.1"),
        (
            ["--subnet", "10.0.0.0/24,10.0.0.0/25"],
            "multiple overlapping subnet configuration is not supported",
        ),
        (
            [*SUBNET, "--subnet", "10.1.0.0/24"],
            DAEMON + "bridge driver doesn't support multiple subnets",
        ),
        (
            ["--subnet", "10.0.0/24"],
            DAEMON + "Invalid subnet 10.0.0/24 : invalid CIDR address: 10.0.0/24",
        ),
        (["-d", "overlay"], DAEMON + 'plugin "overlay" not found'),
    ],
)
def test_create_errors(daemon: Daemon, argv: list[str], message: str) -> None:
    assert daemon.run("network", "create", *argv, "n") == (1, "", message + "\n")


def test_create_taken_and_predefined_names(daemon: Daemon) -> None:
    daemon.run("network", "create", "n")
    code, _, err = daemon.run("network", "create", "n")
    assert (code, err) == (1, "Error response from daemon: network with name n already exists\n")
    code, _, err = daemon.run("network", "create", "host")
    assert (
        err == "Error response from daemon: operation is not permitted on predefined host network\n"
    )
    code, _, err = daemon.run("network", "create")
    assert code == 1 and err.startswith('"caisson network create" requires exactly 1 argument.')


def test_inspect(daemon: Daemon) -> None:
    nid = daemon.run("network", "create", "--subnet", "10.20.0.0/24", "n")[1].strip()
    code, out, err = daemon.run("network", "inspect", "n", "bridge")
    assert (code, err) == (0, "")
    docs = json.loads(out)
    assert [d["Name"] for d in docs] == ["n", "bridge"]
    assert docs[0]["Id"] == nid and docs[0]["IPAM"]["Config"] == [{"Subnet": "10.20.0.0/24"}]
    assert out.startswith("[\n    {\n")
    assert daemon.run("network", "inspect", "-f", "{{.Driver}} {{.Name}}", nid[:6]) == (
        0, "bridge n\n", "",
    )  # fmt: skip
    code, out, err = daemon.run("network", "inspect", "nope", "n")
    assert code == 1 and err == "Error: No such network: nope\n"
    assert [d["Name"] for d in json.loads(out)] == ["n"]


def test_rm_prints_each_name_and_each_error(daemon: Daemon) -> None:
    daemon.run("network", "create", "a")
    daemon.run("network", "create", "b")
    code, out, err = daemon.run("network", "rm", "a", "nope", "bridge", "b")
    assert (code, out) == (1, "a\nb\n")
    assert err == (
        "Error: No such network: nope\n"
        "Error response from daemon: bridge is a pre-defined network and cannot be removed\n"
    )
    daemon.run("network", "create", "c")
    assert daemon.run("network", "remove", "c") == (0, "c\n", "")


def test_connect_and_disconnect(daemon: Daemon) -> None:
    daemon.run("network", "create", "--subnet", "10.30.0.0/24", "n")
    code, out, err = daemon.run(
        "network", "connect", "--ip", "10.30.0.9", "--alias", "a,b", "--alias", "c", "n", "web"
    )
    assert (code, out, err) == (0, "", "")
    assert daemon.containers.calls == [("connect", "web", "n", "10.30.0.9", ["a", "b", "c"])]
    doc = json.loads(daemon.run("network", "inspect", "n")[1])[0]
    assert doc["Containers"][CID]["IPv4Address"] == "10.30.0.9/24"
    code, _, err = daemon.run("network", "rm", "n")
    assert code == 1 and "has active endpoints" in err
    assert daemon.run("network", "disconnect", "-f", "n", "web") == (0, "", "")
    assert daemon.containers.calls[-1] == ("disconnect", "web", "n", True)
    code, _, err = daemon.run("network", "connect", "n", "nope")
    assert (code, err) == (1, "Error response from daemon: No such container: nope\n")
    code, _, err = daemon.run("network", "connect", "n")
    assert code == 1 and err.startswith('"caisson network connect" requires exactly 2 arguments.')


def test_prune_asks_then_lists_what_went(daemon: Daemon) -> None:
    daemon.run("network", "create", "unused")
    daemon.run("network", "create", "used")
    daemon.networks.allocate(daemon.networks.resolve("used").id, CID)
    prompt = (
        "WARNING! This will remove all custom networks not used by at least one container.\n"
        "Are you sure you want to continue? [y/N] "
    )
    assert daemon.run("network", "prune", stdin="n\n") == (0, prompt, "")
    assert daemon.networks.resolve("unused")
    code, out, _ = daemon.run("network", "prune", stdin="y\n")
    assert (code, out) == (0, prompt + "Deleted Networks:\nunused\n\n")
    assert daemon.run("network", "prune", "-f") == (0, "", "")
    daemon.run("network", "create", "--label", "keep", "kept")
    assert daemon.run("network", "prune", "-f", "--filter", "label!=keep") == (0, "", "")
    assert daemon.run("network", "prune", "-f", "--filter", "label=keep")[1] == (
        "Deleted Networks:\nkept\n\n"
    )


def test_network_alone_prints_its_commands(daemon: Daemon) -> None:
    code, out, _ = daemon.run("network")
    assert code == 0
    for command in ("connect", "create", "disconnect", "inspect", "ls", "prune", "rm"):
        assert command in out
