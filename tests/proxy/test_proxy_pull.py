"""Pulls from a real registry: tags, digests, schema2 and OCI, indexes, what is skipped."""

from __future__ import annotations

import os

import pytest

from caisson import errors
from caisson.content import ContentStore
from caisson.platforms import Platform
from caisson.registry_proxy.events import Done, Event, LayerProgress, LayerState, Resolved

from .conftest import Pulls
from .registry_env import Distribution, FaultProxy, Pushed, Pusher, layer, sha256

ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"


def states(events: list[Event], digest: str) -> list[LayerState]:
    return [e.state for e in events if isinstance(e, LayerProgress) and e.digest == digest]


def check_stored(content: ContentStore, image: Pushed) -> None:
    for digest in [image.digest, image.config, *image.layers]:
        assert content.exists(digest), digest
        assert sha256(content.read(digest)) == digest
    assert os.listdir(content.ingest) == []


def two_layers(seed: str) -> list[bytes]:
    return [layer({"big": os.urandom(1_500_000)}), layer({"seed": seed.encode()})]


def test_pull_by_tag_schema2(
    registry: Distribution, pusher: Pusher, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = pusher.image(repo_name, "v1", two_layers(repo_name))
    events = pulls.run(f"{registry.host}/{repo_name}:v1")

    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.name == f"{registry.host}/{repo_name}"
    assert resolved.manifest.digest == image.digest
    assert resolved.manifest.media_type == image.media_type
    assert resolved.index is None
    assert resolved.config.digest == image.config
    assert [x.digest for x in resolved.layers] == image.layers
    assert resolved.platform == Platform("linux", "amd64", "")
    assert isinstance(events[-1], Done) and events[-1].manifest == resolved.manifest
    for digest in image.layers:
        seq = states(events, digest)
        assert seq[0] == LayerState.WAITING
        assert seq[1] == LayerState.DOWNLOADING
        assert seq[-2:] == [LayerState.VERIFYING, LayerState.DOWNLOADED]
        assert set(seq[1:-2]) == {LayerState.DOWNLOADING}
    big = [e for e in events if isinstance(e, LayerProgress) and e.digest == image.layers[0]]
    assert big[-1].current == big[-1].total == resolved.layers[0].size
    currents = [e.current for e in big if e.state == LayerState.DOWNLOADING]
    assert currents == sorted(currents)
    check_stored(content, image)


def test_pull_by_digest_and_oci(
    registry: Distribution, pusher: Pusher, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = pusher.image(repo_name, "oci", two_layers(repo_name), oci=True)
    events = pulls.run(f"{registry.host}/{repo_name}@{image.digest}")
    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.manifest.digest == image.digest
    assert resolved.manifest.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert resolved.config.media_type == "application/vnd.oci.image.config.v1+json"
    check_stored(content, image)


def test_zstd_layers_are_pulled(
    registry: Distribution, pusher: Pusher, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = pusher.image(repo_name, "z", [layer({"z": b"z"})], oci=True, layer_types=[ZSTD_LAYER])
    pulls.run(f"{registry.host}/{repo_name}:z")
    check_stored(content, image)


def test_foreign_layer_is_refused_before_downloading(
    registry: Distribution, pusher: Pusher, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    foreign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    image = pusher.image(repo_name, "w", [layer({"w": b"w"})], layer_types=[foreign])
    with pytest.raises(errors.InvalidArgument, match="foreign"):
        pulls.run(f"{registry.host}/{repo_name}:w")
    assert not content.exists(image.layers[0])


@pytest.mark.parametrize("oci", [False, True])
def test_index_picks_the_platform(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    oci: bool,
) -> None:
    amd = pusher.image(repo_name, "amd", [layer({"arch": b"amd64"})], oci=oci)
    arm = pusher.image(repo_name, "arm", [layer({"arch": b"arm64"})], oci=oci, arch="arm64")
    index = pusher.index(
        repo_name,
        "multi",
        [
            (amd, {"os": "linux", "architecture": "amd64"}),
            (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ],
        oci=oci,
    )
    events = pulls.run(f"{registry.host}/{repo_name}:multi", platform=Platform("linux", "arm64"))
    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.index is not None and resolved.index.digest == index.digest
    assert resolved.manifest.digest == arm.digest
    assert resolved.platform == Platform("linux", "arm64", "v8")
    assert content.exists(index.digest)
    check_stored(content, arm)
    assert not content.exists(amd.layers[0])

    # The host's platform by default (these tests run on amd64 or arm64 hosts).
    events = pulls.run(f"{registry.host}/{repo_name}@{index.digest}")
    host = events[0]
    assert isinstance(host, Resolved)
    assert host.manifest.digest in (amd.digest, arm.digest)

    with pytest.raises(errors.NotFound) as e:
        pulls.run(f"{registry.host}/{repo_name}:multi", platform=Platform("linux", "s390x"))
    assert str(e.value) == "no matching manifest for linux/s390x in the manifest list entries"


def test_single_manifest_of_another_platform_is_refused_when_asked(
    registry: Distribution, pusher: Pusher, pulls: Pulls, repo_name: str
) -> None:
    pusher.image(repo_name, "arm", [layer({"a": b"a"})], arch="arm64")
    with pytest.raises(errors.NotFound, match="does not match the specified platform"):
        pulls.run(f"{registry.host}/{repo_name}:arm", platform=Platform("linux", "amd64"))


def test_second_pull_sends_only_a_head(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    repo_name: str,
    fault_proxy: type[FaultProxy],
) -> None:
    image = pusher.image(repo_name, "v1", two_layers(repo_name))
    proxy = fault_proxy(registry.url)
    puller = pulls.puller()
    pulls.run(f"{proxy.host}/{repo_name}:v1", puller)
    proxy.seen.clear()
    events = pulls.run(f"{proxy.host}/{repo_name}:v1", puller)
    assert [(r.method, r.path) for r in proxy.seen] == [("HEAD", f"/v2/{repo_name}/manifests/v1")]
    for digest in image.layers:
        assert states(events, digest) == [LayerState.EXISTS]


def test_layers_already_stored_are_not_downloaded(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    repo_name: str,
    fault_proxy: type[FaultProxy],
) -> None:
    base = layer({"base": os.urandom(100_000)})
    first = pusher.image(repo_name, "one", [base, layer({"one": b"1"})])
    second = pusher.image(repo_name, "two", [base, layer({"two": b"2"})])
    proxy = fault_proxy(registry.url)
    pulls.run(f"{proxy.host}/{repo_name}:one")
    events = pulls.run(f"{proxy.host}/{repo_name}:two")
    shared = first.layers[0]
    assert second.layers[0] == shared
    assert states(events, shared) == [LayerState.EXISTS]
    assert len(proxy.gets(shared)) == 1
    assert states(events, second.layers[1])[-1] == LayerState.DOWNLOADED


def test_unknown_tag_and_repository(
    registry: Distribution, pusher: Pusher, pulls: Pulls, repo_name: str
) -> None:
    pusher.image(repo_name, "v1", [layer({"a": b"a"})])
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
    from .registry_env import free_port

    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{host}/x:v1")
    assert str(e.value) == f"registry {host} is unreachable: connection refused"


def test_docker_hub_names_go_to_the_mirror(
    registry: Distribution, pusher: Pusher, pulls: Pulls, content: ContentStore
) -> None:
    from .registry_env import free_port

    image = pusher.image("library/mirrored", "latest", [layer({"m": b"m"})])
    dead = f"http://127.0.0.1:{free_port()}"
    puller = pulls.puller(mirrors=[dead, registry.url])
    events = pulls.run("mirrored", puller)
    resolved = events[0]
    assert isinstance(resolved, Resolved)
    assert resolved.name == "docker.io/library/mirrored"
    check_stored(content, image)
