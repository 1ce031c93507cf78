"""`caisson pull` end to end: CLI -> daemon -> registry proxy -> executor against a real
registry, then `caisson images`, `image inspect` and `rmi` on what was pulled."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.support import images
from tests.support.catalog import Catalog
from tests.support.expect import fails, host_arch, inspect, last_line, ok, parse_size, table
from tests.support.processes import wait_for
from tests.support.registry import Registry
from tests.support.services import Daemon

pytestmark = pytest.mark.integration


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def assert_size_plausible(size: int, image: images.Image) -> None:
    """Docker's SIZE is the unpacked size: about the files' bytes, at most the tars' bytes."""
    low = min(image.files_size, image.compressed_size) * 0.9
    high = image.tar_size * 1.1
    assert low <= size <= high, f"size {size} not within [{low:.0f}, {high:.0f}]"


def test_pull_prints_the_digest_and_the_full_reference(daemon: Daemon, catalog: Catalog) -> None:
    image = catalog.images["test/busybox"]
    ref = catalog.ref("test/busybox")
    r = ok(daemon.cli("pull", ref))
    assert f"Digest: {image.digest}" in r.out.splitlines(), r
    assert last_line(r.out) == ref, r
    # Every blob of the image is in the content store, and the layer is unpacked.
    for blob in image.blobs():
        assert os.path.exists(daemon.blob_path(blob.digest)), blob
    assert os.path.isdir(daemon.snapshot_fs(image.chain_ids[0]))


def test_pull_quiet_prints_only_the_reference(daemon: Daemon, catalog: Catalog) -> None:
    ref = catalog.ref("test/busybox")
    r = ok(daemon.cli("pull", "-q", ref))
    assert r.out.strip() == ref, r


def test_images_lists_the_pulled_image(daemon: Daemon, catalog: Catalog) -> None:
    image = catalog.images["test/busybox"]
    ok(daemon.cli("pull", catalog.ref("test/busybox")))

    rows = table(ok(daemon.cli("images")).out)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["REPOSITORY"] == f"{catalog.host}/test/busybox"
    assert row["TAG"] == "latest"
    assert row["IMAGE ID"] == images.hex_of(image.id)[:12]
    assert_size_plausible(parse_size(row["SIZE"]), image)
    # The table shows inspect's Size, rounded to three significant digits as docker does.
    size = int(inspect(daemon, catalog.ref("test/busybox"))["Size"])
    assert abs(parse_size(row["SIZE"]) - size) <= size * 0.01, (row["SIZE"], size)

    assert ok(daemon.cli("images", "-q")).out.split() == [images.hex_of(image.id)[:12]]
    rows = table(ok(daemon.cli("images", "--digests")).out)
    assert rows[0]["DIGEST"] == image.digest


def test_image_inspect_is_shaped_like_docker(daemon: Daemon, catalog: Catalog) -> None:
    image = catalog.images["test/busybox"]
    ref = catalog.ref("test/busybox")
    ok(daemon.cli("pull", ref))

    doc = inspect(daemon, ref)
    assert doc["Id"] == image.id
    assert doc["RepoTags"] == [ref]
    assert doc["RepoDigests"] == [catalog.digest_ref("test/busybox", image.digest)]
    assert doc["Os"] == "linux"
    assert doc["Architecture"] == "amd64"
    assert doc["Created"].startswith(images.CREATED.rstrip("Z"))
    expected = image.config["config"]
    for key in (
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Volumes",
        "Labels",
        "StopSignal",
    ):
        assert doc["Config"].get(key) == expected[key], key
    assert doc["RootFS"] == {"Type": "layers", "Layers": image.diff_ids}
    assert_size_plausible(int(doc["Size"]), image)

    # By id and by id prefix, as docker.
    assert inspect(daemon, images.hex_of(image.id))["Id"] == image.id
    assert inspect(daemon, images.hex_of(image.id)[:12])["Id"] == image.id


