"""Bridges and veth pairs through netlink (pyroute2): the links of container networks.

Each call opens its own netlink socket (well under a millisecond), so the gRPC threads that
call in share nothing and need no lock. Work inside a container's namespace goes through
netns.run_in, where a socket of that namespace is made and used in the same thread.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from caisson import errors
from caisson.executor import netns

_IFF_UP = 0x1
_IFNAMSIZ = 15
_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


@dataclass(frozen=True)
class EndpointLink:
    """A container's interface on one network, as its namespace should show it."""

    ifname: str  # "eth0"
    address: str  # without prefix
    prefix_len: int
    gateway: str  # "": no default route through this interface
    mac: str  # "": the kernel picks one
    mtu: int  # 0: 1500


def ensure_bridge(name: str, gateway: str, prefix_len: int, mtu: int = 1500) -> None:
    """Makes bridge `name` exist, up, with MTU `mtu` and gateway/prefix_len as its only IPv4
    address. An existing bridge is corrected in place; a non-bridge link of that name is an
    error."""
    _check_ifname(name)
    gw = _ipv4(gateway, "gateway")
    _check_prefix(prefix_len)
    with _ipr() as ipr:
        link = _get_link(ipr, name)
        if link is None:
            link = _create_bridge(ipr, name, mtu or 1500)
        elif _kind(link) != "bridge":
            raise errors.FailedPrecondition(
                f"{name} exists and is not a bridge (kind {_kind(link) or 'none'})"
            )
        index = link["index"]
        what = f"failed to configure bridge {name}"
        if link.get("IFLA_MTU") != (mtu or 1500):
            _call(what, ipr.link, "set", index=index, mtu=mtu or 1500)
        present = False
        for a in ipr.addr("dump", family=socket.AF_INET):
            if a["index"] != index:
                continue
            if (a.get("IFA_LOCAL"), a["prefixlen"]) == (gw, prefix_len):
                present = True
            else:
                _remove_address(ipr, index, a.get("IFA_LOCAL"), a["prefixlen"], what)
        if not present:
            try:
                ipr.addr("add", index=index, address=gw, prefixlen=prefix_len)
            except NetlinkError as e:
                if e.code != errno.EEXIST:  # EEXIST: added meanwhile by another call
                    raise _error(e, what) from None
        if not link["flags"] & _IFF_UP:
            _call(what, ipr.link, "set", index=index, state="up")
    # Published ports reached from the host through 127.0.0.1 are DNAT'ed to a container on
    # this bridge; the kernel drops packets from 127/8 on other interfaces without this.
    _sysctl(f"net/ipv4/conf/{name}/route_localnet", "1", what=f"failed to configure bridge {name}")


def _create_bridge(ipr: IPRoute, name: str, mtu: int) -> Any:
    # A bridge made without an address takes the lowest MAC of its ports, so its MAC (the
    # containers' gateway in their ARP caches) would change as containers come and go; one set
    # here stays.
    mac = bytearray(secrets.token_bytes(6))
    mac[0] = (mac[0] & 0xFE) | 0x02  # unicast, locally administered
    try:
        ipr.link(
            "add", ifname=name, kind="bridge", mtu=mtu, address=":".join(f"{b:02x}" for b in mac)
        )
    except NetlinkError as e:
        if e.code != errno.EEXIST:  # made meanwhile by another call: checked below
            raise _error(e, f"failed to create bridge {name}") from None
    link = _get_link(ipr, name)
    if link is None:
        raise errors.Internal(f"failed to create bridge {name}: gone right after creation")
    if _kind(link) != "bridge":
        raise errors.FailedPrecondition(f"{name} exists and is not a bridge")
    return link


def _remove_address(ipr: IPRoute, index: int, address: str, prefix_len: int, what: str) -> None:
    try:
        ipr.addr("del", index=index, address=address, prefixlen=prefix_len)
    except NetlinkError as e:
        # Removing a primary address removes its secondaries with it.
        if e.code != errno.EADDRNOTAVAIL:
            raise _error(e, what) from None


