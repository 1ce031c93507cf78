"""docker's `images --filter` as a predicate over image records.

Different keys must all match; several values of one key match when any does (docker's rule).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable
from typing import Any

from caisson import errors
from caisson.daemon.filters import split
from caisson.daemon.store import ImageRecord
from caisson.reference import from_name

KEYS = ("dangling", "reference", "label", "before", "since")

Predicate = Callable[[ImageRecord], bool]


def parse(
    filters: list[str],
    config: Callable[[ImageRecord], dict[str, Any]],
    resolve: Callable[[str], ImageRecord],
) -> Predicate:
    by_key = split(filters, KEYS)
    tests: list[Predicate] = []
    for key, values in by_key.items():
        if key == "dangling":
            bad = [v for v in values if v.lower() not in ("true", "false", "1", "0")]
            if bad:
                raise errors.InvalidArgument(
                    f"invalid filter 'dangling={bad[0]}': use true or false"
                )
            want = {v.lower() in ("true", "1") for v in values}
            tests.append(lambda img, want=want: (not img.tags) in want)
        elif key == "reference":
            tests.append(lambda img, pats=values: narrow(img, pats) is not None)
        elif key == "label":
            tests.append(lambda img, ls=values: any(_has_label(config(img), lbl) for lbl in ls))
        else:
            created = {v: _created(resolve(v)) for v in values}
            if key == "before":
                tests.append(lambda img, c=created: any(_created(img) < t for t in c.values()))
            else:
                tests.append(lambda img, c=created: any(_created(img) > t for t in c.values()))
    return lambda img: all(t(img) for t in tests)


def narrow(img: ImageRecord, patterns: list[str]) -> ImageRecord | None:
    """The image with only the tags and digests some pattern matches (None if none does), as
    docker shows `images REPO[:TAG]`: a pattern matches a reference's familiar string or its
    familiar name, with path.Match globbing (`*` does not cross `/`)."""
    regexes = [_glob(p) for p in patterns]

    def hit(*candidates: str) -> bool:
        return any(r.fullmatch(c) for r in regexes for c in candidates)

    tags = [(n, t) for n, t in img.tags if hit(from_name(n, tag=t).familiar(), _familiar(n))]
    digests = [
        (n, d) for n, d in img.digests if hit(from_name(n, digest=d).familiar(), _familiar(n))
    ]
    if not tags and not digests:
        return None
    return dataclasses.replace(img, tags=tags, digests=digests)


def _familiar(name: str) -> str:
    return from_name(name).familiar_name


def _glob(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in pattern[i + 1 :]:
            j = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : j] + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _has_label(config: dict[str, Any], label: str) -> bool:
    labels = (config.get("config") or {}).get("Labels") or {}
    key, sep, value = label.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _created(img: ImageRecord) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(img.created.replace("Z", "+00:00"))
    except ValueError:
        return datetime.datetime.fromtimestamp(img.pulled_at, datetime.UTC)
