"""A container's side of networking, as the daemon decides it (transport-free).

At create the container's networks are recorded (HostConfig.NetworkMode plus --ip and
--network-alias); at each start an address is allocated on each of them (IPAM in
networks.py) and the executor is given the start's Networking: endpoints, published ports,
its own /etc/hosts line, whether the embedded DNS serves it. At the end of a run the addresses
go back, as docker's endpoints do. The embedded DNS's tables (name, aliases and short id ->
address, per user network) are pushed to the executor whenever they change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from caisson import errors, logs
from caisson.daemon import containerspec
from caisson.daemon.containerrecord import BoundPort, ContainerRecord, NetworkAttachment
from caisson.daemon.networks import NetworkService
from caisson_api.daemon.v1 import containers_pb2 as api
from caisson_api.daemon.v1 import networks_pb2 as napi
from caisson_api.executor.v1 import containers_pb2 as xpb
from caisson_api.executor.v1 import networks_pb2 as npb

log = logs.get("caisson.daemon.containernet")

_PROTOCOLS = ("tcp", "udp")


class ContainerNetworks:
    def __init__(
        self,
        networks: NetworkService,
        set_names: Callable[[str, dict[str, list[str]]], None],
        records: Callable[[], list[ContainerRecord]],
    ) -> None:
        self.networks = networks
        self._set_names = set_names
        self._records = records
        self._lock = threading.Lock()

    # -- create ----------------------------------------------------------------------------

    def attachments(
        self, hc: api.HostConfig, endpoints: dict[str, napi.EndpointConfig]
    ) -> list[NetworkAttachment]:
        """The networks a new container joins, checked as docker does at create."""
        mode = hc.network_mode
        if containerspec.network_mode(mode) != "bridge":
            for config in endpoints.values():
                check_endpoint_config(False, config)
            return []
        name = "bridge" if mode in ("", "default") else mode
        net = self.networks.resolve(name)
        config = endpoints.get(mode) or endpoints.get(name) or endpoints.get(net.name)
        extra = set(endpoints) - {mode, name, net.name}
        if extra:
            raise errors.InvalidArgument(
                "Container cannot be connected to network endpoints: "
                + ", ".join(sorted({net.name, *extra}))
            )
        att = NetworkAttachment(network_id=net.id, network_name=net.name)
        if config is not None:
            check_endpoint_config(net.dns, config)
            att.ipv4_address = config.ipv4_address
            att.aliases = list(config.aliases)
        return [att]

    # -- start and end ---------------------------------------------------------------------

    def prepare(self, rec: ContainerRecord, exposed: Iterable[str]) -> xpb.Networking | None:
        """Allocates the start's addresses (saved in rec.networks) and returns what the
        executor makes; None for none/host/container modes. Releases all on failure."""
        if containerspec.network_mode(rec.host_config.network_mode) != "bridge":
            return None
        net = xpb.Networking()
        routed = False  # the default route: the first network that is not --internal
        try:
            with self._lock:
                for i, att in enumerate(rec.networks):
                    ep = self.networks.allocate(
                        att.network_id, rec.id, att.ipv4_address, att.aliases
                    )
                    att.endpoint_id = ep.endpoint_id
                    att.address, att.prefix_len = ep.address, ep.prefix_len
                    att.gateway, att.mac = ep.gateway, ep.mac
                    network = self.networks.network(att.network_id)
                    route = not routed and not network.internal
                    routed = routed or route
                    net.endpoints.append(_endpoint(att, f"eth{i}", route))
                    net.embedded_dns = net.embedded_dns or network.dns
            if rec.networks:
                own = rec.networks[0].address
                host = rec.config.hostname
                if rec.config.domainname:
                    host = f"{host}.{rec.config.domainname} {host}"
                net.own_hosts.append(f"{own}\t{host}")
                net.ports.extend(port_mappings(rec.host_config, exposed))
        except BaseException:
            self.release(rec)
            raise
        return net

    @staticmethod
    def started(rec: ContainerRecord, ports: Iterable[npb.PortMapping]) -> None:
        """The ports as the executor bound them (the caller saves, then pushes names)."""
        rec.ports = [
            BoundPort(p.protocol, p.host_ip or "0.0.0.0", p.host_port, p.container_port)
            for p in ports
        ]

    def release(self, rec: ContainerRecord) -> bool:
        """The end of a run: addresses back to their networks (a static one is asked for
        again at the next start), no ports. True when something was released (the caller
        saves, then pushes names)."""
        held = any(att.address for att in rec.networks) or bool(rec.ports)
        with self._lock:
            for att in rec.networks:
                self.networks.release(att.network_id, rec.id)
                att.endpoint_id = att.address = att.gateway = att.mac = ""
                att.prefix_len = 0
        rec.ports = []
        return held

    # -- DNS -------------------------------------------------------------------------------

    def push_names(self, network_ids: Iterable[str]) -> None:
        for nid in dict.fromkeys(network_ids):
            try:
                network = self.networks.network(nid)
            except errors.NotFound:
                continue
            if not network.dns:
                continue
            table: dict[str, list[str]] = {}
            for rec in self._records():
                for att in rec.networks:
                    if att.network_id != nid or not att.address:
                        continue
                    for name in dict.fromkeys([rec.name, rec.short_id, *att.aliases]):
                        table.setdefault(name, []).append(att.address)
            try:
                self._set_names(nid, table)
            except errors.CaissonError as e:
                log.warning("DNS names not pushed", network=nid, error=str(e))

    def push_all(self) -> None:
        """After the executor (re)started: every user network's table."""
        ids = {att.network_id for rec in self._records() for att in rec.networks}
        self.push_names(sorted(ids))


