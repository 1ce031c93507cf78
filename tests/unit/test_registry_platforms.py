"""Platform normalisation and choosing a manifest from an index."""

from __future__ import annotations

from typing import Any

import pytest

from caisson import errors, platforms
from caisson.platforms import Platform


def entry(digest: str, arch: str, variant: str = "", os_: str = "linux") -> dict[str, Any]:
    p = {"os": os_, "architecture": arch}
    if variant:
        p["variant"] = variant
    return {"digest": digest, "platform": p}


INDEX = [
    entry("amd", "amd64"),
    entry("arm6", "arm", "v6"),
    entry("arm7", "arm", "v7"),
    entry("arm64", "arm64", "v8"),
    entry("win", "amd64", os_="windows"),
    {"digest": "attestation", "platform": {"os": "unknown", "architecture": "unknown"}},
]


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", Platform("linux", "amd64", "")),
        ("aarch64", Platform("linux", "arm64", "v8")),
        ("armv7l", Platform("linux", "arm", "v7")),
        ("armv6l", Platform("linux", "arm", "v6")),
        ("ppc64le", Platform("linux", "ppc64le", "")),
    ],
)
def test_host_platform(monkeypatch: pytest.MonkeyPatch, machine: str, expected: Platform) -> None:
    monkeypatch.setattr(platforms._platform, "machine", lambda: machine)
    assert platforms.host() == expected


def test_normalize() -> None:
    assert platforms.normalize(Platform("", "arm64", "")) == Platform("linux", "arm64", "v8")
    assert platforms.normalize(Platform("linux", "arm", "")) == Platform("linux", "arm", "v7")
    assert platforms.normalize(Platform("Linux", "x86_64", "v1")) == Platform("linux", "amd64")


def test_display() -> None:
    assert str(Platform("linux", "arm64", "v8")) == "linux/arm64"
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"


@pytest.mark.parametrize(
    ("want", "digest"),
    [
        (Platform("linux", "amd64"), "amd"),
        (Platform("linux", "arm64"), "arm64"),
        (Platform("linux", "arm64", "v8"), "arm64"),
        (Platform("linux", "arm"), "arm7"),
        (Platform("linux", "arm", "v6"), "arm6"),
        (Platform("windows", "amd64"), "win"),
    ],
)
def test_select(want: Platform, digest: str) -> None:
    assert platforms.select(INDEX, want)["digest"] == digest


def test_arm64_entry_without_variant_matches() -> None:
    index = [entry("a", "arm64")]
    assert platforms.select(index, Platform("linux", "arm64", "v8"))["digest"] == "a"


def test_older_arm_variant_is_a_fallback_only() -> None:
    index = [entry("v5", "arm", "v5"), entry("v6", "arm", "v6")]
    assert platforms.select(index, Platform("linux", "arm", "v7"))["digest"] == "v6"


def test_no_match_uses_dockers_words() -> None:
    with pytest.raises(errors.NotFound) as e:
        platforms.select([entry("amd", "amd64")], Platform("linux", "arm64"))
    assert str(e.value) == "no matching manifest for linux/arm64 in the manifest list entries"
    with pytest.raises(errors.NotFound, match="linux/s390x"):
        platforms.select(INDEX, Platform("linux", "s390x"))


def test_requested() -> None:
    assert platforms.requested("", "", "") is None
    assert platforms.requested("linux", "arm64", "") == Platform("linux", "arm64", "v8")
    assert platforms.requested("", "aarch64", "") == Platform("linux", "arm64", "v8")


def test_matches() -> None:
    assert platforms.matches(Platform("linux", "amd64"), Platform("linux", "x86_64"))
    assert not platforms.matches(Platform("linux", "amd64"), Platform("linux", "arm64"))
