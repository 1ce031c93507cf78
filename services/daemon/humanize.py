"""docker's human units (github.com/docker/go-units) and its container status strings."""

from __future__ import annotations

import re

from caisson import errors

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
