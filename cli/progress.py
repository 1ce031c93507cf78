"""Pull progress as Docker draws it: one live line per layer on a terminal, plain lines
(one per status change) otherwise, so logs of a CI pull stay short and readable."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, TextIO

from caisson.cli import lazy, output

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import daemon_pb2
else:
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")

# Keyed by the enum's names: the generated module is loaded only once a pull reports.
_STATUS_TEXT = {
    "LAYER_STATUS_UNSPECIFIED": "Pulling fs layer",
    "LAYER_STATUS_WAITING": "Waiting",
    "LAYER_STATUS_DOWNLOADING": "Downloading",
    "LAYER_STATUS_VERIFYING": "Verifying Checksum",
    "LAYER_STATUS_DOWNLOAD_COMPLETE": "Download complete",
    "LAYER_STATUS_EXTRACTING": "Extracting",
    "LAYER_STATUS_PULL_COMPLETE": "Pull complete",
    "LAYER_STATUS_ALREADY_EXISTS": "Already exists",
    "LAYER_STATUS_RETRYING": "Retrying",
}
_BAR_STATUSES = ("LAYER_STATUS_DOWNLOADING", "LAYER_STATUS_EXTRACTING")


@functools.cache
def _status_texts() -> dict[int, str]:
    return {daemon_pb2.LayerStatus.Value(name): text for name, text in _STATUS_TEXT.items()}


@functools.cache
def _with_bar() -> frozenset[int]:
    return frozenset(daemon_pb2.LayerStatus.Value(name) for name in _BAR_STATUSES)


# Docker draws the bar only on terminals wider than this, and assumes 200 columns when the
# width is unknown.
_BAR_MIN_WIDTH = 110
_BAR_CELLS = 50
_UNKNOWN_WIDTH = 200


def status_text(layer: daemon_pb2.LayerProgress, initial: bool = False) -> str:
    # Docker announces every layer as "Pulling fs layer" before the first "Waiting".
    texts = _status_texts()
    if initial and layer.status == daemon_pb2.LAYER_STATUS_WAITING:
        return texts[daemon_pb2.LAYER_STATUS_UNSPECIFIED]
    text = texts.get(layer.status, texts[daemon_pb2.LAYER_STATUS_UNSPECIFIED])
    if layer.status == daemon_pb2.LAYER_STATUS_RETRYING and layer.message:
        return f"{text}: {layer.message}"
    return text


def bar(current: int, total: int, width: int = _UNKNOWN_WIDTH) -> str:
    """docker's JSONProgress.String() (without its time-left estimate)."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{output.human_size(current):>8}"
    filled = min(int(current / total * 100) // 2, _BAR_CELLS)
    box = ""
    if width > _BAR_MIN_WIDTH:
        box = f"[{'=' * filled}>{' ' * (_BAR_CELLS - filled)}] "
    if current > total:
        return box + f"{output.human_size(current):>8}"
    return box + f"{output.human_size(current):>8}/{output.human_size(total)}"


def terminal_width(stream: TextIO) -> int:
    """Columns of the terminal behind stream, 0 when unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class PullProgress:
    """Renders layer updates. On a terminal each layer owns a line, redrawn in place with
    cursor movement exactly as docker's jsonmessage does, so the cursor always rests on
    the line below the last layer and ordinary lines can follow at any time."""

    def __init__(self, out: TextIO, tty: bool, width: int = 0) -> None:
        self._out = out
        self._tty = tty
        self._width = width
        self._rows: dict[str, int] = {}
        self._last: dict[str, str] = {}

    def message(self, text: str) -> None:
        """A line that is not a layer's; later layers start a new block below it."""
        self._rows.clear()
        self._out.write(text + "\n")
        self._out.flush()

    def layer(self, layer: daemon_pb2.LayerProgress, initial: bool = False) -> None:
        status = status_text(layer, initial)
        if not self._tty:
            if layer.status in _with_bar() and bar(layer.current, layer.total):
                # docker's jsonmessage drops every update that has a progress bar off a
                # terminal, so Downloading and Extracting never show there.
                return
            if self._last.get(layer.id) != status:
                self._last[layer.id] = status
                self._out.write(f"{layer.id}: {status}\n")
                self._out.flush()
            return
        text = f"{layer.id}: {status}"
        if layer.status in _with_bar():
            progress = bar(layer.current, layer.total, self._width or _UNKNOWN_WIDTH)
            text += f" {progress}" if progress else ""
        if self._width:
            # A wrapped line would break the cursor arithmetic of every line below it.
            text = text[: self._width - 1]
        row = self._rows.get(layer.id)
        if row is None:
            row = self._rows[layer.id] = len(self._rows)
            self._out.write("\n")
        up = len(self._rows) - row
        self._out.write(f"\x1b[{up}A\x1b[2K\r{text}\r\x1b[{up}B")
        self._out.flush()
