"""`container prune`: which stopped containers go, by docker's prune filters (`until`,
`label`, `label!`), and how much disk their writable layers held."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass

from caisson import errors
from caisson.daemon.containerrecord import ContainerRecord

KEYS = ("until", "label", "label!")
RUNNING = ("running", "paused", "restarting")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_UNIX = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class PruneFilter:
    until: float | None = None
    labels: tuple[str, ...] = ()
    not_labels: tuple[str, ...] = ()


def go_duration(text: str) -> float | None:
    """Seconds of a Go duration ("10m", "1h30m", "1.5h"), None when `text` is not one."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if not body:
        return None
    total, pos = 0.0, 0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total if pos == len(body) else None


def timestamp(value: str, now: float) -> float:
    """docker's timetypes.GetTimestamp: a duration back from now, an RFC 3339 date or time
    (local time when no zone is given), or Unix seconds."""
    duration = go_duration(value) if value != "0" else None
    if duration is not None:
        return now - duration
    if _UNIX.fullmatch(value):
        return float(value)
    with contextlib.suppress(ValueError):
        return datetime.datetime.fromisoformat(value).timestamp()
    raise errors.InvalidArgument(f'failed to parse value as time or duration: "{value}"')


def parse(filters: Sequence[str], now: float | None = None) -> PruneFilter:
    out = PruneFilter()
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep or key not in KEYS:
            raise errors.InvalidArgument(f"Invalid filter '{key}'")
        if key == "until":
            if out.until is not None:
                raise errors.InvalidArgument("more than one until filter specified")
            out.until = timestamp(value, time.time() if now is None else now)
        elif key == "label":
            out.labels += (value,)
        else:
            out.not_labels += (value,)
    return out


def _has_label(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def selected(records: Sequence[ContainerRecord], f: PruneFilter) -> list[ContainerRecord]:
    """The stopped containers the filter keeps, oldest first."""
    out = []
    for rec in sorted(records, key=lambda r: r.created):
        labels = dict(rec.config.labels)
        if rec.state.status in RUNNING:
            continue
        if f.until is not None and rec.created >= f.until:
            continue
        if not all(_has_label(labels, w) for w in f.labels):
            continue
        if any(_has_label(labels, w) for w in f.not_labels):
            continue
        out.append(rec)
    return out


def writable_layer_size(rec: ContainerRecord) -> int:
    """docker's SizeRw: the bytes in the container's upper directory (next to its rootfs);
    0 when it cannot be read from here."""
    if not rec.rootfs:
        return 0
    total = 0
    seen: set[tuple[int, int]] = set()
    upper = os.path.join(os.path.dirname(rec.rootfs), "upper")
    for root, dirs, files in os.walk(upper):
        for name in files + dirs:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, name))
                if not stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))  # a hardlinked file counts once
                    total += st.st_size
    return total
