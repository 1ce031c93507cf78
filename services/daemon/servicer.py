"""gRPC adapters for the daemon's API: messages in, logic called, messages out. Errors are
domain errors raised by the logic; the server's interceptor maps them to status codes."""

from __future__ import annotations

import datetime
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from caisson import errors
from caisson.daemon.images import ImageService
from caisson.daemon.pull import LayerUpdate
from caisson.daemon.system import SystemService
from caisson.reference import from_name
from caisson_api.daemon.v1 import daemon_pb2, daemon_pb2_grpc
from caisson_api.registry.v1 import registry_pb2


def _ts(value: float | str) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    if isinstance(value, str):
        if not value:
            return ts
        try:
            dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return ts
        ts.FromDatetime(dt.astimezone(datetime.UTC).replace(tzinfo=None))
    else:
        ts.FromNanoseconds(int(value * 1e9))
    return ts


def _layer(u: LayerUpdate) -> daemon_pb2.LayerProgress:
    return daemon_pb2.LayerProgress(
        id=u.id,
        digest=u.digest,
        status=daemon_pb2.LayerStatus.Value("LAYER_STATUS_" + u.status),
        current=u.current,
        total=u.total,
        message=u.message,
    )


def _auth(a: daemon_pb2.AuthConfig) -> registry_pb2.AuthConfig:
    return registry_pb2.AuthConfig(
        username=a.username, password=a.password, identity_token=a.identity_token
    )


class _QueueWatch:
    """Feeds a pull's progress into the queue the streaming RPC reads."""

    def __init__(self) -> None:
        self.q: queue.Queue[daemon_pb2.PullEvent | BaseException | None] = queue.Queue()
        self.job_id = ""
        self._cancels: list[Callable[[], None]] = []
        self._cancelled = False
        self._lock = threading.Lock()

    def job(self, job_id: str) -> None:
        self.job_id = job_id

    def layers(self, layers: list[LayerUpdate]) -> None:
        self.q.put(
            daemon_pb2.PullEvent(
                job_id=self.job_id, layers=daemon_pb2.LayerList(layers=[_layer(u) for u in layers])
            )
        )

    def update(self, update: LayerUpdate) -> None:
        self.q.put(daemon_pb2.PullEvent(job_id=self.job_id, layer=_layer(update)))

    def on_cancel(self, cancel: Callable[[], None]) -> None:
        with self._lock:
            self._cancels.append(cancel)
            run_now = self._cancelled
        if run_now:
            cancel()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            cancels = list(self._cancels)
        for c in cancels:
            c()


