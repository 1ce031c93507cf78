"""`network inspect`'s document: docker 20.10's types.NetworkResource, keys in its order (Go
marshals maps with sorted keys, so ours are sorted too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caisson.daemon.containerdoc import rfc3339_nano
from caisson.daemon.networks import SCOPE, Endpoint, Network

_IPAM_KEYS = ("Subnet", "IPRange", "Gateway")


def ipam_config(net: Network) -> list[dict[str, str]]:
    """The user's IPAM config as given (docker shows no gateway it chose itself then), else
    the subnet and gateway the daemon chose."""
    if net.ipam_config:
        return [{k: net.ipam_config[k] for k in _IPAM_KEYS if net.ipam_config.get(k)}]
    if net.subnet:
        return [{"Subnet": net.subnet, "Gateway": net.gateway}]
    return []


def container(ep: Endpoint, name: str) -> dict[str, str]:
    return {
        "Name": name,
        "EndpointID": ep.endpoint_id,
        "MacAddress": ep.mac,
        "IPv4Address": f"{ep.address}/{ep.prefix_len}" if ep.address else "",
        "IPv6Address": "",
    }


def inspect(
    net: Network, endpoints: list[Endpoint], name_of: Callable[[str], str]
) -> dict[str, Any]:
    return {
        "Name": net.name,
        "Id": net.id,
        "Created": rfc3339_nano(net.created),
        "Scope": SCOPE,
        "Driver": net.driver,
        "EnableIPv6": False,
        "IPAM": {
            "Driver": "default",
            # The predefined networks have no IPAM options (null); docker's CLI creates the
            # others with an empty map.
            "Options": None if net.predefined else {},
            "Config": ipam_config(net),
        },
        "Internal": net.internal,
        "Attachable": net.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {
            ep.container_id: container(ep, name_of(ep.container_id))
            for ep in sorted(endpoints, key=lambda e: e.container_id)
        },
        "Options": dict(sorted(net.options.items())),
        "Labels": dict(sorted(net.labels.items())),
    }
