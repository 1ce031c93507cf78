"""`caisson pull`: streams the daemon's pull job and draws its progress like docker."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from caisson import errors, reference
from caisson.cli import args as cli_args
from caisson.cli import auth, lazy, output
from caisson.cli.context import Context
from caisson.cli.errors import CLIError
from caisson.cli.progress import PullProgress, terminal_width

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import daemon_pb2
else:
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")


def header(parsed: reference.Reference) -> str:
    """ "latest: Pulling from library/busybox" (docker names the repository by its path).
    By digest, docker's daemon names the whole normalised reference, which its client sent
    without any tag: "docker.io/library/busybox@sha256:...: Pulling from library/busybox"."""
    what = f"{parsed.name}@{parsed.digest}" if parsed.digest else parsed.tag
    return f"{what}: Pulling from {parsed.path}"


def stream(
    ctx: Context,
    req: daemon_pb2.PullRequest,
    parsed: reference.Reference,
    out: TextIO,
    tty: bool,
    quiet: bool,
) -> daemon_pb2.PullResult:
    """Runs the daemon's pull job, drawing its progress on `out` as docker does (`pull` on
    stdout; `run` and `create` on stderr, so their stdout holds only the container's)."""
    progress = PullProgress(out, tty, terminal_width(out) if tty else 0)
    result: daemon_pb2.PullResult | None = None
    # Shown once the daemon answers, so a rejected pull prints only its error.
    pending_header = "" if quiet else header(parsed)
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
    return result


def pull(ctx: Context, args: argparse.Namespace) -> int:
    ref: str = args.reference
    quiet: bool = args.quiet
    try:
        # Docker's client checks the reference before it calls the daemon, and says why not
        # without an "Error response from daemon" prefix.
        parsed = reference.parse(ref, default_tag=False)
    except errors.InvalidArgument as e:
        raise CLIError(str(e)) from None
    req = daemon_pb2.PullRequest(reference=ref, platform=args.platform or "")
    creds = auth.credentials_for_reference(ctx.config_dir, ref)
    if creds is not None:
        req.auth.CopyFrom(creds)
    if not (parsed.tag or parsed.digest):
        parsed = parsed.with_tag(reference.DEFAULT_TAG)
        if not quiet:
            ctx.out(f"Using default tag: {reference.DEFAULT_TAG}")

    result = stream(ctx, req, parsed, ctx.stdout, ctx.stdout.isatty(), quiet)
    ctx.out(result.reference)
    return 0


def _pull_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="Only print the image reference")
    p.add_argument("--platform", default="", metavar="OS/ARCH[/VARIANT]", help="Pick a platform")
    cli_args.takes(p, "[OPTIONS] NAME[:TAG|@DIGEST]", "reference", least=1, most=1)


PULL_HELP = "Download an image from a registry"


def register(
    commands: cli_args.Commands,
    image_commands: cli_args.Commands,
) -> None:
    for group in (commands, image_commands):
        cli_args.command(group, ["pull"], pull, _pull_args, PULL_HELP)
