"""The executor's Containers gRPC service: a thin adapter over ContainerManager (domain errors
become status codes in caisson.server's interceptor)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from caisson import errors
from caisson.executor import containers, copy, monitor
from caisson.executor.containers import ContainerManager, State
from caisson.executor.execs import ExecManager
from caisson_api.executor.v1 import containers_pb2 as pb
from caisson_api.executor.v1 import containers_pb2_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Containers"].full_name

_STATUS = {
    containers.CREATED: pb.STATUS_CREATED,
    containers.RUNNING: pb.STATUS_RUNNING,
    containers.PAUSED: pb.STATUS_PAUSED,
    containers.STOPPED: pb.STATUS_STOPPED,
}


def _ts(t: float) -> timestamp_pb2.Timestamp | None:
    if not t:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(t * 1e9))
    return ts


def state_pb(st: State) -> pb.ContainerState:
    return pb.ContainerState(
        id=st.id,
        status=_STATUS[st.status],
        pid=st.pid,
        exit_code=st.exit_code,
        error=st.error,
        oom_killed=st.oom_killed,
        started=st.started,
        started_at=_ts(st.started_at),
        finished_at=_ts(st.finished_at),
        rootfs=st.rootfs,
        log_path=st.log_path,
        ports=st.ports,
    )


def _time_ns(ts: timestamp_pb2.Timestamp, present: bool) -> int | None:
    return ts.ToNanoseconds() if present else None


def _ended(context: grpc.ServicerContext) -> threading.Event:
    gone = threading.Event()
    if not context.add_callback(gone.set):
        gone.set()
    return gone


def close_when(gone: threading.Event, client: monitor.AttachClient) -> None:
    """Closes the monitor connection once the caller's call has ended (its reader wakes)."""
    gone.wait()
    client.close()


def pump_input(
    requests: Iterator[pb.AttachRequest] | Iterator[pb.ExecRequest], client: monitor.AttachClient
) -> None:
    """Forwards stdin, resizes and the end of input from the caller to a monitor."""
    try:
        for req in requests:
            kind = req.WhichOneof("request")
            if kind == "stdin":
                client.send_stdin(req.stdin)
            elif kind == "resize":
                client.resize(req.resize.rows, req.resize.cols)
            elif kind == "close_stdin":
                client.close_stdin()
    except (grpc.RpcError, OSError, errors.CaissonError):
        pass  # the caller or the monitor went away


