"""--detach-keys: docker's key syntax, and the stdin scan that holds back a sequence's start
until it is told apart from input."""

from __future__ import annotations

import pytest

from caisson.cli import attach
from caisson.cli.errors import CLIError


def test_detach_keys_are_parsed_as_docker_does() -> None:
    assert attach.detach_sequence("") == b"\x10\x11"  # ctrl-p,ctrl-q
    assert attach.detach_sequence("ctrl-a,x") == b"\x01x"
    assert attach.detach_sequence("ctrl-@,ctrl-[,ctrl-_") == b"\x00\x1b\x1f"
    for bad in ("ctrl-", "ctrl-ab", "ab", "ctrl-1"):
        with pytest.raises(CLIError, match=r"Invalid detach keys \(.*\) provided"):
            attach.detach_sequence(bad)


def scan(data: bytes, keys: str = "") -> tuple[bytes, bytes]:
    pump = attach.Pump.__new__(attach.Pump)
    pump._detach = attach.detach_sequence(keys)
    return pump._scan(data)


def test_the_scan_sends_input_and_holds_a_possible_sequence() -> None:
    assert scan(b"abc") == (b"abc", b"")
    assert scan(b"abc\x10") == (b"abc", b"\x10")  # maybe the start of ctrl-p,ctrl-q
    assert scan(b"\x10x") == (b"\x10x", b"")  # not the sequence: sent as typed
    assert scan(b"ab\x10\x11cd") == (b"ab", b"\x10\x11")  # detach; nothing after is sent
