"""Networks, as docker's `network` commands see them, and the endpoints containers have on
them. The daemon decides (records and IP reservations in its store, IPAM in ipam.py); the
executor makes each bridge-driver network real (a Linux bridge and its rules) and is told
again at every start (ensure_all), so a restarted executor or host finds them back.

The predefined networks are docker's: `bridge` (the default bridge, its Linux bridge and
address from the daemon's --bridge and --bip), `host` and `none`. Their ids are made once and
kept, like every network's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from caisson import errors, logs
from caisson.daemon import containerprune, ipam
from caisson.daemon.clients import Executor
from caisson.daemon.engine import Engine
from caisson.daemon.names import new_id
from caisson.daemon.store import EndpointRow, Store
from caisson_api.executor.v1 import networks_pb2 as npb

log = logs.get("caisson.daemon.networks")

SCOPE = "local"
# Network name -> driver of the networks every daemon has.
PREDEFINED = {"bridge": "bridge", "host": "host", "none": "null"}
# docker's IsPreDefinedNetwork: "default" names the default network and cannot be taken either.
RESERVED = (*PREDEFINED, "default")
BRIDGE_NAME = "com.docker.network.bridge.name"
MTU = "com.docker.network.driver.mtu"
FILTER_KEYS = ("dangling", "driver", "id", "label", "name", "scope", "type")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_ROUTES = "/proc/net/route"


@dataclass
class Network:
    """A network record (stored as JSON)."""

    id: str
    name: str
    driver: str  # bridge, host or null
    created: float
    subnet: str = ""  # "10.88.0.0/24"; empty on host and none
    gateway: str = ""
    ip_range: str = ""
    # The IPAM config as the user gave it (docker's Subnet, IPRange, Gateway keys), shown as
    # given by inspect; empty when the daemon chose the subnet.
    ipam_config: dict[str, str] = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    bridge: str = ""  # the Linux bridge of a bridge-driver network
    mtu: int = 0  # 0: 1500

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def dns(self) -> bool:
        """User networks get the embedded DNS server (and aliases, and --ip), as in docker."""
        return self.driver == "bridge" and not self.predefined

    @property
    def prefix_len(self) -> int:
        return IPv4Network(self.subnet).prefixlen if self.subnet else 0

    def pool(self) -> ipam.Pool:
        return ipam.Pool(
            IPv4Network(self.subnet),
            IPv4Address(self.gateway),
            IPv4Network(self.ip_range) if self.ip_range else None,
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Network:
        return cls(**json.loads(text))


@dataclass
class Endpoint:
    """A container's interface on a network, as the executor is told to make it."""

    network_id: str
    network_name: str
    container_id: str
    address: str  # without prefix; empty on host and none
    prefix_len: int
    gateway: str
    mac: str
    aliases: list[str]
    bridge: str
    endpoint_id: str


def host_routes() -> list[IPv4Network]:
    """The destinations of this host's IPv4 routes (what the daemon can see of them)."""
    try:
        with open(_ROUTES) as f:
            return ipam.parse_routes(f.read())
    except OSError as e:
        log.warning("host routes not read", path=_ROUTES, error=str(e))
        return []


def spec(n: Network) -> npb.NetworkSpec:
    """What the executor makes of a bridge-driver network."""
    return npb.NetworkSpec(
        id=n.id,
        bridge=n.bridge,
        subnet=n.subnet,
        gateway=n.gateway,
        mtu=n.mtu,
        internal=n.internal,
        dns=n.dns,
    )


