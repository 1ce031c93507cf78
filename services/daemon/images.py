"""The image store's logic: pull, list, inspect, history, tag, remove, prune and garbage
collection. Transport-free: the servicer adapts it to gRPC."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from caisson import errors, logs, reference
from caisson.content import ContentStore
from caisson.daemon import imagedoc, imagefilter
from caisson.daemon.clients import Executor, RegistryProxy
from caisson.daemon.engine import Engine
from caisson.daemon.pull import LayerUpdate, Puller, parse_platform
from caisson.daemon.store import ImageRecord, Store
from caisson_api.registry.v1 import registry_pb2

log = logs.get("caisson.daemon.images")

_HEX = re.compile(r"^[a-f0-9]{1,64}$")


@dataclass
class PullOutcome:
    reference: str
    digest: str
    image_id: str
    downloaded: bool


class PullWatch(Protocol):
    """What a pull reports to its caller while it runs."""

    def job(self, job_id: str) -> None: ...
    def layers(self, layers: list[LayerUpdate]) -> None: ...
    def update(self, update: LayerUpdate) -> None: ...
    def on_cancel(self, cancel: Callable[[], None]) -> None: ...


class _GCLock:
    """Pulls share it; garbage collection takes it alone, so it never deletes the blobs and
    snapshots of a pull that has not recorded its image yet."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pulls = 0
        self._gc = False

    @contextmanager
    def pull(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._gc)
            self._pulls += 1
        try:
            yield
        finally:
            with self._cond:
                self._pulls -= 1
                self._cond.notify_all()

    @contextmanager
    def gc(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._gc and self._pulls == 0)
            self._gc = True
        try:
            yield
        finally:
            with self._cond:
                self._gc = False
                self._cond.notify_all()


