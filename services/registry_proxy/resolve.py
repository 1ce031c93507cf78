"""Reference -> platform manifest -> config: the small documents of a pull, all verified and
stored before any layer is downloaded.

For a tag, a HEAD asks for the digest first: when that manifest is already in the content store
nothing else is fetched (Docker Hub counts GETs, not HEADs, against its rate limit). Anything
fetched by digest is checked against it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from caisson import errors, platforms
from caisson.content import ContentStore
from caisson.platforms import Platform
from caisson.reference import Reference, is_sha256
from caisson.registry_proxy import mediatypes
from caisson.registry_proxy.distribution import Repository
from caisson.registry_proxy.events import Descriptor, Resolved

MAX_CONFIG = 32 * 1024 * 1024


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidArgument(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"{what} is not a JSON object")
    return doc


def parse_descriptor(obj: Any, what: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise errors.InvalidArgument(f"invalid {what}: not an object")
    media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
    if not isinstance(digest, str) or not digest:
        raise errors.InvalidArgument(f"invalid {what}: no digest")
    if not is_sha256(digest):
        raise errors.InvalidArgument(f"invalid {what}: unsupported digest {digest!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise errors.InvalidArgument(f"invalid {what} {digest}: bad size {size!r}")
    if not isinstance(media_type, str):
        media_type = ""
    return Descriptor(media_type, digest, size)


class Resolver:
    def __init__(self, content: ContentStore) -> None:
        self.content = content

    def resolve(self, repo: Repository, ref: Reference, want: Platform | None) -> Resolved:
        subject = str(ref)
        if ref.digest:
            top = self._by_digest(repo, ref.digest, None, subject)
            top_digest = ref.digest
        else:
            top, top_digest = self._by_tag(repo, ref.tag, subject)
        doc = parse_json(top, f"manifest for {subject}")
        media_type = mediatypes.detect("", doc)

        index: Descriptor | None = None
        entry_platform: Platform | None = None
        if mediatypes.is_index(media_type):
            index = Descriptor(media_type, top_digest, len(top))
            entries = doc.get("manifests")
            if not isinstance(entries, list):
                raise errors.InvalidArgument(f"invalid manifest list for {subject}: no manifests")
            entry = platforms.select(
                [e for e in entries if isinstance(e, dict)], want or platforms.host()
            )
            manifest = parse_descriptor(entry, f"manifest list entry of {subject}")
            raw = entry.get("platform") or {}
            entry_platform = Platform(
                str(raw.get("os", "")),
                str(raw.get("architecture", "")),
                str(raw.get("variant", "") or ""),
            )
            body = self._by_digest(repo, manifest.digest, manifest.size, subject)
            doc = parse_json(body, f"manifest {manifest.digest}")
            actual_type = mediatypes.detect(manifest.media_type, doc)
            if not mediatypes.is_manifest(actual_type):
                raise errors.InvalidArgument(
                    f"manifest list of {subject} points at another list ({manifest.digest}); "
                    "nested lists are not supported"
                )
            manifest = Descriptor(actual_type, manifest.digest, manifest.size)
        else:
            manifest = Descriptor(media_type, top_digest, len(top))

        config = parse_descriptor(doc.get("config"), f"config of {manifest.digest}")
        mediatypes.check_config(config.media_type)
        raw_layers = doc.get("layers")
        if not isinstance(raw_layers, list):
            raise errors.InvalidArgument(f"invalid manifest {manifest.digest}: no layers")
        layers = [parse_descriptor(x, f"layer of {manifest.digest}") for x in raw_layers]
        for layer in layers:
            mediatypes.check_layer(layer.digest, layer.media_type)

        config_doc = parse_json(self._config(repo, config), f"config {config.digest}")
        image_platform = Platform(
            str(config_doc.get("os", "")),
            str(config_doc.get("architecture", "")),
            str(config_doc.get("variant", "") or ""),
        )
        if (
            entry_platform is None
            and want is not None
            and not platforms.matches(image_platform, want)
        ):
            raise errors.NotFound(
                f"image with reference {subject} was found but does not match the specified "
                f"platform: wanted {want}, actual: {platforms.normalize(image_platform)}"
            )
        return Resolved(
            name=ref.name,
            manifest=manifest,
            index=index,
            config=config,
            layers=layers,
            platform=entry_platform or image_platform,
        )

    def _by_tag(self, repo: Repository, tag: str, subject: str) -> tuple[bytes, str]:
        announced = repo.head_manifest(tag)
        if announced and is_sha256(announced) and self.content.exists(announced):
            return self.content.read(announced), announced
        body, _ = repo.get_manifest(tag, subject)
        digest = sha256_digest(body)
        if announced and is_sha256(announced) and announced != digest:
            raise errors.DataLoss(
                f"manifest digest mismatch for {subject}: registry announced {announced}, "
                f"got {digest}"
            )
        self.content.write(digest, body)
        return body, digest

    def _by_digest(self, repo: Repository, digest: str, size: int | None, subject: str) -> bytes:
        if self.content.exists(digest):
            return self.content.read(digest)
        body, _ = repo.get_manifest(digest, subject)
        actual = sha256_digest(body)
        if actual != digest:
            raise errors.DataLoss(
                f"digest mismatch for manifest {digest}: expected {digest}, got {actual}"
            )
        if size is not None and len(body) != size:
            raise errors.DataLoss(
                f"size mismatch for manifest {digest}: expected {size} bytes, got {len(body)}"
            )
        self.content.write(digest, body)
        return body

    def _config(self, repo: Repository, config: Descriptor) -> bytes:
        if self.content.exists(config.digest):
            return self.content.read(config.digest)
        if config.size > MAX_CONFIG:
            raise errors.InvalidArgument(
                f"config {config.digest} is {config.size} bytes, more than the "
                f"{MAX_CONFIG // (1024 * 1024)} MiB allowed"
            )
        data = repo.get_blob(config.digest, config.size)
        actual = sha256_digest(data)
        if actual != config.digest:
            raise errors.DataLoss(
                f"digest mismatch for config {config.digest}: expected {config.digest}, "
                f"got {actual}"
            )
        if len(data) != config.size:
            raise errors.DataLoss(
                f"size mismatch for config {config.digest}: expected {config.size} bytes, "
                f"got {len(data)}"
            )
        self.content.write(config.digest, data)
        return data
