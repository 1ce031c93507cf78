"""Version, info, events and login: the daemon's system API, transport-free."""

from __future__ import annotations

import os
import platform
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from caisson import __version__, errors, platforms
from caisson.content import ContentStore
from caisson.daemon.clients import Executor, RegistryProxy
from caisson.daemon.config import Config
from caisson.daemon.containerrecord import ContainerRecord
from caisson.daemon.engine import Engine
from caisson.daemon.filters import split
from caisson.daemon.store import Store, StoredEvent
from caisson_api.daemon.v1 import daemon_pb2
from caisson_api.registry.v1 import registry_pb2

# The API version is the proto package's: caisson.daemon.v1.
API_VERSION = daemon_pb2.DESCRIPTOR.package.rsplit(".", 1)[-1]
_FILTER_KEYS = ("type", "event", "image", "job", "id")


@dataclass
class Component:
    name: str
    version: str
    health: str
    address: str


class SystemService:
    def __init__(
        self,
        config: Callable[[], Config],
        store: Store,
        content: ContentStore,
        engine: Engine,
        proxy: RegistryProxy,
        executor: Executor,
    ) -> None:
        self._config = config
        self.store = store
        self.content = content
        self.engine = engine
        self.proxy = proxy
        self.executor = executor
        # The container records (set by the daemon once its container service exists).
        self.containers: Callable[[], list[ContainerRecord]] = list

    def components(self) -> list[Component]:
        out = [Component("daemon", __version__, "SERVING", ", ".join(self._config().listen))]
        for name, client in (("registry-proxy", self.proxy), ("executor", self.executor)):
            health = client.health()
            version = ""
            if health == "SERVING":
                try:
                    version = client.info().version
                except errors.CaissonError as e:
                    health = f"UNREACHABLE: {e}"
            out.append(Component(name, version, health, client.address))
        return out

    def version(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "api_version": API_VERSION,
            "python_version": platform.python_version(),
            "os": platform.system().lower(),
            "arch": platforms.host().architecture,
        }

    def info(self) -> dict[str, Any]:
        cfg = self._config()
        snapshots = 0
        cgroup_mode = ""
        try:
            ex = self.executor.info()
            snapshots, cgroup_mode = ex.snapshots, ex.cgroup_mode
        except errors.CaissonError:
            pass
        return {
            "data_root": cfg.data_root,
            "exec_root": cfg.exec_root,
            "images": len(self.store.images()),
            **self._container_counts(),
            "snapshots": snapshots,
            "insecure_registries": list(cfg.insecure_registries),
            "registry_mirrors": list(cfg.registry_mirrors),
            "max_concurrent_downloads": cfg.max_concurrent_downloads,
            "cgroup_mode": cgroup_mode,
            "version": __version__,
            "os": platform.system().lower(),
            "arch": platforms.host().architecture,
            "pid": os.getpid(),
            "jobs_running": len(self.engine.running),
        }

    def _container_counts(self) -> dict[str, int]:
        states = [r.state.status for r in self.containers()]
        running = sum(s in ("running", "restarting") for s in states)
        paused = states.count("paused")
        return {
            "containers": len(states),
            "containers_running": running,
            "containers_paused": paused,
            "containers_stopped": len(states) - running - paused,
        }

    def events(
        self, since: float | None, until: float, filters: list[str], active: Callable[[], bool]
    ) -> Iterator[StoredEvent]:
        """Events from `since` (None: from now) until `until` (0: until the client leaves)."""
        match = _matcher(filters)
        with self.engine.events.subscribe() as live:
            last = 0.0
            if since is not None:
                for ev in self.store.events_since(since, until):
                    last = ev.time
                    if match(ev):
                        yield ev
            while active():
                if until and time.time() > until:
                    return
                try:
                    ev = live.get(timeout=0.25)
                except queue.Empty:
                    continue
                if ev is None:
                    return
                if ev.time <= last:
                    continue  # already sent from the log
                if until and ev.time > until:
                    return
                if match(ev):
                    yield ev

    def login(self, registry: str, auth: registry_pb2.AuthConfig) -> str:
        with self.engine.job("login", registry=registry):
            return self.proxy.login(registry_pb2.LoginRequest(registry=registry, auth=auth)).status


def _matcher(filters: list[str]) -> Callable[[StoredEvent], bool]:
    wanted = {k: set(v) for k, v in split(filters, _FILTER_KEYS).items()}

    def match(ev: StoredEvent) -> bool:
        fields = {
            "type": {ev.type},
            "event": {ev.action},
            "job": {ev.job_id},
            "id": {ev.id},
            "image": {ev.id, ev.attributes.get("name", "")} if ev.type == "image" else set(),
        }
        return all(fields[k] & v for k, v in wanted.items())

    return match
