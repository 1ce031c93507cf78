"""The Registry gRPC service: a thin adapter over Puller and Registry (no logic here)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf import empty_pb2

import caisson
from caisson import errors, platforms, reference
from caisson.registry_proxy.auth import Credentials
from caisson.registry_proxy.distribution import Registry
from caisson.registry_proxy.events import Descriptor, Done, Event, LayerProgress, Resolved
from caisson.registry_proxy.pull import Puller
from caisson_api.registry.v1 import registry_pb2, registry_pb2_grpc

SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["Registry"].full_name
MAX_CONCURRENT_DOWNLOADS = 64


class RegistryService(registry_pb2_grpc.RegistryServicer):
    def __init__(self, puller: Puller, registry: Registry) -> None:
        self.puller = puller
        self.registry = registry

    def Pull(  # noqa: N802
        self, request: registry_pb2.PullRequest, context: grpc.ServicerContext
    ) -> Iterator[registry_pb2.PullEvent]:
        ref = reference.parse(request.reference)
        p = request.platform
        platform = platforms.requested(p.os, p.architecture, p.variant)
        if not 0 <= request.max_concurrent_downloads <= MAX_CONCURRENT_DOWNLOADS:
            raise errors.InvalidArgument(
                f"max_concurrent_downloads must be between 0 and {MAX_CONCURRENT_DOWNLOADS}"
            )
        # The client going away (or the RPC ending at all) stops the pull's downloads.
        cancel = threading.Event()
        context.add_callback(cancel.set)
        for event in self.puller.pull(
            ref, platform, _credentials(request.auth), request.max_concurrent_downloads, cancel
        ):
            yield to_proto(event)

    def Login(  # noqa: N802
        self, request: registry_pb2.LoginRequest, context: grpc.ServicerContext
    ) -> registry_pb2.LoginResponse:
        host = request.registry.strip()
        if not host:
            raise errors.InvalidArgument("login needs a registry")
        return registry_pb2.LoginResponse(
            status=self.registry.login(host, _credentials(request.auth))
        )

    def Info(  # noqa: N802
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> registry_pb2.InfoResponse:
        hosts = self.registry.hosts
        return registry_pb2.InfoResponse(
            version=caisson.__version__,
            content_root=self.puller.content.root,
            insecure_registries=hosts.insecure_entries,
            mirrors=hosts.mirror_urls,
            max_concurrent_downloads=self.puller.max_concurrent_downloads,
            uid=os.getuid(),
        )


def register(servicer: Any, server: grpc.Server) -> None:
    registry_pb2_grpc.add_RegistryServicer_to_server(servicer, server)


def _credentials(a: registry_pb2.AuthConfig) -> Credentials:
    return Credentials(a.username, a.password, a.identity_token)


def _descriptor(d: Descriptor | None) -> registry_pb2.Descriptor | None:
    if d is None:
        return None
    return registry_pb2.Descriptor(media_type=d.media_type, digest=d.digest, size=d.size)


def to_proto(event: Event) -> registry_pb2.PullEvent:
    if isinstance(event, Resolved):
        return registry_pb2.PullEvent(
            resolved=registry_pb2.Resolved(
                name=event.name,
                manifest=_descriptor(event.manifest),
                index=_descriptor(event.index),
                config=_descriptor(event.config),
                layers=[_descriptor(x) for x in event.layers],
                platform=registry_pb2.Platform(
                    os=event.platform.os,
                    architecture=event.platform.architecture,
                    variant=event.platform.variant,
                ),
            )
        )
    if isinstance(event, LayerProgress):
        return registry_pb2.PullEvent(
            layer=registry_pb2.LayerProgress(
                digest=event.digest,
                state=registry_pb2.LayerState.Value("LAYER_STATE_" + event.state.name),
                current=event.current,
                total=event.total,
                message=event.message,
            )
        )
    assert isinstance(event, Done)
    return registry_pb2.PullEvent(done=registry_pb2.PullDone(manifest=_descriptor(event.manifest)))
