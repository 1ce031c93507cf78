"""`stats`: rounds of samples, one a second while streaming, as docker's daemon sends them.

Named containers are found once (an unknown name is an error); a named container that is
not running is left out of a round rather than failing it (the CLI shows "--" for it).
Without names, every running container of the moment is sampled, newest first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

from caisson import errors
from caisson.daemon.containerrecord import ContainerRecord
from caisson_api.daemon.v1 import containers_pb2 as api
from caisson_api.executor.v1 import containers_pb2 as xpb

INTERVAL = 1.0  # seconds between rounds, docker's collector period
_LIVE = ("running", "paused")


def sample_pb(rec: ContainerRecord, s: xpb.StatsResponse) -> api.ContainerStats:
    return api.ContainerStats(
        id=rec.id,
        name="/" + rec.name,
        read=s.read,
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


def rounds(
    targets: Callable[[], Sequence[ContainerRecord | None]],
    sample: Callable[[str], xpb.StatsResponse],
    stream: bool,
    stopped: threading.Event,
    interval: float = INTERVAL,
) -> Iterator[list[api.ContainerStats]]:
    """One round now, then one every `interval` while `stream` until `stopped` is set.
    `targets` gives the records of the moment (None for one removed meanwhile)."""
    while True:
        out = []
        for rec in targets():
            if rec is None or rec.state.status not in _LIVE:
                continue
            try:
                out.append(sample_pb(rec, sample(rec.id)))
            except (errors.FailedPrecondition, errors.NotFound):
                continue  # it stopped or went away since its record was read
        yield out
        if not stream or stopped.wait(interval):
            return
