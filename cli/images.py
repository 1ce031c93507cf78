"""Image commands other than pull: images/ls, inspect, history, tag, rmi/rm, prune."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from caisson import errors, reference
from caisson.cli import args as cli_args
from caisson.cli import lazy, output, template
from caisson.cli.context import Context
from caisson.cli.errors import CLIError, NotFound

if TYPE_CHECKING:
    from google.protobuf import timestamp_pb2

    from caisson_api.daemon.v1 import daemon_pb2
else:
    timestamp_pb2 = lazy.module("google.protobuf.timestamp_pb2")
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")

Command = Callable[[Context, argparse.Namespace], int]
NONE = "<none>"
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")

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


class ImageRow(NamedTuple):
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
        # -1: the daemon did not count them, as docker's daemon does not when it lists images.
        "Containers": "N/A" if row.image.containers < 0 else str(row.image.containers),
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
    rows = [image_fields(r, trunc, now) for r in image_rows(images, digests)]
    if quiet:
        # One ID per row, as docker prints them: an image with four tags appears four times.
        return "".join(r["ID"] + "\n" for r in rows)
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
        except NotFound:
            failures.append(no_such_image(ref))
            continue
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
        if not documents:
            ctx.out()  # docker's template inspector ends with a newline even with nothing
    else:
        ctx.out(output.json_pretty(documents))
    return _report(ctx, failures)


def no_such_image(ref: str) -> CLIError:
    """docker 20.10's CLI words a 404 itself, naming the image as the user typed it."""
    return CLIError(f"Error: No such image: {ref}")


def _report(ctx: Context, failures: list[CLIError]) -> int:
    """Prints the errors of a multi-object command after its output; 1 when any failed."""
    for failure in failures:
        ctx.err(str(failure))
    return 1 if failures else 0


def history_fields(
    entry: daemon_pb2.HistoryEntry, trunc: bool, now: datetime | None = None, human: bool = True
) -> dict[str, str]:
    """A layer as docker's historyContext. Keys sorted: `{{json .}}` shows them in this order,
    as docker's JSON of a map does."""
    created = timestamp(entry.created, entry.HasField("created"))
    created_at = output.rfc3339(created) if created else "N/A"
    created_by = entry.created_by.replace("\t", " ")
    return {
        "Comment": entry.comment,
        "CreatedAt": created_at,
        "CreatedBy": output.ellipsis(created_by, 45) if trunc else created_by,
        # --human=false: the time itself and sizes in bytes, also through --format.
        "CreatedSince": output.since(created, now) if human else created_at,
        "ID": entry.id if entry.id.startswith("<") else output.short_id(entry.id, trunc),
        "Size": output.image_size(entry.size) if human else str(entry.size),
    }


def render_history(
    entries: list[daemon_pb2.HistoryEntry],
    *,
    quiet: bool = False,
    trunc: bool = True,
    human: bool = True,
    fmt: str = "",
    now: datetime | None = None,
) -> str:
    rows = [history_fields(e, trunc, now, human) for e in entries]
    if quiet:
        return "".join(r["ID"] + "\n" for r in rows)
    if fmt == "json":
        return "".join(output.json_line(r) + "\n" for r in rows)
    if fmt:
        return template.render(fmt, rows, HISTORY_HEADERS)
    columns = ["ID", "CreatedSince" if human else "CreatedAt", "CreatedBy", "Size", "Comment"]
    table = [[HISTORY_HEADERS[c] for c in columns]]
    table += [[r[c] for c in columns] for r in rows]
    return output.table(table)


