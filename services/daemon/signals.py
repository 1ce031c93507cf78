"""Signal names as docker takes them: "KILL", "SIGKILL", "sigkill" or a number."""

from __future__ import annotations

import signal

from caisson import errors


def parse(text: str, default: int = signal.SIGKILL) -> int:
    if not text:
        return int(default)
    if text.isdigit():
        n = int(text)
        if 0 < n < signal.NSIG:
            return n
    else:
        name = text.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        try:
            return int(signal.Signals[name])
        except KeyError:
            pass
    raise errors.InvalidArgument(f"Invalid signal: {text}")
