"""The test infrastructure checked on its own, with skopeo as an independent client: the
registry in its three auth modes, the images we build, and the fault proxy."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import subprocess
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
import zstandard

from tests.support import catalog as catalogs
from tests.support import images
from tests.support.catalog import Catalog
from tests.support.faults import FaultProxy
from tests.support.processes import port_open, wait_for
from tests.support.registry import Registry

pytestmark = pytest.mark.integration

USERS = {"alice": "wonderland-s3cret"}


def skopeo(workdir: str, *args: str) -> subprocess.CompletedProcess[str]:
    policy = os.path.join(workdir, "policy.json")
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
    return subprocess.run(
        ["skopeo", "--policy", policy, *args], capture_output=True, text=True, timeout=120
    )


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def members(raw: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return tar.getmembers()


def decompress(blob: bytes, media_type: str) -> bytes:
    if media_type.endswith("gzip"):
        return gzip.decompress(blob)
    if media_type.endswith("zstd"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return blob


# -- registry and images ---------------------------------------------------------------------


@pytest.mark.parametrize("repo", ["test/busybox", "test/busybox-oci", "test/layers-oci"])
def test_skopeo_copies_our_images_and_every_digest_checks_out(
    catalog: Catalog, workdir: str, tmp_path: str, repo: str
) -> None:
    image = catalog.images[repo]
    dest = os.path.join(tmp_path, "copy")
    r = skopeo(
        workdir, "copy", "--src-tls-verify=false", f"docker://{catalog.ref(repo)}", f"dir:{dest}"
    )
    assert r.returncode == 0, r.stderr
    r = skopeo(workdir, "inspect", "--tls-verify=false", f"docker://{catalog.ref(repo)}")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["Digest"] == image.digest
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert info["Layers"] == [layer.blob.digest for layer in image.layers]
    # The config's diff ids are the sha256 of each decompressed layer.
    for layer in image.layers:
        with open(os.path.join(dest, images.hex_of(layer.blob.digest)), "rb") as f:
            raw = decompress(f.read(), layer.blob.media_type)
        assert images.sha256_digest(raw) == layer.diff_id
        assert members(raw)  # a valid tar


def test_layer_cases_are_in_the_tar_as_intended() -> None:
    one, two = images.layer_cases_tars()
    found = {m.name: m for m in members(one.to_bytes())}
    assert found["cases/owned"].uid == 1000
    assert found["cases/setuid"].mode == 0o4755
    assert found["cases/sticky"].mode == 0o1777
    assert found["cases/hardlink-b"].islnk()
    assert found["cases/chardev"].ischr() and found["cases/chardev"].devmajor == 1
    assert found["cases/blockdev"].isblk()
    assert found["cases/fifo"].isfifo()
    assert found["cases/xattr"].pax_headers["SCHILY.xattr.user.x"] == "hello"
    assert found["cases/mtime"].mtime == images.CASE_MTIME
    assert len(images.LONG_NAME) > 100 and images.LONG_NAME in found
    assert images.UNICODE_NAME in found
    names = [m.name for m in members(two.to_bytes())]
    assert "deleted/.wh.file" in names and "opaque/.wh..wh..opq" in names


def test_index_holds_three_platforms_each_with_its_own_image(
    catalog: Catalog, workdir: str
) -> None:
    r = skopeo(
        workdir, "inspect", "--raw", "--tls-verify=false", f"docker://{catalog.ref('test/multi')}"
    )
    assert r.returncode == 0, r.stderr
    index = json.loads(r.stdout)
    assert index["mediaType"] == images.OCI_INDEX
    platforms = [
        images.platform_name(m["platform"]["architecture"], m["platform"].get("variant", ""))
        for m in index["manifests"]
    ]
    assert platforms == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    r = skopeo(
        workdir,
        "--override-arch",
        "arm64",
        "inspect",
        "--tls-verify=false",
        f"docker://{catalog.ref('test/multi-docker')}",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Architecture"] == "arm64"


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_auth_registry_refuses_anonymous_and_accepts_the_user(
    new_registry: Callable[..., Registry], workdir: str, auth: str
) -> None:
    reg = new_registry(auth=auth, users=USERS)
    catalog = Catalog(reg.host, images={"test/private": images.busybox_image()})
    catalogs.push(reg, catalog)
    ref = f"docker://{catalog.ref('test/private')}"

    status, headers, _ = http_get(f"{reg.url}/v2/test/private/manifests/latest")
    assert status == 401
    challenge = headers["Www-Authenticate"]
    assert challenge.lower().startswith("basic" if auth == "basic" else "bearer")

    r = skopeo(workdir, "inspect", "--tls-verify=false", ref)
    assert r.returncode != 0
    assert "unauthorized" in r.stderr.lower() or "authentication required" in r.stderr.lower()

    r = skopeo(workdir, "inspect", "--tls-verify=false", "--creds", "alice:wrong", ref)
    assert r.returncode != 0

    r = skopeo(workdir, "inspect", "--tls-verify=false", "--creds", "alice:" + USERS["alice"], ref)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Digest"] == catalog.images["test/private"].digest
    if auth == "token":
        assert reg.issuer is not None
        granted = [t for t in reg.issuer.requests if t.authorized]
        assert granted and any("repository:test/private:pull" in t.scopes for t in granted)


def test_tls_registry_with_basic_auth(
    new_registry: Callable[..., Registry], workdir: str, tmp_path: str
) -> None:
    reg = new_registry(auth="basic", users=USERS, tls=True)
    catalog = Catalog(reg.host, images={"test/tls": images.busybox_image()})
    catalogs.push(reg, catalog)
    certs = os.path.join(tmp_path, "certs")
    os.makedirs(certs)
    with open(reg.ca_path, "rb") as src, open(os.path.join(certs, "ca.crt"), "wb") as dst:
        dst.write(src.read())
    ref = f"docker://{catalog.ref('test/tls')}"
    r = skopeo(workdir, "inspect", "--cert-dir", certs, "--creds", "alice:" + USERS["alice"], ref)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Digest"] == catalog.images["test/tls"].digest
    r = skopeo(workdir, "inspect", "--creds", "alice:" + USERS["alice"], ref)
    assert r.returncode != 0 and "certificate" in r.stderr.lower(), r.stderr


def test_registry_restarts_on_the_same_port_with_its_storage(
    new_registry: Callable[..., Registry],
) -> None:
    reg = new_registry()
    image = images.busybox_image()
    catalogs.push(reg, Catalog(reg.host, images={"test/keep": image}))
    reg.stop()
    assert not port_open(reg.port)
    reg.start()
    reg.mark_log()
    status, _, body = http_get(f"{reg.url}/v2/test/keep/blobs/{image.layers[0].blob.digest}")
    assert status == 200 and images.sha256_digest(body) == image.layers[0].blob.digest
    gets = reg.blob_gets()
    assert [g["status"] for g in gets] == [200]
    assert gets[0]["written"] == image.layers[0].blob.size


# -- the fault proxy -------------------------------------------------------------------------


@pytest.fixture
def proxy(registry: Registry, catalog: Catalog) -> Iterator[FaultProxy]:
    p = FaultProxy("127.0.0.1", registry.port)
    p.start()
    yield p
    p.stop()


def blob_url(proxy: FaultProxy, catalog: Catalog) -> tuple[str, images.Blob]:
    blob = catalog.images["test/busybox"].layers[0].blob
    return f"http://{proxy.host}/v2/test/busybox/blobs/{blob.digest}", blob


def test_proxy_passes_blobs_through_untouched(proxy: FaultProxy, catalog: Catalog) -> None:
    url, blob = blob_url(proxy, catalog)
    status, headers, body = http_get(url)
    assert status == 200 and images.sha256_digest(body) == blob.digest
    assert headers["Docker-Content-Digest"] == blob.digest
    (record,) = proxy.blob_records(blob.digest)
    assert record.complete and record.sent == blob.size and not record.fault


def test_proxy_corrupts_one_byte(proxy: FaultProxy, catalog: Catalog) -> None:
    url, blob = blob_url(proxy, catalog)
    proxy.corrupt_blob(blob.digest)
    status, _, body = http_get(url)
    assert status == 200 and len(body) == blob.size
    assert images.sha256_digest(body) != blob.digest
    assert sum(a != b for a, b in zip(body, blob.read(), strict=True)) == 1


def test_proxy_drops_once_then_serves_ranges(proxy: FaultProxy, catalog: Catalog) -> None:
    url, blob = blob_url(proxy, catalog)
    proxy.drop_blob_once(blob.digest, after=100_000)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", url.split(proxy.host, 1)[1])
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as e:
        resp.read()
    assert len(e.value.partial) == 100_000
    conn.close()
    status, _, rest = http_get(url, {"Range": "bytes=100000-"})
    assert status == 206
    assert e.value.partial + rest == blob.read()
    assert [r.range for r in proxy.blob_records(blob.digest)] == ["", "bytes=100000-"]


def test_proxy_stalls_until_stopped_then_looks_like_a_dead_server(
    proxy: FaultProxy, catalog: Catalog
) -> None:
    url, blob = blob_url(proxy, catalog)
    proxy.stall_blob(blob.digest, after=200_000)
    result: dict[str, object] = {}

    def fetch() -> None:
        try:
            http_get(url)
        except Exception as e:  # noqa: BLE001 - recorded for the assertion below
            result["error"] = e

    t = threading.Thread(target=fetch)
    t.start()
    wait_for(lambda: any(r.fault == "stall" for r in proxy.blob_records()), 10, what="stall")
    (record,) = proxy.blob_records(blob.digest)
    assert 0 < record.sent < 200_000
    proxy.stop()
    t.join(10)
    assert not t.is_alive() and "error" in result
    assert not port_open(proxy.port)
    proxy.clear()
    proxy.start()
    status, _, body = http_get(url)
    assert status == 200 and hashlib.sha256(body).hexdigest() == images.hex_of(blob.digest)


# -- images built for specific tests ---------------------------------------------------------


def test_hostile_layers_hold_the_escaping_entry(canary_dir: str) -> None:
    for case in images.hostile_images(canary_dir):
        raw = gzip.decompress(case.image.layers[0].blob.read())
        names = [m.name for m in members(raw)]
        assert case.offending.lstrip("/") in [n.lstrip("/") for n in names], case.name


def test_big_image_is_300mb_of_incompressible_data_in_three_layers(big_image: images.Image) -> None:
    assert len(big_image.layers) == 3
    assert big_image.files_size >= 300_000_000
    assert big_image.compressed_size >= big_image.files_size  # random data does not shrink
    for layer in big_image.layers:
        assert layer.blob.path and os.path.getsize(layer.blob.path) == layer.blob.size
