"""`caisson exec`: a process in a running container, its stdio on the user's terminal and
its exit code as the command's, as docker 20.10's."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from caisson.cli import args as cli_args
from caisson.cli import attach as stdio
from caisson.cli import containers, lazy, runflags
from caisson.cli.context import Context
from caisson.cli.errors import CLIError, FlagError, NotFound

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import containers_pb2 as pb
else:
    pb = lazy.module("caisson_api.daemon.v1.containers_pb2")


def exec_open(args: argparse.Namespace) -> pb.ExecOpen:
    """The ExecOpen for these flags; bad -e values are usage errors as pflag's."""
    try:
        env = [runflags.validate_env(e, os.environ) for e in args.env]
    except ValueError as e:
        bad = next(v for v in args.env if not v.partition("=")[0])
        raise FlagError(
            f'invalid argument "{bad}" for "-e, --env" flag: {e}', args.help_parser.prog
        ) from None
    return pb.ExecOpen(
        container=args.container,
        cmd=args.command,
        env=env,
        user=args.user,
        working_dir=args.workdir,
        tty=args.tty,
        stdin=args.interactive and not args.detach,
        detach=args.detach,
        privileged=args.privileged,
    )


def run_exec(ctx: Context, args: argparse.Namespace) -> int:
    open_message = exec_open(args)
    if open_message.tty and open_message.stdin and not stdio.is_terminal(ctx.stdin):
        raise CLIError("the input device is not a TTY")
    stub = containers.stub(ctx)
    try:
        if args.detach:
            with ctx.daemon.calls():
                for _ in stub.Exec(iter([pb.ExecRequest(open=open_message)])):
                    pass
            return 0
        size = stdio.terminal_size(ctx.stdout) if open_message.tty else None
        if size is not None:
            open_message.size.CopyFrom(size)
        pump = stdio.Pump(
            ctx,
            pb.ExecRequest,
            open_message,
            stdin=open_message.stdin,
            tty=open_message.tty,
            detach_keys=args.detach_keys,
        )
        with ctx.daemon.calls():
            outcome = pump.run(stub.Exec)
    except NotFound:
        # docker's exec inspects the container first, and its client words the 404.
        raise containers.no_such_container(args.container) from None
    if outcome.exit is None:
        raise CLIError("Error response from daemon: the exec ended without an exit status")
    if not outcome.exit.started:
        # docker shows why the process could not start, then exits 126 or 127.
        ctx.err(outcome.exit.error)
    return outcome.exit.exit_code


def _exec_args(p: argparse.ArgumentParser) -> None:
    runflags.interspersed_off(p)
    p.add_argument("-d", "--detach", action="store_true", help="Run the command in background")
    p.add_argument(
        "--detach-keys",
        default="",
        help="Keys that detach from the container (default ctrl-p,ctrl-q)",
    )
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open")
    cli_args.add_bool(p, "--privileged", default=False, help="Give extended privileges")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-u", "--user", default="", help="Username or UID (<name|uid>[:<group|gid>])")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    cli_args.takes(
        p, "[OPTIONS] CONTAINER COMMAND [ARG...]", "container", "command", least=2, most=None
    )


EXEC_HELP = "Run a command in a running container"


def register(
    commands: cli_args.Commands,
    container_commands: cli_args.Commands,
) -> None:
    for group in (commands, container_commands):
        cli_args.command(group, ["exec"], run_exec, _exec_args, EXEC_HELP, allow_abbrev=False)
