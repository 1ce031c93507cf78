"""The daemon's clients of the registry proxy and the executor: stubs whose errors come back
as domain errors, so the daemon's logic never sees grpc types other than the messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf import empty_pb2

from caisson import server
from caisson_api.executor.v1 import executor_pb2, executor_pb2_grpc
from caisson_api.registry.v1 import registry_pb2, registry_pb2_grpc


class Stream:
    """A server stream whose errors are domain errors; cancel() ends it from another thread."""

    def __init__(self, call: Any, service: str) -> None:
        self._call = call
        self._service = service

    def __iter__(self) -> Iterator[Any]:
        return server.stream_call(self._service, self._call)

    def cancel(self) -> None:
        self._call.cancel()


class RegistryProxy:
    NAME = "registry proxy"

    def __init__(self, address: str) -> None:
        self.address = address
        self.channel = server.channel(address)
        self._stub = registry_pb2_grpc.RegistryStub(self.channel)

    def pull(self, req: registry_pb2.PullRequest) -> Stream:
        return Stream(self._stub.Pull(req), self.NAME)

    @server.rpc_call(NAME)
    def login(self, req: registry_pb2.LoginRequest) -> registry_pb2.LoginResponse:
        return self._stub.Login(req, timeout=60)

    @server.rpc_call(NAME)
    def info(self) -> registry_pb2.InfoResponse:
        return self._stub.Info(empty_pb2.Empty(), timeout=5)

    def health(self) -> str:
        return server.health_status(self.channel)

    def close(self) -> None:
        self.channel.close()


class Executor:
    NAME = "executor"

    def __init__(self, address: str) -> None:
        self.address = address
        self.channel: grpc.Channel = server.channel(address)
        self._stub = executor_pb2_grpc.ExecutorStub(self.channel)

    def unpack(self, req: executor_pb2.UnpackRequest) -> Stream:
        return Stream(self._stub.Unpack(req), self.NAME)

    @server.rpc_call(NAME)
    def snapshots(self) -> list[executor_pb2.Snapshot]:
        return list(self._stub.ListSnapshots(empty_pb2.Empty(), timeout=30).snapshots)

    @server.rpc_call(NAME)
    def remove_snapshot(self, chain_id: str) -> None:
        self._stub.RemoveSnapshot(
            executor_pb2.RemoveSnapshotRequest(chain_id=chain_id), timeout=120
        )

    @server.rpc_call(NAME)
    def info(self) -> executor_pb2.InfoResponse:
        return self._stub.Info(empty_pb2.Empty(), timeout=5)

    def health(self) -> str:
        return server.health_status(self.channel)

    def close(self) -> None:
        self.channel.close()
