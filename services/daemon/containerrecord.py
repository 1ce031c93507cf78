"""What the daemon remembers about a container: one record, stored as one JSON document.

The config and host config are the API's protos (the merged, effective ones, as `inspect`
shows them); the rest mirrors docker's container struct: the state, the mount points with
their resolved sources, the restart count, where the executor put the rootfs and the log.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from caisson_api.daemon.v1 import containers_pb2

# docker's State.Status values.
STATUSES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")


@dataclass
class State:
    status: str = "created"
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    # Unix times; 0 means never.
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def running(self) -> bool:
        """docker's State.Running: true while paused or restarting too."""
        return self.status in ("running", "paused", "restarting")


@dataclass
class MountPoint:
    """One entry of docker's inspect `Mounts`, plus what the executor needs to make it."""

    type: str  # "bind", "volume" or "tmpfs"
    destination: str
    source: str = ""  # host path (bind) or the volume's directory (volume)
    name: str = ""  # volume name
    driver: str = ""  # "local" for volumes
    mode: str = ""  # as given: "ro", "z", "ro,rshared", ...
    rw: bool = True
    propagation: str = ""
    # volume: fill an empty volume from the image's content at the destination.
    copy_data: bool = False
    # volume: created for this container alone (image VOLUME or `-v /path`).
    anonymous: bool = False
    # tmpfs (--mount type=tmpfs)
    tmpfs_size: int = 0
    tmpfs_mode: int = 0


@dataclass
class NetworkAttachment:
    """One network the container is connected to (docker's EndpointSettings). The address
    part is set while it runs (allocated at start, released at its end), like docker's."""

    network_id: str
    network_name: str
    ipv4_address: str = ""  # --ip / connect --ip: the static address asked for
    aliases: list[str] = field(default_factory=list)  # --network-alias / connect --alias
    endpoint_id: str = ""
    address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac: str = ""


@dataclass
class BoundPort:
    """A published port as bound while the container runs."""

    protocol: str
    host_ip: str
    host_port: int
    container_port: int


@dataclass
class ContainerRecord:
    id: str
    name: str  # without the leading "/"
    created: float
    image: str  # as the user gave it
    image_id: str  # "sha256:..."
    config: containers_pb2.ContainerConfig
    host_config: containers_pb2.HostConfig
    path: str
    args: list[str]
    state: State = field(default_factory=State)
    mounts: list[MountPoint] = field(default_factory=list)
    restart_count: int = 0
    log_path: str = ""
    rootfs: str = ""
    platform: str = "linux"
    anonymous_volumes: list[str] = field(default_factory=list)
    # docker's HasBeenManuallyStopped: `stop` keeps unless-stopped/always from restarting it.
    manually_stopped: bool = False
    # The networks it is connected to, the first one its primary (default route, ports).
    networks: list[NetworkAttachment] = field(default_factory=list)
    ports: list[BoundPort] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "created": self.created,
            "image": self.image,
            "image_id": self.image_id,
            "config": _as_dict(
                containers_pb2.ContainerConfig, self.config.SerializeToString(deterministic=True)
            ),
            "host_config": _as_dict(
                containers_pb2.HostConfig, self.host_config.SerializeToString(deterministic=True)
            ),
            "path": self.path,
            "args": list(self.args),
            "state": asdict(self.state),
            "mounts": [asdict(m) for m in self.mounts],
            "restart_count": self.restart_count,
            "log_path": self.log_path,
            "rootfs": self.rootfs,
            "platform": self.platform,
            "anonymous_volumes": list(self.anonymous_volumes),
            "manually_stopped": self.manually_stopped,
            "networks": [asdict(n) for n in self.networks],
            "ports": [asdict(p) for p in self.ports],
        }
        return json.dumps(doc, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ContainerRecord:
        doc = json.loads(text)
        config = _from_dict(containers_pb2.ContainerConfig, json.dumps(doc["config"]))
        host_config = _from_dict(containers_pb2.HostConfig, json.dumps(doc["host_config"]))
        return cls(
            id=doc["id"],
            name=doc["name"],
            created=doc["created"],
            image=doc["image"],
            image_id=doc["image_id"],
            config=config,
            host_config=host_config,
            path=doc["path"],
            args=list(doc["args"]),
            state=State(**doc["state"]),
            mounts=[MountPoint(**m) for m in doc.get("mounts", [])],
            restart_count=doc.get("restart_count", 0),
            log_path=doc.get("log_path", ""),
            rootfs=doc.get("rootfs", ""),
            platform=doc.get("platform", "linux"),
            anonymous_volumes=list(doc.get("anonymous_volumes", [])),
            manually_stopped=doc.get("manually_stopped", False),
            networks=[NetworkAttachment(**n) for n in doc.get("networks", [])],
            ports=[BoundPort(**p) for p in doc.get("ports", [])],
        )


# A record is read and written many times in a run (each look, each state change) and
# protobuf's JSON mapping is slow, some 40 us for the two configs: they hardly ever change,
# so each one is mapped once (the cached values are bytes or dicts no caller changes).
_M = TypeVar("_M", bound=Message)


def _from_dict(message_type: type[_M], text: str) -> _M:
    return message_type.FromString(_parse_dict(message_type, text))


@functools.lru_cache(maxsize=1024)
def _parse_dict(message_type: type[Message], text: str) -> bytes:
    return json_format.ParseDict(json.loads(text), message_type()).SerializeToString()


@functools.lru_cache(maxsize=1024)
def _as_dict(message_type: type[Message], data: bytes) -> dict[str, Any]:
    return json_format.MessageToDict(
        message_type.FromString(data), preserving_proto_field_name=True
    )
