"""The command line: global flags, the command tree, and how each outcome becomes output and
an exit code. Exit codes follow docker: 0 success, 1 an error (one line on stderr; a wrong
number of arguments, which docker counts as an error too, adds the usage), 125 bad flags,
130 interrupted. No traceback reaches the user unless -D asks for one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from caisson import __version__
from caisson.cli import args as cli_args
from caisson.cli import attach as stdio
from caisson.cli import (
    auth,
    client,
    config,
    containers,
    events,
    images,
    networks,
    pull,
    system,
    template,
    volumes,
)
from caisson.cli import cp as cp_commands
from caisson.cli import exec as exec_commands
from caisson.cli import run as run_commands
from caisson.cli.context import Context
from caisson.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, CLIError, UsageError


def build_parser() -> cli_args.Parser:
    parser = cli_args.Parser(
        prog="caisson",
        description="A container engine: the client of caisson-daemon.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "-H",
        "--host",
        default=None,
        help=f"Daemon address, unix:///PATH or tcp://HOST:PORT (default {client.DEFAULT_HOST})",
    )
    parser.add_argument("--config", default=None, metavar="DIR", help="Client config directory")
    parser.add_argument("-D", "--debug", action="store_true", help="Show debug output")
    parser.add_argument("--tls", action="store_true", help="Use TLS; implied by --tlsverify")
    parser.add_argument("--tlsverify", action="store_true", help="Use TLS and verify the remote")
    parser.add_argument(
        "--tlscacert", default="", metavar="FILE", help="Trust certs signed by this CA"
    )
    parser.add_argument("--tlscert", default="", metavar="FILE", help="TLS certificate file")
    parser.add_argument("--tlskey", default="", metavar="FILE", help="TLS key file")
    parser.add_argument(
        "-v", "--version", action="version", version=f"Caisson version {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    image = commands.add_parser("image", help="Manage images")
    image_commands = image.add_subparsers(dest="image_command", metavar="COMMAND")
    image.set_defaults(func=None)
    pull.register(commands, image_commands)
    images.register(commands, image_commands)
    container_commands = containers.register(commands)
    run_commands.register(commands, container_commands)
    exec_commands.register(commands, container_commands)
    cp_commands.register(commands, container_commands)
    # After images.register: the top-level inspect looks for containers first.
    containers.take_over_inspect(commands)
    volumes.register(commands)
    networks.register(commands)
    system.register(commands)
    events.register(commands)
    auth.register(commands)
    parser.set_defaults(func=None, help_parser=parser)
    return parser


def _context(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> Context:
    address = client.parse_host(args.host or environ.get("CAISSON_HOST") or client.DEFAULT_HOST)
    config_dir = args.config or config.default_dir(environ)
    opts = client.TLSOptions(
        tls=args.tls,
        verify=args.tlsverify or bool(environ.get("CAISSON_TLS_VERIFY")),
        cacert=args.tlscacert,
        cert=args.tlscert,
        key=args.tlskey,
    )
    # TLS is for TCP; a unix socket is guarded by its file mode.
    tls = (
        client.tls_config(opts, environ.get("CAISSON_CERT_PATH") or config_dir)
        if address.scheme == "tcp"
        else None
    )
    return Context(stdin, stdout, stderr, address, tls, config_dir, debug=args.debug)


def run(
    argv: Sequence[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Runs one command line and returns the exit code; never raises."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    environ = os.environ if environ is None else environ
    debug = False
    ctx: Context | None = None
    try:
        # argparse prints --help and --version itself, to sys.stdout.
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                args, extra = build_parser().parse_known_args(list(argv))
            except SystemExit as e:
                return e.code if isinstance(e.code, int) else 0
        cli_args.bind(args, extra)
        debug = args.debug
        if args.func is None:
            args.help_parser.print_help(stdout)
            return 0
        ctx = _context(args, environ, stdin, stdout, stderr)
        return int(args.func(ctx, args))
    except stdio.Detached:
        return 0  # docker: detaching leaves the container running and says nothing
    except UsageError as e:
        stderr.write(e.render() + "\n")
        return e.exit_code
    except CLIError as e:
        stdout.flush()
        stderr.write(f"{e}\n")
        return e.exit_code
    except template.TemplateError as e:
        stderr.write(f"template parsing error: {e}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the last line of defence for the user's terminal
        if debug:
            import traceback

            traceback.print_exc(file=stderr)
        stderr.write(f"Error: {e}\n")
        return EXIT_ERROR
    finally:
        if ctx is not None:
            ctx.close()
