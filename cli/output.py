"""Text the CLI shows: sizes, ages, ids, times and tables, in Docker's exact shapes.

Users compare this output with Docker's and scripts parse it, so each helper follows the
function Docker uses (go-units HumanSize/HumanDuration, text/tabwriter, RFC3339NanoFixed).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from caisson import errors, reference

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision: decimal units, `precision` significant digits.

    Docker uses 4 digits for progress bars and prune totals, 3 for `images` and `history`.
    Python's %g formats like Go's %g (trailing zeros dropped, 1e+03 for 999.9 at 3 digits).
    """
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL_UNITS[i]}"


def image_size(size: float) -> str:
    return human_size(size, 3)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    if int(seconds) < 1:
        return "Less than a second"
    if int(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds // 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    # Go's Duration.Round(time.Hour) rounds halves away from zero.
    hours = math.floor(seconds / 3600 + 0.5)
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
    return f"{int(seconds // 3600) // 24 // 365} years"


def since(when: datetime | None, now: datetime | None = None) -> str:
    """ "2 days ago"; "N/A" for an unknown time."""
    if when is None:
        return "N/A"
    now = now or datetime.now(UTC)
    return human_duration((now - when).total_seconds()) + " ago"


def short_id(image_id: str, trunc: bool = True) -> str:
    """docker's stringid.TruncateID: 12 hex digits without "sha256:"; full id when not trunc."""
    if not trunc:
        return image_id
    _, _, hexpart = image_id.rpartition(":")
    return hexpart[:12]


def familiar(ref: str) -> str:
    """docker.io/library/busybox:latest -> busybox:latest; anything unparsable as given."""
    try:
        return reference.parse(ref, default_tag=False).familiar()
    except errors.InvalidArgument:
        return ref


def ellipsis(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: width - 1] + "…"


def go_time(when: datetime) -> str:
    """Go's time.Time.String() in local time: "2026-11-27 21:30:00 +0000 UTC"."""
    local = when.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %z ") + (local.tzname() or "")


def _zone(local: datetime) -> str:
    offset = local.strftime("%z")
    return "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"


def rfc3339(when: datetime) -> str:
    """Go's time.RFC3339 in local time: 2026-11-27T21:30:00Z."""
    local = when.astimezone()
    return local.strftime("%Y-%m-%dT%H:%M:%S") + _zone(local)


def rfc3339_nano(when: datetime, nanos: int = 0) -> str:
    """Docker's RFC3339NanoFixed in local time: 2026-11-27T21:30:00.000000000Z."""
    local = when.astimezone()
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}" + _zone(local)


# Docker's tables go through text/tabwriter with minwidth 10, padding 3 (cli/command/formatter).
_MIN_WIDTH = 10
_PADDING = 3


def table(rows: list[list[str]]) -> str:
    """Aligns rows like tabwriter: every column but the last is padded; no trailing spaces."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell) + _PADDING, _MIN_WIDTH)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "\n".join(lines) + "\n"


_GO_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def json_line(value: Any) -> str:
    """Compact JSON as docker 20.10's `{{json .}}` (Go's json.Marshal): non-ASCII kept, but
    <, > and & escaped (they only occur inside strings, so escaping the text is safe)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).translate(_GO_HTML_ESCAPES)


def json_pretty(value: Any) -> str:
    """docker inspect's layout: indent 4."""
    return json.dumps(value, indent=4, ensure_ascii=False)