class ImageService:
    def __init__(
        self,
        store: Store,
        content: ContentStore,
        engine: Engine,
        proxy: RegistryProxy,
        executor: Executor,
        max_concurrent_downloads: Callable[[], int],
    ) -> None:
        self.store = store
        self.content = content
        self.engine = engine
        self.proxy = proxy
        self.executor = executor
        self._max_downloads = max_concurrent_downloads
        self._gc_lock = _GCLock()
        # Ids of the containers made from an image (set by the container service): such an
        # image is never deleted, its layers are under those containers' rootfs.
        self.in_use: Callable[[str], list[str]] = lambda _image_id: []

    # pull ---------------------------------------------------------------------------------

    def pull(
        self,
        text: str,
        platform: str,
        auth: registry_pb2.AuthConfig,
        watch: PullWatch,
    ) -> PullOutcome:
        ref = reference.parse(text)
        plat = parse_platform(platform)
        with self.engine.job("pull", reference=str(ref)) as job, self._gc_lock.pull():
            watch.job(job.id)
            puller = Puller(self.proxy, self.executor, self.content, self._max_downloads())
            watch.on_cancel(puller.cancel)
            pulled = puller.run(
                ref,
                plat,
                auth,
                watch.layers,
                watch.update,
                lambda i: self.store.image(i) is not None,
            )
            r = pulled.resolved
            image_id = r.config_digest
            before = self.store.image(image_id)
            cfg = r.config
            img = ImageRecord(
                id=image_id,
                manifest_digest=r.manifest.digest,
                manifest_media_type=r.manifest.media_type,
                index_digest=r.index_digest,
                layers=pulled.layers,
                created=str(cfg.get("created", "")),
                os=str(cfg.get("os", r.platform.os)),
                architecture=str(cfg.get("architecture", r.platform.architecture)),
                variant=str(cfg.get("variant", r.platform.variant)),
                size=sum(layer.unpacked_size for layer in pulled.layers),
                pulled_at=_now(),
            )
            self.store.put_image(img)
            repo_digest = ref.digest or r.index_digest or r.manifest.digest
            had_digest = self.store.by_digest(ref.name, repo_digest) == image_id
            self.store.set_digest(ref.name, repo_digest, image_id)
            retagged = False
            if ref.tag:
                previous = self.store.set_tag(ref.name, ref.tag, image_id, _now())
                retagged = previous is not None or self.store.tagged(ref.name, ref.tag) is None
                if previous is not None:
                    self.engine.events.publish(
                        "image", "untag", previous, job_id=job.id, name=str(ref)
                    )
            downloaded = before is None or retagged or not had_digest
            self.engine.events.publish("image", "pull", str(ref), job_id=job.id, name=ref.name)
            log.info("image pulled", reference=str(ref), image_id=image_id, digest=repo_digest)
        return PullOutcome(str(ref), repo_digest, image_id, downloaded)

    # queries ------------------------------------------------------------------------------

    def resolve(self, text: str) -> ImageRecord:
        """An image by reference, id, or unique id prefix (with or without "sha256:")."""
        hex_part = text[len("sha256:") :] if text.startswith("sha256:") else text
        if text.startswith("sha256:") or _HEX.match(text):
            if _HEX.match(hex_part):
                ids = self.store.image_ids_with_prefix(hex_part)
                if len(ids) == 1:
                    img = self.store.image(ids[0])
                    if img is not None:
                        return img
                if len(ids) > 1:
                    raise errors.InvalidArgument(
                        f"ambiguous image id prefix {text!r}: matches {len(ids)} images"
                    )
            if text.startswith("sha256:"):
                raise errors.NotFound(f"No such image: {text}")
        try:
            ref = reference.parse(text)
        except errors.InvalidArgument:
            raise errors.NotFound(f"No such image: {text}") from None
        image_id = (
            self.store.by_digest(ref.name, ref.digest)
            if ref.digest
            else self.store.tagged(ref.name, ref.tag)
        )
        img = self.store.image(image_id) if image_id else None
        if img is None:
            raise errors.NotFound(f"No such image: {ref.familiar()}")
        return img

    def config(self, img: ImageRecord) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.content.read(img.id))
        return data

    def list(self, filter_ref: str, filters: list[str]) -> list[ImageRecord]:
        """The images docker's `images [REPO[:TAG]] [--filter ...]` shows. The REPO[:TAG]
        argument is a reference filter, and a reference filter narrows each image's tags and
        digests to the matching ones. Docker's `-a` also shows intermediate build images;
        pulled images have none."""
        if filter_ref:
            filters = [*filters, f"reference={filter_ref}"]
        images = self.store.images()
        if not filters:
            return images
        keep = imagefilter.parse(filters, self.config, self.resolve)
        patterns = [f.partition("=")[2] for f in filters if f.startswith("reference=")]
        out = []
        for img in images:
            if not keep(img):
                continue
            narrowed = imagefilter.narrow(img, patterns) if patterns else img
            if narrowed is not None:
                out.append(narrowed)
        return out

    def inspect(self, refs: list[str]) -> list[str]:
        docs = []
        for text in refs:
            img = self.resolve(text)
            docs.append(json.dumps(imagedoc.inspect(img, self.config(img))))
        return docs

    def history(self, text: str) -> list[imagedoc.HistoryEntry]:
        img = self.resolve(text)
        return imagedoc.history(img, self.config(img))

    # changes ------------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> None:
        img = self.resolve(source)
        ref = reference.parse(target)
        if ref.digest:
            raise errors.InvalidArgument(
                f"refusing to create a tag with a digest reference: {target}"
            )
        with self.engine.job("tag", source=source, target=str(ref)) as job:
            previous = self.store.set_tag(ref.name, ref.tag, img.id, _now())
            if previous:
                self.engine.events.publish("image", "untag", previous, job_id=job.id)
            self.engine.events.publish("image", "tag", img.id, job_id=job.id, name=ref.familiar())

    def remove(self, text: str, force: bool, prune: bool = True) -> tuple[list[str], list[str]]:
        """`rmi`: untags, and deletes the image when nothing names it any more; returns the
        references removed and the ids deleted (the image, then its layers' chain ids, top
        first, as docker lists them)."""
        img = self.resolve(text)
        untagged: list[str] = []
        deleted: list[str] = []
        with self.engine.job("image delete", reference=text) as job:
            by_id = text.startswith("sha256:") or (
                _HEX.match(text) is not None and img.id.startswith("sha256:" + text)
            )
            users = self.in_use(img.id)
            last_name = len(img.tags) + len(img.digests) <= 1
            if users and not force and by_id:
                raise errors.FailedPrecondition(
                    f"conflict: unable to delete {img.id[7:19]} (must be forced) - image is "
                    f"being used by stopped container {users[0][:12]}"
                )
            if users and not force and last_name:
                raise errors.FailedPrecondition(
                    f'conflict: unable to remove repository reference "{text}" (must force) - '
                    f"container {users[0][:12]} is using its referenced image {img.id[7:19]}"
                )
            if by_id:
                if len({name for name, _ in img.tags}) > 1 and not force:
                    raise errors.FailedPrecondition(
                        f"conflict: unable to delete {img.id[7:19]} (must be forced) - image is "
                        "referenced in multiple repositories"
                    )
                for name, tag in img.tags:
                    self.store.remove_tag(name, tag)
                for name, digest in img.digests:
                    self.store.remove_digest(name, digest)
                untagged = refs_of(img)
            else:
                ref = reference.parse(text)
                if ref.digest:
                    self.store.remove_digest(ref.name, ref.digest)
                else:
                    self.store.remove_tag(ref.name, ref.tag)
                untagged.append(ref.familiar())
                remaining = self.store.image(img.id)
                if remaining is not None and not any(n == ref.name for n, _ in remaining.tags):
                    # The repository's last tag is gone: its digests go with it, like docker.
                    for name, digest in remaining.digests:
                        if name == ref.name and digest != ref.digest:
                            self.store.remove_digest(name, digest)
                            untagged.append(reference.from_name(name, digest=digest).familiar())
            for u in untagged:
                self.engine.events.publish("image", "untag", img.id, job_id=job.id, name=u)
            current = self.store.image(img.id)
            if current is not None and not current.tags and not current.digests and not users:
                self.store.delete_image(img.id)
                deleted.append(img.id)
                self.engine.events.publish("image", "delete", img.id, job_id=job.id)
                if prune:
                    deleted += _layers_removed(img, self.gc()[1])
        return untagged, deleted

    def prune(self, all_: bool) -> tuple[list[str], list[str], int]:
        """Deletes dangling images (all unused ones with `all_`); returns the references
        removed, the ids deleted (images and their layers) and the bytes freed."""
        untagged: list[str] = []
        removed: list[ImageRecord] = []
        with self.engine.job("image prune") as job:
            for img in self.store.images():
                if self.in_use(img.id) or not (all_ or not img.tags):
                    continue
                refs = refs_of(img)
                self.store.delete_image(img.id)
                untagged += refs
                removed.append(img)
                for ref in refs:
                    self.engine.events.publish("image", "untag", img.id, job_id=job.id, name=ref)
                self.engine.events.publish("image", "delete", img.id, job_id=job.id)
            freed, chains = self.gc()
            self.engine.events.publish("image", "prune", "", job_id=job.id, reclaimed=str(freed))
        deleted = [x for img in removed for x in (img.id, *_layers_removed(img, chains))]
        return untagged, deleted, freed

    def gc(self) -> tuple[int, set[str]]:
        """Deletes blobs and snapshots no image refers to; returns the bytes freed and the
        chain ids of the snapshots removed."""
        with self._gc_lock.gc():
            images = self.store.images()
            live_blobs = set().union(*(img.blob_digests for img in images)) if images else set()
            live_chains = {layer.chain_id for img in images for layer in img.layers}
            freed = 0
            for digest in self.content.list():
                if digest not in live_blobs:
                    freed += self.content.delete(digest)
            removed: set[str] = set()
            for snap in self.executor.snapshots():
                if snap.chain_id not in live_chains:
                    self.executor.remove_snapshot(snap.chain_id)
                    freed += snap.size
                    removed.add(snap.chain_id)
            log.info("garbage collected", bytes=freed, snapshots=len(removed))
            return freed, removed


def refs_of(img: ImageRecord) -> list[str]:
    """The image's references as docker shows them: familiar strings, sorted as strings."""
    refs = [reference.from_name(n, tag=t).familiar() for n, t in img.tags]
    refs += [reference.from_name(n, digest=d).familiar() for n, d in img.digests]
    return sorted(refs)


def _layers_removed(img: ImageRecord, chains: set[str]) -> list[str]:
    return [layer.chain_id for layer in reversed(img.layers) if layer.chain_id in chains]


def _now() -> float:
    import time

    return time.time()