class ImagesServicer(daemon_pb2_grpc.ImagesServicer):
    def __init__(self, images: ImageService) -> None:
        self.images = images

    def Pull(  # noqa: N802
        self, request: daemon_pb2.PullRequest, context: grpc.ServicerContext
    ) -> Iterator[daemon_pb2.PullEvent]:
        watch = _QueueWatch()

        def work() -> None:
            try:
                out = self.images.pull(
                    request.reference, request.platform, _auth(request.auth), watch
                )
                watch.q.put(
                    daemon_pb2.PullEvent(
                        job_id=watch.job_id,
                        result=daemon_pb2.PullResult(
                            reference=out.reference,
                            digest=out.digest,
                            image_id=out.image_id,
                            downloaded=out.downloaded,
                        ),
                    )
                )
            except BaseException as e:  # noqa: BLE001 - re-raised in the RPC's thread
                if isinstance(e, errors.CaissonError) or not context.is_active():
                    watch.q.put(e)
                else:
                    watch.q.put(errors.Internal(f"pull failed: {e}"))
            watch.q.put(None)

        context.add_callback(watch.cancel)
        worker = threading.Thread(target=work, name="pull", daemon=True)
        worker.start()
        while True:
            item = watch.q.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item

    def List(  # noqa: N802
        self, request: daemon_pb2.ListImagesRequest, context: grpc.ServicerContext
    ) -> daemon_pb2.ListImagesResponse:
        out = []
        for img in self.images.list(request.reference, list(request.filters)):
            out.append(
                daemon_pb2.ImageSummary(
                    id=img.id,
                    repo_tags=sorted(from_name(n, tag=t).familiar() for n, t in img.tags),
                    repo_digests=sorted(from_name(n, digest=d).familiar() for n, d in img.digests),
                    created=_ts(img.created),
                    size=img.size,
                    containers=-1,  # not counted (docker's -1, shown as N/A)
                )
            )
        return daemon_pb2.ListImagesResponse(images=out)

    def Inspect(  # noqa: N802
        self, request: daemon_pb2.InspectImageRequest, context: grpc.ServicerContext
    ) -> daemon_pb2.InspectImageResponse:
        return daemon_pb2.InspectImageResponse(
            documents=self.images.inspect(list(request.references))
        )

    def History(  # noqa: N802
        self, request: daemon_pb2.HistoryRequest, context: grpc.ServicerContext
    ) -> daemon_pb2.HistoryResponse:
        return daemon_pb2.HistoryResponse(
            entries=[
                daemon_pb2.HistoryEntry(
                    id=e.id,
                    created=_ts(e.created),
                    created_by=e.created_by,
                    size=e.size,
                    comment=e.comment,
                    empty_layer=e.empty_layer,
                )
                for e in self.images.history(request.reference)
            ]
        )

    def Tag(  # noqa: N802
        self, request: daemon_pb2.TagRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.images.tag(request.source, request.target)
        return empty_pb2.Empty()

    def Remove(  # noqa: N802
        self, request: daemon_pb2.RemoveImageRequest, context: grpc.ServicerContext
    ) -> daemon_pb2.RemoveImageResponse:
        untagged, deleted = self.images.remove(
            request.reference, request.force, prune=not request.no_prune
        )
        return daemon_pb2.RemoveImageResponse(untagged=untagged, deleted=deleted)

    def Prune(  # noqa: N802
        self, request: daemon_pb2.PruneImagesRequest, context: grpc.ServicerContext
    ) -> daemon_pb2.PruneImagesResponse:
        untagged, deleted, freed = self.images.prune(request.all)
        return daemon_pb2.PruneImagesResponse(
            untagged=untagged, deleted=deleted, space_reclaimed=freed
        )


class SystemServicer(daemon_pb2_grpc.SystemServicer):
    def __init__(self, system: SystemService) -> None:
        self.system = system

    def _components(self) -> list[daemon_pb2.ComponentVersion]:
        return [
            daemon_pb2.ComponentVersion(
                name=c.name, version=c.version, health=c.health, address=c.address
            )
            for c in self.system.components()
        ]

    def Version(  # noqa: N802
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> daemon_pb2.VersionResponse:
        v = self.system.version()
        return daemon_pb2.VersionResponse(components=self._components(), **v)

    def Info(  # noqa: N802
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> daemon_pb2.InfoResponse:
        info: dict[str, Any] = self.system.info()
        return daemon_pb2.InfoResponse(components=self._components(), **info)

    def Events(  # noqa: N802
        self, request: daemon_pb2.EventsRequest, context: grpc.ServicerContext
    ) -> Iterator[daemon_pb2.Event]:
        for ev in self.system.events(
            request.since if request.HasField("since") else None,
            request.until,
            list(request.filters),
            context.is_active,
        ):
            yield daemon_pb2.Event(
                type=ev.type,
                action=ev.action,
                id=ev.id,
                attributes=ev.attributes,
                time=_ts(ev.time),
                job_id=ev.job_id,
            )

    def Login(  # noqa: N802
        self, request: daemon_pb2.LoginRequest, context: grpc.ServicerContext
    ) -> daemon_pb2.LoginResponse:
        status = self.system.login(request.registry, _auth(request.auth))
        return daemon_pb2.LoginResponse(status=status)
