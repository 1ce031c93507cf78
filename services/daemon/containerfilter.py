"""docker's `ps` listing: `--all`, `-n`, and `--filter` as docker 20.10's daemon/list.go.

Different keys must all match; several values of one key match when any does, except
`label`, where every value must match (docker's MatchKVList). `name`, `id` and `status` are
unanchored regular expressions (docker's Args.Match). `before` and `since` cut the listing,
newest first, at a container.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from caisson import errors
from caisson.daemon.containerrecord import STATUSES, ContainerRecord
from caisson.daemon.filters import split
from caisson.daemon.store import ImageRecord

KEYS = (
    "ancestor", "before", "exited", "health", "id", "label", "name", "status", "since",
    "volume", "network", "publish", "expose", "is-task",
)  # fmt: skip
_HEALTH = ("starting", "healthy", "unhealthy", "none")


@dataclass
class Listing:
    """A parsed `ps` request."""

    all: bool = False
    limit: int = 0
    by_key: dict[str, list[str]] = field(default_factory=dict)
    exited: list[int] = field(default_factory=list)
    before: str = ""
    since: str = ""
    # The image ids `ancestor` accepts; None when no ancestor filter was given.
    images: set[str] | None = None
    is_task: bool | None = None


def parse(
    filters: Sequence[str],
    *,
    all_: bool = False,
    limit: int = 0,
    resolve_container: Callable[[str], ContainerRecord],
    resolve_image: Callable[[str], str],
) -> Listing:
    """Checks the filters with docker's messages. `resolve_container` finds a container by
    name, id or prefix (NotFound otherwise); `resolve_image` an image id by reference or id
    (NotFound otherwise)."""
    for f in filters:
        key = f.partition("=")[0]
        if key not in KEYS:
            raise errors.InvalidArgument(f"Invalid filter '{key}'")
    by_key = split(filters, KEYS)
    out = Listing(all=all_, limit=limit, by_key=by_key)
    for value in by_key.get("exited", []):
        if not re.fullmatch(r"[+-]?\d+", value):
            raise errors.InvalidArgument(f'strconv.Atoi: parsing "{value}": invalid syntax')
        out.exited.append(int(value))
    for value in by_key.get("status", []):
        if value not in STATUSES:
            raise errors.InvalidArgument(f"Invalid filter 'status={value}'")
        out.all = True
    if "is-task" in by_key:
        values = by_key["is-task"]
        if values == ["true"] or values == ["false"]:
            out.is_task = values[0] == "true"
        else:
            raise errors.InvalidArgument(f"Invalid filter 'is-task=[{' '.join(values)}]'")
    for value in by_key.get("health", []):
        if value not in _HEALTH:
            raise errors.InvalidArgument(f"Invalid filter 'health={value}'")
    for value in by_key.get("expose", []):
        _port_range(value)
    for value in by_key.get("before", []):
        out.before = resolve_container(value).id
    for value in by_key.get("since", []):
        out.since = resolve_container(value).id
    if "ancestor" in by_key:
        out.images = set()
        for value in by_key["ancestor"]:
            try:
                out.images.add(resolve_image(value))
            except errors.NotFound:
                continue  # docker logs it and filters on the other images
    return out


class ImageResolver(Protocol):
    def resolve(self, text: str) -> ImageRecord: ...


def select(
    records: Sequence[ContainerRecord],
    filters: Sequence[str],
    all_: bool,
    images: ImageResolver,
    limit: int = 0,
) -> list[ContainerRecord]:
    """`ps [-a] [-n N] [--filter ...]` over the records, newest first."""
    listing = parse(
        filters,
        all_=all_,
        limit=limit,
        resolve_container=lambda text: find(records, text),
        resolve_image=lambda text: images.resolve(text).id,
    )
    return apply(listing, records)


def find(records: Sequence[ContainerRecord], text: str) -> ContainerRecord:
    """A container by full id, name or unique id prefix (docker's view.Get)."""
    for r in records:
        if r.id == text or r.name == text.removeprefix("/"):
            return r
    hits = [r for r in records if text and r.id.startswith(text)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise errors.InvalidArgument(f"multiple IDs found with provided prefix: {text}")
    raise errors.NotFound(f"No such container: {text}")


def apply(listing: Listing, records: Sequence[ContainerRecord]) -> list[ContainerRecord]:
    """The containers `ps` shows, newest first."""
    ordered = sorted(records, key=lambda r: r.created, reverse=True)
    before = listing.before
    out: list[ContainerRecord] = []
    for rec in ordered:
        if before:
            if rec.id == before:
                before = ""
            continue
        if listing.since and rec.id == listing.since:
            break
        if not rec.state.running and not listing.all and listing.limit <= 0:
            continue
        if listing.limit > 0 and len(out) == listing.limit:
            break
        if _matches(listing, rec):
            out.append(rec)
    return out


def _search(patterns: list[str] | None, *candidates: str) -> bool:
    """docker's Args.Match: no values match everything; a value matches exactly or as an
    unanchored regular expression (an invalid one matches nothing)."""
    if not patterns:
        return True
    for p in patterns:
        for c in candidates:
            if p == c:
                return True
            try:
                if re.search(p, c):
                    return True
            except re.error:
                continue
    return False


def _labels_match(wanted: list[str] | None, labels: dict[str, str]) -> bool:
    if not wanted:
        return True
    for spec in wanted:
        key, sep, value = spec.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _matches(listing: Listing, rec: ContainerRecord) -> bool:
    f = listing.by_key
    st = rec.state
    checks = (
        _search(f.get("name"), "/" + rec.name, rec.name),
        _search(f.get("id"), rec.id),
        listing.is_task is not True,  # no swarm tasks here
        _labels_match(f.get("label"), dict(rec.config.labels)),
        not listing.exited
        or (not st.running and bool(st.started_at) and st.exit_code in listing.exited),
        _search(f.get("status"), st.status),
        # No health checks yet: every container's health is "none".
        not f.get("health") or "none" in f["health"],
        _volume_match(f.get("volume"), rec),
        listing.images is None or rec.image_id in listing.images,
        _search(f.get("network"), rec.host_config.network_mode or "none"),
        not f.get("publish"),  # nothing is published until the networking issue
        _expose_match(f.get("expose"), list(rec.config.exposed_ports)),
    )
    return all(checks)


def _volume_match(values: list[str] | None, rec: ContainerRecord) -> bool:
    if not values:
        return True
    keys = {m.destination for m in rec.mounts} | {m.name or m.source for m in rec.mounts}
    return any(v in keys for v in values)


def _expose_match(values: list[str] | None, exposed: list[str]) -> bool:
    """`expose=PORT[/PROTO]` or a range `START-END[/PROTO]` (tcp when no protocol)."""
    if not values:
        return True
    ports = set()
    for p in exposed:
        number, _, proto = p.partition("/")
        if number.isdigit():
            ports.add((int(number), proto or "tcp"))
    for v in values:
        lo, hi, proto = _port_range(v)
        if any((port, proto) in ports for port in range(lo, hi + 1)):
            return True
    return False


def _port_range(value: str) -> tuple[int, int, str]:
    spec, _, proto = value.partition("/")
    lo, _, hi = spec.partition("-")
    if not lo.isdigit() or (hi and not hi.isdigit()):
        raise errors.InvalidArgument(f"Invalid filter 'expose={value}'")
    return int(lo), int(hi or lo), proto or "tcp"
