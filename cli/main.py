"""`caisson`: the command line client, a thin gRPC client of caisson-daemon. This module is
the process entry point only; the commands live in caisson.cli.app."""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

# What Python exits with when it cannot flush stdout at its end.
EXIT_FLUSH_FAILED = 120


def main() -> NoReturn:
    # Behave like other Unix tools when the reader goes away (`caisson images | head -1`).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from caisson.cli.app import run

    code = run(sys.argv[1:])
    # The interpreter's teardown (freeing every module's objects, protobuf's among them) costs
    # a command ~7 ms and does nothing for a process that is done: every file a command writes
    # is closed by then, and what is left is the output, flushed here.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or EXIT_FLUSH_FAILED
    os._exit(code)
