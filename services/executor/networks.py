"""Networks as the executor makes them (transport-free; service_networks.py adapts it).

A network is a Linux bridge plus its rules in Caisson's own nftables table; what the daemon
asked for is kept under EXEC_ROOT/networks/<id>.pb, so a restarted executor knows what it
made. Bridges and rules outlive the executor (running containers need them); the daemon
removes a network, and reconciles the list whenever it (re)connects.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from pathlib import Path

from caisson import errors, logs
from caisson.executor import links
from caisson.executor.dns import Resolver
from caisson.executor.firewall import Firewall
from caisson_api.executor.v1 import networks_pb2 as pb

log = logs.get("caisson.executor.networks")

_MAX_IFNAME = 15


class NetworkManager:
    def __init__(self, exec_root: str, firewall: Firewall, resolver: Resolver) -> None:
        self.dir = Path(exec_root) / "networks"
        self.firewall = firewall
        self.resolver = resolver
        self._lock = threading.Lock()

    def init(self) -> None:
        """The firewall table is made with the first network: an executor that never runs a
        networked container touches no nftables at all."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.list():
            self.firewall.setup()

    def _file(self, nid: str) -> Path:
        if not nid or not nid.isalnum():
            raise errors.InvalidArgument(f"invalid network id {nid!r}")
        return self.dir / f"{nid}.pb"

    def ensure(self, spec: pb.NetworkSpec) -> None:
        net = _check(spec)
        with self._lock:
            self.firewall.setup()
            links.ensure_bridge(spec.bridge, spec.gateway, net.prefixlen, spec.mtu or 1500)
            self.firewall.ensure_network(spec.id, spec.bridge, str(net), spec.internal)
            if not spec.internal:
                links.enable_ip_forward()
            path = self._file(spec.id)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(spec.SerializeToString())
            tmp.replace(path)
        log.info("network ready", network=spec.id, bridge=spec.bridge, subnet=str(net))

    def get(self, nid: str) -> pb.NetworkSpec:
        try:
            raw = self._file(nid).read_bytes()
        except FileNotFoundError:
            raise errors.NotFound(f"network {nid} is not set up in the executor") from None
        spec = pb.NetworkSpec()
        spec.ParseFromString(raw)
        return spec

    def list(self) -> list[pb.NetworkSpec]:
        out = []
        for path in sorted(self.dir.glob("*.pb")):
            try:
                out.append(self.get(path.stem))
            except errors.NotFound:
                continue
        return out

    def remove(self, nid: str) -> None:
        with self._lock:
            try:
                spec = self.get(nid)
            except errors.NotFound:
                return
            with contextlib.suppress(errors.FailedPrecondition):  # no table, no rules
                self.firewall.remove_network(nid)
            links.remove_bridge(spec.bridge)
            self.resolver.drop_network(nid)
            self._file(nid).unlink(missing_ok=True)
        log.info("network removed", network=nid, bridge=spec.bridge)

    def set_names(self, nid: str, records: dict[str, list[str]]) -> None:
        self.resolver.set_names(nid, records)


def _check(spec: pb.NetworkSpec) -> ipaddress.IPv4Network:
    if not spec.bridge or len(spec.bridge.encode()) > _MAX_IFNAME or "/" in spec.bridge:
        raise errors.InvalidArgument(f"invalid bridge name {spec.bridge!r}")
    try:
        net = ipaddress.IPv4Network(spec.subnet, strict=False)
        gateway = ipaddress.IPv4Address(spec.gateway)
    except ValueError as e:
        raise errors.InvalidArgument(f"network {spec.id}: {e}") from None
    if gateway not in net:
        raise errors.InvalidArgument(f"gateway {gateway} is not in subnet {net}")
    return net
