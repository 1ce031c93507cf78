"""`caisson`: the command line client, a thin gRPC client of caisson-daemon. This module is
the process entry point only; the commands live in caisson.cli.app."""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn


def main() -> NoReturn:
    # grpc-core writes transport events (GOAWAY, failed handshakes) to stderr on its own; the
    # CLI reports every failure as one line itself. Must be set before grpc loads;
    # GRPC_VERBOSITY=debug in the environment still turns them back on.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    # Behave like other Unix tools when the reader goes away (`caisson images | head -1`).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from caisson.cli.app import run

    sys.exit(run(sys.argv[1:]))
