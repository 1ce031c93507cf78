"""What a pull reports, free of gRPC types (the servicer converts them to PullEvent)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from caisson.platforms import Platform


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


class LayerState(enum.Enum):
    # Names match the proto's LAYER_STATE_<NAME>.
    WAITING = "waiting"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    DOWNLOADED = "downloaded"
    EXISTS = "exists"
    RETRYING = "retrying"


@dataclass(frozen=True)
class Resolved:
    name: str
    manifest: Descriptor
    index: Descriptor | None
    config: Descriptor
    layers: list[Descriptor] = field(default_factory=list)
    platform: Platform = field(default_factory=Platform)


@dataclass(frozen=True)
class LayerProgress:
    digest: str
    state: LayerState
    current: int = 0
    total: int = 0
    message: str = ""


@dataclass(frozen=True)
class Done:
    manifest: Descriptor


Event = Resolved | LayerProgress | Done
