"""Pulls when things go wrong on the wire: a registry serving bytes that do not match their
digest, a connection dropped mid-blob, and the registry going away mid-pull of the big image
and coming back."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.support import catalog as catalogs
from tests.support.catalog import Catalog
from tests.support.expect import fails, inspect, ok
from tests.support.faults import FaultProxy
from tests.support.images import Image
from tests.support.processes import stop_process, wait_for
from tests.support.registry import Registry
from tests.support.services import CliResult, Daemon

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(registry: Registry, catalog: Catalog) -> Iterator[FaultProxy]:
    """A fault proxy in front of the session registry (loopback: plain HTTP is allowed)."""
    p = FaultProxy("127.0.0.1", registry.port)
    p.start()
    yield p
    p.stop()


def test_digest_mismatch_fails_and_keeps_nothing(
    daemon: Daemon, catalog: Catalog, proxy: FaultProxy
) -> None:
    image = catalog.images["test/busybox"]
    layer = image.layers[0].blob
    proxy.corrupt_blob(layer.digest)
    r = daemon.cli("pull", f"{proxy.host}/test/busybox:latest")
    fails(r, "digest mismatch")
    assert any(rec.fault == "corrupt" for rec in proxy.blob_records(layer.digest))
    assert not os.path.exists(daemon.blob_path(layer.digest))
    assert not os.path.exists(daemon.snapshot_fs(image.chain_ids[0]))
    assert ok(daemon.cli("images", "-q")).out.strip() == ""


def test_corrupt_config_fails_and_keeps_nothing(
    daemon: Daemon, catalog: Catalog, proxy: FaultProxy
) -> None:
    image = catalog.images["test/busybox-oci"]
    proxy.corrupt_blob(image.config_blob.digest)
    fails(daemon.cli("pull", f"{proxy.host}/test/busybox-oci:latest"), "digest mismatch")
    assert not os.path.exists(daemon.blob_path(image.config_blob.digest))
    assert ok(daemon.cli("images", "-q")).out.strip() == ""


def test_dropped_connection_is_retried_and_resumed(
    daemon: Daemon, big_image: Image, proxy: FaultProxy
) -> None:
    # A big layer, so that the bytes before the drop have surely reached the ingest file.
    layer = big_image.layers[0].blob
    cut = layer.size // 2
    proxy.drop_blob_once(layer.digest, after=cut)
    ref = f"{proxy.host}/test/big:latest"
    ok(daemon.cli("pull", ref))
    assert inspect(daemon, ref)["Id"] == big_image.id
    records = proxy.blob_records(layer.digest)
    assert [r.fault for r in records][:1] == ["drop"], records
    assert records[-1].complete, records
    # Resumed from where the drop left it rather than downloaded again from the start.
    assert records[-1].range.startswith("bytes="), records
    start = int(records[-1].range.removeprefix("bytes=").split("-")[0])
    assert cut // 2 < start <= cut, records
    assert proxy.bytes_sent(layer.digest) < layer.size * 1.1, records


@pytest.fixture
def big_registry(new_registry: Callable[..., Registry], big_cache: str) -> tuple[Registry, Image]:
    """A registry of this test's own (it gets stopped) holding the big image."""
    reg = new_registry()
    return reg, catalogs.big(reg, big_cache)


def test_registry_stopped_mid_pull_then_restarted(
    new_daemon: Callable[..., Daemon], big_registry: tuple[Registry, Image]
) -> None:
    registry, image = big_registry
    daemon = new_daemon()
    proxy = FaultProxy("127.0.0.1", registry.port)
    proxy.start()
    pull: subprocess.Popen[str] | None = None
    try:
        first, second, last = (layer.blob for layer in image.layers)
        # Hold the last layer 20 MB in: the pull is then provably in the middle of it while
        # the other two layers can finish.
        proxy.stall_blob(last.digest, after=20_000_000)
        ref = f"{proxy.host}/test/big:latest"
        pull = daemon.cli_background("pull", ref)
        for blob in (first, second):
            daemon.wait_blob(blob.digest, timeout=120)
        wait_for(
            lambda: any(r.fault == "stall" for r in proxy.blob_records(last.digest)),
            60,
            what="the last layer's download to be under way",
        )

        # The registry goes away: its process and every open connection to it.
        registry.stop()
        proxy.stop()
        out, err = pull.communicate(timeout=300)
        failed = CliResult(pull.returncode, out, err, ("pull", ref))
        fails(failed)
        assert not os.path.exists(daemon.blob_path(last.digest))

        # Back again: the pull completes without downloading the finished layers again.
        registry.start()
        proxy.clear()
        proxy.reset_records()
        proxy.start()
        r = ok(daemon.cli("pull", ref))
        assert f"Digest: {image.digest}" in r.out.splitlines(), r
        assert inspect(daemon, ref)["Id"] == image.id
        assert proxy.blob_records(first.digest) == [], "a finished layer was downloaded again"
        assert proxy.blob_records(second.digest) == [], "a finished layer was downloaded again"
        assert proxy.blob_records(last.digest), "the unfinished layer was not downloaded"
        for chain_id in image.chain_ids:
            assert os.path.isdir(daemon.snapshot_fs(chain_id))
        # The partial download was kept and resumed, not started over.
        assert proxy.bytes_sent(last.digest) < last.size, proxy.blob_records(last.digest)
    finally:
        if pull is not None and pull.poll() is None:
            stop_process(pull)
        proxy.stop()
