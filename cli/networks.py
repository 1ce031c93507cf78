"""`caisson network create/ls/inspect/rm/connect/disconnect/prune`, with docker 20.10's
output and wording."""

from __future__ import annotations

import argparse
import csv
import functools
import json
from datetime import UTC
from typing import TYPE_CHECKING, Any

from caisson import errors
from caisson.cli import args as cli_args
from caisson.cli import containers, images, lazy, output, runflags, template, volumes
from caisson.cli.context import Context
from caisson.cli.errors import CLIError, NotFound

if TYPE_CHECKING:
    from caisson.daemon import ipam
    from caisson_api.daemon.v1 import networks_pb2 as pb
    from caisson_api.daemon.v1 import networks_pb2_grpc
else:
    ipam = lazy.module("caisson.daemon.ipam")
    pb = lazy.module("caisson_api.daemon.v1.networks_pb2")

NETWORK_HEADERS = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}
NETWORK_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
PRUNE_WARNING = "WARNING! This will remove all custom networks not used by at least one container."


def stub(ctx: Context) -> networks_pb2_grpc.NetworksStub:
    return ctx.daemon.networks


def no_such_network(name: str) -> CLIError:
    """docker 20.10's client words a 404 of network inspect and rm itself."""
    return CLIError(f"Error: No such network: {name}")


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def network_fields(n: pb.NetworkSummary, trunc: bool = True) -> dict[str, str]:
    """A network as docker's networkContext, for --format and json."""
    created = n.created.ToDatetime(tzinfo=UTC) if n.HasField("created") else None
    return {
        "CreatedAt": output.go_time(created) if created else "",
        "Driver": n.driver,
        "ID": output.short_id(n.id, trunc),
        "IPv6": _go_bool(n.ipv6),
        "Internal": _go_bool(n.internal),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(n.labels.items())),
        "Name": n.name,
        "Scope": n.scope,
    }


def render_networks(
    items: list[pb.NetworkSummary], *, quiet: bool = False, trunc: bool = True, fmt: str = ""
) -> str:
    rows = [network_fields(n, trunc) for n in items]
    if quiet and fmt in ("", "table"):
        return "".join(r["ID"] + "\n" for r in rows)
    if fmt == "json":
        return "".join(output.json_line(r) + "\n" for r in rows)
    return template.render(fmt if fmt and fmt != "table" else NETWORK_TABLE, rows, NETWORK_HEADERS)


def _slice(values: list[str]) -> list[str]:
    """pflag's StringSlice: each value is a CSV line of several."""
    out: list[str] = []
    for value in values:
        try:
            out += next(csv.reader([value]), [])
        except csv.Error as e:
            raise CLIError(f"invalid argument {value!r}: {e}") from None
    return out


def create(ctx: Context, args: argparse.Namespace) -> int:
    subnets, ranges, gateways = _slice(args.subnet), _slice(args.ip_range), _slice(args.gateway)
    try:
        # The CLI's own checks in docker (consolidateIpam): plain errors, not the daemon's.
        ipam.consolidate(subnets, ranges, gateways)
    except errors.CaissonError as e:
        raise CLIError(str(e)) from None
    if len(subnets) > 1:
        # docker's bridge driver refuses several IPv4 subnets; the API takes one.
        raise CLIError("Error response from daemon: bridge driver doesn't support multiple subnets")
    req = pb.CreateNetworkRequest(
        name=args.network,
        driver=args.driver,
        subnet=subnets[0] if subnets else "",
        gateway=gateways[0] if gateways else "",
        ip_range=ranges[0] if ranges else "",
        internal=args.internal,
        attachable=args.attachable,
        labels=runflags.kv_map(args.label),
        options=runflags.kv_map(args.opt),
    )
    with ctx.daemon.calls():
        resp = stub(ctx).Create(req)
    ctx.out(resp.id)
    return 0


def ls(ctx: Context, args: argparse.Namespace) -> int:
    if args.format not in ("", "json", "table"):
        template.Template(args.format)
    with ctx.daemon.calls():
        resp = stub(ctx).List(pb.ListNetworksRequest(filters=args.filter))
    nets = sorted(resp.networks, key=lambda n: functools.cmp_to_key(volumes.natural_cmp)(n.name))
    ctx.stdout.write(
        render_networks(nets, quiet=args.quiet, trunc=not args.no_trunc, fmt=args.format)
    )
    return 0


def inspect_documents(ctx: Context, names: list[str]) -> list[Any]:
    docs: list[Any] = []
    for name in names:
        try:
            with ctx.daemon.calls():
                resp = stub(ctx).Inspect(pb.InspectNetworksRequest(networks=[name]))
        except NotFound:
            raise no_such_network(name) from None
        docs += [json.loads(d) for d in resp.documents]
    return docs


