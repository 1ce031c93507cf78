"""gRPC adapters for the daemon's Containers and Volumes services: messages in, logic called,
messages out (errors are mapped once, by the server's interceptor)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from caisson import errors
from caisson.daemon import containerdoc, containerfilter
from caisson.daemon.containers import ContainerService, Output
from caisson.daemon.volumes import Volume, VolumeService
from caisson_api.daemon.v1 import containers_pb2 as api
from caisson_api.daemon.v1 import containers_pb2_grpc

CONTAINERS = api.DESCRIPTOR.services_by_name["Containers"].full_name
VOLUMES = api.DESCRIPTOR.services_by_name["Volumes"].full_name


def _ts(t: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(t * 1e9))
    return ts


def _ended(context: grpc.ServicerContext) -> threading.Event:
    gone = threading.Event()
    if not context.add_callback(gone.set):
        gone.set()
    return gone


def _attach_response(o: Output) -> api.AttachResponse:
    if o.attached:
        return api.AttachResponse(attached=o.attached)
    if o.exit is not None:
        return api.AttachResponse(exit=o.exit)
    if o.stream == "stdout":
        return api.AttachResponse(stdout=o.data)
    return api.AttachResponse(stderr=o.data)


def _exec_response(o: Output) -> api.ExecResponse:
    if o.attached:
        return api.ExecResponse(started=o.attached)
    if o.exit is not None:
        return api.ExecResponse(exit=o.exit)
    if o.stream == "stdout":
        return api.ExecResponse(stdout=o.data)
    return api.ExecResponse(stderr=o.data)


class ContainersServicer(containers_pb2_grpc.ContainersServicer):
    def __init__(self, containers: ContainerService) -> None:
        self.c = containers

    def Create(  # noqa: N802
        self, request: api.CreateContainerRequest, context: grpc.ServicerContext
    ) -> api.CreateContainerResponse:
        cid, warnings = self.c.create(request)
        return api.CreateContainerResponse(id=cid, warnings=warnings)

    def Start(self, request: api.ContainerRef, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        self.c.start(request.container)
        return empty_pb2.Empty()

    def Attach(  # noqa: N802
        self, request_iterator: Iterator[api.AttachRequest], context: grpc.ServicerContext
    ) -> Iterator[api.AttachResponse]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "open":
            raise errors.InvalidArgument("the first attach request must be `open`")
        for out in self.c.attach(first.open, request_iterator):
            yield _attach_response(out)

    def Wait(  # noqa: N802
        self, request: api.WaitContainerRequest, context: grpc.ServicerContext
    ) -> api.WaitContainerResponse:
        code, error = self.c.wait(request.container, request.condition, _ended(context))
        return api.WaitContainerResponse(exit_code=code, error=error)

    def Stop(  # noqa: N802
        self, request: api.StopContainerRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.c.stop(request.container, request.timeout if request.HasField("timeout") else None)
        return empty_pb2.Empty()

    def Restart(  # noqa: N802
        self, request: api.StopContainerRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        timeout = request.timeout if request.HasField("timeout") else None
        self.c.restart(request.container, timeout)
        return empty_pb2.Empty()

    def Kill(  # noqa: N802
        self, request: api.KillContainerRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.c.kill(request.container, request.signal)
        return empty_pb2.Empty()

    def Remove(  # noqa: N802
        self, request: api.RemoveContainerRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.c.remove(request.container, request.force, request.volumes)
        return empty_pb2.Empty()

    def List(  # noqa: N802
        self, request: api.ListContainersRequest, context: grpc.ServicerContext
    ) -> api.ListContainersResponse:
        records = containerfilter.select(
            self.c.records(), list(request.filters), request.all, self.c.images, request.limit
        )
        now = time.time()
        return api.ListContainersResponse(
            containers=[containerdoc.summary(r, now) for r in records]
        )

    def Inspect(  # noqa: N802
        self, request: api.InspectContainersRequest, context: grpc.ServicerContext
    ) -> api.InspectContainersResponse:
        docs = []
        for name in request.containers:
            rec = self.c.resolve(name)
            cdir = os.path.dirname(rec.log_path) if rec.log_path else ""
            docs.append(json.dumps(containerdoc.inspect(rec, container_dir=cdir)))
        return api.InspectContainersResponse(documents=docs)

    def Logs(  # noqa: N802
        self, request: api.LogsRequest, context: grpc.ServicerContext
    ) -> Iterator[api.LogChunk]:
        streams = {"stdout": api.STREAM_STDOUT, "stderr": api.STREAM_STDERR}
        for e in self.c.logs(request):
            yield api.LogChunk(stream=streams.get(e.stream, 0), data=e.data, time=e.time)

    def Exec(  # noqa: N802
        self, request_iterator: Iterator[api.ExecRequest], context: grpc.ServicerContext
    ) -> Iterator[api.ExecResponse]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "open":
            raise errors.InvalidArgument("the first exec request must be `open`")
        for out in self.c.exec(first.open, request_iterator):
            yield _exec_response(out)

    def Pause(self, request: api.ContainerRef, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        self.c.pause(request.container)
        return empty_pb2.Empty()

    def Unpause(  # noqa: N802
        self, request: api.ContainerRef, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.c.unpause(request.container)
        return empty_pb2.Empty()

    def Rename(  # noqa: N802
        self, request: api.RenameContainerRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.c.rename(request.container, request.name)
        return empty_pb2.Empty()

    def Top(self, request: api.TopRequest, context: grpc.ServicerContext) -> api.TopResponse:  # noqa: N802
        top = self.c.top(request.container, list(request.ps_args))
        return api.TopResponse(
            titles=top.titles, processes=[api.TopRow(values=p) for p in top.processes]
        )

    def Stats(  # noqa: N802
        self, request: api.StatsRequest, context: grpc.ServicerContext
    ) -> Iterator[api.StatsResponse]:
        for samples in self.c.stats(list(request.containers), request.stream, _ended(context)):
            yield api.StatsResponse(stats=samples)

    def CopyFrom(  # noqa: N802
        self, request: api.CopyFromRequest, context: grpc.ServicerContext
    ) -> Iterator[api.CopyChunk]:
        for chunk in self.c.copy_from(request.container, request.path):
            if chunk.WhichOneof("chunk") == "stat":
                s = chunk.stat
                yield api.CopyChunk(
                    stat=api.PathStat(
                        name=s.name,
                        size=s.size,
                        mode=s.mode,
                        mtime=s.mtime,
                        link_target=s.link_target,
                    )
                )
            else:
                yield api.CopyChunk(data=chunk.data)

    def CopyTo(  # noqa: N802
        self, request_iterator: Iterator[api.CopyToRequest], context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "open":
            raise errors.InvalidArgument("the first copy request must be `open`")
        data = (r.data for r in request_iterator if r.WhichOneof("request") == "data")
        self.c.copy_to(first.open, data)
        return empty_pb2.Empty()

    def Prune(  # noqa: N802
        self, request: api.PruneContainersRequest, context: grpc.ServicerContext
    ) -> api.PruneContainersResponse:
        deleted, reclaimed = self.c.prune(list(request.filters))
        return api.PruneContainersResponse(deleted=deleted, space_reclaimed=reclaimed)


def _volume(v: Volume) -> api.Volume:
    return api.Volume(
        name=v.name,
        driver="local",
        mountpoint=v.mountpoint,
        created=_ts(v.created),
        labels=v.labels,
        options=v.options,
        scope="local",
        ref_count=len(v.users),
        size=v.size,
    )


class VolumesServicer(containers_pb2_grpc.VolumesServicer):
    def __init__(self, volumes: VolumeService) -> None:
        self.v = volumes

    def Create(self, request: api.CreateVolumeRequest, context: grpc.ServicerContext) -> api.Volume:  # noqa: N802
        return _volume(
            self.v.create(request.name, request.driver, dict(request.labels), dict(request.options))
        )

    def List(  # noqa: N802
        self, request: api.ListVolumesRequest, context: grpc.ServicerContext
    ) -> api.ListVolumesResponse:
        return api.ListVolumesResponse(
            volumes=[_volume(v) for v in self.v.list(list(request.filters))]
        )

    def Inspect(  # noqa: N802
        self, request: api.InspectVolumesRequest, context: grpc.ServicerContext
    ) -> api.InspectVolumesResponse:
        return api.InspectVolumesResponse(volumes=[_volume(self.v.get(n)) for n in request.names])

    def Remove(  # noqa: N802
        self, request: api.RemoveVolumeRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.v.remove(request.name, request.force)
        return empty_pb2.Empty()

    def Prune(  # noqa: N802
        self, request: api.PruneVolumesRequest, context: grpc.ServicerContext
    ) -> api.PruneVolumesResponse:
        deleted, reclaimed = self.v.prune(list(request.filters), request.all)
        return api.PruneVolumesResponse(deleted=deleted, space_reclaimed=reclaimed)