def history(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.daemon.calls():
        resp = ctx.daemon.images.History(daemon_pb2.HistoryRequest(reference=args.reference))
    ctx.stdout.write(
        render_history(
            list(resp.entries),
            quiet=args.quiet,
            trunc=not args.no_trunc,
            human=args.human,
            fmt=args.format or "",
        )
    )
    return 0


def _check_tag_references(source: str, target: str) -> None:
    """What docker's client checks before it asks the daemon to tag: the source may also be
    an image ID; the target must be a name, optionally with a tag, but no digest."""
    if not (reference.is_sha256(source) or _IMAGE_ID.fullmatch(source)):
        _parsed_for_tag(source)
    if _parsed_for_tag(target).digest:
        raise CLIError("refusing to create a tag with a digest reference")


def _parsed_for_tag(text: str) -> reference.Reference:
    try:
        return reference.parse(text)
    except errors.InvalidArgument as e:
        raise CLIError(
            f'Error parsing reference: "{text}" is not a valid repository/tag: {e}'
        ) from None


def tag(ctx: Context, args: argparse.Namespace) -> int:
    _check_tag_references(args.source, args.target)
    with ctx.daemon.calls():
        ctx.daemon.images.Tag(daemon_pb2.TagRequest(source=args.source, target=args.target))
    return 0


def remove(ctx: Context, args: argparse.Namespace) -> int:
    failures: list[CLIError] = []
    fatal = False
    for ref in args.references:
        req = daemon_pb2.RemoveImageRequest(reference=ref, force=args.force, no_prune=args.no_prune)
        try:
            with ctx.daemon.calls():
                resp = ctx.daemon.images.Remove(req)
        except NotFound:
            failures.append(no_such_image(ref))
            continue
        except CLIError as e:
            failures.append(e)
            fatal = True
            continue
        for untagged in resp.untagged:
            ctx.out(f"Untagged: {output.familiar(untagged)}")
        for deleted in resp.deleted:
            ctx.out(f"Deleted: {deleted}")
    code = _report(ctx, failures)
    # As docker: with -f, images that are not there are reported but are no failure.
    return 0 if args.force and not fatal else code


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
    cli_args.takes(p, "[OPTIONS] [REPOSITORY[:TAG]]", "reference", most=1)


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="", help="'json' or a Go-like template")
    cli_args.takes(p, "[OPTIONS] IMAGE [IMAGE...]", "references", least=1, most=None)


def _history_args(p: argparse.ArgumentParser) -> None:
    # -H is also the global --host, as in docker: this one only follows `history`.
    cli_args.add_bool(
        p, "-H", "--human", default=True, help="Print sizes and dates in human readable format"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("--format", default="", help="'json' or a Go-like template")
    cli_args.takes(p, "[OPTIONS] IMAGE", "reference", least=1, most=1)


def _tag_args(p: argparse.ArgumentParser) -> None:
    cli_args.takes(p, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "source", "target", least=2, most=2)


def _rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    cli_args.takes(p, "[OPTIONS] IMAGE [IMAGE...]", "references", least=1, most=None)


def _prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    cli_args.takes(p, "[OPTIONS]")


def _add(
    commands: cli_args.Commands,
    names: list[str],
    func: Command,
    add_args: Callable[[argparse.ArgumentParser], None],
    help_text: str,
) -> None:
    cli_args.command(commands, names, func, add_args, help_text)


INSPECT_HELP = "Display detailed information on one or more images"
TAG_HELP = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"
RM_HELP = "Remove one or more images"


def register(
    commands: cli_args.Commands,
    image_commands: cli_args.Commands,
) -> None:
    """Top-level shortcuts (`images`, `rmi`, ...) and the `image` group share their flags."""
    for group, shortcut in ((commands, True), (image_commands, False)):
        ls_names = ["images"] if shortcut else ["ls", "list"]
        _add(group, ls_names, list_images, _ls_args, "List images")
        _add(group, ["inspect"], inspect, _inspect_args, INSPECT_HELP)
        _add(group, ["history"], history, _history_args, "Show the history of an image")
        _add(group, ["tag"], tag, _tag_args, TAG_HELP)
        _add(group, ["rmi"] if shortcut else ["rm", "remove"], remove, _rm_args, RM_HELP)
    _add(image_commands, ["prune"], prune, _prune_args, "Remove unused images")
