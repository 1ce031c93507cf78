"""The daemon's clients of the registry proxy and the executor: stubs whose errors come back
as domain errors, so the daemon's logic never sees grpc types other than the messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf import empty_pb2

from caisson import server
from caisson_api.executor.v1 import containers_pb2 as cpb
from caisson_api.executor.v1 import (
    containers_pb2_grpc,
    executor_pb2,
    executor_pb2_grpc,
    networks_pb2_grpc,
)
from caisson_api.executor.v1 import networks_pb2 as npb
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
        self._c = containers_pb2_grpc.ContainersStub(self.channel)
        self._n = networks_pb2_grpc.NetworksStub(self.channel)

    # containers: calls that may block for a container's life have no deadline; all wait for
    # the executor to be ready, so a call made while a crashed executor restarts succeeds.

    @server.rpc_call(NAME)
    def create(self, spec: cpb.ContainerSpec) -> cpb.ContainerState:
        return self._c.Create(spec, timeout=120, wait_for_ready=True)

    @server.rpc_call(NAME)
    def start(self, cid: str, networking: cpb.Networking | None = None) -> cpb.ContainerState:
        return self._c.Start(
            cpb.StartRequest(id=cid, networking=networking), timeout=120, wait_for_ready=True
        )

    def attach(self, requests: Iterator[cpb.AttachRequest]) -> Stream:
        return Stream(self._c.Attach(requests, wait_for_ready=True), self.NAME)

    @server.rpc_call(NAME)
    def wait(self, cid: str) -> cpb.ContainerState:
        return self._c.Wait(cpb.ContainerId(id=cid), wait_for_ready=True)

    @server.rpc_call(NAME)
    def kill(self, cid: str, sig: int, all_: bool = False) -> None:
        self._c.Kill(cpb.KillRequest(id=cid, signal=sig, all=all_), timeout=30, wait_for_ready=True)

    @server.rpc_call(NAME)
    def delete(self, cid: str) -> None:
        self._c.Delete(cpb.ContainerId(id=cid), timeout=120, wait_for_ready=True)

    @server.rpc_call(NAME)
    def connect(self, cid: str, endpoint: npb.Endpoint) -> None:
        self._c.Connect(cpb.ConnectRequest(id=cid, endpoint=endpoint), timeout=60)

    @server.rpc_call(NAME)
    def disconnect(self, cid: str, network_id: str) -> None:
        self._c.Disconnect(cpb.DisconnectRequest(id=cid, network_id=network_id), timeout=60)

    @server.rpc_call(NAME)
    def get(self, cid: str) -> cpb.ContainerState:
        return self._c.Get(cpb.ContainerId(id=cid), timeout=30, wait_for_ready=True)

    @server.rpc_call(NAME)
    def list(self) -> list[cpb.ContainerState]:
        return list(self._c.List(empty_pb2.Empty(), timeout=60, wait_for_ready=True).containers)

    def events(self) -> Stream:
        return Stream(self._c.Events(empty_pb2.Empty(), wait_for_ready=True), self.NAME)

    def logs(self, req: cpb.LogsRequest) -> Stream:
        return Stream(self._c.Logs(req, wait_for_ready=True), self.NAME)

    def exec(self, requests: Iterator[cpb.ExecRequest]) -> Stream:
        return Stream(self._c.Exec(requests, wait_for_ready=True), self.NAME)

    @server.rpc_call(NAME)
    def pause(self, cid: str) -> None:
        self._c.Pause(cpb.ContainerId(id=cid), timeout=60, wait_for_ready=True)

    @server.rpc_call(NAME)
    def resume(self, cid: str) -> None:
        self._c.Resume(cpb.ContainerId(id=cid), timeout=60, wait_for_ready=True)

    @server.rpc_call(NAME)
    def stats(self, cid: str) -> cpb.StatsResponse:
        return self._c.Stats(cpb.ContainerId(id=cid), timeout=30, wait_for_ready=True)

    @server.rpc_call(NAME)
    def top(self, cid: str) -> cpb.TopResponse:
        return self._c.Top(cpb.ContainerId(id=cid), timeout=30, wait_for_ready=True)

    def copy_from(self, cid: str, path: str) -> Stream:
        return Stream(
            self._c.CopyFrom(cpb.CopyFromRequest(id=cid, path=path), wait_for_ready=True), self.NAME
        )

    @server.rpc_call(NAME)
    def copy_to(self, requests: Iterator[cpb.CopyToRequest]) -> None:
        self._c.CopyTo(requests, wait_for_ready=True)

    @server.rpc_call(NAME)
    def remove_volume(self, name: str) -> None:
        self._c.RemoveVolume(cpb.VolumeRef(name=name), timeout=300, wait_for_ready=True)

    @server.rpc_call(NAME)
    def volume_size(self, name: str) -> int:
        return self._c.VolumeSize(cpb.VolumeRef(name=name), timeout=300, wait_for_ready=True).size

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

    # networks: bridges and their rules, the embedded DNS server's names.

    @server.rpc_call(NAME)
    def ensure_network(self, spec: npb.NetworkSpec) -> None:
        self._n.Ensure(spec, timeout=60, wait_for_ready=True)

    @server.rpc_call(NAME)
    def remove_network(self, network_id: str) -> None:
        self._n.Remove(npb.NetworkRef(id=network_id), timeout=60, wait_for_ready=True)

    @server.rpc_call(NAME)
    def set_names(self, network_id: str, names: dict[str, list[str]]) -> None:
        records = [npb.NameRecord(name=n, addresses=a) for n, a in sorted(names.items())]
        self._n.SetNames(
            npb.NetworkNames(network_id=network_id, records=records),
            timeout=30,
            wait_for_ready=True,
        )

    @server.rpc_call(NAME)
    def list_networks(self) -> list[npb.NetworkSpec]:
        return list(self._n.List(empty_pb2.Empty(), timeout=30, wait_for_ready=True).networks)
