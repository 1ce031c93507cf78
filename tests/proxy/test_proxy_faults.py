"""Pulls through a proxy that corrupts, cuts, stalls or refuses: verification, resume, retries,
cancellation, shared downloads, a full disk."""

from __future__ import annotations

import os
import threading

import pytest

from caisson import errors
from caisson.content import ContentStore
from caisson.reference import parse
from caisson.registry_proxy.events import Event, LayerProgress, LayerState
from caisson.registry_proxy.retry import RetryPolicy
from tests.support.client import RegistryClient
from tests.support.faults import FaultProxy
from tests.support.images import Layer, files_layer, make_image, make_index
from tests.support.processes import wait_for
from tests.support.registry import Registry

from .conftest import Pulls

MiB = 1024 * 1024


def layer_events(events: list[Event], digest: str) -> list[LayerProgress]:
    return [e for e in events if isinstance(e, LayerProgress) and e.digest == digest]


def big_layer() -> Layer:
    return files_layer({"data": os.urandom(3 * MiB)})


def test_corrupted_blob_is_data_loss_and_nothing_is_kept(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([big_layer()]))
    bad = image.layer_digests[0]
    faults.corrupt_blob(bad)
    with pytest.raises(errors.DataLoss) as e:
        pulls.run(f"{faults.host}/{repo_name}:v1")
    assert str(e.value).startswith(f"digest mismatch for layer {bad}: expected {bad}, got sha256:")
    assert not content.exists(bad)
    assert not os.path.exists(content.ingest_path(bad))
    assert sorted(os.listdir(content.blobs)) == sorted([image.digest[7:], image.id[7:]])


