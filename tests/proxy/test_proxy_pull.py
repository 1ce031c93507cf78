"""Pulls from a real registry: tags, digests, schema2 and OCI, indexes, what is skipped."""

from __future__ import annotations

import os

import pytest

from caisson import errors
from caisson.content import ContentStore
from caisson.platforms import Platform
from caisson.registry_proxy.events import Done, Event, LayerProgress, LayerState, Resolved
from tests.support.client import RegistryClient
from tests.support.faults import FaultProxy
from tests.support.images import (
    Image,
    Layer,
    files_layer,
    foreign_layer,
    make_image,
    make_index,
    sha256_digest,
)
from tests.support.processes import free_port
from tests.support.registry import Registry

from .conftest import Pulls


def states(events: list[Event], digest: str) -> list[LayerState]:
    return [e.state for e in events if isinstance(e, LayerProgress) and e.digest == digest]


def check_stored(content: ContentStore, image: Image) -> None:
    for digest in [image.digest, image.id, *image.layer_digests]:
        assert content.exists(digest), digest
        assert sha256_digest(content.read(digest)) == digest
    assert os.listdir(content.ingest) == []


def two_layers(seed: str, flavour: str = "docker") -> list[Layer]:
    return [
        files_layer({"big": os.urandom(1_500_000)}, flavour),
        files_layer({"seed": seed.encode()}, flavour),
    ]


def test_pull_by_tag_schema2(
    registry: Registry, pusher: RegistryClient, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image(two_layers(repo_name)))
    events = pulls.run(f"{registry.host}/{repo_name}:v1")

    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.name == f"{registry.host}/{repo_name}"
    assert resolved.manifest.digest == image.digest
    assert resolved.manifest.media_type == image.manifest.media_type
    assert resolved.index is None
    assert resolved.config.digest == image.id
    assert [x.digest for x in resolved.layers] == image.layer_digests
    assert resolved.platform == Platform("linux", "amd64", "")
    assert isinstance(events[-1], Done) and events[-1].manifest == resolved.manifest
    for digest in image.layer_digests:
        seq = states(events, digest)
        assert seq[0] == LayerState.WAITING
        assert seq[1] == LayerState.DOWNLOADING
        assert seq[-2:] == [LayerState.VERIFYING, LayerState.DOWNLOADED]
        assert set(seq[1:-2]) == {LayerState.DOWNLOADING}
    big = [e for e in events if isinstance(e, LayerProgress) and e.digest == image.layer_digests[0]]
    assert big[-1].current == big[-1].total == resolved.layers[0].size
    currents = [e.current for e in big if e.state == LayerState.DOWNLOADING]
    assert currents == sorted(currents)
    check_stored(content, image)


