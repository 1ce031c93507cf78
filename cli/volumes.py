"""`caisson volume create/ls/inspect/rm/prune`, with docker 20.10's output and wording."""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any

from caisson.cli import args as cli_args
from caisson.cli import containers, images, lazy, output, runflags, template
from caisson.cli.context import Context
from caisson.cli.errors import CLIError, NotFound

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import containers_pb2 as pb
    from caisson_api.daemon.v1 import containers_pb2_grpc
else:
    pb = lazy.module("caisson_api.daemon.v1.containers_pb2")

VOLUME_HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
}
VOLUME_TABLE = "table {{.Driver}}\t{{.Name}}"
PRUNE_WARNING = "WARNING! This will remove all local volumes not used by at least one container."


def stub(ctx: Context) -> containers_pb2_grpc.VolumesStub:
    return ctx.daemon.volumes


def no_such_volume(name: str) -> CLIError:
    """docker 20.10's client words a 404 of volume inspect and rm itself."""
    return CLIError(f"Error: No such volume: {name}")


def volume_fields(v: pb.Volume) -> dict[str, str]:
    """A volume as docker's volumeContext, for --format and json."""
    return {
        "Driver": v.driver,
        "Labels": ",".join(f"{k}={val}" for k, val in sorted(v.labels.items())),
        "Links": "N/A" if v.ref_count < 0 else str(v.ref_count),
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Scope": v.scope,
        "Size": "N/A" if v.size < 0 else output.human_size(v.size),
    }


def render_volumes(items: list[pb.Volume], *, quiet: bool = False, fmt: str = "") -> str:
    rows = [volume_fields(v) for v in items]
    if quiet and fmt in ("", "table"):
        return "".join(r["Name"] + "\n" for r in rows)
    if fmt == "json":
        return "".join(output.json_line(r) + "\n" for r in rows)
    return template.render(fmt if fmt and fmt != "table" else VOLUME_TABLE, rows, VOLUME_HEADERS)


def natural_cmp(a: str, b: str) -> int:
    """docker's sortorder.NaturalLess as a comparison: digit runs compare as numbers, and
    digits sort before other characters."""
    i = j = 0
    while i < len(a) and j < len(b):
        da, db = a[i].isdigit(), b[j].isdigit()
        if da != db:
            return -1 if da else 1
        if not da:
            if a[i] != b[j]:
                return -1 if a[i] < b[j] else 1
            i, j = i + 1, j + 1
            continue
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        start_a, start_b = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        na, nb = a[start_a:i], b[start_b:j]
        if len(na) != len(nb):
            return -1 if len(na) < len(nb) else 1
        if na != nb:
            return -1 if na < nb else 1
        if start_a != start_b:
            return -1 if start_a < start_b else 1
    return (len(a) > len(b)) - (len(a) < len(b))


def inspect_documents(ctx: Context, names: list[str]) -> list[dict[str, Any]]:
    docs = []
    for name in names:
        try:
            with ctx.daemon.calls():
                resp = stub(ctx).Inspect(pb.InspectVolumesRequest(names=[name]))
        except NotFound:
            raise no_such_volume(name) from None
        docs += [containers.volume_document(v) for v in resp.volumes]
    return docs


def create(ctx: Context, args: argparse.Namespace) -> int:
    if args.name and args.volume:
        raise CLIError(
            "Conflicting options: either specify --name or provide positional arg, not both"
        )
    req = pb.CreateVolumeRequest(
        name=args.volume or args.name,
        driver=args.driver,
        labels=runflags.kv_map(args.label),
        options=runflags.kv_map(args.opt),
    )
    with ctx.daemon.calls():
        volume = stub(ctx).Create(req)
    ctx.out(volume.name)
    return 0


def ls(ctx: Context, args: argparse.Namespace) -> int:
    if args.format not in ("", "json", "table"):
        template.Template(args.format)
    with ctx.daemon.calls():
        resp = stub(ctx).List(pb.ListVolumesRequest(filters=args.filter))
    volumes = sorted(resp.volumes, key=lambda v: functools.cmp_to_key(natural_cmp)(v.name))
    ctx.stdout.write(render_volumes(volumes, quiet=args.quiet, fmt=args.format))
    return 0


def inspect(ctx: Context, args: argparse.Namespace) -> int:
    return containers.inspect_each(ctx, args.volumes, args.format, inspect_documents)


def rm(ctx: Context, args: argparse.Namespace) -> int:
    failures = []
    for name in args.volumes:
        try:
            with ctx.daemon.calls():
                stub(ctx).Remove(pb.RemoveVolumeRequest(name=name, force=args.force))
        except NotFound:
            failures.append(str(no_such_volume(name)))
            continue
        except CLIError as e:
            failures.append(str(e))
            continue
        ctx.out(name)
    for failure in failures:
        ctx.err(failure)
    return 1 if failures else 0


def prune(ctx: Context, args: argparse.Namespace) -> int:
    if not args.force and not images.confirm(ctx, PRUNE_WARNING):
        return 0
    with ctx.daemon.calls():
        resp = stub(ctx).Prune(pb.PruneVolumesRequest(filters=args.filter, all=args.all))
    if resp.deleted:
        ctx.out("Deleted Volumes:")
        for name in resp.deleted:
            ctx.out(name)
    ctx.out()
    ctx.out(f"Total reclaimed space: {output.human_size(resp.space_reclaimed)}")
    return 0


def _create_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--driver", default="local", help="Specify volume driver name")
    p.add_argument("--label", action="append", default=[], help="Set metadata for a volume")
    p.add_argument("--name", default="", help="Specify volume name")
    p.add_argument("-o", "--opt", action="append", default=[], help="Set driver options")
    cli_args.takes(p, "[OPTIONS] [VOLUME]", "volume", most=1)


def _ls_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", type=containers.filter_arg, action="append", default=[])
    p.add_argument("--format", default="", help="'json', 'table' or a Go-like template")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    cli_args.takes(p, "[OPTIONS]")


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="", help="'json' or a Go-like template")
    cli_args.takes(p, "[OPTIONS] VOLUME [VOLUME...]", "volumes", least=1, most=None)


def _rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal")
    cli_args.takes(p, "[OPTIONS] VOLUME [VOLUME...]", "volumes", least=1, most=None)


def _prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove named volumes too")
    p.add_argument("--filter", type=containers.filter_arg, action="append", default=[])
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    cli_args.takes(p, "[OPTIONS]")


def register(
    commands: cli_args.Commands,
) -> None:
    group = commands.add_parser("volume", help="Manage volumes")
    group.set_defaults(func=None)
    sub = group.add_subparsers(dest="volume_command", metavar="COMMAND")
    cli_args.command(sub, ["create"], create, _create_args, "Create a volume")
    cli_args.command(sub, ["ls", "list"], ls, _ls_args, "List volumes")
    cli_args.command(
        sub, ["inspect"], inspect, _inspect_args, "Display detailed information on volumes"
    )
    cli_args.command(sub, ["rm", "remove"], rm, _rm_args, "Remove one or more volumes")
    cli_args.command(sub, ["prune"], prune, _prune_args, "Remove all unused local volumes")
