"""The executor's Networks gRPC service: a thin adapter over networks.NetworkManager."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from caisson.executor.networks import NetworkManager
from caisson_api.executor.v1 import networks_pb2 as pb
from caisson_api.executor.v1 import networks_pb2_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Networks"].full_name


class NetworksService(networks_pb2_grpc.NetworksServicer):
    def __init__(self, manager: NetworkManager) -> None:
        self.m = manager

    def Ensure(self, request: pb.NetworkSpec, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.ensure(request)
        return empty_pb2.Empty()

    def Remove(self, request: pb.NetworkRef, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.remove(request.id)
        return empty_pb2.Empty()

    def SetNames(self, request: pb.NetworkNames, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.m.set_names(request.network_id, {r.name: list(r.addresses) for r in request.records})
        return empty_pb2.Empty()

    def List(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> pb.ListNetworksResponse:
        return pb.ListNetworksResponse(networks=self.m.list())