def test_pull_by_digest_and_oci(
    registry: Registry, pusher: RegistryClient, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = pusher.push_image(repo_name, "oci", make_image(two_layers(repo_name, "oci"), "oci"))
    events = pulls.run(f"{registry.host}/{repo_name}@{image.digest}")
    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.manifest.digest == image.digest
    assert resolved.manifest.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert resolved.config.media_type == "application/vnd.oci.image.config.v1+json"
    check_stored(content, image)


def test_zstd_layers_are_pulled(
    registry: Registry, pusher: RegistryClient, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = make_image([files_layer({"z": b"z"}, "oci", "zstd")], "oci")
    pusher.push_image(repo_name, "z", image)
    pulls.run(f"{registry.host}/{repo_name}:z")
    check_stored(content, image)


def test_foreign_layer_is_refused_before_downloading(
    registry: Registry, pusher: RegistryClient, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = make_image([foreign_layer(files_layer({"w": b"w"}))])
    pusher.push_image(repo_name, "w", image)
    with pytest.raises(errors.InvalidArgument, match="foreign"):
        pulls.run(f"{registry.host}/{repo_name}:w")
    assert not content.exists(image.layer_digests[0])


@pytest.mark.parametrize("oci", [False, True])
def test_index_picks_the_platform(
    registry: Registry,
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    oci: bool,
) -> None:
    flavour = "oci" if oci else "docker"
    amd = make_image([files_layer({"arch": b"amd64"}, flavour)], flavour)
    arm = make_image([files_layer({"arch": b"arm64"}, flavour)], flavour, "arm64", "v8")
    index = pusher.push_index(repo_name, "multi", make_index([amd, arm], flavour))
    events = pulls.run(f"{registry.host}/{repo_name}:multi", platform=Platform("linux", "arm64"))
    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.index is not None and resolved.index.digest == index.digest
    assert resolved.manifest.digest == arm.digest
    assert resolved.platform == Platform("linux", "arm64", "v8")
    assert content.exists(index.digest)
    check_stored(content, arm)
    assert not content.exists(amd.layer_digests[0])

    # The host's platform by default (these tests run on amd64 or arm64 hosts).
    events = pulls.run(f"{registry.host}/{repo_name}@{index.digest}")
    host = events[0]
    assert isinstance(host, Resolved)
    assert host.manifest.digest in (amd.digest, arm.digest)

    with pytest.raises(errors.NotFound) as e:
        pulls.run(f"{registry.host}/{repo_name}:multi", platform=Platform("linux", "s390x"))
    assert str(e.value) == "no matching manifest for linux/s390x in the manifest list entries"


def test_single_manifest_of_another_platform_is_refused_when_asked(
    registry: Registry, pusher: RegistryClient, pulls: Pulls, repo_name: str
) -> None:
    pusher.push_image(
        repo_name, "arm", make_image([files_layer({"a": b"a"})], architecture="arm64")
    )
    with pytest.raises(errors.NotFound, match="does not match the specified platform"):
        pulls.run(f"{registry.host}/{repo_name}:arm", platform=Platform("linux", "amd64"))


def test_second_pull_sends_only_a_head(
    pusher: RegistryClient, pulls: Pulls, repo_name: str, faults: FaultProxy
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image(two_layers(repo_name)))
    puller = pulls.puller()
    pulls.run(f"{faults.host}/{repo_name}:v1", puller)
    faults.reset_records()
    events = pulls.run(f"{faults.host}/{repo_name}:v1", puller)
    assert [(r.method, r.path) for r in faults.records] == [
        ("HEAD", f"/v2/{repo_name}/manifests/v1")
    ]
    for digest in image.layer_digests:
        assert states(events, digest) == [LayerState.EXISTS]


def test_layers_already_stored_are_not_downloaded(
    pusher: RegistryClient, pulls: Pulls, repo_name: str, faults: FaultProxy
) -> None:
    base = files_layer({"base": os.urandom(100_000)})
    first = make_image([base, files_layer({"one": b"1"})])
    second = make_image([base, files_layer({"two": b"2"})])
    pusher.push_image(repo_name, "one", first)
    pusher.push_image(repo_name, "two", second)
    pulls.run(f"{faults.host}/{repo_name}:one")
    events = pulls.run(f"{faults.host}/{repo_name}:two")
    shared = first.layer_digests[0]
    assert second.layer_digests[0] == shared
    assert states(events, shared) == [LayerState.EXISTS]
    assert len(faults.blob_records(shared)) == 1
    assert states(events, second.layer_digests[1])[-1] == LayerState.DOWNLOADED


def test_unknown_tag_and_repository(
    registry: Registry, pusher: RegistryClient, pulls: Pulls, repo_name: str
) -> None:
    pusher.push_image(repo_name, "v1", make_image([files_layer({"a": b"a"})]))
    with pytest.raises(errors.NotFound) as e:
        pulls.run(f"{registry.host}/{repo_name}:nope")
    assert (
        str(e.value) == f"manifest for {registry.host}/{repo_name}:nope not found: manifest unknown"
    )
    with pytest.raises(errors.NotFound, match=f"manifest for {registry.host}/no/such:v1 not found"):
        pulls.run(f"{registry.host}/no/such:v1")
    missing = "sha256:" + "0" * 64
    with pytest.raises(errors.NotFound, match="manifest unknown"):
        pulls.run(f"{registry.host}/{repo_name}@{missing}")


def test_registry_down(pulls: Pulls) -> None:
    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{host}/x:v1")
    # docker's words (Go's net/http error) for the last attempt: https, then plain http.
    assert str(e.value) == f'Get "http://{host}/v2/": dial tcp {host}: connect: connection refused'


def test_docker_hub_names_go_to_the_mirror(
    registry: Registry, pusher: RegistryClient, pulls: Pulls, content: ContentStore
) -> None:
    image = make_image([files_layer({"m": b"m"})])
    pusher.push_image("library/mirrored", "latest", image)
    dead = f"http://127.0.0.1:{free_port()}"
    puller = pulls.puller(mirrors=[dead, registry.url])
    events = pulls.run("mirrored", puller)
    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.name == "docker.io/library/mirrored"
    check_stored(content, image)
