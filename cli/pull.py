"""`caisson pull`: streams the daemon's pull job and draws its progress like docker."""

from __future__ import annotations

import argparse

from caisson import errors, reference
from caisson.cli import auth, output
from caisson.cli.context import Context
from caisson.cli.errors import CLIError
from caisson.cli.progress import PullProgress, terminal_width
from caisson_api.daemon.v1 import daemon_pb2


def header(ref: str) -> str:
    """ "latest: Pulling from library/busybox" (docker names the repository by its path)."""
    try:
        parsed = reference.parse(ref)
    except errors.InvalidArgument:
        return ""
    return f"{parsed.digest or parsed.tag}: Pulling from {parsed.path}"


def _default_tag(ref: str) -> bool:
    try:
        parsed = reference.parse(ref, default_tag=False)
    except errors.InvalidArgument:
        return False
    return not (parsed.tag or parsed.digest)


def pull(ctx: Context, args: argparse.Namespace) -> int:
    ref: str = args.reference
    quiet: bool = args.quiet
    req = daemon_pb2.PullRequest(reference=ref, platform=args.platform or "")
    creds = auth.credentials_for_reference(ctx.config_dir, ref)
    if creds is not None:
        req.auth.CopyFrom(creds)
    if _default_tag(ref) and not quiet:
        ctx.out(f"Using default tag: {reference.DEFAULT_TAG}")

    tty = ctx.stdout.isatty()
    progress = PullProgress(ctx.stdout, tty, terminal_width(ctx.stdout) if tty else 0)
    result: daemon_pb2.PullResult | None = None
    # Shown once the daemon answers, so a rejected pull prints only its error.
    pending_header = "" if quiet else header(ref)
    call = ctx.daemon.images.Pull(req)
    try:
        with ctx.daemon.calls():
            for event in call:
                kind = event.WhichOneof("event")
                if pending_header:
                    progress.message(pending_header)
                    pending_header = ""
                if kind == "layers" and not quiet:
                    for layer in event.layers.layers:
                        progress.layer(layer, initial=True)
                elif kind == "layer" and not quiet:
                    progress.layer(event.layer)
                elif kind == "result":
                    result = event.result
    except KeyboardInterrupt:
        # Tell the daemon at once; it cancels the job rather than finishing it unseen.
        call.cancel()
        raise
    if result is None:
        raise CLIError("Error response from daemon: the pull ended without a result")
    if not quiet:
        progress.message(f"Digest: {result.digest}")
        what = "Downloaded newer image" if result.downloaded else "Image is up to date"
        progress.message(f"Status: {what} for {output.familiar(result.reference)}")
    ctx.out(result.reference)
    return 0


def _pull_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="Only print the image reference")
    p.add_argument("--platform", default="", metavar="OS/ARCH[/VARIANT]", help="Pick a platform")
    p.add_argument("reference", metavar="NAME[:TAG|@DIGEST]")


def register(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    image_commands: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> None:
    for group in (commands, image_commands):
        p = group.add_parser("pull", help="Download an image from a registry")
        _pull_args(p)
        p.set_defaults(func=pull)
