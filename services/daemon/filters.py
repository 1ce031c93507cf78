"""docker's `--filter KEY=VALUE` arguments, shared by images and events."""

from __future__ import annotations

from collections.abc import Sequence

from caisson import errors


def split(filters: Sequence[str], keys: Sequence[str]) -> dict[str, list[str]]:
    """KEY -> values; an unknown key or a missing '=' is an error naming the valid keys."""
    by_key: dict[str, list[str]] = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep or key not in keys:
            raise errors.InvalidArgument(
                f"invalid filter {f!r}: expected KEY=VALUE, KEY one of {', '.join(keys)}"
            )
        by_key.setdefault(key, []).append(value)
    return by_key
