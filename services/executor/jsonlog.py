"""Reads the json-file logs caisson-monitor writes (docker's format, one entry per line:
`{"log":"text\\n","stream":"stdout","time":"2026-11-27T23:50:01.123456789Z"}`).

The monitor rotates like docker: PATH is renamed PATH.1 (PATH.1 to PATH.2, ...) and a new PATH
is opened, or, with a single file, PATH is truncated. A reader therefore:

- opens PATH first and the rotated files after it, skipping one it already holds (a rotation
  between two opens shows the same file under two names), so nothing is read twice;
- reads the rotated files oldest first (PATH.N .. PATH.1) then PATH, up to the last complete
  line PATH had when it was opened; with `tail` it reads backwards from there;
- when following, goes on from that offset in the file it holds; once PATH names another file
  (the monitor renamed it away, and never writes to a renamed file), it reads what is left of
  the old one and moves to the new PATH; a file shorter than the offset was truncated: start
  over at 0. It waits by polling (5 ms growing to 50 ms: a follower costs next to nothing).
"""

from __future__ import annotations

import calendar
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_BLOCK = 64 * 1024
_FIRST_DELAY = 0.005
_MAX_DELAY = 0.05
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


@dataclass(frozen=True)
class LogEntry:
    stream: str  # "stdout" | "stderr"
    time_ns: int  # since the epoch
    data: bytes  # the line with its newline; a piece of a longer line has none


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (Go's RFC3339Nano, as docker writes)."""
    m = _TIME.fullmatch(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return secs * 1_000_000_000 + int((m.group(7) or "").ljust(9, "0"))


def format_time(time_ns: int) -> str:
    """docker's `logs --timestamps` form: UTC, always nine digits (RFC3339NanoFixed)."""
    secs, ns = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"


def parse_entry(line: bytes) -> LogEntry | None:
    """One line of a json-file log; None for a line that is not an entry (a damaged file)."""
    try:
        d = json.loads(line)
        return LogEntry(
            stream=str(d["stream"]),
            time_ns=parse_time(d["time"]),
            data=d["log"].encode("utf-8", "surrogatepass"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read_log(
    path: Path,
    *,
    tail: int | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    follow: bool = False,
    stop: Callable[[], bool] = lambda: True,
) -> Iterator[LogEntry]:
    """The entries of the log at `path` and its rotated files, oldest first. `tail`: only the
    last N entries already written; `since_ns`/`until_ns`: unix times in nanoseconds (a float
    of seconds cannot hold a log time exactly), entries before `since_ns` are skipped and the
    first entry after `until_ns` ends the reading (docker's rules). With `follow`,
    goes on with new entries, across rotations, until `stop()` is true and all written before
    that was read."""
    sources = _open_sources(Path(path))
    current = sources[-1] if sources and sources[-1].current else None
    follower = _follow(Path(path), current, stop) if follow else None
    try:
        if tail is None:
            lines: Iterator[bytes] = (ln for s in sources for ln in _forward(s.file, 0, s.end))
        else:
            lines = iter(_last_lines(sources, tail))
        entries = (e for e in map(parse_entry, lines) if e is not None)
        for entry in itertools.chain(entries, follower or ()):
            if since_ns is not None and entry.time_ns < since_ns:
                continue
            if until_ns is not None and entry.time_ns > until_ns:
                return
            yield entry
    finally:
        if follower is not None:
            follower.close()
        for s in sources:
            s.file.close()


@dataclass
class _Source:
    file: BinaryIO
    dev: int
    ino: int
    end: int  # where reading the snapshot stops: after the last complete line
    current: bool


def _open(path: Path, current: bool) -> _Source | None:
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed by the caller)
    except FileNotFoundError:
        return None
    st = os.fstat(f.fileno())
    end = _complete_end(f, st.st_size) if current else st.st_size
    return _Source(f, st.st_dev, st.st_ino, end, current)


def _open_sources(path: Path) -> list[_Source]:
    """PATH.N .. PATH.1, PATH: opened newest first (see the module's doc), listed oldest first."""
    current = _open(path, current=True)
    sources = [current] if current else []
    seen = {(s.dev, s.ino) for s in sources}
    for n in _rotated(path):
        s = _open(path.with_name(f"{path.name}.{n}"), current=False)
        if s is None:
            continue
        if (s.dev, s.ino) in seen:
            s.file.close()
            continue
        seen.add((s.dev, s.ino))
        sources.insert(0, s)
    return sources


def _complete_end(f: BinaryIO, size: int) -> int:
    """The offset after the last newline before `size` (a write may be under way past it)."""
    pos = size
    while pos > 0:
        start = max(0, pos - _BLOCK)
        f.seek(start)
        block = f.read(pos - start)
        i = block.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


def _forward(f: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    f.seek(start)
    rest = b""
    left = end - start
    while left > 0:
        block = f.read(min(_BLOCK, left))
        if not block:
            break
        left -= len(block)
        *lines, rest = (rest + block).split(b"\n")
        yield from lines
    if rest:
        yield rest


def _backward(f: BinaryIO, end: int) -> Iterator[bytes]:
    pos, rest = end, b""
    while pos > 0:
        start = max(0, pos - _BLOCK)
        f.seek(start)
        first, *lines = (f.read(pos - start) + rest).split(b"\n")
        rest, pos = first, start
        for line in reversed(lines):
            if line:
                yield line
    if rest:
        yield rest


def _last_lines(sources: list[_Source], n: int) -> list[bytes]:
    lines: list[bytes] = []
    for s in reversed(sources):
        if len(lines) >= n:
            break
        for line in _backward(s.file, s.end):
            if len(lines) >= n:
                break
            lines.append(line)
    lines.reverse()
    return lines


def _follow(path: Path, cur: _Source | None, stop: Callable[[], bool]) -> Iterator[LogEntry]:
    pos = cur.end if cur else 0
    pending = b""
    delay = _FIRST_DELAY
    try:
        while True:
            stopping = stop()  # read after asking: what was written before stop() is read
            progressed = False
            while True:
                if cur is None:
                    cur = _open(path, current=False)
                    pos, pending = 0, b""
                    if cur is None:
                        break
                cur.file.seek(pos)
                data = cur.file.read()
                if data:
                    pos += len(data)
                    *lines, pending = (pending + data).split(b"\n")
                    for line in lines:
                        entry = parse_entry(line)
                        if entry is not None:
                            yield entry
                    progressed = True
                    continue
                if os.fstat(cur.file.fileno()).st_size < pos:  # truncated: a single-file log
                    pos, pending = 0, b""
                    continue
                if not _same(path, cur):  # renamed away: it will not grow any more
                    cur.file.seek(pos)
                    lines = (pending + cur.file.read()).split(b"\n")
                    for entry in map(parse_entry, lines):
                        if entry is not None:
                            yield entry
                    nxt = _successor(path, cur)
                    cur.file.close()
                    cur, pos, pending = nxt, 0, b""
                    progressed = True
                    continue
                break
            if stopping:
                return
            delay = _FIRST_DELAY if progressed else min(delay * 2, _MAX_DELAY)
            time.sleep(delay)
    finally:
        if cur is not None:
            cur.file.close()


def _same(name: Path, cur: _Source) -> bool:
    try:
        st = os.stat(name)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (cur.dev, cur.ino)


def _rotated(path: Path) -> list[int]:
    """The N of every PATH.N, ascending (newest first)."""
    prefix = path.name + "."
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    return sorted(
        int(n[len(prefix) :]) for n in names if n.startswith(prefix) and n[len(prefix) :].isdigit()
    )


def _successor(path: Path, cur: _Source) -> _Source | None:
    """The file the monitor wrote after `cur`, which it renamed away. A reader that fell behind
    may find cur several rotations on, as PATH.k: the next one is PATH.(k-1) (PATH after
    PATH.1). When cur has left the rotation, the oldest file left comes next."""
    for _ in range(10):  # a rotation between looking and opening moves every name: look again
        numbers = _rotated(path)
        at = next((n for n in numbers if _same(path.with_name(f"{path.name}.{n}"), cur)), None)
        if at is None:
            name = path.with_name(f"{path.name}.{numbers[-1]}") if numbers else path
        else:
            name = path if at == 1 else path.with_name(f"{path.name}.{at - 1}")
        nxt = _open(name, current=False)
        if at is None or _same(path.with_name(f"{path.name}.{at}"), cur):
            return nxt
        if nxt is not None:
            nxt.file.close()
    return _open(path, current=False)
