"""`caisson run`, `create` and `start`, as docker 20.10's.

run = create (pulling the image first when it is missing, as docker: "Unable to find image
'busybox:latest' locally", the pull's progress on stderr, then create again) + attach with
start + the container's exit code. Its own failures exit 125 with "caisson: MSG." and a
pointer to --help; a process that could not start exits 126 or 127 as the daemon says.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from caisson import errors, reference
from caisson.cli import args as cli_args
from caisson.cli import auth, containers, lazy, pull, runflags
from caisson.cli.attach import is_terminal
from caisson.cli.context import Context
from caisson.cli.errors import CLIError, NotFound

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import containers_pb2 as pb
    from caisson_api.daemon.v1 import daemon_pb2
else:
    pb = lazy.module("caisson_api.daemon.v1.containers_pb2")
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")

EXIT_RUN_FAILED = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127
_IMAGE_ID = re.compile(r"^(sha256:)?[a-f0-9]{64}$")


class RunError(CLIError):
    """A failure of run itself, printed as docker's reportError: 'caisson: MSG.' and, for
    the failures before the container exists, a pointer to the command's --help."""

    def __init__(self, message: str, prog: str, exit_code: int, with_help: bool = True) -> None:
        text = f"caisson: {message.rstrip('.')}."
        if with_help:
            text += f"\nSee '{prog} --help'."
        super().__init__(text, exit_code)


def start_failure_code(message: str) -> int:
    """docker's runStartContainerErr: 127 for a command not found, 126 for one that cannot
    be invoked, 125 for anything else."""
    text = message.removeprefix("Error response from daemon: ")
    if any(
        s in text
        for s in (
            "executable file not found",
            "no such file or directory",
            "system cannot find the file specified",
        )
    ):
        return EXIT_NOT_FOUND
    if "permission denied" in text or "is a directory" in text:
        return EXIT_CANNOT_INVOKE
    return EXIT_RUN_FAILED


# --- create, with the pull docker makes when the image is missing --------------------------


def _pull_reference(image: str) -> reference.Reference | None:
    """The reference to pull for image, None when it names an image id (never pulled)."""
    if _IMAGE_ID.match(image):
        return None
    try:
        parsed = reference.parse(image, default_tag=False)
    except errors.InvalidArgument as e:
        raise CLIError(str(e)) from None
    if not (parsed.tag or parsed.digest):
        parsed = parsed.with_tag(reference.DEFAULT_TAG)
    return parsed


def pull_image(ctx: Context, ref: reference.Reference, platform: str, quiet: bool) -> None:
    """docker's pullImage for run/create: the progress goes to stderr, so stdout carries
    nothing but the container's id or output."""
    req = daemon_pb2.PullRequest(reference=ref.familiar(), platform=platform)
    creds = auth.credentials_for_reference(ctx.config_dir, ref.familiar())
    if creds is not None:
        req.auth.CopyFrom(creds)
    pull.stream(ctx, req, ref, ctx.stderr, is_terminal(ctx.stderr), quiet)


def create_container(
    ctx: Context, req: pb.CreateContainerRequest, pull_policy: str, quiet: bool
) -> str:
    """docker's createContainer: pulls when asked to or when the image is missing, prints the
    daemon's warnings, and returns the new container's id."""
    ref = _pull_reference(req.config.image)
    stub = containers.stub(ctx)
    if pull_policy == "always" and ref is not None:
        pull_image(ctx, ref, req.platform, quiet)
    try:
        with ctx.daemon.calls():
            resp = stub.Create(req)
    except NotFound as e:
        # Only a missing image is pulled; a missing network or volume is just an error.
        if ref is None or pull_policy not in ("missing", "") or "No such image" not in str(e):
            raise
        if not quiet:
            ctx.err(f"Unable to find image '{ref.familiar()}' locally")
        pull_image(ctx, ref, req.platform, quiet)
        with ctx.daemon.calls():
            resp = stub.Create(req)
    for warning in resp.warnings:
        ctx.err(f"WARNING: {warning}")
    return str(resp.id)


def create(ctx: Context, args: argparse.Namespace) -> int:
    req = runflags.build_request(args)
    ctx.out(create_container(ctx, req, args.pull, args.quiet))
    return 0


# --- run -----------------------------------------------------------------------------------