class NetworkService:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        executor: Executor,
        bridge: str = "caisson0",
        bip: str = "10.87.0.1/16",
        pool: str = ipam.POOL,
        routes: Callable[[], list[IPv4Network]] = host_routes,
        pool_size: int = ipam.POOL_SIZE,
    ) -> None:
        self.store = store
        self.engine = engine
        self.executor = executor
        self.pool = pool
        self.pool_size = pool_size
        self.routes = routes
        # Set by the container service: a container's name (inspect's Containers, messages).
        self.container_name: Callable[[str], str] = lambda cid: ""
        # One lock for every decision on networks and addresses (creates, removes and
        # allocations are short; the store's transactions keep each write whole).
        self._lock = threading.RLock()
        self._predefined(bridge, bip)

    # -- records ---------------------------------------------------------------------------

    def _predefined(self, bridge: str, bip: str) -> None:
        """Makes the predefined networks once; the default bridge follows --bridge and --bip
        (unless containers are on it: their addresses stay valid until they leave)."""
        gateway, subnet = ipam.parse_cidr(bip)
        if subnet.num_addresses > 2 and gateway in (
            subnet.network_address,
            subnet.broadcast_address,
        ):
            raise errors.InvalidArgument(
                f"invalid bip {bip}: the bridge needs a host address of its subnet"
            )
        _check_ifname(bridge)
        for name, driver in PREDEFINED.items():
            nid = self.store.network_id_by_name(name)
            current = self.network(nid) if nid else None
            want = Network(
                id=current.id if current else new_id(),
                name=name,
                driver=driver,
                created=current.created if current else time.time(),
            )
            if driver == "bridge":
                want.subnet, want.gateway = str(subnet), str(gateway)
                want.ipam_config = {"Subnet": want.subnet, "Gateway": want.gateway}
                want.bridge, want.mtu = bridge, 1500
                want.options = {
                    "com.docker.network.bridge.default_bridge": "true",
                    "com.docker.network.bridge.enable_icc": "true",
                    "com.docker.network.bridge.enable_ip_masquerade": "true",
                    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                    BRIDGE_NAME: bridge,
                    MTU: "1500",
                }
            if current is None:
                self.store.add_network(want.id, name, want.to_json())
            elif current != want:
                if self.store.endpoints(current.id):
                    log.warning(
                        "default bridge settings changed while containers are on it; "
                        "keeping the old ones until they leave",
                        bridge=current.bridge,
                        subnet=current.subnet,
                    )
                    continue
                self.store.put_network(current.id, want.to_json())

    def network(self, nid: str) -> Network:
        record = self.store.network(nid)
        if record is None:
            raise errors.NotFound(f"network {nid} not found")
        return Network.from_json(record)

    def _all(self) -> list[Network]:
        return [Network.from_json(r) for r in self.store.networks()]

    def resolve(self, term: str) -> Network:
        """A network by full id, name or unique id prefix (docker's order)."""
        if term:
            if self.store.network(term) is not None:
                return self.network(term)
            nid = self.store.network_id_by_name(term)
            if nid is not None:
                return self.network(nid)
            ids = self.store.network_ids_with_prefix(term)
            if len(ids) == 1:
                return self.network(ids[0])
            if len(ids) > 1:
                raise errors.InvalidArgument(
                    f"network {term} is ambiguous ({len(ids)} matches found based on ID prefix)"
                )
        raise errors.NotFound(f"network {term} not found")

    def counts(self) -> dict[str, int]:
        """Network id -> number of containers connected."""
        return self.store.endpoint_counts()

    def list(self, filters: Sequence[str]) -> list[Network]:
        return select(self._all(), self.counts(), filters)

    # -- create and remove -----------------------------------------------------------------

    def create(
        self,
        name: str,
        driver: str = "",
        subnet: str = "",
        gateway: str = "",
        ip_range: str = "",
        internal: bool = False,
        attachable: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Network:
        """A user network: checked, recorded, then made by the executor (the record goes
        again when the executor cannot make it)."""
        if name in RESERVED:
            raise errors.PermissionDenied(
                f"operation is not permitted on predefined {name} network"
            )
        if not name.strip():
            raise errors.InvalidArgument(f"invalid name: {name}")
        driver = driver or "bridge"
        with self.engine.job("network create", network=name), self._lock:
            if self.store.network_id_by_name(name) is not None:
                raise errors.AlreadyExists(f"network with name {name} already exists")
            if driver in ("host", "null"):
                raise errors.PermissionDenied(f'only one instance of "{driver}" network is allowed')
            if driver != "bridge":
                raise errors.NotFound(f'plugin "{driver}" not found')
            options = dict(options or {})
            net = Network(
                id=new_id(),
                name=name,
                driver=driver,
                created=time.time(),
                internal=internal,
                attachable=attachable,
                labels=dict(labels or {}),
                options=options,
                mtu=_mtu(options.get(MTU, "")),
            )
            net.bridge = options.get(BRIDGE_NAME) or f"br-{net.id[:12]}"
            _check_ifname(net.bridge)
            self._address(net, subnet, gateway, ip_range)
            for other in self._all():
                if other.bridge == net.bridge:
                    raise errors.PermissionDenied(
                        f"cannot create network {net.id} ({net.bridge}): conflicts with network "
                        f"{other.id} ({other.bridge}): networks have same bridge name"
                    )
            if not self.store.add_network(net.id, name, net.to_json()):
                raise errors.AlreadyExists(f"network with name {name} already exists")
            try:
                self.executor.ensure_network(spec(net))
            except BaseException:
                self.store.delete_network(net.id)
                raise
        self.engine.events.publish("network", "create", net.id, name=name, type=driver)
        return net

    def _address(self, net: Network, subnet: str, gateway: str, ip_range: str) -> None:
        """The new network's subnet, gateway and range: the user's, checked, or the pool's
        next free /24."""
        taken = [IPv4Network(n.subnet) for n in self._all() if n.subnet]
        if subnet:
            pool = ipam.configure(subnet, ip_range, gateway)
            ipam.check_overlap(pool.subnet, taken)
            net.ipam_config = {"Subnet": subnet}
            if ip_range:
                net.ipam_config["IPRange"] = ip_range
            if gateway:
                net.ipam_config["Gateway"] = gateway
        else:
            ipam.consolidate([], [ip_range] if ip_range else [], [gateway] if gateway else [])
            chosen = ipam.next_subnet([*taken, *self.routes()], self.pool, self.pool_size)
            pool = ipam.configure(str(chosen))
        net.subnet, net.gateway = str(pool.subnet), str(pool.gateway)
        net.ip_range = str(pool.ip_range) if pool.ip_range else ""

    def remove(self, term: str) -> None:
        with self.engine.job("network remove", network=term), self._lock:
            net = self.resolve(term)
            self._remove(net)

    def _remove(self, net: Network) -> None:
        if net.predefined:
            raise errors.PermissionDenied(
                f"{net.name} is a pre-defined network and cannot be removed"
            )
        if self.store.endpoints(net.id):
            raise errors.FailedPrecondition(
                f"error while removing network: network {net.name} id {net.id} has active endpoints"
            )
        if net.driver == "bridge":
            # NotFound: never made, or gone already: nothing left to take down.
            with contextlib.suppress(errors.NotFound):
                self.executor.remove_network(net.id)
        self.store.delete_network(net.id)
        self.engine.events.publish("network", "destroy", net.id, name=net.name, type=net.driver)

    def prune(self, filters: Sequence[str]) -> list[str]:
        """docker's `network prune`: every user network no container is on, by the prune
        filters (until, label, label!). Returns the removed networks' names."""
        f = containerprune.parse(filters)
        deleted = []
        with self.engine.job("network prune"), self._lock:
            counts = self.counts()
            for net in self._all():
                if net.predefined or counts.get(net.id):
                    continue
                if f.until is not None and net.created > f.until:
                    continue
                if not all(_has_label(net.labels, w) for w in f.labels):
                    continue
                if any(_has_label(net.labels, w) for w in f.not_labels):
                    continue
                try:
                    self._remove(net)
                except errors.CaissonError as e:
                    log.warning("network not pruned", network=net.name, error=str(e))
                    continue
                deleted.append(net.name)
        self.engine.events.publish("network", "prune", "", reclaimed="0")
        return deleted

    # -- endpoints -------------------------------------------------------------------------

    def allocate(
        self,
        network_id: str,
        container_id: str,
        requested_ip: str = "",
        aliases: Sequence[str] = (),
    ) -> Endpoint:
        """The container's endpoint on the network, its address reserved: the requested one
        (checked as docker does) or the lowest free. A container already on the network keeps
        its endpoint (and address, unless another is asked for)."""
        net = self.network(network_id)
        if requested_ip:
            if not net.dns:
                raise errors.InvalidArgument(
                    "user specified IP address is supported on user defined networks only"
                )
            if "Subnet" not in net.ipam_config:
                raise errors.InvalidArgument(
                    "user specified IP address is supported only when connecting to networks "
                    "with user configured subnets"
                )
        if aliases and not net.dns:
            raise errors.InvalidArgument(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        with self._lock:
            current = self.store.endpoint(network_id, container_id)
            row = EndpointRow(
                network_id=network_id,
                container_id=container_id,
                address="",
                endpoint_id=current.endpoint_id if current else new_id(),
                aliases=list(aliases),
            )
            if net.subnet:
                row.address = self._pick(net, container_id, requested_ip, current)
            if not self.store.add_endpoint(row, replace=current is not None):
                raise errors.PermissionDenied("Address already in use")
        return self._endpoint(net, row)

    def _pick(
        self, net: Network, container_id: str, requested: str, current: EndpointRow | None
    ) -> str:
        if current and current.address and requested in ("", current.address):
            return current.address
        used = {
            IPv4Address(e.address)
            for e in self.store.endpoints(net.id)
            if e.address and e.container_id != container_id
        }
        pool = net.pool()
        if requested:
            return str(ipam.request(pool, requested, used))
        address = ipam.first_free(pool, used)
        if address is None:
            raise errors.ResourceExhausted(
                "no available IPv4 addresses on this network's address pools: "
                f"{net.name} ({net.id})"
            )
        return str(address)

    def release(self, network_id: str, container_id: str) -> None:
        """The container leaves the network: its address is free again. Idempotent."""
        with self._lock:
            self.store.delete_endpoint(network_id, container_id)

    def _endpoint(self, net: Network, row: EndpointRow) -> Endpoint:
        return Endpoint(
            network_id=net.id,
            network_name=net.name,
            container_id=row.container_id,
            address=row.address,
            prefix_len=net.prefix_len if row.address else 0,
            gateway=net.gateway if row.address else "",
            mac=ipam.mac(IPv4Address(row.address)) if row.address else "",
            aliases=row.aliases,
            bridge=net.bridge,
            endpoint_id=row.endpoint_id,
        )

    def endpoints(self, network_id: str) -> list[Endpoint]:
        net = self.network(network_id)
        return [self._endpoint(net, row) for row in self.store.endpoints(network_id)]

    def endpoints_of(self, container_id: str) -> list[Endpoint]:
        """The container's endpoints, in the order they were made."""
        return [
            self._endpoint(self.network(row.network_id), row)
            for row in self.store.endpoints_of(container_id)
        ]

    # -- the executor ----------------------------------------------------------------------

    def ensure_all(self) -> None:
        """Makes the executor's networks match the records: every bridge-driver network made
        (or checked), every network it has that the daemon does not know removed. Called at
        daemon start and whenever the executor (re)starts. One network that cannot be made is
        logged and the rest go on; an unreachable executor is raised."""
        known = {n.id: n for n in self._all()}
        for net in known.values():
            if net.driver != "bridge":
                continue
            try:
                self.executor.ensure_network(spec(net))
            except errors.Unavailable:
                raise
            except errors.CaissonError as e:
                log.error("network not set up", network=net.name, id=net.id, error=str(e))
        for made in self.executor.list_networks():
            if made.id in known and known[made.id].driver == "bridge":
                continue
            try:
                self.executor.remove_network(made.id)
                log.info("stale network removed", id=made.id, bridge=made.bridge)
            except errors.Unavailable:
                raise
            except errors.CaissonError as e:
                log.error("stale network not removed", id=made.id, error=str(e))


def _check_ifname(name: str) -> None:
    if not _IFNAME.match(name):
        raise errors.InvalidArgument(
            f"invalid bridge name {name!r}: 1 to 15 letters, digits, '_', '.' or '-'"
        )


def _mtu(text: str) -> int:
    if not text:
        return 0
    try:
        mtu = int(text)
    except ValueError:
        raise errors.InvalidArgument(
            f'failed to parse {MTU} value: {text} (strconv.Atoi: parsing "{text}": invalid syntax)'
        ) from None
    if not 68 <= mtu <= 65535:
        raise errors.InvalidArgument(f"invalid MTU {mtu}: it must be between 68 and 65535")
    return mtu


def _has_label(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _regexp(patterns: list[str], value: str) -> bool:
    """docker's filters.Args.Match: equal, or an unanchored regular expression that matches
    (one that does not compile matches nothing)."""
    for p in patterns:
        if p == value:
            return True
        try:
            if re.search(p, value):
                return True
        except re.error:
            continue
    return False


def select(nets: list[Network], counts: dict[str, int], filters: Sequence[str]) -> list[Network]:
    """`network ls --filter`, as docker 20.10's FilterNetworks: every key must match; the
    values of one key match when any does, except `label`, where all must."""
    by_key: dict[str, list[str]] = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep or key not in FILTER_KEYS:
            raise errors.InvalidArgument(f"Invalid filter '{key}'")
        by_key.setdefault(key, [])
        if value not in by_key[key]:
            by_key[key].append(value)
    for value in by_key.get("type", []):
        if value not in ("custom", "builtin"):
            raise errors.InvalidArgument(f"invalid filter: 'type'='{value}'")
    dangling: bool | None = None
    if "dangling" in by_key:
        values = by_key["dangling"]
        if len(values) > 1:
            raise errors.InvalidArgument('got more than one value for filter key "dangling"')
        if values[0] not in ("0", "1", "false", "true"):
            raise errors.InvalidArgument(
                'invalid value for filter \'dangling\', must be "true" (or "1"), or '
                '"false" (or "0")'
            )
        dangling = values[0] in ("1", "true")
    out = []
    for n in nets:
        if "driver" in by_key and n.driver not in by_key["driver"]:
            continue
        if "name" in by_key and not _regexp(by_key["name"], n.name):
            continue
        if "id" in by_key and not _regexp(by_key["id"], n.id):
            continue
        if not all(_has_label(n.labels, w) for w in by_key.get("label", [])):
            continue
        if "scope" in by_key and SCOPE not in by_key["scope"]:
            continue
        if dangling is not None:
            unused = not n.predefined and not counts.get(n.id)
            if unused != dangling:
                continue
        if "type" in by_key:
            kinds = by_key["type"]
            if not ("builtin" in kinds and n.predefined or "custom" in kinds and not n.predefined):
                continue
        out.append(n)
    return out
