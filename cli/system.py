"""`caisson version` and `caisson info`: the client's own facts, then the daemon's."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from caisson import __version__
from caisson.cli import args as cli_args
from caisson.cli import lazy, output, template
from caisson.cli.context import Context
from caisson.cli.errors import CLIError

if TYPE_CHECKING:
    from google.protobuf import empty_pb2

    from caisson_api.daemon.v1 import daemon_pb2
else:
    empty_pb2 = lazy.module("google.protobuf.empty_pb2")
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")

_COLUMN = 20


def api_version() -> str:
    """The API this client speaks: the version part of the daemon proto package
    (caisson.daemon.v1)."""
    return str(daemon_pb2.DESCRIPTOR.package.rsplit(".", 1)[-1])


def client_facts() -> dict[str, str]:
    import platform  # only `version` and `info` ask; every other command skips it

    from caisson import platforms

    return {
        "Version": __version__,
        "ApiVersion": api_version(),
        "PythonVersion": platform.python_version(),
        "Os": platform.system().lower(),
        "Arch": platforms.host().architecture,
    }


def _component(c: daemon_pb2.ComponentVersion) -> dict[str, str]:
    return {"Name": c.name, "Version": c.version, "Health": c.health, "Address": c.address}


def server_facts(v: daemon_pb2.VersionResponse) -> dict[str, Any]:
    return {
        "Version": v.version,
        "ApiVersion": v.api_version,
        "PythonVersion": v.python_version,
        "Os": v.os,
        "Arch": v.arch,
        "Components": [_component(c) for c in v.components],
    }


def _kv(indent: int, key: str, value: str) -> str:
    return f"{' ' * indent}{key}:".ljust(_COLUMN) + value


def render_client(client: dict[str, str]) -> str:
    lines = [
        "Client:",
        _kv(1, "Version", client["Version"]),
        _kv(1, "API version", client["ApiVersion"]),
        _kv(1, "Python version", client["PythonVersion"]),
        _kv(1, "OS/Arch", f"{client['Os']}/{client['Arch']}"),
    ]
    return "\n".join(lines) + "\n"


def render_server(server: dict[str, Any]) -> str:
    lines = [
        "Server:",
        " Caisson Engine:",
        _kv(2, "Version", server["Version"]),
        _kv(2, "API version", server["ApiVersion"]),
        _kv(2, "Python version", server["PythonVersion"]),
        _kv(2, "OS/Arch", f"{server['Os']}/{server['Arch']}"),
    ]
    for c in server["Components"]:
        lines += [
            f" {c['Name']}:",
            _kv(2, "Version", c["Version"]),
            _kv(2, "Health", c["Health"]),
            _kv(2, "Address", c["Address"]),
        ]
    return "\n".join(lines) + "\n"


def _format(fmt: str, data: dict[str, Any]) -> str:
    if fmt == "json":
        return output.json_line(data) + "\n"
    return template.render(fmt, [data])


def version(ctx: Context, args: argparse.Namespace) -> int:
    client = client_facts()
    try:
        with ctx.daemon.calls():
            resp = ctx.daemon.system.Version(empty_pb2.Empty())
    except CLIError:
        # Docker shows what it knows about itself before saying the daemon is out of reach.
        if args.format:
            ctx.stdout.write(_format(args.format, {"Client": client, "Server": None}))
        else:
            ctx.stdout.write(render_client(client) + "\n")
        raise
    server = server_facts(resp)
    if args.format:
        ctx.stdout.write(_format(args.format, {"Client": client, "Server": server}))
    else:
        ctx.stdout.write(render_client(client) + "\n" + render_server(server))
    return 0


def info_facts(i: daemon_pb2.InfoResponse) -> dict[str, Any]:
    return {
        "ServerVersion": i.version,
        "Images": i.images,
        "Containers": i.containers,
        "ContainersRunning": i.containers_running,
        "ContainersPaused": i.containers_paused,
        "ContainersStopped": i.containers_stopped,
        "Snapshots": i.snapshots,
        "JobsRunning": i.jobs_running,
        "CgroupMode": i.cgroup_mode,
        "Components": [_component(c) for c in i.components],
        "OSType": i.os,
        "Architecture": i.arch,
        "Pid": i.pid,
        "DataRoot": i.data_root,
        "ExecRoot": i.exec_root,
        "MaxConcurrentDownloads": i.max_concurrent_downloads,
        "InsecureRegistries": list(i.insecure_registries),
        "RegistryMirrors": list(i.registry_mirrors),
    }


def render_info(facts: dict[str, Any]) -> str:
    lines = [
        "Server:",
        f" Images: {facts['Images']}",
        f" Containers: {facts['Containers']}",
        f"  Running: {facts['ContainersRunning']}",
        f"  Paused: {facts['ContainersPaused']}",
        f"  Stopped: {facts['ContainersStopped']}",
        f" Snapshots: {facts['Snapshots']}",
        f" Running Jobs: {facts['JobsRunning']}",
        f" Server Version: {facts['ServerVersion']}",
        f" Cgroup Mode: {facts['CgroupMode']}",
        " Components:",
    ]
    for c in facts["Components"]:
        lines.append(
            f"  {c['Name']}: version {c['Version']}, health {c['Health']}, address {c['Address']}"
        )
    lines += [
        f" OSType: {facts['OSType']}",
        f" Architecture: {facts['Architecture']}",
        f" Daemon PID: {facts['Pid']}",
        f" Data Root: {facts['DataRoot']}",
        f" Exec Root: {facts['ExecRoot']}",
        f" Max Concurrent Downloads: {facts['MaxConcurrentDownloads']}",
    ]
    for title, key in (
        ("Insecure Registries", "InsecureRegistries"),
        ("Registry Mirrors", "RegistryMirrors"),
    ):
        if facts[key]:
            lines.append(f" {title}:")
            lines += [f"  {r}" for r in facts[key]]
    return "\n".join(lines) + "\n"


def info(ctx: Context, args: argparse.Namespace) -> int:
    client = {"Version": __version__, "DebugMode": ctx.debug}
    if not args.format:
        ctx.out("Client:")
        ctx.out(f" Version:    {client['Version']}")
        ctx.out(f" Debug Mode: {str(ctx.debug).lower()}")
        ctx.out()
    with ctx.daemon.calls():
        resp = ctx.daemon.system.Info(empty_pb2.Empty())
    facts = info_facts(resp)
    if args.format:
        ctx.stdout.write(_format(args.format, {**facts, "ClientInfo": client}))
    else:
        ctx.stdout.write(render_info(facts))
    return 0


def register(commands: cli_args.Commands) -> None:
    for name, func, text in (
        ("version", version, "Show the client and daemon versions"),
        ("info", info, "Show system-wide information"),
    ):
        cli_args.command(commands, [name], func, _format_args, text)


def _format_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="", help="'json' or a Go-like template")
    cli_args.takes(p, "[OPTIONS]")
