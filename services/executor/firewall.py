"""Caisson's firewall: NAT, forwarding and isolation rules for container networks, in an
nftables table of Caisson's own (`ip caisson`).

Nothing here touches another table: docker's iptables-nft tables (`ip filter`, `ip nat`) and
the host's own rules keep working beside it. Two things follow from how nftables hooks
combine: an `accept` here does not override another table's `drop` (a host whose FORWARD
policy is DROP, as docker sets it when it turns ip_forward on itself, blocks container
traffic until it is allowed there too), and a `drop` here is final.

Layout (made by `setup`, the base chains' fixed rules in a fixed order):

    set bridges      every Caisson bridge (its element's comment names its network)
    input            packets from a bridge to 127.0.0.0/8 that start a connection: dropped.
                     The bridges have route_localnet=1 (so host -> 127.0.0.1:PORT -> container
                     works); without this a container could craft packets to the host's
                     loopback-only services (kubernetes' CVE-2020-8558).
    forward          jump isolation; ct state established,related accept; jump published;
                     jump networks
    isolation        per network: traffic from its bridge to another Caisson bridge is dropped
                     (docker's DOCKER-ISOLATION); internal: all traffic between its bridge and
                     any other interface is dropped
    published        per container: new DNATed connections to its published ports, accepted
    networks         per network: anything else entering its bridge from elsewhere, dropped
                     (no direct routing to a container from other hosts)
    prerouting/output (nat) per container: DNAT of published ports (output: the host's own
                     connections, 127.0.0.1 included)
    postrouting (nat) per network: masquerade of the subnet leaving by another interface
                     (unless internal), of 127.0.0.0/8 sources going out the bridge, and of
                     hairpin traffic (a container reaching a published port of its own bridge
                     through a host address: the reply must come back through the host)

Every rule (and set element) carries a comment naming its owner, "net:<id>" or "ctr:<id>":
each call lists the table, then deletes the owner's rules and adds the new ones in one nft
transaction, so a network's or a container's rules are replaced atomically and found again
after a restart. One Firewall per table per process (its lock orders those read-then-write
calls).
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass
from typing import Any

from caisson import errors
from caisson.executor import nftables

_NET = "net:"
_CTR = "ctr:"
_BRIDGES = "bridges"
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")

# (name, type, hook, priority) of the base chains; the rest are regular chains.
_BASE_CHAINS = (
    ("prerouting", "nat", "prerouting", -100),
    ("output", "nat", "output", -100),
    ("postrouting", "nat", "postrouting", 100),
    ("input", "filter", "input", 0),
    ("forward", "filter", "forward", 0),
)
_REGULAR_CHAINS = ("isolation", "published", "networks")

Expr = dict[str, Any]


@dataclass(frozen=True)
class Publish:
    """One published port: host_ip:host_port/protocol -> container_ip:container_port."""

    protocol: str  # "tcp" | "udp"
    host_ip: str  # "" or "0.0.0.0": every host address
    host_port: int
    container_ip: str
    container_port: int


def _match(left: Expr, right: Any, op: str = "==") -> Expr:
    return {"match": {"op": op, "left": left, "right": right}}


def _iif(name: str, op: str = "==") -> Expr:
    return _match({"meta": {"key": "iifname"}}, name, op)


def _oif(name: str, op: str = "==") -> Expr:
    return _match({"meta": {"key": "oifname"}}, name, op)


def _ip(field: str, net: ipaddress.IPv4Network | ipaddress.IPv4Address) -> Expr:
    right: Any = str(net)
    if isinstance(net, ipaddress.IPv4Network):
        right = {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}
    return _match({"payload": {"protocol": "ip", "field": field}}, right)


def _dport(protocol: str, port: int) -> Expr:
    return _match({"payload": {"protocol": protocol, "field": "dport"}}, port)


_LOCAL_DADDR = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
_DNATED = _match({"ct": {"key": "status"}}, "dnat", "in")
_DROP: Expr = {"drop": None}
_ACCEPT: Expr = {"accept": None}
_MASQUERADE: Expr = {"masquerade": None}


def _check(pattern: re.Pattern[str], value: str, what: str) -> None:
    if not pattern.fullmatch(value):
        raise errors.InvalidArgument(f"invalid {what}: {value!r}")


def _address(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise errors.InvalidArgument(f"invalid {what} (IPv4 only): {value!r}") from None


def _port(value: int, what: str) -> int:
    if not 1 <= value <= 65535:
        raise errors.InvalidArgument(f"invalid {what}: {value}")
    return value


class Firewall:
    def __init__(self, table: str = "caisson") -> None:
        _check(_TABLE_NAME, table, "nftables table name")
        self.table = table
        self._lock = threading.Lock()

    # -- the table -------------------------------------------------------------------------

    def setup(self) -> None:
        """Makes the table, the bridges set and the chains, and (re)writes the base chains'
        fixed rules. Idempotent; the networks' and containers' rules are kept."""
        cmds: list[Expr] = [
            {"add": {"table": self._table()}},
            {"add": {"set": self._obj(name=_BRIDGES, type="ifname")}},
        ]
        for name, kind, hook, prio in _BASE_CHAINS:
            chain = self._obj(name=name, type=kind, hook=hook, prio=prio, policy="accept")
            cmds.append({"add": {"chain": chain}})
        cmds += [{"add": {"chain": self._obj(name=name)}} for name in _REGULAR_CHAINS]
        cmds += [{"flush": {"chain": self._obj(name=name)}} for name in ("input", "forward")]
        starts = _match({"ct": {"key": "state"}}, {"set": ["established", "related"]}, "!=")
        from_bridge = _match({"meta": {"key": "iifname"}}, "@" + _BRIDGES)
        cmds.append(self._add_rule("input", [from_bridge, _ip("daddr", _LOOPBACK), starts, _DROP]))
        established = _match({"ct": {"key": "state"}}, ["established", "related"], "in")
        for expr in (
            [{"jump": {"target": "isolation"}}],
            [established, _ACCEPT],
            [{"jump": {"target": "published"}}],
            [{"jump": {"target": "networks"}}],
        ):
            cmds.append(self._add_rule("forward", expr))
        with self._lock:
            self._run(cmds)

    def destroy(self) -> None:
        """Drops the whole table (tests; the daemon never does). Absent: nothing to do."""
        with self._lock:
            if self._exists():
                self._run([{"delete": {"table": self._table()}}])

    # -- networks --------------------------------------------------------------------------

    def ensure_network(self, network_id: str, bridge: str, subnet: str, internal: bool) -> None:
        """Replaces the rules of one network (see the module docstring) in one transaction."""
        _check(_ID, network_id, "network id")
        _check(_IFNAME, bridge, "bridge name")
        try:
            net = ipaddress.IPv4Network(subnet, strict=False)
        except ValueError:
            raise errors.InvalidArgument(f"invalid subnet (IPv4 only): {subnet!r}") from None
        tag = _NET + network_id
        isolation = [[_iif(bridge), _oif(bridge, "!="), _oif("@" + _BRIDGES), _DROP]]
        postrouting = [
            [_oif(bridge), _ip("saddr", _LOOPBACK), _MASQUERADE],
            # hairpin: postrouting has no input interface, so "from the bridge" is the source
            [_ip("saddr", net), _oif(bridge), _DNATED, _MASQUERADE],
        ]
        if internal:
            isolation = [
                [_iif(bridge), _oif(bridge, "!="), _DROP],
                [_oif(bridge), _iif(bridge, "!="), _DROP],
            ]
        else:
            postrouting.append([_ip("saddr", net), _oif(bridge, "!="), _MASQUERADE])
        adds = [self._add_rule("isolation", expr, tag) for expr in isolation]
        adds.append(self._add_rule("networks", [_oif(bridge), _iif(bridge, "!="), _DROP], tag))
        adds += [self._add_rule("postrouting", expr, tag) for expr in postrouting]
        elem = self._obj(name=_BRIDGES, elem=[{"elem": {"val": bridge, "comment": tag}}])
        adds.append({"add": {"element": elem}})
        self._replace(tag, adds)

    def remove_network(self, network_id: str) -> None:
        """Removes one network's rules and its bridge from the set (none: nothing to do)."""
        _check(_ID, network_id, "network id")
        self._replace(_NET + network_id, [])

    def network_ids(self) -> set[str]:
        with self._lock:
            return {tag[len(_NET) :] for tag in self._owners() if tag.startswith(_NET)}

    # -- containers ------------------------------------------------------------------------

    def publish(self, container_id: str, bridge: str, rules: list[Publish]) -> None:
        """Replaces one container's published ports (DNAT in prerouting and output, accept in
        forward) in one transaction; an empty list removes them."""
        _check(_ID, container_id, "container id")
        _check(_IFNAME, bridge, "bridge name")
        tag = _CTR + container_id
        adds: list[Expr] = []
        accepts: list[list[Expr]] = []
        for rule in rules:
            if rule.protocol not in ("tcp", "udp"):
                raise errors.InvalidArgument(f"invalid protocol: {rule.protocol!r}")
            host_port = _port(rule.host_port, "host port")
            container_port = _port(rule.container_port, "container port")
            container_ip = _address(rule.container_ip, "container address")
            dnat = {"dnat": {"addr": str(container_ip), "port": container_port}}
            to_host = _LOCAL_DADDR
            loopback_only = False
            if rule.host_ip not in ("", "0.0.0.0"):
                host_ip = _address(rule.host_ip, "host address")
                to_host = _ip("daddr", host_ip)
                loopback_only = host_ip in _LOOPBACK
            expr = [to_host, _dport(rule.protocol, host_port), dnat]
            # A loopback host address is for the host's own connections: no packet from
            # elsewhere may be DNATed by it (see the input chain).
            if not loopback_only:
                adds.append(self._add_rule("prerouting", expr, tag))
            adds.append(self._add_rule("output", expr, tag))
            accept = [
                _oif(bridge),
                _ip("daddr", container_ip),
                _dport(rule.protocol, container_port),
                _DNATED,
                _ACCEPT,
            ]
            if accept not in accepts:
                accepts.append(accept)
        adds += [self._add_rule("published", expr, tag) for expr in accepts]
        self._replace(tag, adds)

    def unpublish(self, container_id: str) -> None:
        """Removes one container's published ports (none: nothing to do)."""
        _check(_ID, container_id, "container id")
        self._replace(_CTR + container_id, [])

    def container_ids(self) -> set[str]:
        with self._lock:
            return {tag[len(_CTR) :] for tag in self._owners() if tag.startswith(_CTR)}

    # -- nft -------------------------------------------------------------------------------

    def _table(self) -> Expr:
        return {"family": "ip", "name": self.table}

    def _obj(self, **fields: Any) -> Expr:
        """An object (chain, rule, set, element) of the table."""
        return {"family": "ip", "table": self.table, **fields}

    def _replace(self, tag: str, adds: list[Expr]) -> None:
        """Deletes what `tag` owns and adds `adds` in one transaction."""
        with self._lock:
            commands = self._deletes(tag) + adds
            if commands:
                self._run(commands)

    def _add_rule(self, chain: str, expr: list[Expr], comment: str = "") -> Expr:
        rule = self._obj(chain=chain, expr=expr)
        if comment:
            rule["comment"] = comment
        return {"add": {"rule": rule}}

    def _run(self, cmds: list[Expr]) -> None:
        nftables.run_json({"nftables": cmds})

    def _exists(self) -> bool:
        listing = nftables.run_json({"nftables": [{"list": {"tables": {"family": "ip"}}}]})
        return any(item.get("table", {}).get("name") == self.table for item in listing["nftables"])

    def _listing(self) -> list[Expr]:
        """The table's objects as nft lists them (JSON, with rule handles)."""
        try:
            listing = nftables.run_json({"nftables": [{"list": {"table": self._table()}}]})
        except errors.CaissonError:
            if not self._exists():
                raise errors.FailedPrecondition(
                    f"nftables table ip {self.table} does not exist (the firewall was not set up)"
                ) from None
            raise
        return listing["nftables"]

    def _owners(self) -> set[str]:
        """Every owner tag ("net:<id>", "ctr:<id>") found on a rule or a set element."""
        tags = set()
        for item in self._listing():
            if "rule" in item and "comment" in item["rule"]:
                tags.add(item["rule"]["comment"])
            for elem in item.get("set", {}).get("elem", []):
                if isinstance(elem, dict) and "comment" in elem.get("elem", {}):
                    tags.add(elem["elem"]["comment"])
        return tags

    def _deletes(self, tag: str) -> list[Expr]:
        """The commands deleting every rule and set element `tag` owns."""
        cmds: list[Expr] = []
        for item in self._listing():
            rule = item.get("rule")
            if rule and rule.get("comment") == tag:
                handle = self._obj(chain=rule["chain"], handle=rule["handle"])
                cmds.append({"delete": {"rule": handle}})
            for elem in item.get("set", {}).get("elem", []):
                if isinstance(elem, dict) and elem.get("elem", {}).get("comment") == tag:
                    gone = self._obj(name=item["set"]["name"], elem=[elem["elem"]["val"]])
                    cmds.append({"delete": {"element": gone}})
        return cmds
