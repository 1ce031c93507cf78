"""The daemon's settings: flags, each also settable in a JSON config file.

A flag given on the command line beats the file; an unknown key in the file is an error at
start-up (a typo must not be silently ignored). SIGHUP re-reads the file's reloadable keys.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from dataclasses import dataclass, fields, replace
from typing import Any

from caisson import errors

DEFAULT_CONFIG_FILE = "/etc/caisson/daemon.json"
DEFAULT_HOST = "unix:///run/caisson/caisson.sock"
# Keys a SIGHUP re-reads from the config file; everything else needs a restart.
RELOADABLE = ("log_level", "max_concurrent_downloads", "insecure_registries", "registry_mirrors")
# Of those, the keys the registry proxy was started with: it is restarted to apply them.
PROXY_KEYS = ("insecure_registries", "registry_mirrors")


@dataclass(frozen=True)
class Config:
    hosts: tuple[str, ...] = ()
    data_root: str = "/var/lib/caisson"
    exec_root: str = "/run/caisson"
    pidfile: str = ""
    log_level: str = "info"
    log_format: str = "text"
    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    max_concurrent_downloads: int = 3
    registry_proxy: str = ""
    executor: str = ""
    proxy_user: str = "nobody"
    # The default `bridge` network: its Linux bridge and the bridge's address/prefix (docker's
    # --bridge and --bip; not docker's 172.17.0.1/16, so both engines fit on one host).
    bridge: str = "caisson0"
    bip: str = "10.87.0.1/16"
    # Where user networks without --subnet get theirs: docker's --default-address-pool.
    default_address_pool: str = "base=10.88.0.0/14,size=24"
    # Caisson's own nftables table, given to the executor it starts (one per engine on a host).
    firewall_table: str = "caisson"
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str = ""
    tlscert: str = ""
    tlskey: str = ""
    config_file: str = DEFAULT_CONFIG_FILE

    @property
    def pidfile_path(self) -> str:
        return self.pidfile or os.path.join(self.exec_root, "caisson.pid")

    @property
    def address_pool(self) -> tuple[str, int]:
        """--default-address-pool base=CIDR,size=N as (base, size), checked."""
        fields = dict(
            part.split("=", 1) for part in self.default_address_pool.split(",") if "=" in part
        )
        try:
            base = str(ipaddress.IPv4Network(fields["base"]))
            size = int(fields.get("size", "24"))
        except (KeyError, ValueError):
            raise errors.InvalidArgument(
                f"invalid default address pool {self.default_address_pool!r}: want base=CIDR,size=N"
            ) from None
        if not ipaddress.IPv4Network(base).prefixlen <= size <= 30:
            raise errors.InvalidArgument(
                f"invalid default address pool {self.default_address_pool!r}: size {size} "
                "must be between the base's prefix length and 30"
            )
        return base, size

    @property
    def listen(self) -> tuple[str, ...]:
        return self.hosts or (DEFAULT_HOST,)


# JSON key (docker's daemon.json spelling where docker has one) -> Config field.
_FILE_KEYS = {
    "hosts": "hosts",
    "data-root": "data_root",
    "exec-root": "exec_root",
    "pidfile": "pidfile",
    "log-level": "log_level",
    "log-format": "log_format",
    "debug": "debug",
    "insecure-registries": "insecure_registries",
    "registry-mirrors": "registry_mirrors",
    "max-concurrent-downloads": "max_concurrent_downloads",
    "registry-proxy": "registry_proxy",
    "executor": "executor",
    "proxy-user": "proxy_user",
    "bridge": "bridge",
    "bip": "bip",
    "default-address-pool": "default_address_pool",
    "firewall-table": "firewall_table",
    "tls": "tls",
    "tlsverify": "tlsverify",
    "tlscacert": "tlscacert",
    "tlscert": "tlscert",
    "tlskey": "tlskey",
}
_LISTS = {"hosts", "insecure_registries", "registry_mirrors"}
_BOOLS = {"tls", "tlsverify", "debug"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="caisson-daemon", description="The Caisson daemon: serves the Caisson API."
    )
    # default=None everywhere so we can tell "given" from "not given" when merging the file.
    p.add_argument(
        "-H",
        "--host",
        dest="hosts",
        action="append",
        default=None,
        help="address to listen on: unix:///PATH, tcp://HOST:PORT or fd:// "
        f"(repeatable; default {DEFAULT_HOST})",
    )
    p.add_argument(
        "--config-file", default=None, help=f"JSON config file (default {DEFAULT_CONFIG_FILE})"
    )
    p.add_argument(
        "--data-root", default=None, help="root of persistent state (default /var/lib/caisson)"
    )
    p.add_argument(
        "--exec-root", default=None, help="root of run-time state (default /run/caisson)"
    )
    p.add_argument("-p", "--pidfile", default=None, help="pid file (default EXEC_ROOT/caisson.pid)")
    p.add_argument("-l", "--log-level", default=None, choices=("debug", "info", "warning", "error"))
    p.add_argument("--log-format", default=None, choices=("text", "json"))
    p.add_argument("-D", "--debug", action="store_true", default=None, help="debug logging")
    p.add_argument(
        "--insecure-registry",
        dest="insecure_registries",
        action="append",
        default=None,
        help="registry reachable over plain HTTP (repeatable)",
    )
    p.add_argument(
        "--registry-mirror",
        dest="registry_mirrors",
        action="append",
        default=None,
        help="mirror URL tried first for docker.io (repeatable)",
    )
    p.add_argument(
        "--max-concurrent-downloads",
        type=int,
        default=None,
        help="concurrent layer downloads per pull (default 3)",
    )
    p.add_argument(
        "--registry-proxy",
        default=None,
        help="address of a running caisson-registry-proxy (default: start one)",
    )
    p.add_argument(
        "--executor",
        default=None,
        help="address of a running caisson-executor (default: start one)",
    )
    p.add_argument(
        "-b",
        "--bridge",
        default=None,
        help="Linux bridge of the default network (default caisson0)",
    )
    p.add_argument(
        "--bip",
        default=None,
        help="address/prefix of the default network's bridge (default 10.87.0.1/16)",
    )
    p.add_argument(
        "--default-address-pool",
        default=None,
        help="base=CIDR,size=N: subnets for user networks (default base=10.88.0.0/14,size=24)",
    )
    p.add_argument(
        "--firewall-table",
        default=None,
        help="Caisson's nftables table, one per engine on a host (default caisson)",
    )
    p.add_argument(
        "--proxy-user",
        default=None,
        help="user the started registry proxy runs as when the daemon is root (default nobody)",
    )
    p.add_argument("--tls", action="store_true", default=None, help="serve TCP with TLS")
    p.add_argument(
        "--tlsverify",
        action="store_true",
        default=None,
        help="serve TCP with mutual TLS (clients need a cert signed by --tlscacert)",
    )
    p.add_argument("--tlscacert", default=None)
    p.add_argument("--tlscert", default=None)
    p.add_argument("--tlskey", default=None)
    return p


def read_file(path: str, must_exist: bool) -> dict[str, Any]:
    try:
        with open(path) as f:
            raw = json.load(f)
    except FileNotFoundError:
        if must_exist:
            raise errors.InvalidArgument(f"config file {path} does not exist") from None
        return {}
    except json.JSONDecodeError as e:
        raise errors.InvalidArgument(f"config file {path} is not valid JSON: {e}") from None
    if not isinstance(raw, dict):
        raise errors.InvalidArgument(f"config file {path}: expected a JSON object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _FILE_KEYS.get(key)
        if name is None:
            raise errors.InvalidArgument(f"config file {path}: unknown key {key!r}")
        out[name] = _check_type(path, key, name, value)
    return out


def _check_type(path: str, key: str, name: str, value: Any) -> Any:
    if name in _LISTS:
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise errors.InvalidArgument(f"config file {path}: {key!r} must be a list of strings")
        return tuple(value)
    if name in _BOOLS:
        if not isinstance(value, bool):
            raise errors.InvalidArgument(f"config file {path}: {key!r} must be true or false")
        return value
    if name == "max_concurrent_downloads":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise errors.InvalidArgument(f"config file {path}: {key!r} must be a positive integer")
        return value
    if not isinstance(value, str):
        raise errors.InvalidArgument(f"config file {path}: {key!r} must be a string")
    return value


def _merge(base: dict[str, Any]) -> Config:
    debug = base.pop("debug", None)
    if debug:
        base["log_level"] = "debug"
    if base.get("max_concurrent_downloads", 1) < 1:
        raise errors.InvalidArgument("--max-concurrent-downloads must be at least 1")
    known = {f.name for f in fields(Config)}
    return Config(**{k: v for k, v in base.items() if k in known and v is not None})


def load(argv: list[str] | None = None) -> Config:
    args = parser().parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    for k in _LISTS:
        if k in given:
            given[k] = tuple(given[k])
    path = given.get("config_file") or DEFAULT_CONFIG_FILE
    from_file = read_file(path, must_exist="config_file" in given)
    merged = {**from_file, **given, "config_file": path}
    return _merge(merged)


def reload(cfg: Config) -> Config:
    """The config with the file's reloadable keys re-read (SIGHUP)."""
    from_file = read_file(cfg.config_file, must_exist=False)
    changes = {k: v for k, v in from_file.items() if k in RELOADABLE}
    if from_file.get("debug"):
        changes["log_level"] = "debug"
    return replace(cfg, **changes)
