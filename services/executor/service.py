"""The Executor gRPC service: a thin adapter over the snapshotter (domain errors become status
codes in caisson.server's interceptor)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
from google.protobuf import empty_pb2

from caisson import __version__
from caisson.executor.snapshots import Progress, Snapshot, Snapshotter, State, UnpackRequest
from caisson_api.executor.v1 import executor_pb2, executor_pb2_grpc

SERVICE_NAME = executor_pb2.DESCRIPTOR.services_by_name["Executor"].full_name

_STATES = {
    State.EXTRACTING: executor_pb2.UNPACK_STATE_EXTRACTING,
    State.DONE: executor_pb2.UNPACK_STATE_DONE,
    State.EXISTS: executor_pb2.UNPACK_STATE_EXISTS,
}


def _progress(p: Progress) -> executor_pb2.UnpackProgress:
    return executor_pb2.UnpackProgress(
        chain_id=p.chain_id, state=_STATES[p.state], current=p.current, total=p.total, size=p.size
    )


def _snapshot(s: Snapshot) -> executor_pb2.Snapshot:
    return executor_pb2.Snapshot(
        chain_id=s.chain_id, parent_chain_id=s.parent, size=s.size, diff_id=s.diff_id
    )


class ExecutorService(executor_pb2_grpc.ExecutorServicer):
    def __init__(self, snapshots: Snapshotter, cgroup_mode: str) -> None:
        self.snapshots = snapshots
        self.cgroup_mode = cgroup_mode

    def Unpack(
        self, request: executor_pb2.UnpackRequest, context: grpc.ServicerContext
    ) -> Iterator[executor_pb2.UnpackProgress]:
        req = UnpackRequest(
            blob_digest=request.blob_digest,
            media_type=request.media_type,
            diff_id=request.diff_id,
            chain_id=request.chain_id,
            parent_chain_id=request.parent_chain_id,
            follow=request.follow,
            blob_size=request.blob_size,
        )
        # Set when the call ends for any reason, the client's cancel included: an unpack that
        # follows a download stops once no caller wants it.
        gone = threading.Event()
        if not context.add_callback(gone.set):
            gone.set()  # the call has already ended
        for p in self.snapshots.unpack(req, gone):
            yield _progress(p)

    def ListSnapshots(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> executor_pb2.ListSnapshotsResponse:
        return executor_pb2.ListSnapshotsResponse(
            snapshots=[_snapshot(s) for s in self.snapshots.list()]
        )

    def RemoveSnapshot(
        self, request: executor_pb2.RemoveSnapshotRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.snapshots.remove(request.chain_id)
        return empty_pb2.Empty()

    def Info(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> executor_pb2.InfoResponse:
        return executor_pb2.InfoResponse(
            version=__version__,
            snapshot_root=self.snapshots.root,
            cgroup_mode=self.cgroup_mode,
            snapshots=self.snapshots.count(),
        )