def _endpoint(att: NetworkAttachment, ifname: str, primary: bool) -> npb.Endpoint:
    return npb.Endpoint(
        network_id=att.network_id,
        address=att.address,
        prefix_len=att.prefix_len,
        gateway=att.gateway if primary else "",
        mac=att.mac,
        ifname=ifname,
    )


def endpoint_for(att: NetworkAttachment) -> npb.Endpoint:
    """A running container's extra endpoint (network connect): no default route."""
    return _endpoint(att, "", False)


def check_endpoint_config(user_network: bool, config: napi.EndpointConfig) -> None:
    """docker's runconfig errors: --ip and aliases only on user-defined networks."""
    if config.ipv4_address and not user_network:
        raise errors.InvalidArgument(
            "user specified IP address is supported on user defined networks only"
        )
    if config.aliases and not user_network:
        raise errors.InvalidArgument(
            "network-scoped alias is supported only for containers in user defined networks"
        )


def port_mappings(hc: api.HostConfig, exposed: Iterable[str]) -> list[npb.PortMapping]:
    """HostConfig.PortBindings (and -P: every exposed port on a free host port)."""
    out: list[npb.PortMapping] = []
    seen: set[tuple[str, int]] = set()
    for key in sorted(hc.port_bindings, key=_split_port):
        port, proto = _split_port(key)
        for b in hc.port_bindings[key].bindings:
            first, last = _host_ports(b.host_port)
            out.append(
                npb.PortMapping(
                    protocol=proto,
                    host_ip=b.host_ip,
                    host_port=first,
                    host_port_end=last if last > first else 0,
                    container_port=port,
                )
            )
        seen.add((proto, port))
    if hc.publish_all_ports:
        for key in sorted(exposed, key=_split_port):
            port, proto = _split_port(key)
            if (proto, port) not in seen:
                out.append(npb.PortMapping(protocol=proto, container_port=port))
    return out


def _split_port(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if proto not in _PROTOCOLS:
        raise errors.InvalidArgument(f"unsupported protocol {proto} for port {port}")
    try:
        number = int(port)
    except ValueError:
        raise errors.InvalidArgument(f"invalid port {key!r}") from None
    if not 0 < number < 65536:
        raise errors.InvalidArgument(f"invalid port {key!r}")
    return number, proto


def _host_ports(text: str) -> tuple[int, int]:
    """ "" (any free port: 0, 0), "8080", or a range "8000-8010" (its first free port is
    taken at start, as docker's)."""
    first, _, last = text.partition("-")
    numbers = []
    for part in (first, last or first):
        if not part:
            numbers.append(0)
            continue
        try:
            number = int(part)
        except ValueError:
            raise errors.InvalidArgument(f"invalid host port {text!r}") from None
        if not 0 <= number < 65536:
            raise errors.InvalidArgument(f"invalid host port {text!r}")
        numbers.append(number)
    if numbers[1] < numbers[0]:
        raise errors.InvalidArgument(f"invalid host port range {text!r}")
    return numbers[0], numbers[1]
