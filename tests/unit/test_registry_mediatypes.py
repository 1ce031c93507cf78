"""Which manifests and layers a pull accepts."""

from __future__ import annotations

import pytest

from caisson import errors
from caisson.registry_proxy import mediatypes as mt

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"mediaType": mt.DOCKER_MANIFEST, "config": {}, "layers": []}, mt.DOCKER_MANIFEST),
        ({"mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": []}, mt.DOCKER_MANIFEST_LIST),
        ({"schemaVersion": 2, "config": {}, "layers": []}, mt.OCI_MANIFEST),
        ({"schemaVersion": 2, "manifests": []}, mt.OCI_INDEX),
    ],
)
def test_detect(doc: dict[str, object], expected: str) -> None:
    assert mt.detect("application/json", doc) == expected


def test_detect_falls_back_to_content_type() -> None:
    assert mt.detect(mt.OCI_MANIFEST + "; charset=utf-8", {"schemaVersion": 2}) == mt.OCI_MANIFEST


def test_schema1_is_refused_clearly() -> None:
    with pytest.raises(errors.InvalidArgument, match="schema 1"):
        mt.detect("", {"schemaVersion": 1, "fsLayers": []})


def test_unknown_manifest_type() -> None:
    with pytest.raises(errors.InvalidArgument, match="unsupported manifest media type"):
        mt.detect("", {"mediaType": "application/vnd.example+json"})


@pytest.mark.parametrize("media_type", mt.LAYERS)
def test_accepted_layers(media_type: str) -> None:
    mt.check_layer(D, media_type)


@pytest.mark.parametrize(
    "media_type",
    [mt.DOCKER_FOREIGN_LAYER, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"],
)
def test_foreign_layers_are_refused_clearly(media_type: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=f"layer {D} is a foreign"):
        mt.check_layer(D, media_type)


def test_unknown_layer_type() -> None:
    with pytest.raises(errors.InvalidArgument, match="unsupported media type 'text/plain'"):
        mt.check_layer(D, "text/plain")


def test_config_types() -> None:
    mt.check_config(mt.DOCKER_CONFIG)
    mt.check_config(mt.OCI_CONFIG)
    with pytest.raises(errors.InvalidArgument, match="not a container image"):
        mt.check_config("application/vnd.cncf.helm.config.v1+json")


def test_accept_header_lists_all_four() -> None:
    for t in (*mt.MANIFESTS, *mt.INDEXES):
        assert t in mt.MANIFEST_ACCEPT