def run(ctx: Context, args: argparse.Namespace) -> int:
    prog = args.help_parser.prog
    req = runflags.build_request(args)
    config = req.config
    if args.detach:
        if args.attach:
            raise CLIError("Conflicting options: -a and -d")
        config.attach_stdin = config.attach_stdout = config.attach_stderr = False
        config.stdin_once = False
    elif config.attach_stdin and config.tty and not is_terminal(ctx.stdin):
        raise CLIError("the input device is not a TTY")
    try:
        container_id = create_container(ctx, req, args.pull, args.quiet)
    except CLIError as e:
        raise RunError(str(e), prog, start_failure_code(str(e))) from None
    stub = containers.stub(ctx)
    if not (config.attach_stdin or config.attach_stdout or config.attach_stderr):
        # Detached: the id first, as docker prints it while the container starts.
        ctx.out(container_id)
        ctx.stdout.flush()
        try:
            with ctx.daemon.calls():
                stub.Start(pb.ContainerRef(container=container_id))
        except CLIError as e:
            raise RunError(str(e), prog, start_failure_code(str(e)), with_help=False) from None
        return 0
    if not (config.attach_stdout or config.attach_stderr):
        ctx.out(container_id)  # `-a stdin` alone: docker shows the id too
    open_message = pb.AttachOpen(
        container=container_id,
        stdin=config.attach_stdin,
        stdout=config.attach_stdout,
        stderr=config.attach_stderr,
        start=True,
    )
    try:
        status = containers.attach_session(
            ctx,
            container_id,
            open_message,
            tty=config.tty,
            sig_proxy=args.sig_proxy,
            detach_keys=args.detach_keys,
        )
    except CLIError as e:
        raise RunError(str(e), prog, start_failure_code(str(e)), with_help=False) from None
    if status is None:
        with ctx.daemon.calls():
            return stub.Wait(pb.WaitContainerRequest(container=container_id)).exit_code
    if not status.started:
        message = f"Error response from daemon: {status.error}"
        code = status.exit_code or start_failure_code(message)
        raise RunError(message, prog, code, with_help=False)
    return status.exit_code


# --- start ---------------------------------------------------------------------------------


def start(ctx: Context, args: argparse.Namespace) -> int:
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise CLIError("you cannot start and attach multiple containers at once")
        name = args.containers[0]
        doc = containers.inspect_documents(ctx, [name])[0]
        config = doc.get("Config") or {}
        tty = bool(config.get("Tty"))
        stdin = args.interactive and bool(config.get("OpenStdin"))
        open_message = pb.AttachOpen(
            container=name, stdin=stdin, stdout=True, stderr=True, start=True
        )
        # docker's start always proxies signals to a container without a tty.
        return containers.stdio_session(
            ctx, name, open_message, tty=tty, sig_proxy=True, detach_keys=args.detach_keys
        )
    stub = containers.stub(ctx)
    failed = []
    for name in args.containers:
        try:
            with ctx.daemon.calls():
                stub.Start(pb.ContainerRef(container=name))
        except CLIError as e:
            ctx.err(str(e))
            failed.append(name)
            continue
        ctx.out(name)
    if failed:
        raise CLIError(f"Error: failed to start containers: {', '.join(failed)}")
    return 0


# --- the command tree ----------------------------------------------------------------------


def _run_args(p: argparse.ArgumentParser) -> None:
    runflags.interspersed_off(p)
    p.add_argument(
        "-d", "--detach", action="store_true", help="Run in background and print container ID"
    )
    p.add_argument(
        "--detach-keys",
        default="",
        help="Keys that detach from the container (default ctrl-p,ctrl-q)",
    )
    cli_args.add_bool(p, "--sig-proxy", default=True, help="Proxy received signals to the process")
    runflags.add_container_flags(p)
    cli_args.takes(p, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "image", "command", least=1, most=None)


def _create_args(p: argparse.ArgumentParser) -> None:
    runflags.interspersed_off(p)
    runflags.add_container_flags(p)
    cli_args.takes(p, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "image", "command", least=1, most=None)


def _start_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR")
    p.add_argument(
        "--detach-keys",
        default="",
        help="Keys that detach from the container (default ctrl-p,ctrl-q)",
    )
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    cli_args.takes(p, "[OPTIONS] CONTAINER [CONTAINER...]", "containers", least=1, most=None)


RUN_HELP = "Run a command in a new container"
CREATE_HELP = "Create a new container"
START_HELP = "Start one or more stopped containers"


def register(
    commands: cli_args.Commands,
    container_commands: cli_args.Commands,
) -> None:
    for group in (commands, container_commands):
        # No -h for help: it is --hostname, as in docker.
        cli_args.command(
            group, ["run"], run, _run_args, RUN_HELP, add_help=False, allow_abbrev=False
        )
        cli_args.command(
            group, ["create"], create, _create_args, CREATE_HELP, add_help=False, allow_abbrev=False
        )
        cli_args.command(group, ["start"], start, _start_args, START_HELP)
