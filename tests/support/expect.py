"""What the integration tests read back from the CLI: tables, sizes, inspect documents, errors."""

from __future__ import annotations

import json
import platform
import re
from typing import Any

from tests.support.services import CliResult, Daemon

_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3})


def host_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def parse_size(text: str) -> int:
    """Docker's human sizes: "4.26MB", "950kB", "1.05GB", "12B"."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKMGT]?i?B)\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def table(out: str) -> list[dict[str, str]]:
    """Rows of a docker-style table (columns separated by two or more spaces)."""
    lines = [line for line in out.splitlines() if line.strip()]
    if not lines:
        return []
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = []
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(header), f"cannot split row {line!r} under {header}"
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, f"command failed\n{result}"
    assert "Traceback" not in result.err, str(result)
    return result


def fails(result: CliResult, *needles: str, code: int = 1) -> str:
    """Asserts the command failed with `code` and one clear line on stderr holding every
    needle (case-insensitive). Returns that line."""
    assert result.code == code, f"expected exit {code}\n{result}"
    assert "Traceback" not in result.err and "Traceback" not in result.out, str(result)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line on stderr\n{result}"
    for needle in needles:
        assert needle.lower() in lines[0].lower(), f"{needle!r} not in the error\n{result}"
    return lines[0]


def inspect(daemon: Daemon, ref: str) -> dict[str, Any]:
    result = ok(daemon.cli("image", "inspect", ref))
    docs = json.loads(result.out)
    assert isinstance(docs, list) and len(docs) == 1, result.out
    return dict(docs[0])


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
