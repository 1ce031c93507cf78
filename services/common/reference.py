"""Image references as Docker normalises them.

`busybox` -> `docker.io/library/busybox:latest`; `host:5000/a/b@sha256:...`. The grammar is
distribution's reference package: a domain is the first component when it has a dot or a
colon, or is `localhost`; path components are lowercase alphanumerics with separators.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from caisson.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
# Where Docker Hub's API really is.
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
    r"(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")
_ID = re.compile(r"^[a-f0-9]{64}$")


class Reference(NamedTuple):
    domain: str
    path: str  # "library/busybox"
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """docker.io/library/busybox"""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """busybox, user/app, host:5000/app: what `docker images` shows as REPOSITORY."""
        if self.domain == DEFAULT_DOMAIN:
            p = self.path
            return p[len(OFFICIAL_PREFIX) :] if p.startswith(OFFICIAL_PREFIX) else p
        return self.name

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.domain == DEFAULT_DOMAIN else self.domain

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag=tag)

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s

    def familiar(self) -> str:
        s = self.familiar_name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parses and normalises a reference; raises InvalidArgument with docker's wording."""
    original = text
    if not text or text != text.strip():
        raise InvalidArgument(f"invalid reference format: {original!r}")
    if _ID.match(text):
        raise InvalidArgument(
            f"invalid repository name ({original}), cannot specify 64-byte hexadecimal strings"
        )
    digest = ""
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidArgument(f"invalid reference format: {original!r}: bad digest")
        if digest.startswith("sha256:") and not _SHA256.match(digest):
            raise InvalidArgument(f"invalid reference format: {original!r}: bad sha256 digest")
    tag = ""
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid reference format: {original!r}: bad tag {tag!r}")
    if not text:
        raise InvalidArgument(f"invalid reference format: {original!r}")
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        domain, path = first, rest
        if not _DOMAIN.match(domain):
            raise InvalidArgument(f"invalid reference format: {original!r}: bad domain {domain!r}")
    else:
        domain, path = DEFAULT_DOMAIN, text
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if any(c.isupper() for c in path):
        # docker 20.10's wording (the oracle's); 23+ adds the name in parentheses
        raise InvalidArgument("invalid reference format: repository name must be lowercase")
    components = path.split("/")
    if not all(_COMPONENT.match(c) for c in components):
        raise InvalidArgument(f"invalid reference format: {original!r}")
    if domain == DEFAULT_DOMAIN and len(components) == 1:
        path = OFFICIAL_PREFIX + path
    if len(domain) + 1 + len(path) > 255:
        raise InvalidArgument(f"invalid reference format: {original!r}: name too long")
    if not tag and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag=tag, digest=digest)


def from_name(name: str, tag: str = "", digest: str = "") -> Reference:
    """The reference for a stored normalised name ("docker.io/library/busybox")."""
    domain, _, path = name.partition("/")
    return Reference(domain, path, tag=tag, digest=digest)


def is_sha256(text: str) -> bool:
    return bool(_SHA256.match(text))
