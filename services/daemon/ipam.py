"""IPv4 address management for bridge networks, as docker 20.10's default IPAM (libnetwork's
ipam, the CLI's consolidateIpam) decides it and words its errors. Pure: the daemon's store
holds the reservations and passes them in.

A network has a subnet, a gateway and optionally an ip-range to hand container addresses out
from. Addresses go lowest first; the subnet's network and broadcast addresses and the gateway
are never handed out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from caisson import errors

# User networks get /24s from this pool (not docker's 172.17-31/16 and 192.168/20 defaults,
# so both engines fit on one host).
POOL = "10.88.0.0/14"
POOL_SIZE = 24

_CIDR = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3})/(\d{1,2})$")
_DOTTED = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def parse_cidr(text: str) -> tuple[IPv4Address, IPv4Network]:
    """Go's net.ParseCIDR for IPv4: the address and its network ("10.0.0.7/24" gives 10.0.0.7
    and 10.0.0.0/24)."""
    m = _CIDR.match(text)
    try:
        if m is None:
            raise ValueError(text)
        address = IPv4Address(m.group(1))
        return address, IPv4Network(f"{address}/{int(m.group(2))}", strict=False)
    except ValueError:
        raise errors.InvalidArgument(f"invalid CIDR address: {text}") from None


def parse_ip(text: str) -> IPv4Address | None:
    """Go's net.ParseIP, IPv4 only: None when `text` is not a dotted quad."""
    if not _DOTTED.match(text):
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def _matches(subnet: str, data: str) -> bool:
    """docker CLI's subnetMatches: whether `data` (an address, or a CIDR's address) is in
    `subnet`."""
    try:
        _, net = parse_cidr(subnet)
    except errors.InvalidArgument as e:
        raise errors.InvalidArgument(f"invalid subnet: {e}") from None
    ip = parse_cidr(data)[0] if "/" in data else parse_ip(data)
    return ip is not None and ip in net


def consolidate(subnets: Sequence[str], ranges: Sequence[str], gateways: Sequence[str]) -> None:
    """docker CLI's consolidateIpam checks of `network create --subnet/--ip-range/--gateway`,
    in its order and words (a lone subnet is not parsed here: the daemon does that)."""
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise errors.InvalidArgument("every ip-range or gateway must have a corresponding subnet")
    for i, s in enumerate(subnets):
        for k in subnets[:i]:
            if _matches(s, k) or _matches(k, s):
                raise errors.InvalidArgument(
                    "multiple overlapping subnet configuration is not supported"
                )
    for kind, values in (("range", ranges), ("gateway", gateways)):
        taken: dict[str, str] = {}
        for v in values:
            matched = False
            for s in subnets:
                if not _matches(s, v):
                    continue
                if s in taken:
                    what = "ranges" if kind == "range" else "gateways"
                    where = "on the same subnet" if kind == "range" else "for the same subnet"
                    raise errors.InvalidArgument(
                        f"cannot configure multiple {what} ({v}, {taken[s]}) {where} ({s})"
                    )
                taken[s] = v
                matched = True
            if not matched:
                raise errors.InvalidArgument(f"no matching subnet for {kind} {v}")


@dataclass(frozen=True)
class Pool:
    """A network's addressing: container addresses come from `ip_range` (the whole subnet
    when None)."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None

    def reserved(self) -> set[IPv4Address]:
        """Never handed out: the gateway, and the subnet's network and broadcast addresses
        (a /31 or /32 has neither, as in libnetwork)."""
        out = {self.gateway}
        if self.subnet.num_addresses > 2:
            out |= {self.subnet.network_address, self.subnet.broadcast_address}
        return out


def configure(subnet: str, ip_range: str = "", gateway: str = "") -> Pool:
    """The pool a `network create` with a given subnet asks for, checked with docker's
    messages (the CLI's consolidation first, then the daemon's own checks)."""
    consolidate([subnet], [ip_range] if ip_range else [], [gateway] if gateway else [])
    try:
        _, net = parse_cidr(subnet)
    except errors.InvalidArgument as e:
        raise errors.InvalidArgument(f"Invalid subnet {subnet} : {e}") from None
    sub: IPv4Network | None = None
    if ip_range:
        _, sub = parse_cidr(ip_range)
        if not sub.subnet_of(net):
            raise errors.InvalidArgument(f"no matching subnet for range {ip_range}")
    if not gateway:
        first = first_free(Pool(net, net.network_address, sub), ())
        if first is None:
            raise errors.InvalidArgument(f"Invalid subnet {subnet} : no address for a gateway")
        return Pool(net, first, sub)
    gw = parse_ip(gateway)
    assert gw is not None  # consolidate() found it in the subnet
    if net.num_addresses > 2 and gw in (net.network_address, net.broadcast_address):
        raise errors.InvalidArgument(
            f"failed to allocate gateway ({gateway}): Address already in use"
        )
    return Pool(net, gw, sub)


def check_overlap(subnet: IPv4Network, taken: Iterable[IPv4Network]) -> None:
    """A user's subnet must not overlap another network's (libnetwork's ErrPoolOverlap, a
    403)."""
    if any(subnet.overlaps(t) for t in taken):
        raise errors.PermissionDenied("Pool overlaps with other one on this address space")


def next_subnet(
    taken: Iterable[IPv4Network], pool: str = POOL, size: int = POOL_SIZE
) -> IPv4Network:
    """The lowest /`size` of `pool` that overlaps none of `taken` (other networks and the
    host's routes)."""
    busy = sorted(taken)
    for candidate in IPv4Network(pool).subnets(new_prefix=size):
        if not any(candidate.overlaps(t) for t in busy):
            return candidate
    raise errors.ResourceExhausted(
        "could not find an available, non-overlapping IPv4 address pool among the defaults "
        "to assign to the network"
    )


def first_free(pool: Pool, used: Collection[IPv4Address]) -> IPv4Address | None:
    """The lowest address of the pool's range neither reserved nor in `used`."""
    span = pool.ip_range or pool.subnet
    skip = {int(a) for a in pool.reserved()} | {int(a) for a in used}
    for n in range(int(span.network_address), int(span.broadcast_address) + 1):
        if n not in skip:
            return IPv4Address(n)
    return None


def request(pool: Pool, text: str, used: Collection[IPv4Address]) -> IPv4Address:
    """A container's own --ip, checked as docker does: anywhere in the subnet (not only the
    range) and free."""
    ip = parse_ip(text)
    if ip is None or ip == IPv4Address(0):
        raise errors.InvalidArgument(f"invalid IPv4 address: {text}")
    if ip not in pool.subnet:
        raise errors.InvalidArgument(
            f"Invalid address {text}: It does not belong to any of this network's subnets"
        )
    if ip in pool.reserved() or ip in used:
        raise errors.PermissionDenied("Address already in use")
    return ip


def mac(address: IPv4Address) -> str:
    """docker's generated MAC for an IPv4 endpoint: 02:42 then the address's four bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)


def parse_routes(text: str) -> list[IPv4Network]:
    """The destinations of /proc/net/route's routes (hex, host byte order, little endian
    here), without the default route: what a new network's subnet must not overlap."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest = IPv4Address(int.from_bytes(bytes.fromhex(fields[1]), "little"))
            mask = int.from_bytes(bytes.fromhex(fields[7]), "little")
        except ValueError:
            continue
        if mask == 0:
            continue
        out.append(IPv4Network((dest, bin(mask).count("1")), strict=False))
    return out
