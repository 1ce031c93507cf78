"""gRPC adapter for the daemon's Networks service: messages in, logic called, messages out
(errors are mapped once, by the server's interceptor). Connect and disconnect are the
container service's: they change a container as much as a network."""

from __future__ import annotations

import json
from typing import Protocol

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from caisson.daemon import networkdoc
from caisson.daemon.networks import SCOPE, Network, NetworkService
from caisson_api.daemon.v1 import networks_pb2 as api
from caisson_api.daemon.v1 import networks_pb2_grpc

NETWORKS = api.DESCRIPTOR.services_by_name["Networks"].full_name


class Connector(Protocol):
    """What the container service offers for `network connect` and `network disconnect`."""

    def connect_network(
        self, container: str, network: str, ipv4: str, aliases: list[str]
    ) -> None: ...

    def disconnect_network(self, container: str, network: str, force: bool) -> None: ...


def _summary(n: Network, containers: int) -> api.NetworkSummary:
    created = timestamp_pb2.Timestamp()
    created.FromNanoseconds(int(n.created * 1e9))
    return api.NetworkSummary(
        id=n.id,
        name=n.name,
        driver=n.driver,
        scope=SCOPE,
        created=created,
        internal=n.internal,
        ipv6=False,
        labels=n.labels,
        subnet=n.subnet,
        gateway=n.gateway,
        containers=containers,
    )


class NetworksServicer(networks_pb2_grpc.NetworksServicer):
    def __init__(self, networks: NetworkService, containers: Connector) -> None:
        self.n = networks
        self.c = containers

    def Create(  # noqa: N802
        self, request: api.CreateNetworkRequest, context: grpc.ServicerContext
    ) -> api.CreateNetworkResponse:
        net = self.n.create(
            request.name,
            driver=request.driver,
            subnet=request.subnet,
            gateway=request.gateway,
            ip_range=request.ip_range,
            internal=request.internal,
            attachable=request.attachable,
            labels=dict(request.labels),
            options=dict(request.options),
        )
        return api.CreateNetworkResponse(id=net.id)

    def List(  # noqa: N802
        self, request: api.ListNetworksRequest, context: grpc.ServicerContext
    ) -> api.ListNetworksResponse:
        counts = self.n.counts()
        nets = self.n.list(list(request.filters))
        return api.ListNetworksResponse(networks=[_summary(n, counts.get(n.id, 0)) for n in nets])

    def Inspect(  # noqa: N802
        self, request: api.InspectNetworksRequest, context: grpc.ServicerContext
    ) -> api.InspectNetworksResponse:
        docs = []
        for term in request.networks:
            net = self.n.resolve(term)
            doc = networkdoc.inspect(net, self.n.endpoints(net.id), self.n.container_name)
            docs.append(json.dumps(doc))
        return api.InspectNetworksResponse(documents=docs)

    def Remove(  # noqa: N802
        self, request: api.RemoveNetworkRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.n.remove(request.network)
        return empty_pb2.Empty()

    def Connect(  # noqa: N802
        self, request: api.ConnectNetworkRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        ep = request.endpoint
        self.c.connect_network(
            request.container, request.network, ep.ipv4_address, list(ep.aliases)
        )
        return empty_pb2.Empty()

    def Disconnect(  # noqa: N802
        self, request: api.DisconnectNetworkRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.c.disconnect_network(request.container, request.network, request.force)
        return empty_pb2.Empty()

    def Prune(  # noqa: N802
        self, request: api.PruneNetworksRequest, context: grpc.ServicerContext
    ) -> api.PruneNetworksResponse:
        return api.PruneNetworksResponse(deleted=self.n.prune(list(request.filters)))