def remove_bridge(name: str) -> None:
    """Deletes bridge `name` (its remaining ports are released, not deleted); missing is fine."""
    with _ipr() as ipr:
        link = _get_link(ipr, name)
        if link is None:
            return
        if _kind(link) != "bridge":
            raise errors.FailedPrecondition(f"{name} is not a bridge: not removing it")
        try:
            ipr.link("del", index=link["index"])
        except NetlinkError as e:
            if e.code != errno.ENODEV:
                raise _error(e, f"failed to remove bridge {name}") from None


def bridge_exists(name: str) -> bool:
    """Whether a bridge (not any other kind of link) named `name` exists."""
    with _ipr() as ipr:
        link = _get_link(ipr, name)
        return link is not None and _kind(link) == "bridge"


def host_ifname(container_id: str, index: int) -> str:
    """The host end's name for a container's index-th interface: stable, 11 bytes (<= 15)."""
    return "veth" + hashlib.sha256(f"{container_id}/{index}".encode()).hexdigest()[:7]


def attach(netns_path: Path, bridge: str, host_if: str, ep: EndpointLink) -> None:
    """Connects the namespace at `netns_path` to `bridge` by a veth pair: `host_if` on the
    host, enslaved and up; `ep.ifname` inside with its MAC, address, MTU and default route.
    On failure the pair is removed."""
    _check_ifname(host_if)
    _check_ifname(ep.ifname)
    address = _ipv4(ep.address, "address")
    gateway = _ipv4(ep.gateway, "gateway") if ep.gateway else ""
    _check_prefix(ep.prefix_len)
    mtu = ep.mtu or 1500
    if ep.mac and not _MAC.fullmatch(ep.mac):
        raise errors.InvalidArgument(f"invalid MAC address {ep.mac!r}")
    peer: dict[str, Any] = {"ifname": ep.ifname, "mtu": mtu}
    if ep.mac:
        peer["address"] = ep.mac
    with _ipr() as ipr:
        br = _get_link(ipr, bridge)
        if br is None:
            raise errors.NotFound(f"failed to attach {ep.ifname}: bridge {bridge} not found")
        try:
            ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise errors.NotFound(f"network namespace {netns_path} not found") from None
        except OSError as e:
            raise errors.from_os_error(
                e, f"failed to open network namespace {netns_path}"
            ) from None
        peer["net_ns_fd"] = ns_fd
        try:
            _add_veth(ipr, host_if, br["index"], mtu, peer)
        except NetlinkError as e:
            # The name comes from the container's id: a veth of that name is left from an
            # earlier start of the same container, whose namespace the kernel frees
            # asynchronously (tens of ms after netns.delete). Replace it.
            if e.code != errno.EEXIST or not _remove_stale_veth(ipr, host_if):
                raise _error(e, f"failed to create veth {host_if} for {ep.ifname}") from None
            _call(f"failed to create veth {host_if} for {ep.ifname}",
                  _add_veth, ipr, host_if, br["index"], mtu, peer)  # fmt: skip
        finally:
            os.close(ns_fd)
        try:
            netns.run_in(netns_path, lambda: _configure_inside(ep, address, gateway))
        except BaseException:
            with suppress(NetlinkError):  # the first error is the one to tell
                ipr.link("del", ifname=host_if)
            raise


def _add_veth(
    ipr: IPRoute, host_if: str, bridge_index: int, mtu: int, peer: dict[str, Any]
) -> None:
    # One request makes both ends: the peer is born inside the namespace under its final name
    # (names are per namespace, so "eth0" never meets the host's), and the host end is
    # enslaved and up at once.
    ipr.link("add", ifname=host_if, kind="veth", mtu=mtu, master=bridge_index, state="up",
             peer=peer)  # fmt: skip


def _remove_stale_veth(ipr: IPRoute, host_if: str) -> bool:
    """Deletes veth `host_if` if there is one; False when the name is free or not a veth."""
    link = _get_link(ipr, host_if)
    if link is None or _kind(link) != "veth":
        return False
    try:
        ipr.link("del", index=link["index"])
    except NetlinkError as e:
        if e.code != errno.ENODEV:
            raise _error(e, f"failed to remove stale veth {host_if}") from None
    return True


