"""Image commands other than pull: images/ls, inspect, history, tag, rmi/rm, prune."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from caisson import errors, reference
from caisson.cli import output, template
from caisson.cli.context import Context
from caisson.cli.errors import CLIError
from caisson_api.daemon.v1 import daemon_pb2

Command = Callable[[Context, argparse.Namespace], int]
NONE = "<none>"

IMAGE_HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}
HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def timestamp(ts: timestamp_pb2.Timestamp, present: bool = True) -> datetime | None:
    if not present or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=UTC)


@dataclass(frozen=True)
class ImageRow:
    repository: str
    tag: str
    digest: str
    image: daemon_pb2.ImageSummary


def _split(ref: str) -> tuple[str, str, str]:
    """(familiar repository, tag, digest) of a normalised reference the daemon returned."""
    try:
        parsed = reference.parse(ref, default_tag=False)
    except errors.InvalidArgument:
        name, _, digest = ref.partition("@")
        repo, sep, tag = name.rpartition(":")
        return (repo, tag, digest) if sep and "/" not in tag else (name, "", digest)
    return parsed.familiar_name, parsed.tag, parsed.digest


def image_rows(images: list[daemon_pb2.ImageSummary], digests: bool) -> list[ImageRow]:
    """docker's rows: one per repo:tag (times each digest with --digests), then digest-only
    repositories, and one <none> row for an untagged image."""
    rows: list[ImageRow] = []
    for image in images:
        tags: dict[str, list[str]] = {}
        by_digest: dict[str, list[str]] = {}
        for ref in image.repo_tags:
            repo, tag, _ = _split(ref)
            if tag:
                tags.setdefault(repo, []).append(tag)
        for ref in image.repo_digests:
            repo, _, digest = _split(ref)
            if digest:
                by_digest.setdefault(repo, []).append(digest)
        mine: list[ImageRow] = []
        for repo in sorted(tags):
            # A tagged repository's digests go on its tag rows, never rows of their own.
            repo_digests = by_digest.pop(repo, [])
            if not digests:
                repo_digests = []
            for tag in sorted(tags[repo]):
                for digest in repo_digests or [NONE]:
                    mine.append(ImageRow(repo, tag, digest, image))
        for repo in sorted(by_digest):
            for digest in by_digest[repo] if digests else [NONE]:
                mine.append(ImageRow(repo, NONE, digest, image))
        rows.extend(mine or [ImageRow(NONE, NONE, NONE, image)])
    return rows


def image_fields(row: ImageRow, trunc: bool, now: datetime | None = None) -> dict[str, str]:
    """A row as docker's imageContext: the keys `--format` and `--format json` see."""
    created = timestamp(row.image.created, row.image.HasField("created"))
    return {
        "Containers": str(row.image.containers),
        "CreatedAt": output.go_time(created) if created else "N/A",
        "CreatedSince": output.since(created, now),
        "Digest": row.digest,
        "ID": output.short_id(row.image.id, trunc),
        "Repository": row.repository,
        "SharedSize": "N/A",
        "Size": output.image_size(row.image.size),
        "Tag": row.tag,
        "UniqueSize": "N/A",
        "VirtualSize": output.human_size(row.image.size),
    }


def render_images(
    images: list[daemon_pb2.ImageSummary],
    *,
    quiet: bool = False,
    digests: bool = False,
    trunc: bool = True,
    fmt: str = "",
    now: datetime | None = None,
) -> str:
    if quiet:
        ids = list(dict.fromkeys(output.short_id(i.id, trunc) for i in images))
        return "".join(i + "\n" for i in ids)
    rows = [image_fields(r, trunc, now) for r in image_rows(images, digests)]
    if fmt == "json":
        return "".join(output.json_line(r) + "\n" for r in rows)
    if fmt:
        return template.render(fmt, rows, IMAGE_HEADERS)
    columns = ["Repository", "Tag", *(["Digest"] if digests else []), "ID", "CreatedSince", "Size"]
    table = [[IMAGE_HEADERS[c] for c in columns]]
    table += [[r[c] for c in columns] for r in rows]
    return output.table(table)


def list_images(ctx: Context, args: argparse.Namespace) -> int:
    req = daemon_pb2.ListImagesRequest(
        all=args.all, reference=args.reference or "", filters=args.filter
    )
    with ctx.daemon.calls():
        resp = ctx.daemon.images.List(req)
    ctx.stdout.write(
        render_images(
            list(resp.images),
            quiet=args.quiet,
            digests=args.digests,
            trunc=not args.no_trunc,
            fmt=args.format or "",
        )
    )
    return 0


def inspect(ctx: Context, args: argparse.Namespace) -> int:
    documents: list[Any] = []
    failures: list[CLIError] = []
    for ref in args.references:
        try:
            with ctx.daemon.calls():
                resp = ctx.daemon.images.Inspect(daemon_pb2.InspectImageRequest(references=[ref]))
        except CLIError as e:
            failures.append(e)
            continue
        for doc in resp.documents:
            try:
                documents.append(json.loads(doc))
            except ValueError:
                failures.append(CLIError(f"daemon sent an invalid document for {ref}"))
    if args.format and args.format != "json":
        tmpl = template.Template(args.format)
        for doc in documents:
            ctx.out(tmpl.execute(doc))
    else:
        ctx.out(output.json_pretty(documents))
    return _report(ctx, failures)