def test_pull_by_digest(daemon: Daemon, catalog: Catalog) -> None:
    image = catalog.images["test/busybox-oci"]
    ref = catalog.digest_ref("test/busybox-oci", image.digest)
    r = ok(daemon.cli("pull", ref))
    assert f"Digest: {image.digest}" in r.out.splitlines(), r
    assert last_line(r.out) == ref, r
    doc = inspect(daemon, ref)
    assert doc["Id"] == image.id
    assert ref in doc["RepoDigests"]


@pytest.mark.parametrize(
    "repo", ["test/busybox", "test/busybox-oci", "test/busybox-zstd", "test/busybox-plain"]
)
def test_pull_schema2_and_oci_with_each_compression(
    daemon: Daemon, catalog: Catalog, repo: str
) -> None:
    image = catalog.images[repo]
    ok(daemon.cli("pull", catalog.ref(repo)))
    assert inspect(daemon, catalog.ref(repo))["Id"] == image.id
    busybox = os.path.join(daemon.snapshot_fs(image.chain_ids[0]), "bin", "busybox")
    assert sha256_file(busybox) == sha256_file(images.BUSYBOX)
    assert os.stat(busybox).st_mode & 0o777 == 0o755
    assert os.readlink(os.path.join(os.path.dirname(busybox), "sh")) == "busybox"


@pytest.mark.parametrize("repo", ["test/multi", "test/multi-docker"])
def test_index_picks_the_host_platform(daemon: Daemon, catalog: Catalog, repo: str) -> None:
    index = catalog.indexes[repo]
    arch = host_arch()
    variant = dict(images.PLATFORMS).get(arch, "")
    image = index.for_platform("linux", arch, variant)
    ref = catalog.ref(repo)
    r = ok(daemon.cli("pull", ref))
    # The digest shown (and recorded) is the index's, as docker does.
    assert f"Digest: {index.digest}" in r.out.splitlines(), r
    doc = inspect(daemon, ref)
    assert doc["Id"] == image.id
    assert doc["Architecture"] == arch
    assert catalog.digest_ref(repo, index.digest) in doc["RepoDigests"]
    platform_file = os.path.join(daemon.snapshot_fs(image.chain_ids[1]), "platform")
    with open(platform_file) as f:
        assert f.read().strip() == images.platform_name(arch, variant)


@pytest.mark.parametrize(
    ("platform", "arch", "variant"),
    [("linux/arm64", "arm64", "v8"), ("linux/arm/v7", "arm", "v7")],
)
def test_platform_flag_picks_another_platform(
    daemon: Daemon, catalog: Catalog, platform: str, arch: str, variant: str
) -> None:
    index = catalog.indexes["test/multi"]
    image = index.for_platform("linux", arch, variant)
    ref = catalog.ref("test/multi")
    ok(daemon.cli("pull", "--platform", platform, ref))
    doc = inspect(daemon, ref)
    assert doc["Id"] == image.id
    assert doc["Architecture"] == arch
    assert doc.get("Variant", "") == variant
    with open(os.path.join(daemon.snapshot_fs(image.chain_ids[1]), "platform")) as f:
        assert f.read().strip() == images.platform_name(arch, variant)


def test_platform_not_in_the_index_fails(daemon: Daemon, catalog: Catalog) -> None:
    r = daemon.cli("pull", "--platform", "linux/s390x", catalog.ref("test/multi"))
    fails(r, "linux/s390x")


def test_second_pull_is_up_to_date_and_downloads_nothing(
    daemon: Daemon, catalog: Catalog, registry: Registry
) -> None:
    ref = catalog.ref("test/layers-docker")
    r = ok(daemon.cli("pull", ref))
    assert "Image is up to date" not in r.out
    registry.mark_log()
    r = ok(daemon.cli("pull", ref))
    assert f"Status: Image is up to date for {ref}" in r.out.splitlines(), r
    assert registry.blob_gets() == [], "the second pull downloaded blobs again"


def test_unknown_repository_is_not_found(daemon: Daemon, catalog: Catalog) -> None:
    fails(daemon.cli("pull", catalog.ref("test/no-such-repo")), "not found")


