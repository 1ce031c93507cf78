"""docker's human units (github.com/docker/go-units) and its container status strings."""

from __future__ import annotations

import re

from caisson import errors
from caisson.daemon.containerrecord import State

_SIZE = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_DECIMAL = {"k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}
_BINARY = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def _parse_size(text: str, units: dict[str, int]) -> int:
    m = _SIZE.match(text)
    if not m:
        raise errors.InvalidArgument(f"invalid size: '{text}'")
    try:
        size = float(m.group(1))
    except ValueError:
        raise errors.InvalidArgument(
            f'strconv.ParseFloat: parsing "{m.group(1)}": invalid syntax'
        ) from None
    size *= units.get((m.group(3) or "").lower(), 1)
    return int(size)


def from_human_size(text: str) -> int:
    """go-units FromHumanSize: decimal units ("20m" = 20,000,000), as json-file's max-size."""
    return _parse_size(text, _DECIMAL)


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: binary units ("64m" = 64 MiB), as --memory and --shm-size."""
    return _parse_size(text, _BINARY)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def state_string(state: State, now: float) -> str:
    """docker's State.String(): "Up 5 seconds", "Up 3 seconds (Paused)", "Exited (0) 2 minutes
    ago", "Restarting (1) 1 second ago", "Created", "Removal In Progress", "Dead"."""
    if state.running:
        if state.status == "paused":
            return f"Up {human_duration(now - state.started_at)} (Paused)"
        if state.status == "restarting":
            return f"Restarting ({state.exit_code}) {human_duration(now - state.finished_at)} ago"
        return f"Up {human_duration(now - state.started_at)}"
    if state.status == "removing":
        return "Removal In Progress"
    if state.status == "dead":
        return "Dead"
    if not state.started_at:
        return "Created"
    if not state.finished_at:
        return ""
    return f"Exited ({state.exit_code}) {human_duration(now - state.finished_at)} ago"


def command_column(path: str, args: list[str]) -> str:
    """The Command docker's API lists: the path and args, an arg with a space in single
    quotes (`sh -c 'echo hi'`)."""
    if not args:
        return path
    return path + " " + " ".join(f"'{a}'" if " " in a else a for a in args)


def ellipsis(text: str, width: int) -> str:
    """docker CLI's Ellipsis: at most `width` columns, the last one "…" when cut."""
    if width <= 0:
        return ""
    if width == 1:
        return "…"
    if len(text) <= width:
        return text
    return text[: width - 1] + "…"


def go_quote(text: str) -> str:
    """Go's strconv.Quote, as docker ps prints the COMMAND column."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}
