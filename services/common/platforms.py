"""Platforms (os/arch/variant): the host's, normalisation, and choosing from an index.

Normalisation follows containerd's `platforms` package: `x86_64` is amd64, `aarch64` is arm64
whose only variant is v8 (so "" and "v8" are the same), plain `arm` means arm/v7. An arm/v7
host also runs v6 and v5 images; that fallback is used only when no exact entry exists.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from caisson import errors

_ARCH_ALIASES = {
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armhf": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armel": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "i386": ("386", ""),
    "i686": ("386", ""),
}


@dataclass(frozen=True)
class Platform:
    os: str = ""
    architecture: str = ""
    variant: str = ""

    def __str__(self) -> str:
        s = f"{self.os}/{self.architecture}"
        # arm64 has one variant, v8: Docker leaves it out of what it shows.
        if not self.variant or (self.architecture == "arm64" and self.variant == "v8"):
            return s
        return f"{s}/{self.variant}"


def normalize(p: Platform) -> Platform:
    os_ = (p.os or "linux").lower()
    arch, default_variant = _ARCH_ALIASES.get(p.architecture.lower(), (p.architecture.lower(), ""))
    variant = p.variant.lower() or default_variant
    if arch == "arm" and not variant:
        variant = "v7"
    if arch == "amd64" and variant == "v1":
        variant = ""
    if arch == "arm64" and variant in ("", "8"):
        variant = "v8"
    return Platform(os_, arch, variant)


def host() -> Platform:
    return normalize(Platform("linux", _platform.machine()))


def requested(os_: str, architecture: str, variant: str) -> Platform | None:
    """The platform a request asked for, or None for "the host's"."""
    if not (os_ or architecture or variant):
        return None
    if not architecture:
        architecture = host().architecture
    return normalize(Platform(os_ or "linux", architecture, variant))


def _candidates(want: Platform) -> list[Platform]:
    """Platforms `want` can run, best first."""
    out = [want]
    if want.architecture == "arm" and want.variant in ("v8", "v7", "v6", "v5"):
        order = ["v8", "v7", "v6", "v5"]
        out += [Platform(want.os, "arm", v) for v in order[order.index(want.variant) + 1 :]]
    return out


def from_descriptor(entry: dict[str, Any]) -> Platform | None:
    p = entry.get("platform")
    if not isinstance(p, dict):
        return None
    return normalize(
        Platform(
            str(p.get("os", "")), str(p.get("architecture", "")), str(p.get("variant", "") or "")
        )
    )


def select(entries: Sequence[dict[str, Any]], want: Platform) -> dict[str, Any]:
    """The index entry to pull for `want`: the first exact match, else the best compatible one.

    Raises NotFound with Docker's wording when no entry fits.
    """
    want = normalize(want)
    parsed = [(from_descriptor(e), e) for e in entries]
    for candidate in _candidates(want):
        for p, entry in parsed:
            if p == candidate:
                return entry
    raise errors.NotFound(f"no matching manifest for {want} in the manifest list entries")


def matches(actual: Platform, want: Platform) -> bool:
    return normalize(actual) in _candidates(normalize(want))
