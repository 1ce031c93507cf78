"""Docker-shaped documents for images: `image inspect` and `history`, from the stored record
and the image's config blob."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caisson.daemon.store import ImageRecord
from caisson.reference import from_name

# Docker fills these in every image's Config, whatever the config blob holds.
_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


def config_section(config: dict[str, Any]) -> dict[str, Any]:
    section = dict(_CONFIG_DEFAULTS)
    section.update(config.get("config") or {})
    return section


def inspect(img: ImageRecord, config: dict[str, Any]) -> dict[str, Any]:
    # Sorted as strings, as docker lists them.
    repo_tags = sorted(from_name(name, tag=tag).familiar() for name, tag in img.tags)
    repo_digests = sorted(from_name(name, digest=d).familiar() for name, d in img.digests)
    doc: dict[str, Any] = {
        "Id": img.id,
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": _history_comment(config),
        "Created": config.get("created", ""),
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": config_section(config),
        "Architecture": config.get("architecture", img.architecture),
        "Os": config.get("os", img.os),
        "Size": img.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {"ChainIDs": " ".join(layer.chain_id for layer in img.layers)},
        },
        "RootFS": {"Type": "layers", "Layers": list(config.get("rootfs", {}).get("diff_ids", []))},
        "Metadata": {"LastTagTime": _rfc3339(img.last_tag_time) if img.last_tag_time else ""},
    }
    variant = config.get("variant", img.variant)
    if variant:
        doc["Variant"] = variant
    return doc


def _history_comment(config: dict[str, Any]) -> str:
    history = config.get("history") or []
    return history[-1].get("comment", "") if history else ""


def _rfc3339(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class HistoryEntry:
    id: str
    created: str
    created_by: str
    size: int
    comment: str
    empty_layer: bool


def history(img: ImageRecord, config: dict[str, Any]) -> list[HistoryEntry]:
    """Newest first, like `docker history`; layer sizes matched to non-empty entries in order."""
    sizes = [layer.unpacked_size for layer in img.layers]
    entries: list[HistoryEntry] = []
    layer_index = 0
    for h in config.get("history") or []:
        empty = bool(h.get("empty_layer"))
        size = 0
        if not empty and layer_index < len(sizes):
            size = sizes[layer_index]
            layer_index += 1
        entries.append(
            HistoryEntry(
                id="<missing>",
                created=h.get("created", ""),
                created_by=h.get("created_by", ""),
                size=size,
                comment=h.get("comment", ""),
                empty_layer=empty,
            )
        )
    if not entries:
        # An image without history: one entry per layer, as docker shows.
        entries = [
            HistoryEntry("<missing>", config.get("created", ""), "", s, "", False) for s in sizes
        ]
    entries.reverse()
    if entries:
        entries[0].id = img.id
    return entries