def _configure_inside(ep: EndpointLink, address: str, gateway: str) -> None:
    what = f"failed to configure {ep.ifname}"
    with _ipr() as ipr:
        link = _get_link(ipr, ep.ifname)
        if link is None:
            raise errors.Internal(f"{what}: not found in the namespace after creation")
        index = link["index"]
        _disable_ipv6(ep.ifname)
        _call(what, ipr.addr, "add", index=index, address=address, prefixlen=ep.prefix_len)
        # Up before the route: the kernel accepts a gateway only on a reachable (up) subnet.
        _call(what, ipr.link, "set", index=index, state="up")
        if gateway:
            _call(what, ipr.route, "add", dst="0.0.0.0/0", gateway=gateway, oif=index)


def _disable_ipv6(ifname: str) -> None:
    """IPv4-only networks: no link-local address, router solicitations or DAD on the
    interface, as docker's endpoints without IPv6. /proc/sys/net is the calling thread's
    namespace (this runs inside it)."""
    path = f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"
    try:
        with open(path, "w") as f:
            f.write("1")
    except FileNotFoundError:
        pass  # a kernel without IPv6


def detach(netns_path: Path, ifname: str) -> None:
    """Deletes `ifname` in the namespace (its veth peer on the host goes with it); a missing
    interface or namespace is fine."""

    def remove() -> None:
        with _ipr() as ipr:
            try:
                ipr.link("del", ifname=ifname)
            except NetlinkError as e:
                if e.code != errno.ENODEV:
                    raise _error(e, f"failed to remove {ifname}") from None

    with suppress(errors.NotFound):  # no namespace file: nothing left to remove
        netns.run_in(netns_path, remove)


def veth_peers_on(bridge: str) -> list[str]:
    """The host ends of veth pairs enslaved to `bridge` (none when it is missing)."""
    with _ipr() as ipr:
        br = _get_link(ipr, bridge)
        if br is None:
            return []
        return sorted(
            link.get("IFLA_IFNAME")
            for link in ipr.link("dump")
            if link.get("IFLA_MASTER") == br["index"] and _kind(link) == "veth"
        )


def enable_ip_forward() -> None:
    """Turns IPv4 forwarding on if it is off; never turns it off (the host may need it)."""
    _sysctl("net/ipv4/ip_forward", "1", what="failed to enable IPv4 forwarding")


@contextmanager
def _ipr() -> Iterator[IPRoute]:
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _get_link(ipr: IPRoute, name: str) -> Any:
    """The link's message, or None when there is no link of that name."""
    try:
        return ipr.link("get", ifname=name)[0]
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return None
        raise _error(e, f"failed to look up {name}") from None


def _kind(link: Any) -> str:
    info = link.get("IFLA_LINKINFO")
    return (info.get("IFLA_INFO_KIND") if info else None) or ""


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except NetlinkError as e:
        raise _error(e, what) from None


def _sysctl(key: str, value: str, what: str) -> None:
    path = f"/proc/sys/{key}"
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise errors.from_os_error(e, f"{what}: {path}") from None


def _error(e: NetlinkError, what: str) -> errors.CaissonError:
    msg = f"{what}: {os.strerror(e.code)}"
    if e.code == errno.EEXIST:
        return errors.AlreadyExists(msg)
    if e.code in (errno.ENODEV, errno.ENOENT):
        return errors.NotFound(msg)
    if e.code in (errno.EINVAL, errno.ERANGE):
        return errors.InvalidArgument(msg)
    if e.code in (errno.EPERM, errno.EACCES):
        return errors.PermissionDenied(msg)
    if e.code == errno.ENOSPC:
        return errors.ResourceExhausted(msg)
    return errors.Internal(msg)


def _check_ifname(name: str) -> None:
    if not name or len(name.encode()) > _IFNAMSIZ or "/" in name or any(c.isspace() for c in name):
        raise errors.InvalidArgument(f"invalid interface name {name!r} (1 to 15 bytes)")


def _ipv4(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise errors.InvalidArgument(f"invalid {what} {value!r}: not an IPv4 address") from None


def _check_prefix(prefix_len: int) -> None:
    if not 0 < prefix_len <= 32:
        raise errors.InvalidArgument(f"invalid prefix length {prefix_len}")
