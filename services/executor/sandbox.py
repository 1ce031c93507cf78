"""A started container's network, like docker's sandbox: made at start, gone at its end.

    EXEC_ROOT/containers/<id>/netns           the network namespace (a bind mount), which
                                              the container's init joins
    EXEC_ROOT/containers/<id>/networking.pb   what was made: endpoints, the published ports
                                              as bound, whether DNS is served
Each endpoint is a veth pair, its host end on the network's bridge. Published ports are
bound on the host (so nothing else takes them; the container's monitor holds the sockets for
its life) and DNAT'ed to the first endpoint's address by Caisson's firewall table. On a user
network the executor's embedded DNS server answers in the namespace on 127.0.0.11:53.
Teardown removes the rules and the namespace (its veth ends go with it).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path

from caisson import errors, logs
from caisson.executor import dns, links, netns, ports
from caisson.executor.firewall import Firewall, Publish
from caisson.executor.networks import NetworkManager
from caisson_api.executor.v1 import containers_pb2 as pb
from caisson_api.executor.v1 import networks_pb2 as npb

log = logs.get("caisson.executor.sandbox")

NETNS = "netns"
RECORD = "networking.pb"


class Sandboxes:
    def __init__(self, networks: NetworkManager, firewall: Firewall, resolver: dns.Resolver):
        self.networks = networks
        self.firewall = firewall
        self.resolver = resolver
        self._lock = threading.Lock()

    # -- start and end ---------------------------------------------------------------------

    def setup(
        self, cid: str, bundle: Path, net: pb.Networking, dns_servers: list[str] | None = None
    ) -> list[socket.socket]:
        """Makes the namespace, its interfaces, the published ports and DNS; returns the bound
        port sockets (the caller hands them to the monitor, then closes its copies). On
        failure nothing is left."""
        path = bundle / NETNS
        self.teardown(cid, bundle)  # what a run that ended unseen may have left
        made = pb.Networking()
        made.CopyFrom(net)
        held: list[socket.socket] = []
        try:
            netns.create(path)
            for ep in net.endpoints:
                self._attach(cid, path, ep)
            del made.ports[:]
            if net.ports:
                if not net.endpoints:
                    raise errors.InvalidArgument("published ports need a network endpoint")
                held = self._publish(cid, net, made)
            if net.embedded_dns:
                made.dns_servers[:] = dns_servers or []
                self._serve_dns(cid, path, made)
            _write(bundle / RECORD, made.SerializeToString())
        except BaseException:
            for s in held:
                s.close()
            self.teardown(cid, bundle)
            raise
        log.info(
            "network sandbox ready",
            container=cid,
            endpoints=[f"{e.ifname}={e.address}" for e in net.endpoints],
            ports=[f"{p.host_port}->{p.container_port}/{p.protocol}" for p in made.ports],
        )
        return held

    def teardown(self, cid: str, bundle: Path) -> None:
        """Idempotent: rules, DNS and the namespace of a container that is not running.
        Nothing to do (and no nft call, on `rm`'s path) for one that never had a network."""
        if not (bundle / RECORD).exists() and not os.path.lexists(bundle / NETNS):
            return
        with contextlib.suppress(errors.FailedPrecondition):  # no table: nothing published
            self.firewall.unpublish(cid)
        self.resolver.stop(cid)
        netns.delete(bundle / NETNS)
        (bundle / RECORD).unlink(missing_ok=True)

    def record(self, bundle: Path) -> pb.Networking | None:
        try:
            raw = (bundle / RECORD).read_bytes()
        except FileNotFoundError:
            return None
        net = pb.Networking()
        net.ParseFromString(raw)
        return net

    def revive(self, cid: str, bundle: Path) -> None:
        """After an executor restart, for a running container: DNS is served again (its
        sockets died with the old executor; rules and links are in the kernel still)."""
        net = self.record(bundle)
        if net is not None and net.embedded_dns:
            try:
                self._serve_dns(cid, bundle / NETNS, net)
            except errors.CaissonError as e:
                log.warning("could not serve DNS again", container=cid, error=str(e))

    # -- connect, disconnect (running containers) ------------------------------------------

    def connect(self, cid: str, bundle: Path, ep: npb.Endpoint) -> None:
        with self._lock:
            net = self.record(bundle)
            if net is None:
                raise errors.FailedPrecondition(
                    f"container {cid[:12]} has no network namespace of its own to connect"
                )
            if any(e.network_id == ep.network_id for e in net.endpoints):
                raise errors.AlreadyExists(
                    f"endpoint with name {cid[:12]} already exists in network {ep.network_id}"
                )
            ep = _with_ifname(ep, net)
            self._attach(cid, bundle / NETNS, ep)
            net.endpoints.append(ep)
            _write(bundle / RECORD, net.SerializeToString())
            self._update_dns(cid, bundle, net)

    def disconnect(self, cid: str, bundle: Path, network_id: str) -> None:
        with self._lock:
            net = self.record(bundle)
            eps = [e for e in (net.endpoints if net else []) if e.network_id == network_id]
            if net is None or not eps:
                raise errors.NotFound(
                    f"container {cid[:12]} is not connected to network {network_id}"
                )
            links.detach(bundle / NETNS, eps[0].ifname)
            keep = [e for e in net.endpoints if e.network_id != network_id]
            del net.endpoints[:]
            net.endpoints.extend(keep)
            _write(bundle / RECORD, net.SerializeToString())
            self._update_dns(cid, bundle, net)

    # -- steps -----------------------------------------------------------------------------

    def _attach(self, cid: str, path: Path, ep: npb.Endpoint) -> None:
        bridge = self.networks.get(ep.network_id).bridge
        index = int(ep.ifname[3:]) if ep.ifname.startswith("eth") else 0
        links.attach(
            path,
            bridge,
            links.host_ifname(cid, index),
            links.EndpointLink(
                ifname=ep.ifname or "eth0",
                address=ep.address,
                prefix_len=ep.prefix_len,
                gateway=ep.gateway,
                mac=ep.mac,
                mtu=self.networks.get(ep.network_id).mtu or 1500,
            ),
        )

    def _publish(self, cid: str, net: pb.Networking, made: pb.Networking) -> list[socket.socket]:
        first = net.endpoints[0]
        bridge = self.networks.get(first.network_id).bridge
        held: list[socket.socket] = []
        rules = []
        try:
            for p in net.ports:
                s = _reserve(p)
                held.append(s)
                bound = npb.PortMapping()
                bound.CopyFrom(p)
                bound.host_port = s.getsockname()[1]
                made.ports.append(bound)
                rules.append(
                    Publish(
                        protocol=p.protocol,
                        host_ip="" if p.host_ip in ("", "0.0.0.0") else p.host_ip,
                        host_port=bound.host_port,
                        container_ip=first.address,
                        container_port=p.container_port,
                    )
                )
            self.firewall.publish(cid, bridge, rules)
        except BaseException:
            for s in held:
                s.close()
            raise
        return held

    def _serve_dns(self, cid: str, path: Path, net: pb.Networking) -> None:
        sockets = netns.run_in(path, dns.open_sockets)
        networks = [ep.network_id for ep in net.endpoints]
        self.resolver.serve(cid, sockets, networks, list(net.dns_servers) or None)

    def _update_dns(self, cid: str, bundle: Path, net: pb.Networking) -> None:
        if net.embedded_dns:
            self.resolver.set_networks(cid, [e.network_id for e in net.endpoints])


def _reserve(p: npb.PortMapping) -> socket.socket:
    """The host port, or the first free one of its range."""
    if p.host_port_end <= p.host_port:
        return ports.reserve(p.protocol, p.host_ip, p.host_port)
    for port in range(p.host_port, p.host_port_end + 1):
        try:
            return ports.reserve(p.protocol, p.host_ip, port)
        except errors.FailedPrecondition as e:
            if "already allocated" not in str(e):
                raise
    address = p.host_ip or "0.0.0.0"
    raise errors.FailedPrecondition(
        f"Bind for {address}:{p.host_port}-{p.host_port_end} failed: port is already allocated"
    )


def _with_ifname(ep: npb.Endpoint, net: pb.Networking) -> npb.Endpoint:
    if ep.ifname:
        return ep
    used = {e.ifname for e in net.endpoints}
    n = 0
    while f"eth{n}" in used:
        n += 1
    out = npb.Endpoint()
    out.CopyFrom(ep)
    out.ifname = f"eth{n}"
    return out


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def close_all(sockets: list[socket.socket]) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):
            s.close()