def test_unknown_tag_is_not_found(daemon: Daemon, catalog: Catalog) -> None:
    fails(daemon.cli("pull", catalog.ref("test/busybox", "no-such-tag")), "not found")


def test_unknown_digest_is_not_found(daemon: Daemon, catalog: Catalog) -> None:
    missing = "sha256:" + "0" * 64
    fails(daemon.cli("pull", catalog.digest_ref("test/busybox", missing)), "not found")


@pytest.mark.parametrize("bad", ["UPPER/Case", "test/busybox:bad tag", "test//busybox"])
def test_bad_reference_is_refused(daemon: Daemon, bad: str) -> None:
    fails(daemon.cli("pull", bad), "invalid reference format")


def test_registry_unreachable_fails_clearly(daemon: Daemon) -> None:
    from tests.support.processes import free_port

    host = f"127.0.0.1:{free_port()}"
    r = daemon.cli("pull", f"{host}/test/busybox:latest")
    # docker's line: Go's error for the last attempt (https, then plain http on loopback).
    line = fails(r)
    assert line == (
        f'Error response from daemon: Get "http://{host}/v2/": '
        f"dial tcp {host}: connect: connection refused"
    ), r


def test_rmi_removes_the_image_and_collects_content_and_snapshots(
    daemon: Daemon, catalog: Catalog
) -> None:
    image = catalog.images["test/layers-docker"]
    ref = catalog.ref("test/layers-docker")
    ok(daemon.cli("pull", ref))
    for chain_id in image.chain_ids:
        assert os.path.isdir(daemon.snapshot_fs(chain_id))

    r = ok(daemon.cli("rmi", ref))
    assert f"Untagged: {ref}" in r.out.splitlines(), r
    assert f"Deleted: {image.id}" in r.out.splitlines(), r

    def collected() -> bool:
        blobs = [b for b in image.blobs() if os.path.exists(daemon.blob_path(b.digest))]
        snaps = [c for c in image.chain_ids if os.path.lexists(daemon.snapshot_fs(c))]
        return not blobs and not snaps

    wait_for(collected, 30, what="the image's blobs and snapshots to be collected")
    assert os.listdir(daemon.content_blobs) == []
    assert [s for s in os.listdir(daemon.snapshots) if not s.startswith(".")] == []
    assert ok(daemon.cli("images", "-q")).out.strip() == ""
    fails(daemon.cli("image", "inspect", ref), "no such image")


def test_rmi_keeps_layers_another_image_shares(daemon: Daemon, catalog: Catalog) -> None:
    index = catalog.indexes["test/multi"]
    amd64 = index.for_platform("linux", "amd64")
    arm64 = index.for_platform("linux", "arm64", "v8")
    ref = catalog.ref("test/multi")
    ok(daemon.cli("pull", ref))
    ok(daemon.cli("tag", ref, f"{catalog.host}/test/other:amd64"))
    ok(daemon.cli("pull", "--platform", "linux/arm64", f"{catalog.host}/test/multi-docker:latest"))
    ok(daemon.cli("rmi", ref))
    # Still tagged as test/other: nothing of it may go.
    assert os.path.isdir(daemon.snapshot_fs(amd64.chain_ids[1]))
    ok(daemon.cli("rmi", f"{catalog.host}/test/other:amd64"))
    wait_for(
        lambda: not os.path.lexists(daemon.snapshot_fs(amd64.chain_ids[1])),
        30,
        what="the amd64 layer's snapshot to be collected",
    )
    # The busybox base layer is shared with the arm64 image still there.
    assert amd64.chain_ids[0] == arm64.chain_ids[0]
    assert os.path.isdir(daemon.snapshot_fs(arm64.chain_ids[0]))
    assert os.path.exists(daemon.blob_path(arm64.layers[0].blob.digest))


def test_rmi_unknown_image_fails(daemon: Daemon) -> None:
    fails(daemon.cli("rmi", "127.0.0.1:1/test/never-pulled:latest"), "no such image")