def _report(ctx: Context, failures: list[CLIError]) -> int:
    """Prints the errors of a multi-object command after its output; 1 when any failed."""
    for failure in failures:
        ctx.err(str(failure))
    return 1 if failures else 0


def history_fields(
    entry: daemon_pb2.HistoryEntry, trunc: bool, now: datetime | None = None
) -> dict[str, str]:
    created = timestamp(entry.created, entry.HasField("created"))
    created_by = entry.created_by.replace("\t", " ")
    return {
        "ID": entry.id if entry.id.startswith("<") else output.short_id(entry.id, trunc),
        "CreatedSince": output.since(created, now),
        "CreatedAt": output.rfc3339(created) if created else "N/A",
        "CreatedBy": output.ellipsis(created_by, 45) if trunc else created_by,
        "Size": output.image_size(entry.size),
        "Comment": entry.comment,
    }


def render_history(
    entries: list[daemon_pb2.HistoryEntry],
    *,
    quiet: bool = False,
    trunc: bool = True,
    fmt: str = "",
    now: datetime | None = None,
) -> str:
    rows = [history_fields(e, trunc, now) for e in entries]
    if quiet:
        return "".join(r["ID"] + "\n" for r in rows)
    if fmt == "json":
        return "".join(output.json_line(r) + "\n" for r in rows)
    if fmt:
        return template.render(fmt, rows, HISTORY_HEADERS)
    columns = ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"]
    table = [[HISTORY_HEADERS[c] for c in columns]]
    table += [[r[c] for c in columns] for r in rows]
    return output.table(table)


def history(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.daemon.calls():
        resp = ctx.daemon.images.History(daemon_pb2.HistoryRequest(reference=args.reference))
    ctx.stdout.write(
        render_history(
            list(resp.entries), quiet=args.quiet, trunc=not args.no_trunc, fmt=args.format or ""
        )
    )
    return 0


def tag(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.daemon.calls():
        ctx.daemon.images.Tag(daemon_pb2.TagRequest(source=args.source, target=args.target))
    return 0


def remove(ctx: Context, args: argparse.Namespace) -> int:
    failures: list[CLIError] = []
    for ref in args.references:
        req = daemon_pb2.RemoveImageRequest(reference=ref, force=args.force, no_prune=args.no_prune)
        try:
            with ctx.daemon.calls():
                resp = ctx.daemon.images.Remove(req)
        except CLIError as e:
            failures.append(e)
            continue
        for untagged in resp.untagged:
            ctx.out(f"Untagged: {output.familiar(untagged)}")
        for deleted in resp.deleted:
            ctx.out(f"Deleted: {deleted}")
    return _report(ctx, failures)


PRUNE_DANGLING = "WARNING! This will remove all dangling images."
PRUNE_ALL = (
    "WARNING! This will remove all images without at least one container associated to them."
)


def confirm(ctx: Context, warning: str) -> bool:
    ctx.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    ctx.stdout.flush()
    answer = ctx.stdin.readline()
    if not answer.endswith("\n"):
        ctx.out()  # EOF: end the prompt's line
    return answer.strip().lower() in ("y", "yes")


def prune(ctx: Context, args: argparse.Namespace) -> int:
    if not args.force and not confirm(ctx, PRUNE_ALL if args.all else PRUNE_DANGLING):
        return 0
    with ctx.daemon.calls():
        resp = ctx.daemon.images.Prune(daemon_pb2.PruneImagesRequest(all=args.all))
    if resp.deleted:
        ctx.out("Deleted Images:")
        for untagged in resp.untagged:
            ctx.out(f"untagged: {untagged}")
        for deleted in resp.deleted:
            ctx.out(f"deleted: {deleted}")
    ctx.out()
    ctx.out(f"Total reclaimed space: {output.human_size(resp.space_reclaimed)}")
    return 0


def _ls_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all images")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("--format", default="", help="'json' or a Go-like template")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE",
    )
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="", help="'json' or a Go-like template")
    p.add_argument("references", nargs="+", metavar="IMAGE")


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("--format", default="", help="'json' or a Go-like template")
    p.add_argument("reference", metavar="IMAGE")


def _tag_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")


def _rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    p.add_argument("references", nargs="+", metavar="IMAGE")


def _prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")


def _add(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    names: list[str],
    func: Command,
    add_args: Callable[[argparse.ArgumentParser], None],
    help_text: str,
) -> None:
    p = commands.add_parser(names[0], aliases=names[1:], help=help_text)
    add_args(p)
    p.set_defaults(func=func)


def register(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    image_commands: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> None:
    """Top-level shortcuts (`images`, `rmi`, ...) and the `image` group share their flags."""
    _add(commands, ["images"], list_images, _ls_args, "List images")
    _add(commands, ["inspect"], inspect, _inspect_args, "Show details of images")
    _add(commands, ["history"], history, _history_args, "Show the history of an image")
    _add(commands, ["tag"], tag, _tag_args, "Create a tag TARGET that refers to SOURCE")
    _add(commands, ["rmi"], remove, _rm_args, "Remove images")
    _add(image_commands, ["ls", "list"], list_images, _ls_args, "List images")
    _add(image_commands, ["inspect"], inspect, _inspect_args, "Show details of images")
    _add(image_commands, ["history"], history, _history_args, "Show the history of an image")
    _add(image_commands, ["tag"], tag, _tag_args, "Create a tag TARGET that refers to SOURCE")
    _add(image_commands, ["rm", "remove"], remove, _rm_args, "Remove images")
    _add(image_commands, ["prune"], prune, _prune_args, "Remove unused images")
