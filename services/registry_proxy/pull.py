"""A pull from start to end: pick an endpoint, resolve, download the missing layers
concurrently, and report it all as a stream of events.

Events, in order: `Resolved` (manifests and config already stored); per layer `EXISTS` or
`WAITING`; then for each waiting layer `DOWNLOADING` (repeated, current/total), `RETRYING`
(when a request failed and is tried again), `VERIFYING`, `DOWNLOADED` — layers interleave;
finally `Done`. Any error ends the stream by raising; a cancelled pull stops its downloads and
leaves their partial files for the next pull to resume.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from caisson import errors, logs
from caisson.content import ContentStore
from caisson.platforms import Platform
from caisson.reference import Reference
from caisson.registry_proxy.auth import ANONYMOUS, Credentials
from caisson.registry_proxy.blobs import BlobFetcher
from caisson.registry_proxy.distribution import Registry, Repository
from caisson.registry_proxy.events import (
    Descriptor,
    Done,
    Event,
    LayerProgress,
    LayerState,
    Resolved,
)
from caisson.registry_proxy.resolve import Resolver

log = logs.get("caisson.registry_proxy")

DEFAULT_MAX_CONCURRENT_DOWNLOADS = 3
# How often the event loop looks at the cancel flag while nothing else happens.
POLL = 0.1


@dataclass(frozen=True)
class _Finished:
    digest: str
    error: BaseException | None


class Puller:
    def __init__(
        self,
        content: ContentStore,
        registry: Registry,
        fetcher: BlobFetcher | None = None,
        max_concurrent_downloads: int = DEFAULT_MAX_CONCURRENT_DOWNLOADS,
    ) -> None:
        self.content = content
        self.registry = registry
        self.fetcher = fetcher or BlobFetcher(content, registry.policy)
        self.resolver = Resolver(content)
        self.max_concurrent_downloads = max_concurrent_downloads

    def pull(
        self,
        ref: Reference,
        platform: Platform | None = None,
        creds: Credentials = ANONYMOUS,
        max_concurrent_downloads: int = 0,
        cancel: threading.Event | None = None,
    ) -> Iterator[Event]:
        """Pulls `ref`. `cancel`, when set by the caller, stops the pull; the pull sets it
        itself when it ends, which releases everything it started."""
        cancel = cancel or threading.Event()
        started = time.monotonic()
        log.info("pull started", ref=str(ref), platform=str(platform) if platform else "host")
        try:
            repo, resolved = self._resolve(ref, platform, creds, cancel)
            yield resolved
            downloaded = yield from self._layers(
                repo, resolved.layers, max_concurrent_downloads, cancel
            )
        except errors.CaissonError as e:
            log.info(
                "pull failed",
                ref=str(ref),
                error=str(e),
                code=e.code.name,
                seconds=round(time.monotonic() - started, 3),
            )
            raise
        except GeneratorExit:
            cancel.set()
            log.info("pull cancelled", ref=str(ref))
            raise
        log.info(
            "pull finished",
            ref=str(ref),
            digest=resolved.manifest.digest,
            layers=len(resolved.layers),
            bytes=downloaded,
            seconds=round(time.monotonic() - started, 3),
        )
        yield Done(resolved.manifest)

    def _resolve(
        self,
        ref: Reference,
        platform: Platform | None,
        creds: Credentials,
        cancel: threading.Event,
    ) -> tuple[Repository, Resolved]:
        """Tries mirrors first (anonymously: credentials are for the registry, not for
        whoever runs a mirror), then the registry itself."""
        endpoints = self.registry.hosts.endpoints(ref.domain)
        for endpoint in endpoints:
            try:
                repo = self.registry.repository(
                    endpoint, ref.name, ref.path, ANONYMOUS if endpoint.mirror else creds, cancel
                )
                return repo, self.resolver.resolve(repo, ref, platform)
            except errors.CaissonError as e:
                # A mirror that fails in any way is skipped; the registry's answer is final.
                if not endpoint.mirror or isinstance(e, errors.Cancelled):
                    raise
                log.warning(
                    "mirror failed, trying the next endpoint", mirror=endpoint.host, error=str(e)
                )
        raise AssertionError("the last endpoint is never a mirror")

    def _layers(
        self,
        repo: Repository,
        layers: list[Descriptor],
        max_concurrent: int,
        cancel: threading.Event,
    ) -> Iterator[Event]:
        """Downloads what is missing; yields progress; returns the bytes downloaded."""
        unique: dict[str, Descriptor] = {}
        for layer in layers:
            unique.setdefault(layer.digest, layer)
        missing: list[Descriptor] = []
        for layer in unique.values():
            if self.content.exists(layer.digest):
                yield LayerProgress(layer.digest, LayerState.EXISTS, layer.size, layer.size)
            else:
                missing.append(layer)
                yield LayerProgress(layer.digest, LayerState.WAITING, 0, layer.size)
        if not missing:
            return 0

        # Progress events from the download threads, then one _Finished per layer.
        events: queue.SimpleQueue[LayerProgress | _Finished] = queue.SimpleQueue()

        def download(layer: Descriptor) -> None:
            try:
                self.fetcher.fetch(repo, layer, events.put, cancel)
            except BaseException as e:  # noqa: BLE001 - handed to the pull's thread
                events.put(_Finished(layer.digest, e))
            else:
                events.put(_Finished(layer.digest, None))

        workers = max_concurrent or self.max_concurrent_downloads
        pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="download")
        finished: set[str] = set()
        try:
            for layer in missing:
                pool.submit(download, layer)
            left = len(missing)
            while left:
                try:
                    event = events.get(timeout=POLL)
                except queue.Empty:
                    event = None
                if cancel.is_set():
                    raise errors.Cancelled("pull cancelled")
                if isinstance(event, _Finished):
                    left -= 1
                    if event.error is not None:
                        raise event.error
                elif event is not None:
                    if event.state is LayerState.DOWNLOADED:
                        finished.add(event.digest)
                    yield event
        finally:
            # However this pull ends, its downloads stop at their next chunk (shared ones
            # go on while another pull still waits for them).
            cancel.set()
            self.fetcher.interrupt()
            pool.shutdown(wait=False, cancel_futures=True)
        return sum(unique[d].size for d in finished)
