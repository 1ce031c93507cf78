"""Volumes (docker's `local` driver): records in the daemon's store, data in
DATA_ROOT/volumes/<name>/_data. The executor fills a new volume from the image and removes
volume data (it may hold files of any owner); the daemon decides names and who uses what."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from caisson import errors, logs
from caisson.daemon.clients import Executor
from caisson.daemon.engine import Engine
from caisson.daemon.filters import split
from caisson.daemon.names import new_id
from caisson.daemon.store import Store, VolumeRow

log = logs.get("caisson.daemon.volumes")

DRIVER = "local"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
FILTER_KEYS = ("dangling", "name", "label", "driver")


@dataclass
class Volume:
    name: str
    mountpoint: str
    created: float
    labels: dict[str, str]
    options: dict[str, str]
    anonymous: bool
    users: list[str]
    size: int = -1


class VolumeService:
    def __init__(self, store: Store, engine: Engine, executor: Executor, data_root: str) -> None:
        self.store = store
        self.engine = engine
        self.executor = executor
        self.root = os.path.join(data_root, "volumes")
        # Set by the container service: ids of the containers that mount a volume.
        self.users: Callable[[str], list[str]] = lambda name: []

    def mountpoint(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    def _volume(self, row: VolumeRow) -> Volume:
        return Volume(
            name=row.name,
            mountpoint=self.mountpoint(row.name),
            created=row.created,
            labels=row.labels,
            options=row.options,
            anonymous=row.anonymous,
            users=self.users(row.name),
        )

    def create(
        self, name: str, driver: str, labels: dict[str, str], options: dict[str, str]
    ) -> Volume:
        if driver not in ("", DRIVER):
            raise errors.NotFound(f"plugin {driver!r} not found")
        if options:
            raise errors.InvalidArgument(
                f"invalid option key: {sorted(options)[0]!r} (only the local driver without "
                "options is supported)"
            )
        anonymous = not name
        name = name or new_id()
        if not _NAME.match(name):
            raise errors.InvalidArgument(
                f'create {name}: "{name}" includes invalid characters for a local volume name, '
                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                "directory, use absolute path"
            )
        if self.store.add_volume(name, time.time(), anonymous, labels, options):
            os.makedirs(self.mountpoint(name), mode=0o755, exist_ok=True)
            self.engine.events.publish("volume", "create", name, driver=DRIVER)
        row = self.store.volume(name)
        assert row is not None
        return self._volume(row)

    def ensure(self, name: str, anonymous: bool) -> None:
        """Creates the volume a container names, when it does not exist yet."""
        if self.store.volume(name) is None and self.store.add_volume(
            name, time.time(), anonymous, {}, {}
        ):
            os.makedirs(self.mountpoint(name), mode=0o755, exist_ok=True)
            self.engine.events.publish("volume", "create", name, driver=DRIVER)

    def get(self, name: str) -> Volume:
        row = self.store.volume(name)
        if row is None:
            raise errors.NotFound(f"get {name}: no such volume")
        return self._volume(row)

    def list(self, filters: list[str]) -> list[Volume]:
        f = split(filters, FILTER_KEYS)
        out = []
        for row in self.store.volumes():
            v = self._volume(row)
            if _matches(v, f):
                out.append(v)
        return out

    def remove(self, name: str, force: bool) -> None:
        row = self.store.volume(name)
        if row is None:
            if force:
                return
            raise errors.NotFound(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise errors.FailedPrecondition(
                f"remove {name}: volume is in use - [{', '.join(users)}]"
            )
        self.executor.remove_volume(name)
        self.store.delete_volume(name)
        self.engine.events.publish("volume", "destroy", name, driver=DRIVER)

    def prune(self, filters: list[str], all_: bool) -> tuple[list[str], int]:
        """docker 20.10's prune: every unused volume, named or anonymous (`all_` is accepted for
        the API's later form, where only anonymous ones go unless it is set)."""
        f = split(filters, ("label", "all"))
        del all_
        deleted, reclaimed = [], 0
        for v in self.list([]):
            if v.users or not _labels_match(v, f.get("label", [])):
                continue
            size = self.executor.volume_size(v.name)
            try:
                self.remove(v.name, force=False)
            except errors.CaissonError as e:
                log.warning("volume not pruned", volume=v.name, error=str(e))
                continue
            deleted.append(v.name)
            reclaimed += size
        return deleted, reclaimed


def _labels_match(v: Volume, wanted: list[str]) -> bool:
    for w in wanted:
        key, eq, value = w.partition("=")
        if key not in v.labels or (eq and v.labels[key] != value):
            return False
    return True


def _matches(v: Volume, f: dict[str, list[str]]) -> bool:
    if "dangling" in f:
        want = f["dangling"][-1]
        if want not in ("true", "false", "1", "0"):
            raise errors.InvalidArgument(f"invalid filter 'dangling={want}'")
        if (want in ("true", "1")) == bool(v.users):
            return False
    if "name" in f and not any(n in v.name for n in f["name"]):
        return False
    if "driver" in f and DRIVER not in f["driver"]:
        return False
    return _labels_match(v, f.get("label", []))
