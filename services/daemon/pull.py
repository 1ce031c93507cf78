"""Pull orchestration: the registry proxy downloads, the executor unpacks, the daemon records.

Layers are unpacked as soon as their blob is in the content store, each into its own snapshot
(snapshots do not depend on their parent's content), so unpacking overlaps the downloads of
the other layers. Progress of both services is merged into one stream of `LayerUpdate`s.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from caisson import errors, logs, reference
from caisson.content import ContentStore
from caisson.daemon.clients import Executor, RegistryProxy, Stream
from caisson.daemon.store import Layer
from caisson_api.executor.v1 import executor_pb2
from caisson_api.registry.v1 import registry_pb2

log = logs.get("caisson.daemon.pull")

# Layer statuses, as the daemon API names them.
WAITING = "WAITING"
DOWNLOADING = "DOWNLOADING"
VERIFYING = "VERIFYING"
DOWNLOAD_COMPLETE = "DOWNLOAD_COMPLETE"
EXTRACTING = "EXTRACTING"
PULL_COMPLETE = "PULL_COMPLETE"
ALREADY_EXISTS = "ALREADY_EXISTS"
RETRYING = "RETRYING"

_PROXY_STATES = {
    registry_pb2.LAYER_STATE_WAITING: WAITING,
    registry_pb2.LAYER_STATE_DOWNLOADING: DOWNLOADING,
    registry_pb2.LAYER_STATE_VERIFYING: VERIFYING,
    registry_pb2.LAYER_STATE_DOWNLOADED: DOWNLOAD_COMPLETE,
    registry_pb2.LAYER_STATE_EXISTS: DOWNLOAD_COMPLETE,
    registry_pb2.LAYER_STATE_RETRYING: RETRYING,
}


@dataclass
class LayerUpdate:
    digest: str
    status: str
    current: int = 0
    total: int = 0
    message: str = ""

    @property
    def id(self) -> str:
        return self.digest.split(":", 1)[-1][:12]


@dataclass
class Resolved:
    """What the registry said the reference is, with the config read from the store."""

    ref: reference.Reference
    manifest: registry_pb2.Descriptor
    index_digest: str
    config_digest: str
    config: dict[str, Any]
    layers: list[Layer]
    platform: registry_pb2.Platform


@dataclass
class Pulled:
    resolved: Resolved
    layers: list[Layer] = field(default_factory=list)


def _ignore(_update: LayerUpdate) -> None:
    pass


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(0) = DiffID(0); ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[str] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def parse_platform(text: str) -> registry_pb2.Platform:
    if not text:
        return registry_pb2.Platform()
    parts = text.lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise errors.InvalidArgument(
            f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64"
        )
    return registry_pb2.Platform(
        os=parts[0], architecture=parts[1], variant=parts[2] if len(parts) == 3 else ""
    )


class Puller:
    """One pull: call `run`, which yields LayerUpdate lists/updates and returns Pulled."""

    def __init__(
        self,
        proxy: RegistryProxy,
        executor: Executor,
        content: ContentStore,
        max_concurrent_downloads: int,
    ) -> None:
        self.proxy = proxy
        self.executor = executor
        self.content = content
        self.max_downloads = max_concurrent_downloads
        self._streams: list[Stream] = []
        self._streams_lock = threading.Lock()
        self._stopped = threading.Event()

    def cancel(self) -> None:
        self._stopped.set()
        with self._streams_lock:
            streams = list(self._streams)
        for s in streams:
            s.cancel()

    def _track(self, s: Stream) -> Stream:
        with self._streams_lock:
            self._streams.append(s)
        if self._stopped.is_set():
            s.cancel()
        return s

    def run(
        self,
        ref: reference.Reference,
        plat: registry_pb2.Platform,
        auth: registry_pb2.AuthConfig,
        on_layers: Callable[[list[LayerUpdate]], None],
        on_update: Callable[[LayerUpdate], None],
        known: Callable[[str], bool],
    ) -> Pulled:
        """Pulls and unpacks; `known(image_id)` says the image is here already, in which case
        no layer is reported (docker prints no layer lines for an up-to-date image)."""
        req = registry_pb2.PullRequest(
            reference=str(ref),
            platform=plat,
            auth=auth,
            max_concurrent_downloads=self.max_downloads,
        )
        stream = self._track(self.proxy.pull(req))
        events = iter(stream)
        try:
            first = next(events)
        except StopIteration:
            raise errors.Internal("registry proxy ended the pull without resolving it") from None
        if first.WhichOneof("event") != "resolved":
            raise errors.Internal("registry proxy did not resolve the reference first")
        resolved = self._resolved(ref, first.resolved)
        existing = {s.chain_id for s in self.executor.snapshots()}
        todo = [i for i, layer in enumerate(resolved.layers) if layer.chain_id not in existing]
        if known(resolved.config_digest):
            on_layers([])
            on_update = _ignore
        else:
            on_layers(
                [
                    LayerUpdate(layer.digest, WAITING if i in todo else ALREADY_EXISTS)
                    for i, layer in enumerate(resolved.layers)
                ]
            )
        # The proxy says WAITING for every layer; docker says it only of layers queued behind
        # the download limit.
        queued = set(
            list(dict.fromkeys(resolved.layers[i].digest for i in todo))[self.max_downloads :]
        )
        by_digest: dict[str, list[int]] = {}
        for i in todo:
            by_digest.setdefault(resolved.layers[i].digest, []).append(i)

        q: queue.Queue[tuple[str, Any]] = queue.Queue()
        pool = ThreadPoolExecutor(max_workers=max(1, 2 * len(todo)), thread_name_prefix="unpack")

        def unpack(i: int, follow: bool) -> None:
            layer = resolved.layers[i]
            req = executor_pb2.UnpackRequest(
                blob_digest=layer.digest,
                media_type=layer.media_type,
                diff_id=layer.diff_id,
                chain_id=layer.chain_id,
                parent_chain_id=resolved.layers[i - 1].chain_id if i > 0 else "",
                follow=follow,
                blob_size=layer.size,
            )
            try:
                for p in self._track(self.executor.unpack(req)):
                    if p.state == executor_pb2.UNPACK_STATE_EXTRACTING:
                        q.put(("extracting", (i, p.current, p.total)))
                    elif p.state in (
                        executor_pb2.UNPACK_STATE_DONE,
                        executor_pb2.UNPACK_STATE_EXISTS,
                    ):
                        q.put(("unpacked", i))
                        return
                raise errors.Internal(f"executor ended the unpack of {layer.digest} early")
            except BaseException as e:  # noqa: BLE001 - handed to the pulling thread
                q.put(("unpack failed", (i, follow, e)))

        def read_proxy() -> None:
            try:
                for ev in events:
                    if ev.WhichOneof("event") == "layer":
                        q.put(("proxy", ev.layer))
                q.put(("proxy done", None))
            except BaseException as e:  # noqa: BLE001
                q.put(("error", e))

        threading.Thread(target=read_proxy, name="pull-proxy", daemon=True).start()
        # Each layer is unpacked while it downloads (follow) from its first DOWNLOADING event;
        # a follow unpack that fails (the proxy restarted the blob from 0, say) is retried
        # once from the verified blob, and only its second failure fails the pull.
        started: set[int] = set()
        retried: set[int] = set()
        downloaded: set[str] = set()
        waiting_retry: set[int] = set()
        unpacked: set[int] = set()
        completed = 0  # layers of `todo` reported PULL_COMPLETE, in order like docker
        proxy_done = False

        def report_completed() -> None:
            # A layer is complete once unpacked and its download verified, and completes
            # after the layers below it, so statuses only move forward, bottom layer first.
            nonlocal completed
            while completed < len(todo):
                i = todo[completed]
                if i not in unpacked or resolved.layers[i].digest not in downloaded:
                    return
                on_update(LayerUpdate(resolved.layers[i].digest, PULL_COMPLETE))
                completed += 1

        try:
            while len(unpacked) < len(todo) or not proxy_done:
                kind, value = q.get()
                if kind == "error":
                    raise value
                if kind == "proxy done":
                    proxy_done = True
                    missing = set(by_digest) - downloaded
                    if missing:
                        raise errors.Internal(
                            f"registry proxy finished without layers {', '.join(sorted(missing))}"
                        )
                elif kind == "proxy":
                    lp = value
                    status = _PROXY_STATES.get(lp.state)
                    if lp.digest not in by_digest or status is None:
                        continue
                    if status != WAITING or lp.digest in queued:
                        on_update(LayerUpdate(lp.digest, status, lp.current, lp.total, lp.message))
                    done = lp.state in (
                        registry_pb2.LAYER_STATE_DOWNLOADED,
                        registry_pb2.LAYER_STATE_EXISTS,
                    )
                    if done:
                        downloaded.add(lp.digest)
                        report_completed()
                    for i in by_digest[lp.digest]:
                        if i not in started and (done or status == DOWNLOADING):
                            started.add(i)
                            pool.submit(unpack, i, not done)
                        elif done and i in waiting_retry:
                            waiting_retry.discard(i)
                            pool.submit(unpack, i, False)
                elif kind == "extracting":
                    i, current, total = value
                    if resolved.layers[i].digest in downloaded:
                        on_update(
                            LayerUpdate(resolved.layers[i].digest, EXTRACTING, current, total)
                        )
                elif kind == "unpacked":
                    unpacked.add(value)
                    report_completed()
                elif kind == "unpack failed":
                    i, follow, err = value
                    if not follow or i in retried or isinstance(err, errors.Cancelled):
                        raise err
                    log.info("unpack while downloading failed, retrying", error=str(err))
                    retried.add(i)
                    if resolved.layers[i].digest in downloaded:
                        pool.submit(unpack, i, False)
                    else:
                        waiting_retry.add(i)
        finally:
            self.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
        sizes = {s.chain_id: s.size for s in self.executor.snapshots()}
        for layer in resolved.layers:
            layer.unpacked_size = sizes.get(layer.chain_id, 0)
        return Pulled(resolved, resolved.layers)

    def _resolved(self, ref: reference.Reference, r: registry_pb2.Resolved) -> Resolved:
        try:
            config = json.loads(self.content.read(r.config.digest))
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.InvalidArgument(f"image config {r.config.digest} is not JSON: {e}") from e
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(r.layers):
            raise errors.InvalidArgument(
                f"invalid image {ref}: its config lists {len(diff_ids)} layer diff ids "
                f"but its manifest has {len(r.layers)} layers"
            )
        chains = chain_ids(diff_ids)
        layers = [
            Layer(
                digest=d.digest,
                media_type=d.media_type,
                size=d.size,
                diff_id=diff_ids[i],
                chain_id=chains[i],
            )
            for i, d in enumerate(r.layers)
        ]
        return Resolved(
            ref=ref,
            manifest=r.manifest,
            index_digest=r.index.digest,
            config_digest=r.config.digest,
            config=config,
            layers=layers,
            platform=r.platform,
        )
