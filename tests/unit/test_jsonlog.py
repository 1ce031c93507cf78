"""jsonlog on files written here the way caisson-monitor writes and rotates them (the live
monitor case is in test_monitor.py): tail, since and until across rotated files, follow
across rotations done while reading, truncation, and stop."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from caisson.executor import jsonlog
from caisson.executor.jsonlog import LogEntry, read_log

SEC = 1_000_000_000
T0 = 1_800_000_000 * SEC  # 2027-01-15T08:00:00Z


def line(i: int, stream: str = "stdout") -> bytes:
    t = T0 + i * SEC + 123_000_000
    entry = {"log": f"entry {i}\n", "stream": stream, "time": stamp(t)}
    return json.dumps(entry, separators=(",", ":")).encode() + b"\n"


def stamp(t: int) -> str:
    return jsonlog.format_time(t).replace("000000Z", "Z")  # trimmed like Go's RFC3339Nano


def write(path: Path, *numbers: int) -> None:
    with open(path, "ab") as f:
        for i in numbers:
            f.write(line(i))


def rotate(path: Path, max_file: int) -> None:
    """What the monitor does: PATH.(N-2) -> PATH.(N-1) ... PATH -> PATH.1, a new PATH."""
    for i in range(max_file - 1, 1, -1):
        if path.with_name(f"{path.name}.{i - 1}").exists():
            os.rename(path.with_name(f"{path.name}.{i - 1}"), path.with_name(f"{path.name}.{i}"))
    os.rename(path, path.with_name(f"{path.name}.1"))
    path.touch()


def ns(seconds: float) -> int:
    return round(seconds * 1e9)


def numbers(entries: Iterator[LogEntry] | list[LogEntry]) -> list[int]:
    return [int(e.data.split()[1]) for e in entries]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "container.log"
    write(path, 0, 1, 2)
    rotate(path, 3)
    write(path, 3, 4)
    rotate(path, 3)
    write(path, 5)
    return path  # container.log.2: 0-2, .1: 3-4, container.log: 5


def test_reads_rotated_files_oldest_first(log: Path) -> None:
    entries = list(read_log(log))
    assert numbers(entries) == [0, 1, 2, 3, 4, 5]
    assert entries[0] == LogEntry("stdout", T0 + 123_000_000, b"entry 0\n")


def test_tail_counts_from_the_end_across_files(log: Path) -> None:
    assert numbers(read_log(log, tail=3)) == [3, 4, 5]
    assert numbers(read_log(log, tail=4)) == [2, 3, 4, 5]
    assert numbers(read_log(log, tail=100)) == [0, 1, 2, 3, 4, 5]
    assert numbers(read_log(log, tail=0)) == []


def test_since_and_until_filter_by_the_entry_time(log: Path) -> None:
    base = T0 / SEC
    assert numbers(read_log(log, since_ns=ns(base + 2.2))) == [3, 4, 5]  # entry 2 is at +2.123
    assert numbers(read_log(log, since_ns=ns(base + 2.123))) == [2, 3, 4, 5]
    assert numbers(read_log(log, until_ns=ns(base + 3.5))) == [0, 1, 2, 3]
    assert numbers(read_log(log, since_ns=ns(base + 1), until_ns=ns(base + 4.2))) == [1, 2, 3, 4]
    assert numbers(read_log(log, tail=2, since_ns=ns(base + 4.5))) == [5]  # tail first, like docker


def test_a_file_under_two_names_is_read_once(log: Path) -> None:
    os.link(log, log.with_name("container.log.3"))  # as if a rotation ran between two opens
    assert numbers(read_log(log)) == [0, 1, 2, 3, 4, 5]


def test_damaged_lines_and_a_line_being_written_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    write(path, 0)
    with open(path, "ab") as f:
        f.write(b"not json\n")
        f.write(line(1))
        f.write(line(2)[:20])  # the monitor's write of entry 2 is under way
    assert numbers(read_log(path)) == [0, 1]
    assert numbers(read_log(path, tail=1)) == [1]


def test_a_missing_log_has_no_entries(tmp_path: Path) -> None:
    assert list(read_log(tmp_path / "none.log")) == []


def test_times_parse_as_go_writes_them() -> None:
    assert jsonlog.parse_time("2027-01-15T08:00:00Z") == T0
    assert jsonlog.parse_time("2027-01-15T08:00:00.5Z") == T0 + 500_000_000
    assert jsonlog.parse_time("2027-01-15T08:00:00.000000001Z") == T0 + 1
    assert jsonlog.parse_time("2027-01-15T09:30:00.25+01:30") == T0 + 250_000_000
    assert jsonlog.format_time(T0 + 500_000_000) == "2027-01-15T08:00:00.500000000Z"
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        jsonlog.parse_time("yesterday")


class Flag:
    def __init__(self) -> None:
        self.value = False

    def __call__(self) -> bool:
        return self.value


def test_follow_continues_across_rotations_done_while_reading(log: Path) -> None:
    stop = Flag()
    reader = read_log(log, tail=1, follow=True, stop=stop)
    assert numbers([next(reader)]) == [5]
    write(log, 6)
    assert numbers([next(reader)]) == [6]
    write(log, 7)
    rotate(log, 3)  # the reader holds the old file: it finishes it, then takes the new one
    write(log, 8)
    assert numbers([next(reader), next(reader)]) == [7, 8]
    # fallen behind by several rotations (the files are still there): nothing is skipped
    for i in range(9, 12):
        write(log, i)
        rotate(log, 5)
    write(log, 12)
    stop.value = True
    assert numbers(reader) == [9, 10, 11, 12]


def test_follow_starts_over_in_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    write(path, 0, 1)
    stop = Flag()
    reader = read_log(path, follow=True, stop=stop)
    assert numbers([next(reader), next(reader)]) == [0, 1]
    os.truncate(path, 0)  # max-file 1: the monitor truncates instead of renaming
    write(path, 2)
    assert numbers([next(reader)]) == [2]
    stop.value = True
    assert list(reader) == []


def test_follow_waits_for_a_log_not_there_yet(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    stop = Flag()
    reader = read_log(path, follow=True, stop=stop)
    timer = threading.Timer(0.1, lambda: write(path, 0))
    timer.start()
    try:
        assert numbers([next(reader)]) == [0]
    finally:
        timer.join()
    stop.value = True
    assert list(reader) == []


def test_stop_ends_follow_after_reading_all_written_before_it(log: Path) -> None:
    stop = Flag()

    def finish() -> None:
        write(log, 6, 7)
        stop.value = True  # like the container's exit: written after its last output

    timer = threading.Timer(0.1, finish)
    timer.start()
    try:
        assert numbers(read_log(log, tail=0, follow=True, stop=stop)) == [6, 7]
    finally:
        timer.join()


def test_follow_with_until_ends_at_the_first_later_entry(log: Path) -> None:
    timer = threading.Timer(0.1, lambda: write(log, 6, 7))
    timer.start()
    try:
        reader = read_log(log, tail=0, until_ns=ns(T0 / SEC + 6.5), follow=True, stop=lambda: False)
        assert numbers(reader) == [6]
    finally:
        timer.join()


def test_a_closed_follower_releases_its_files(log: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    reader = read_log(log, follow=True, stop=lambda: False)
    assert numbers([next(reader) for _ in range(6)]) == [0, 1, 2, 3, 4, 5]
    reader.close()
    assert len(os.listdir("/proc/self/fd")) == before
