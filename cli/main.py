"""`caisson`: the command line client, a thin gRPC client of caisson-daemon. This module is
the process entry point only; the commands live in caisson.cli.app."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn


def main() -> NoReturn:
    # Behave like other Unix tools when the reader goes away (`caisson images | head -1`).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from caisson.cli.app import run

    sys.exit(run(sys.argv[1:]))