class ContainersService(containers_pb2_grpc.ContainersServicer):
    def __init__(self, manager: ContainerManager, execs: ExecManager) -> None:
        self.m = manager
        self.execs = execs

    def Create(self, request: pb.ContainerSpec, context: grpc.ServicerContext) -> pb.ContainerState:
        return state_pb(self.m.create(request))

    def Start(self, request: pb.StartRequest, context: grpc.ServicerContext) -> pb.ContainerState:
        networking = request.networking if request.HasField("networking") else None
        return state_pb(self.m.start(request.id, networking=networking))

    def Attach(
        self, request_iterator: Iterator[pb.AttachRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.AttachResponse]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "open":
            raise errors.InvalidArgument("the first attach request must be `open`")
        cid = first.open.id
        # Read before the start: a quick exit may be followed by the container's removal.
        process = self.m.spec(cid).process
        holder: list[monitor.AttachClient] = []

        def attach(bundle: Path) -> None:
            holder.append(monitor.AttachClient(bundle))

        if first.open.start:
            size = first.open.size
            st = self.m.start(
                cid,
                attach=attach,
                size=(size.rows, size.cols) if size.rows and size.cols else None,
                networking=first.open.networking if first.open.HasField("networking") else None,
            )
        else:
            st = self.m.get(cid)
            if st.status not in (containers.RUNNING, containers.PAUSED):
                raise errors.FailedPrecondition(
                    "You cannot attach to a stopped container, start it first"
                )
            attach(Path(self.m.run / cid))
        client = holder[0]
        if process.stdin or process.tty:  # else there is nothing to forward (input, resizes)
            threading.Thread(
                target=pump_input, args=(request_iterator, client), daemon=True, name="attach-in"
            ).start()
        gone = _ended(context)
        if not context.add_callback(client.close):  # the caller's end wakes the reader
            client.close()
        yield pb.AttachResponse(attached=state_pb(st))
        try:
            for out in client:
                if out.stream == "stdout":
                    yield pb.AttachResponse(stdout=out.data)
                else:
                    yield pb.AttachResponse(stderr=out.data)
        finally:
            client.close()
        if client.exit_status is not None:
            try:
                st = self.m.wait(cid, gone)
            except errors.NotFound:
                st = None
            if st is None or st.status != containers.STOPPED:
                # Removed meanwhile (its files going): the monitor's word is the truth.
                st = containers.exited_state(cid, client.exit_status)
            yield pb.AttachResponse(exit=state_pb(st))

    def Wait(self, request: pb.ContainerId, context: grpc.ServicerContext) -> pb.ContainerState:
        return state_pb(self.m.wait(request.id, _ended(context)))

    def Kill(self, request: pb.KillRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.kill(request.id, request.signal or 9, request.all)
        return empty_pb2.Empty()

    def Delete(self, request: pb.ContainerId, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.delete(request.id)
        return empty_pb2.Empty()

    def Get(self, request: pb.ContainerId, context: grpc.ServicerContext) -> pb.ContainerState:
        return state_pb(self.m.get(request.id))

    def List(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> pb.ListContainersResponse:
        return pb.ListContainersResponse(containers=[state_pb(s) for s in self.m.list()])

    def Events(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> Iterator[pb.ContainerState]:
        q: queue.Queue[State | None] = queue.Queue()
        cancel = self.m.subscribe(q.put)
        context.add_callback(lambda: q.put(None))
        try:
            while True:
                st = q.get()
                if st is None:
                    return
                yield state_pb(st)
        finally:
            cancel()

    def Logs(self, request: pb.LogsRequest, context: grpc.ServicerContext) -> Iterator[pb.LogEntry]:
        for e in self.m.logs(
            request.id,
            follow=request.follow,
            tail=request.tail if request.tail >= 0 else None,
            since_ns=_time_ns(request.since, request.HasField("since")),
            until_ns=_time_ns(request.until, request.HasField("until")),
            cancelled=_ended(context),
        ):
            ts = timestamp_pb2.Timestamp()
            ts.FromNanoseconds(e.time_ns)
            yield pb.LogEntry(stream=e.stream, data=e.data, time=ts)

    def Exec(
        self, request_iterator: Iterator[pb.ExecRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ExecResponse]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "open":
            raise errors.InvalidArgument("the first exec request must be `open`")
        yield from self.execs.run(first.open, request_iterator, _ended(context))

    def Pause(self, request: pb.ContainerId, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.pause(request.id)
        return empty_pb2.Empty()

    def Resume(self, request: pb.ContainerId, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.resume(request.id)
        return empty_pb2.Empty()

    def RemoveVolume(self, request: pb.VolumeRef, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.remove_volume(request.name)
        return empty_pb2.Empty()

    def VolumeSize(
        self, request: pb.VolumeRef, context: grpc.ServicerContext
    ) -> pb.VolumeSizeResponse:
        return pb.VolumeSizeResponse(size=self.m.volume_size(request.name))

    def Connect(self, request: pb.ConnectRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.connect(request.id, request.endpoint)
        return empty_pb2.Empty()

    def Disconnect(
        self, request: pb.DisconnectRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.m.disconnect(request.id, request.network_id)
        return empty_pb2.Empty()

    def Stats(self, request: pb.ContainerId, context: grpc.ServicerContext) -> pb.StatsResponse:
        s = self.m.stats(request.id)
        read = timestamp_pb2.Timestamp()
        read.FromNanoseconds(s.read_ns)
        return pb.StatsResponse(
            read=read,
            cpu_usage_ns=s.cpu_usage_ns,
            system_cpu_ns=s.system_cpu_ns,
            online_cpus=s.online_cpus,
            memory_usage=s.memory_usage,
            memory_limit=s.memory_limit,
            pids=s.pids,
            net_rx_bytes=s.net_rx_bytes,
            net_tx_bytes=s.net_tx_bytes,
            block_read_bytes=s.block_read_bytes,
            block_write_bytes=s.block_write_bytes,
        )

    def Top(self, request: pb.ContainerId, context: grpc.ServicerContext) -> pb.TopResponse:
        return pb.TopResponse(pids=self.m.top(request.id))

    def CopyFrom(
        self, request: pb.CopyFromRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.CopyChunk]:
        req = self.m.copy_request(copy.FROM, request.id, request.path)
        for item in copy.copy_from(req, _ended(context)):
            if isinstance(item, bytes):
                yield pb.CopyChunk(data=item)
            else:
                mtime = timestamp_pb2.Timestamp()
                mtime.FromNanoseconds(item.mtime_ns)
                yield pb.CopyChunk(
                    stat=pb.PathStat(
                        name=item.name,
                        size=item.size,
                        mode=item.mode,
                        mtime=mtime,
                        link_target=item.link_target,
                    )
                )

    def CopyTo(
        self, request_iterator: Iterator[pb.CopyToRequest], context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "open":
            raise errors.InvalidArgument("the first copy request must be `open`")
        req = self.m.copy_request(copy.TO, first.open.id, first.open.path)
        copy.copy_to(req, (r.data for r in request_iterator if r.WhichOneof("request") == "data"))
        return empty_pb2.Empty()