def inspect(ctx: Context, args: argparse.Namespace) -> int:
    return containers.inspect_each(ctx, args.networks, args.format, inspect_documents)


def rm(ctx: Context, args: argparse.Namespace) -> int:
    failures = []
    for name in args.networks:
        try:
            with ctx.daemon.calls():
                stub(ctx).Remove(pb.RemoveNetworkRequest(network=name))
        except NotFound:
            failures.append(str(no_such_network(name)))
            continue
        except CLIError as e:
            failures.append(str(e))
            continue
        ctx.out(name)
    for failure in failures:
        ctx.err(failure)
    return 1 if failures else 0


def connect(ctx: Context, args: argparse.Namespace) -> int:
    endpoint = pb.EndpointConfig(ipv4_address=args.ip, aliases=_slice(args.alias))
    req = pb.ConnectNetworkRequest(
        network=args.network, container=args.container, endpoint=endpoint
    )
    with ctx.daemon.calls():
        stub(ctx).Connect(req)
    return 0


def disconnect(ctx: Context, args: argparse.Namespace) -> int:
    req = pb.DisconnectNetworkRequest(
        network=args.network, container=args.container, force=args.force
    )
    with ctx.daemon.calls():
        stub(ctx).Disconnect(req)
    return 0


def prune(ctx: Context, args: argparse.Namespace) -> int:
    if not args.force and not images.confirm(ctx, PRUNE_WARNING):
        return 0
    with ctx.daemon.calls():
        resp = stub(ctx).Prune(pb.PruneNetworksRequest(filters=args.filter))
    if resp.deleted:
        ctx.out("Deleted Networks:")
        for name in resp.deleted:
            ctx.out(name)
        ctx.out()
    return 0


def _create_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--attachable", action="store_true", help="Enable manual container attachment")
    p.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network")
    p.add_argument("--gateway", action="append", default=[], help="IPv4 Gateway for the subnet")
    p.add_argument(
        "--internal", action="store_true", help="Restrict external access to the network"
    )
    p.add_argument(
        "--ip-range", action="append", default=[], help="Allocate container ip from a sub-range"
    )
    p.add_argument("--label", action="append", default=[], help="Set metadata on a network")
    p.add_argument("-o", "--opt", action="append", default=[], help="Set driver specific options")
    p.add_argument(
        "--subnet",
        action="append",
        default=[],
        help="Subnet in CIDR format that represents a network segment",
    )
    cli_args.takes(p, "[OPTIONS] NETWORK", "network", least=1, most=1)


def _ls_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", type=containers.filter_arg, action="append", default=[])
    p.add_argument("--format", default="", help="'json', 'table' or a Go-like template")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    cli_args.takes(p, "[OPTIONS]")


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="", help="'json' or a Go-like template")
    cli_args.takes(p, "[OPTIONS] NETWORK [NETWORK...]", "networks", least=1, most=None)


def _rm_args(p: argparse.ArgumentParser) -> None:
    cli_args.takes(p, "NETWORK [NETWORK...]", "networks", least=1, most=None)


def _connect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--alias", action="append", default=[], help="Add network-scoped alias for the container"
    )
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    cli_args.takes(p, "[OPTIONS] NETWORK CONTAINER", "network", "container", least=2, most=2)


def _disconnect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="Force the container to disconnect from a network",
    )
    cli_args.takes(p, "[OPTIONS] NETWORK CONTAINER", "network", "container", least=2, most=2)


def _prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", type=containers.filter_arg, action="append", default=[])
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    cli_args.takes(p, "[OPTIONS]")


def register(
    commands: cli_args.Commands,
) -> None:
    group = commands.add_parser("network", help="Manage networks")
    group.set_defaults(func=None)
    sub = group.add_subparsers(dest="network_command", metavar="COMMAND")
    cli_args.command(sub, ["connect"], connect, _connect_args, "Connect a container to a network")
    cli_args.command(sub, ["create"], create, _create_args, "Create a network")
    cli_args.command(
        sub, ["disconnect"], disconnect, _disconnect_args, "Disconnect a container from a network"
    )
    cli_args.command(
        sub,
        ["inspect"],
        inspect,
        _inspect_args,
        "Display detailed information on one or more networks",
    )
    cli_args.command(sub, ["ls", "list"], ls, _ls_args, "List networks")
    cli_args.command(sub, ["prune"], prune, _prune_args, "Remove all unused networks")
    cli_args.command(sub, ["rm", "remove"], rm, _rm_args, "Remove one or more networks")
