"""Pulls through a proxy that corrupts, cuts, stalls or refuses: verification, resume, retries,
cancellation, shared downloads, a full disk."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from caisson import errors
from caisson.content import ContentStore
from caisson.reference import parse
from caisson.registry_proxy.events import Event, LayerProgress, LayerState
from caisson.registry_proxy.retry import RetryPolicy

from .conftest import Pulls
from .registry_env import Distribution, FaultProxy, Pusher, layer

MiB = 1024 * 1024

Proxies = Callable[[str], FaultProxy]


def layer_events(events: list[Event], digest: str) -> list[LayerProgress]:
    return [e for e in events if isinstance(e, LayerProgress) and e.digest == digest]


def big_layer() -> bytes:
    return layer({"data": os.urandom(3 * MiB)})


def test_corrupted_blob_is_data_loss_and_nothing_is_kept(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    image = pusher.image(repo_name, "v1", [big_layer()])
    bad = image.layers[0]
    proxy = fault_proxy(registry.url)
    proxy.corrupt.add(bad)
    with pytest.raises(errors.DataLoss) as e:
        pulls.run(f"{proxy.host}/{repo_name}:v1")
    assert str(e.value).startswith(f"digest mismatch for layer {bad}: expected {bad}, got sha256:")
    assert not content.exists(bad)
    assert not os.path.exists(content.ingest_path(bad))
    assert sorted(os.listdir(content.blobs)) == sorted([image.digest[7:], image.config[7:]])


def test_corrupted_manifest_from_an_index_is_data_loss(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    amd = pusher.image(repo_name, "amd", [layer({"a": b"a"})])
    arm = pusher.image(repo_name, "arm", [layer({"a": b"b"})], arch="arm64")
    pusher.index(
        repo_name,
        "multi",
        [
            (amd, {"os": "linux", "architecture": "amd64"}),
            (arm, {"os": "linux", "architecture": "arm64"}),
        ],
        oci=False,
    )
    proxy = fault_proxy(registry.url)
    proxy.corrupt.update({amd.digest, arm.digest})
    with pytest.raises(errors.DataLoss, match="digest mismatch for manifest"):
        pulls.run(f"{proxy.host}/{repo_name}:multi")
    assert not content.exists(amd.digest) and not content.exists(arm.digest)


def test_dropped_connection_is_resumed_with_range(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    image = pusher.image(repo_name, "v1", [big_layer()])
    digest = image.layers[0]
    proxy = fault_proxy(registry.url)
    proxy.drop[digest] = int(2.5 * MiB)
    events = pulls.run(f"{proxy.host}/{repo_name}:v1")
    seq = [e.state for e in layer_events(events, digest)]
    assert LayerState.RETRYING in seq
    assert seq[-1] == LayerState.DOWNLOADED
    retry = next(e for e in layer_events(events, digest) if e.state == LayerState.RETRYING)
    assert "connection" in retry.message and "retrying" in retry.message
    gets = proxy.gets(digest)
    assert len(gets) == 2
    assert "Range" not in gets[0].headers
    assert gets[1].headers["Range"] == f"bytes={2 * MiB}-"
    assert content.exists(digest)


def test_a_later_pull_resumes_the_partial_download(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    image = pusher.image(repo_name, "v1", [big_layer()])
    digest = image.layers[0]
    proxy = fault_proxy(registry.url)
    proxy.drop[digest] = int(2.5 * MiB)
    no_retries = pulls.puller(policy=RetryPolicy(attempts=1))
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{proxy.host}/{repo_name}:v1", no_retries)
    assert f"registry {proxy.host} is unreachable" in str(e.value)
    assert f"downloading layer {digest}" in str(e.value)
    partial = os.path.getsize(content.ingest_path(digest))
    assert partial > 0
    assert not content.exists(digest)

    pulls.run(f"{proxy.host}/{repo_name}:v1")
    assert proxy.gets(digest)[-1].headers["Range"] == f"bytes={partial}-"
    assert content.exists(digest)
    assert not os.path.exists(content.ingest_path(digest))


def test_range_ignored_restarts_from_zero(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    image = pusher.image(repo_name, "v1", [big_layer()])
    digest = image.layers[0]
    proxy = fault_proxy(registry.url)
    proxy.drop[digest] = int(2.5 * MiB)
    proxy.ignore_range = True
    pulls.run(f"{proxy.host}/{repo_name}:v1")
    assert len(proxy.gets(digest)) == 2
    assert content.exists(digest)


def test_5xx_is_retried_then_succeeds(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    image = pusher.image(repo_name, "v1", [layer({"a": b"a"})])
    digest = image.layers[0]
    proxy = fault_proxy(registry.url)
    proxy.fail[digest] = [503, 2]
    events = pulls.run(f"{proxy.host}/{repo_name}:v1")
    retries = [e for e in layer_events(events, digest) if e.state == LayerState.RETRYING]
    assert len(retries) == 2
    assert retries[0].message.startswith("registry answered 503")
    assert content.exists(digest)


def test_5xx_until_attempts_run_out_is_unavailable(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    image = pusher.image(repo_name, "v1", [layer({"a": b"a"})])
    proxy = fault_proxy(registry.url)
    proxy.fail[image.layers[0]] = [502, 100]
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{proxy.host}/{repo_name}:v1")
    assert str(e.value).startswith(f"registry {proxy.host} answered 502")
    assert len(proxy.gets(image.layers[0])) == 3  # FAST_RETRIES.attempts


def test_cancel_stops_the_download_and_keeps_the_partial_file(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    image = pusher.image(repo_name, "v1", [big_layer()])
    digest = image.layers[0]
    proxy = fault_proxy(registry.url)
    proxy.stall[digest] = int(1.5 * MiB)
    puller = pulls.puller()
    cancel = threading.Event()
    seen: list[Event] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for event in puller.pull(parse(f"{proxy.host}/{repo_name}:v1"), cancel=cancel):
                seen.append(event)
        except errors.CaissonError as e:
            failure.append(e)

    t = threading.Thread(target=run)
    t.start()
    assert proxy.stalled.wait(20)
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
    proxy.release()
    partial = os.path.getsize(content.ingest_path(digest))
    assert partial >= MiB
    assert not content.exists(digest)

    pulls.run(f"{proxy.host}/{repo_name}:v1", puller)
    assert proxy.gets(digest)[-1].headers["Range"] == f"bytes={partial}-"
    assert content.exists(digest)


def test_concurrent_pulls_share_one_download(
    registry: Distribution,
    pusher: Pusher,
    pulls: Pulls,
    content: ContentStore,
    repo_name: str,
    fault_proxy: Proxies,
) -> None:
    shared = big_layer()
    one = pusher.image(repo_name, "one", [shared, layer({"one": b"1"})])
    two = pusher.image(repo_name, "two", [shared, layer({"two": b"2"})])
    digest = one.layers[0]
    assert two.layers[0] == digest
    proxy = fault_proxy(registry.url)
    proxy.stall[digest] = MiB
    puller = pulls.puller()
    results: dict[str, list[Event]] = {"one": [], "two": []}
    failures: list[BaseException] = []
    joined = threading.Event()

    def run(tag: str) -> None:
        try:
            for event in puller.pull(parse(f"{proxy.host}/{repo_name}:{tag}")):
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
    assert proxy.stalled.wait(20)
    second = threading.Thread(target=run, args=("two",))
    second.start()
    assert joined.wait(20)
    proxy.release()
    first.join(30)
    second.join(30)
    assert not failures
    assert len(proxy.gets(digest)) == 1
    for tag in ("one", "two"):
        assert layer_events(results[tag], digest)[-1].state == LayerState.DOWNLOADED
    assert content.exists(digest)


def test_disk_full_is_resource_exhausted(
    registry: Distribution, pusher: Pusher, pulls: Pulls, content: ContentStore, repo_name: str
) -> None:
    image = pusher.image(repo_name, "v1", [layer({"a": os.urandom(10_000)})])
    digest = image.layers[0]
    os.symlink("/dev/full", content.ingest_path(digest))  # every write: ENOSPC
    with pytest.raises(errors.ResourceExhausted) as e:
        pulls.run(f"{registry.host}/{repo_name}:v1")
    assert str(e.value) == f"writing layer {digest}: no space left on device"
    assert not content.exists(digest)