def test_corrupted_manifest_from_an_index_is_data_loss(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    amd = make_image([files_layer({"a": b"a"})])
    arm = make_image([files_layer({"a": b"b"})], architecture="arm64")
    pusher.push_index(repo_name, "multi", make_index([amd, arm], "docker"))
    faults.corrupt_manifest(amd.digest)
    faults.corrupt_manifest(arm.digest)
    with pytest.raises(errors.DataLoss, match="digest mismatch for manifest"):
        pulls.run(f"{faults.host}/{repo_name}:multi")
    assert not content.exists(amd.digest) and not content.exists(arm.digest)


def test_dropped_connection_is_resumed_with_range(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([big_layer()]))
    digest = image.layer_digests[0]
    faults.drop_blob_once(digest, after=int(2.5 * MiB))
    events = pulls.run(f"{faults.host}/{repo_name}:v1")
    seq = [e.state for e in layer_events(events, digest)]
    assert LayerState.RETRYING in seq
    assert seq[-1] == LayerState.DOWNLOADED
    retry = next(e for e in layer_events(events, digest) if e.state == LayerState.RETRYING)
    assert "connection" in retry.message and "retrying" in retry.message
    gets = faults.blob_records(digest)
    assert len(gets) == 2
    assert "Range" not in gets[0].headers
    assert gets[1].headers["Range"] == f"bytes={2 * MiB}-"
    assert content.exists(digest)


def test_a_later_pull_resumes_the_partial_download(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([big_layer()]))
    digest = image.layer_digests[0]
    faults.drop_blob_once(digest, after=int(2.5 * MiB))
    no_retries = pulls.puller(policy=RetryPolicy(attempts=1))
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{faults.host}/{repo_name}:v1", no_retries)
    # Go's url.Error frame, naming the blob URL that failed.
    blob_url = f"http://{faults.host}/v2/{repo_name}/blobs/{digest}"
    assert str(e.value).startswith(f'Get "{blob_url}": '), str(e.value)
    assert f"(downloading layer {digest}, " in str(e.value)
    partial = os.path.getsize(content.ingest_path(digest))
    assert partial > 0
    assert not content.exists(digest)

    pulls.run(f"{faults.host}/{repo_name}:v1")
    assert faults.blob_records(digest)[-1].headers["Range"] == f"bytes={partial}-"
    assert content.exists(digest)
    assert not os.path.exists(content.ingest_path(digest))


def test_range_ignored_restarts_from_zero(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([big_layer()]))
    digest = image.layer_digests[0]
    faults.drop_blob_once(digest, after=int(2.5 * MiB))
    faults.ignore_ranges()
    pulls.run(f"{faults.host}/{repo_name}:v1")
    assert len(faults.blob_records(digest)) == 2
    assert content.exists(digest)


def test_5xx_is_retried_then_succeeds(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([files_layer({"a": b"a"})]))
    digest = image.layer_digests[0]
    faults.fail_blob(digest, 503, times=2)
    events = pulls.run(f"{faults.host}/{repo_name}:v1")
    retries = [e for e in layer_events(events, digest) if e.state == LayerState.RETRYING]
    assert len(retries) == 2
    assert retries[0].message.startswith("registry answered 503")
    assert content.exists(digest)


def test_5xx_until_attempts_run_out_is_unavailable(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([files_layer({"a": b"a"})]))
    faults.fail_blob(image.layer_digests[0], 502, times=100)
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{faults.host}/{repo_name}:v1")
    assert str(e.value).startswith(f"registry {faults.host} answered 502")
    assert len(faults.blob_records(image.layer_digests[0])) == 3  # FAST_RETRIES.attempts


def test_cancel_stops_the_download_and_keeps_the_partial_file(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([big_layer()]))
    digest = image.layer_digests[0]
    faults.stall_blob(digest, after=int(1.5 * MiB))
    puller = pulls.puller()
    cancel = threading.Event()
    seen: list[Event] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for event in puller.pull(parse(f"{faults.host}/{repo_name}:v1"), cancel=cancel):
                seen.append(event)
        except errors.CaissonError as e:
            failure.append(e)

    t = threading.Thread(target=run)
    t.start()
    wait_for(lambda: faults.stalled(digest), 20, what="the stalled download")
    cancel.set()
    t.join(20)
    assert not t.is_alive()
    assert isinstance(failure[0], errors.Cancelled)
    # The stalled read is cut when the pull ends: no need for the registry to send more.
    for _ in range(400):
        if not puller.fetcher.in_flight():
            break
        threading.Event().wait(0.05)
    assert puller.fetcher.in_flight() == []
    faults.release()
    partial = os.path.getsize(content.ingest_path(digest))
    assert partial >= MiB
    assert not content.exists(digest)

    pulls.run(f"{faults.host}/{repo_name}:v1", puller)
    assert faults.blob_records(digest)[-1].headers["Range"] == f"bytes={partial}-"
    assert content.exists(digest)


def test_concurrent_pulls_share_one_download(
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    faults: FaultProxy,
) -> None:
    shared = big_layer()
    one = pusher.push_image(repo_name, "one", make_image([shared, files_layer({"one": b"1"})]))
    two = pusher.push_image(repo_name, "two", make_image([shared, files_layer({"two": b"2"})]))
    digest = one.layer_digests[0]
    assert two.layer_digests[0] == digest
    faults.stall_blob(digest, after=MiB)
    puller = pulls.puller()
    results: dict[str, list[Event]] = {"one": [], "two": []}
    failures: list[BaseException] = []
    joined = threading.Event()

    def run(tag: str) -> None:
        try:
            for event in puller.pull(parse(f"{faults.host}/{repo_name}:{tag}")):
                results[tag].append(event)
                if (
                    tag == "two"
                    and isinstance(event, LayerProgress)
                    and event.digest == digest
                    and event.state == LayerState.DOWNLOADING
                ):
                    joined.set()
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    first = threading.Thread(target=run, args=("one",))
    first.start()
    wait_for(lambda: faults.stalled(digest), 20, what="the stalled download")
    second = threading.Thread(target=run, args=("two",))
    second.start()
    assert joined.wait(20)
    faults.release()
    first.join(30)
    second.join(30)
    assert not failures
    assert len(faults.blob_records(digest)) == 1
    for tag in ("one", "two"):
        assert layer_events(results[tag], digest)[-1].state == LayerState.DOWNLOADED
    assert content.exists(digest)


def test_disk_full_is_resource_exhausted(
    registry: Registry,
    pusher: RegistryClient,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
) -> None:
    image = pusher.push_image(repo_name, "v1", make_image([files_layer({"a": os.urandom(10_000)})]))
    digest = image.layer_digests[0]
    os.symlink("/dev/full", content.ingest_path(digest))  # every write: ENOSPC
    with pytest.raises(errors.ResourceExhausted) as e:
        pulls.run(f"{registry.host}/{repo_name}:v1")
    assert str(e.value) == f"writing layer {digest}: no space left on device"
    assert not content.exists(digest)
