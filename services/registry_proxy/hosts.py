"""Where a registry is and how to talk to it: endpoints, mirrors, TLS and insecure registries.

Docker's rules: Docker Hub's API is registry-1.docker.io and mirrors are tried before it.
HTTPS always, with the system CAs plus `<certs-dir>/HOST:PORT/*.crt`, and a client certificate
from `client.cert`/`client.key` there. A registry in the insecure list (host[:port] or CIDR) or
on loopback is tried over HTTPS without verification first, then over plain HTTP.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass

from caisson import errors, logs
from caisson.reference import DEFAULT_DOMAIN, DOCKER_HUB_API

log = logs.get("caisson.registry_proxy")

DEFAULT_CERTS_DIR = "/etc/caisson/certs.d"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass(frozen=True)
class Endpoint:
    """One place to pull a repository from."""

    # Host (and port) the HTTP requests go to, e.g. "registry-1.docker.io", "127.0.0.1:5000".
    host: str
    # Schemes to try in order; a later one is used only when the earlier cannot connect.
    schemes: tuple[str, ...]
    mirror: bool = False

    def __str__(self) -> str:
        return self.host


# Names Docker Hub goes by in credential stores and `docker login` arguments.
_DOCKER_HUB_NAMES = frozenset(
    {DEFAULT_DOMAIN, "index.docker.io", DOCKER_HUB_API, "registry.hub.docker.com"}
)


def registry_name(text: str) -> str:
    """The registry a login names: "https://index.docker.io/v1/" -> "docker.io"."""
    t = text.strip()
    for prefix in ("https://", "http://"):
        if t.startswith(prefix):
            t = t[len(prefix) :]
    t = t.split("/", 1)[0].lower()
    if not t:
        raise errors.InvalidArgument(f"invalid registry {text!r}")
    return DEFAULT_DOMAIN if t in _DOCKER_HUB_NAMES else t


def split_host(host: str) -> tuple[str, int | None]:
    """("127.0.0.1", 5000) from "127.0.0.1:5000"; IPv6 literals in brackets."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1 :]
        return name, int(rest[1:]) if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, int(port)
    return host, None


def is_loopback(host: str) -> bool:
    name, _ = split_host(host)
    if name.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _parse_insecure(
    entries: list[str],
) -> tuple[frozenset[str], tuple[ipaddress._BaseNetwork, ...]]:
    hosts: set[str] = set()
    nets: list[ipaddress._BaseNetwork] = []
    for entry in entries:
        e = entry.strip()
        for prefix in ("http://", "https://"):
            if e.startswith(prefix):
                e = e[len(prefix) :]
        e = e.rstrip("/")
        if not e or "/" in e and not _is_cidr(e):
            raise errors.InvalidArgument(
                f"invalid insecure registry {entry!r}: expected HOST[:PORT] or a CIDR"
            )
        if _is_cidr(e):
            nets.append(ipaddress.ip_network(e, strict=False))
        else:
            hosts.add(e.lower())
    return frozenset(hosts), tuple(nets)


def _is_cidr(text: str) -> bool:
    if "/" not in text:
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _parse_mirror(url: str) -> Endpoint:
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise errors.InvalidArgument(
            f"invalid registry mirror {url!r}: expected http(s)://HOST[:PORT]"
        )
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise errors.InvalidArgument(
            f"invalid registry mirror {url!r}: a mirror URL has no path, query or fragment"
        )
    return Endpoint(parsed.netloc.lower(), (parsed.scheme,), mirror=True)


class Hosts:
    """The registry settings of this service (flags), and the TLS context for each host."""

    def __init__(
        self,
        insecure: list[str] | None = None,
        mirrors: list[str] | None = None,
        certs_dir: str = DEFAULT_CERTS_DIR,
    ) -> None:
        self.insecure_entries = list(insecure or [])
        self.mirror_urls = list(mirrors or [])
        self.certs_dir = certs_dir
        self._insecure_hosts, self._insecure_nets = _parse_insecure(self.insecure_entries)
        self._mirrors = [_parse_mirror(u) for u in self.mirror_urls]
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def api_host(self, domain: str) -> str:
        return DOCKER_HUB_API if domain == DEFAULT_DOMAIN else domain

    def endpoints(self, domain: str) -> list[Endpoint]:
        """Endpoints for a reference's domain, in the order to try them."""
        host = self.api_host(domain)
        out = list(self._mirrors) if domain == DEFAULT_DOMAIN else []
        schemes = ("https", "http") if self.is_insecure(host) else ("https",)
        out.append(Endpoint(host, schemes))
        return out

    def is_insecure(self, host: str) -> bool:
        """Listed as insecure (by name or CIDR), or on loopback like Docker's 127.0.0.0/8."""
        host = host.lower()
        if host in self._insecure_hosts or is_loopback(host):
            return True
        name, _ = split_host(host)
        if name in self._insecure_hosts:
            return True
        if not self._insecure_nets:
            return False
        return any(addr in net for addr in _addresses(name) for net in self._insecure_nets)

    def ssl_context(self, host: str) -> ssl.SSLContext:
        """System CAs + certs.d/HOST/*.crt (+ client cert); no verification if insecure."""
        verify = not self.is_insecure(host)
        key = (host, verify)
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = self._contexts[key] = self._build_context(host, verify)
            return ctx

    def _build_context(self, host: str, verify: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not verify:
            log.info("insecure registry: TLS certificates are not verified", registry=host)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        d = os.path.join(self.certs_dir, host)
        try:
            for ca in sorted(glob.glob(os.path.join(glob.escape(d), "*.crt"))):
                ctx.load_verify_locations(cafile=ca)
            for cert in sorted(glob.glob(os.path.join(glob.escape(d), "*.cert"))):
                key = cert[: -len(".cert")] + ".key"
                if not os.path.exists(key):
                    raise errors.InvalidArgument(
                        f"client certificate {cert} has no matching key file {key}"
                    )
                ctx.load_cert_chain(cert, key)
        except ssl.SSLError as e:
            raise errors.InvalidArgument(f"bad certificate in {d}: {e.reason or e}") from e
        except OSError as e:
            raise errors.from_os_error(e, f"reading certificates in {d}") from e
        return ctx


def _addresses(name: str) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    out: list[ipaddress._BaseAddress] = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            continue
    return out
