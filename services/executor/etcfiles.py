"""The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, as docker writes them."""

from __future__ import annotations

import re

DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
)
# docker's fallback when the host's resolv.conf names only local resolvers, which a container
# in its own network namespace cannot reach.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
_LOCAL_NS = re.compile(r"^\s*nameserver\s+(127\.\d+\.\d+\.\d+|::1)\s*$", re.M)


EMBEDDED_DNS = "127.0.0.11"


def hosts(
    network_mode: str, host_hosts: str, extra_hosts: list[str], own: list[str] | None = None
) -> str:
    """`extra_hosts` are /etc/hosts lines ("IP\tNAME", the daemon made them of --add-host);
    `own` the container's own "IP\tHOSTNAME" lines, last as docker puts them."""
    lines = host_hosts.rstrip("\n").split("\n") if network_mode == "host" else list(DEFAULT_HOSTS)
    lines += extra_hosts
    lines += own or []
    return "\n".join(lines) + "\n"


def resolv_conf(
    network_mode: str,
    host_resolv: str,
    dns: list[str],
    search: list[str],
    options: list[str],
    embedded_dns: bool = False,
) -> str:
    """With `embedded_dns` (user networks) the only nameserver is the embedded server, which
    forwards what it does not know; docker adds ndots:0 so that names are tried as given."""
    if embedded_dns:
        lines = resolv_conf("bridge", host_resolv, [], search, options).split("\n")
        lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("nameserver")]
        opts = [ln for ln in lines if ln.lstrip().startswith("options")]
        lines = [ln for ln in lines if not ln.lstrip().startswith("options")]
        lines.append(f"nameserver {EMBEDDED_DNS}")
        words = " ".join(ln.split(None, 1)[1] for ln in opts if len(ln.split()) > 1).split()
        if not any(w.startswith("ndots:") for w in words):
            words.append("ndots:0")
        lines.append("options " + " ".join(words))
        return "\n".join(lines) + "\n"
    if network_mode == "host" and not (dns or search or options):
        return host_resolv
    lines = [ln for ln in host_resolv.split("\n") if ln.strip()]
    if network_mode != "host":
        lines = [ln for ln in lines if not _LOCAL_NS.match(ln)]
    if dns:
        lines = [ln for ln in lines if not ln.lstrip().startswith("nameserver")]
        lines += [f"nameserver {d}" for d in dns]
    if search:
        lines = [ln for ln in lines if not ln.lstrip().startswith(("search", "domain"))]
        lines.append("search " + " ".join(search))
    if options:
        lines = [ln for ln in lines if not ln.lstrip().startswith("options")]
        lines.append("options " + " ".join(options))
    if not any(ln.lstrip().startswith("nameserver") for ln in lines):
        lines += [f"nameserver {ns}" for ns in FALLBACK_NAMESERVERS]
    return "\n".join(lines) + "\n"
