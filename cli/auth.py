"""`login`, `logout`, and the stored credentials `pull` sends for a reference's registry."""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
from typing import TYPE_CHECKING, Any

from caisson import errors, reference
from caisson.cli import args as cli_args
from caisson.cli import config, lazy
from caisson.cli.context import Context
from caisson.cli.errors import CLIError

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import daemon_pb2
else:
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")

# Docker keeps Docker Hub's logins under the v1 index URL; keep that key so either tool
# finds the other's login, and accept the other names Docker Hub goes by.
INDEX_SERVER = "https://index.docker.io/v1/"
HUB = reference.DEFAULT_DOMAIN
_HUB_NAMES = {HUB, reference.LEGACY_DOMAIN, reference.DOCKER_HUB_API}


def registry_host(server: str) -> str:
    """docker's ConvertToHostname: "https://host:5000/v2/" -> "host:5000"; Hub -> docker.io."""
    host = server.strip()
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0].lower()
    return HUB if host in _HUB_NAMES else host


def config_key(host: str) -> str:
    return INDEX_SERVER if host == HUB else host


def _matching_keys(auths: dict[str, Any], host: str) -> list[str]:
    return [key for key in auths if registry_host(key) == host]


def _decode(entry: Any) -> daemon_pb2.AuthConfig | None:
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username", ""), entry.get("password", "")
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, TypeError):
            return None
        username, sep, password = decoded.partition(":")
        if not sep:
            return None
    token = entry.get("identitytoken", "")
    if not (username or token):
        return None
    return daemon_pb2.AuthConfig(username=username, password=password, identity_token=token)


def credentials(config_dir: str, host: str) -> daemon_pb2.AuthConfig | None:
    """The stored login for a registry host (docker.io accepts all of Docker Hub's keys)."""
    auths = config.load(config_dir).get("auths") or {}
    if not isinstance(auths, dict):
        return None
    preferred = config_key(host)
    keys = sorted(_matching_keys(auths, host), key=lambda k: k != preferred)
    for key in keys:
        found = _decode(auths[key])
        if found is not None:
            return found
    return None


def credentials_for_reference(config_dir: str, ref: str) -> daemon_pb2.AuthConfig | None:
    """What `pull REF` sends; a reference that does not parse is left for the daemon to reject."""
    try:
        parsed = reference.parse(ref)
    except errors.InvalidArgument:
        return None
    return credentials(config_dir, parsed.domain)


def store(config_dir: str, host: str, username: str, password: str) -> str:
    """Saves a login, replacing any under another name of the same registry; returns the path."""
    data = config.load(config_dir)
    auths = data.get("auths")
    if not isinstance(auths, dict):
        auths = {}
    for key in _matching_keys(auths, host):
        del auths[key]
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    auths[config_key(host)] = {"auth": token}
    data["auths"] = auths
    config.save(config_dir, data)
    return config.path(config_dir)


def remove(config_dir: str, host: str) -> bool:
    data = config.load(config_dir)
    auths = data.get("auths")
    if not isinstance(auths, dict):
        return False
    keys = _matching_keys(auths, host)
    if not keys:
        return False
    for key in keys:
        del auths[key]
    config.save(config_dir, data)
    return True


def register(commands: cli_args.Commands) -> None:
    cli_args.command(commands, ["login"], login, _login_args, "Log in to a registry")
    cli_args.command(commands, ["logout"], logout, _logout_args, "Log out from a registry")


def _login_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-u", "--username", default="")
    p.add_argument("-p", "--password", default=None)
    p.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    p.set_defaults(server=HUB)
    cli_args.takes(p, "[OPTIONS] [SERVER]", "server", most=1)


def _logout_args(p: argparse.ArgumentParser) -> None:
    p.set_defaults(server=HUB)
    cli_args.takes(p, "[SERVER]", "server", most=1)


def _ask_username(ctx: Context, host: str) -> str:
    stored = credentials(ctx.config_dir, host)
    default = stored.username if stored else ""
    ctx.stdout.write(f"Username ({default}): " if default else "Username: ")
    ctx.stdout.flush()
    answer = ctx.stdin.readline().strip()
    return answer or default


def login(ctx: Context, args: argparse.Namespace) -> int:
    host = registry_host(args.server)
    if args.password is not None and args.password_stdin:
        raise CLIError("--password and --password-stdin are mutually exclusive")
    if args.password_stdin and not args.username:
        raise CLIError("Must provide --username with --password-stdin")
    if args.password is not None:
        ctx.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    interactive = not args.username or (args.password is None and not args.password_stdin)
    if interactive and not ctx.stdin.isatty():
        raise CLIError("Cannot perform an interactive login from a non TTY device")

    username = args.username or _ask_username(ctx, host)
    if not username:
        raise CLIError("Non-null Username Required")
    if args.password_stdin:
        password = ctx.stdin.read().removesuffix("\n").removesuffix("\r")
    elif args.password is not None:
        password = args.password
    else:
        password = getpass.getpass("Password: ")
    if not password:
        raise CLIError("Password Required")

    auth = daemon_pb2.AuthConfig(username=username, password=password)
    with ctx.daemon.calls():
        resp = ctx.daemon.system.Login(daemon_pb2.LoginRequest(registry=host, auth=auth))
    where = store(ctx.config_dir, host, username, password)
    ctx.err(f"WARNING! Your password will be stored unencrypted in {where}.")
    ctx.out(resp.status or "Login Succeeded")
    return 0


def logout(ctx: Context, args: argparse.Namespace) -> int:
    host = registry_host(args.server)
    if remove(ctx.config_dir, host):
        ctx.out(f"Removing login credentials for {config_key(host)}")
    else:
        ctx.out(f"Not logged in to {config_key(host)}")
    return 0
