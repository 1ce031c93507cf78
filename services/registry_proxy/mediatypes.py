"""Media types of the Docker schema2 and OCI image formats, and what the pull does with each."""

from __future__ import annotations

from caisson import errors

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDIST_PREFIX = "application/vnd.oci.image.layer.nondistributable."

MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
CONFIGS = (DOCKER_CONFIG, OCI_CONFIG)
LAYERS = (DOCKER_LAYER, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD)

# What we send as Accept for manifests, most specific first. Schema 1 is left out on purpose:
# registries then convert or refuse, and we refuse schema 1 with a clear error either way.
MANIFEST_ACCEPT = ", ".join((*MANIFESTS, *INDEXES))


def is_index(media_type: str) -> bool:
    return media_type in INDEXES


def is_manifest(media_type: str) -> bool:
    return media_type in MANIFESTS


def detect(content_type: str, doc: dict[str, object]) -> str:
    """The media type of a fetched manifest document.

    The document's own `mediaType` wins; OCI made it optional, so without it the shape decides
    (an index has `manifests`, a manifest has `config`). The HTTP Content-Type is the last
    resort: registries sometimes send `application/json` or worse.
    """
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        media_type = declared
    elif "manifests" in doc:
        media_type = OCI_INDEX
    elif "config" in doc and "layers" in doc:
        media_type = OCI_MANIFEST
    else:
        media_type = content_type.split(";", 1)[0].strip()
    if media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED) or doc.get("schemaVersion") == 1:
        raise errors.InvalidArgument(
            "image uses a Docker schema 1 manifest, which is deprecated and not supported; "
            "push it again with a current client"
        )
    if media_type not in MANIFESTS and media_type not in INDEXES:
        raise errors.InvalidArgument(f"unsupported manifest media type {media_type!r}")
    return media_type


def check_config(media_type: str) -> None:
    if media_type not in CONFIGS:
        raise errors.InvalidArgument(
            f"unsupported config media type {media_type!r}: not a container image"
        )


def check_layer(digest: str, media_type: str) -> None:
    """Refuses layers this engine cannot pull or unpack, before any byte is downloaded."""
    if media_type in LAYERS:
        return
    if media_type == DOCKER_FOREIGN_LAYER or media_type.startswith(OCI_NONDIST_PREFIX):
        raise errors.InvalidArgument(
            f"layer {digest} is a foreign (non-distributable) layer ({media_type}); "
            "such layers are Windows base layers and are not supported"
        )
    raise errors.InvalidArgument(f"layer {digest} has unsupported media type {media_type!r}")
