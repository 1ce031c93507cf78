"""The daemon's state database: SQLite in WAL mode under the data root.

Images are stored by id (the config digest, as in Docker); tags and repo digests point at
them. The event log lives here too, so `events --since` can replay what happened before the
client connected (and before a daemon restart).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from caisson import errors

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,             -- sha256:<config digest>
    manifest_digest TEXT NOT NULL,   -- the platform manifest the layers came from
    manifest_media_type TEXT NOT NULL,
    index_digest TEXT NOT NULL DEFAULT '',
    layers TEXT NOT NULL,            -- JSON list of store.Layer
    created TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    architecture TEXT NOT NULL DEFAULT '',
    variant TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    pulled_at REAL NOT NULL,
    last_tag_time REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT NOT NULL,              -- docker.io/library/busybox
    tag TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (name, tag)
);
CREATE TABLE IF NOT EXISTS repo_digests (
    name TEXT NOT NULL,
    digest TEXT NOT NULL,            -- manifest (or index) digest the user can pull by
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (name, digest)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    id TEXT NOT NULL,
    attributes TEXT NOT NULL,
    job_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,             -- 64 hex
    name TEXT NOT NULL UNIQUE,       -- without the leading "/"
    record TEXT NOT NULL             -- containerrecord.ContainerRecord as JSON
);
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    anonymous INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,             -- 64 hex
    name TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL             -- networks.Network as JSON
);
-- A container's endpoint on a network, and so the network's IP reservations: the one truth
-- of which address is taken. Rows are listed in the order they were made (rowid).
CREATE TABLE IF NOT EXISTS endpoints (
    network_id TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    address TEXT,                    -- IPv4 without prefix; NULL on host and none
    endpoint_id TEXT NOT NULL,       -- 64 hex
    aliases TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, address)
);
CREATE INDEX IF NOT EXISTS endpoints_container ON endpoints(container_id);
"""

# The event log keeps this many entries; older ones are trimmed on write.
EVENT_LOG_MAX = 10000


@dataclass
class Layer:
    digest: str
    media_type: str
    size: int
    diff_id: str
    chain_id: str
    unpacked_size: int = 0


@dataclass
class ImageRecord:
    id: str
    manifest_digest: str
    manifest_media_type: str
    layers: list[Layer]
    index_digest: str = ""
    created: str = ""
    os: str = ""
    architecture: str = ""
    variant: str = ""
    size: int = 0
    pulled_at: float = 0.0
    last_tag_time: float = 0.0
    tags: list[tuple[str, str]] = field(default_factory=list)
    digests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def blob_digests(self) -> set[str]:
        blobs = {self.id, self.manifest_digest, *(layer.digest for layer in self.layers)}
        if self.index_digest:
            blobs.add(self.index_digest)
        return blobs


@dataclass
class StoredEvent:
    time: float
    type: str
    action: str
    id: str
    attributes: dict[str, str]
    job_id: str = ""


@dataclass
class VolumeRow:
    name: str
    created: float
    anonymous: bool
    labels: dict[str, str]
    options: dict[str, str]


def _volume(r: sqlite3.Row) -> VolumeRow:
    return VolumeRow(
        r["name"],
        r["created"],
        bool(r["anonymous"]),
        json.loads(r["labels"]),
        json.loads(r["options"]),
    )


@contextmanager
def _full_disk() -> Iterator[None]:
    """SQLite's "database or disk is full" is the user's full disk, not an internal error."""
    try:
        yield
    except sqlite3.OperationalError as e:
        if "full" in str(e):
            raise errors.ResourceExhausted(
                "writing the daemon's database: no space left on device"
            ) from None
        raise


class Store:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _full_disk():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # a failed COMMIT leaves none open
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # images ------------------------------------------------------------------------------

    def put_image(self, img: ImageRecord) -> None:
        layers = json.dumps([layer.__dict__ for layer in img.layers])
        with self.tx() as db:
            db.execute(
                "INSERT INTO images (id, manifest_digest, manifest_media_type, index_digest,"
                " layers, created, os, architecture, variant, size, pulled_at, last_tag_time)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET manifest_digest=excluded.manifest_digest,"
                " manifest_media_type=excluded.manifest_media_type,"
                " index_digest=excluded.index_digest, layers=excluded.layers,"
                " size=excluded.size",
                (
                    img.id,
                    img.manifest_digest,
                    img.manifest_media_type,
                    img.index_digest,
                    layers,
                    img.created,
                    img.os,
                    img.architecture,
                    img.variant,
                    img.size,
                    img.pulled_at,
                    img.last_tag_time,
                ),
            )

    def _image(self, row: sqlite3.Row) -> ImageRecord:
        img = ImageRecord(
            id=row["id"],
            manifest_digest=row["manifest_digest"],
            manifest_media_type=row["manifest_media_type"],
            index_digest=row["index_digest"],
            layers=[Layer(**d) for d in json.loads(row["layers"])],
            created=row["created"],
            os=row["os"],
            architecture=row["architecture"],
            variant=row["variant"],
            size=row["size"],
            pulled_at=row["pulled_at"],
            last_tag_time=row["last_tag_time"],
        )
        img.tags = [
            (r["name"], r["tag"])
            for r in self._rows(
                "SELECT name, tag FROM tags WHERE image_id=? ORDER BY name, tag", (img.id,)
            )
        ]
        img.digests = [
            (r["name"], r["digest"])
            for r in self._rows(
                "SELECT name, digest FROM repo_digests WHERE image_id=? ORDER BY name, digest",
                (img.id,),
            )
        ]
        return img

    def image(self, image_id: str) -> ImageRecord | None:
        rows = self._rows("SELECT * FROM images WHERE id=?", (image_id,))
        return self._image(rows[0]) if rows else None

    def images(self) -> list[ImageRecord]:
        return [self._image(r) for r in self._rows("SELECT * FROM images ORDER BY pulled_at DESC")]

    def image_ids_with_prefix(self, hex_prefix: str) -> list[str]:
        like = "sha256:" + hex_prefix.replace("%", "").replace("_", "") + "%"
        return [r["id"] for r in self._rows("SELECT id FROM images WHERE id LIKE ?", (like,))]

    def delete_image(self, image_id: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM tags WHERE image_id=?", (image_id,))
            db.execute("DELETE FROM repo_digests WHERE image_id=?", (image_id,))
            db.execute("DELETE FROM images WHERE id=?", (image_id,))

    # references ---------------------------------------------------------------------------

    def tagged(self, name: str, tag: str) -> str | None:
        rows = self._rows("SELECT image_id FROM tags WHERE name=? AND tag=?", (name, tag))
        return rows[0]["image_id"] if rows else None

    def by_digest(self, name: str, digest: str) -> str | None:
        rows = self._rows(
            "SELECT image_id FROM repo_digests WHERE name=? AND digest=?", (name, digest)
        )
        return rows[0]["image_id"] if rows else None

    def set_tag(self, name: str, tag: str, image_id: str, when: float) -> str | None:
        """Points name:tag at image_id; returns the image it pointed at before, if another."""
        with self.tx() as db:
            row = db.execute(
                "SELECT image_id FROM tags WHERE name=? AND tag=?", (name, tag)
            ).fetchone()
            db.execute(
                "INSERT INTO tags (name, tag, image_id) VALUES (?,?,?)"
                " ON CONFLICT(name, tag) DO UPDATE SET image_id=excluded.image_id",
                (name, tag, image_id),
            )
            db.execute("UPDATE images SET last_tag_time=? WHERE id=?", (when, image_id))
        previous = row["image_id"] if row else None
        return previous if previous != image_id else None

    def remove_tag(self, name: str, tag: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM tags WHERE name=? AND tag=?", (name, tag))

    def set_digest(self, name: str, digest: str, image_id: str) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO repo_digests (name, digest, image_id) VALUES (?,?,?)"
                " ON CONFLICT(name, digest) DO UPDATE SET image_id=excluded.image_id",
                (name, digest, image_id),
            )

    def remove_digest(self, name: str, digest: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM repo_digests WHERE name=? AND digest=?", (name, digest))

    # containers ---------------------------------------------------------------------------

    def add_container(self, cid: str, name: str, record: str) -> bool:
        """False when the name is taken (the id never is: ids are random)."""
        try:
            with self.tx() as db:
                db.execute(
                    "INSERT INTO containers (id, name, record) VALUES (?,?,?)", (cid, name, record)
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def put_container(self, cid: str, name: str, record: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE containers SET name=?, record=? WHERE id=?", (name, record, cid))

    def container(self, cid: str) -> str | None:
        rows = self._rows("SELECT record FROM containers WHERE id=?", (cid,))
        return rows[0]["record"] if rows else None

    def container_id_by_name(self, name: str) -> str | None:
        rows = self._rows("SELECT id FROM containers WHERE name=?", (name,))
        return rows[0]["id"] if rows else None

    def container_ids_with_prefix(self, prefix: str) -> list[str]:
        like = prefix.replace("%", "").replace("_", "") + "%"
        return [r["id"] for r in self._rows("SELECT id FROM containers WHERE id LIKE ?", (like,))]

    def containers(self) -> list[str]:
        return [r["record"] for r in self._rows("SELECT record FROM containers")]

    def delete_container(self, cid: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM containers WHERE id=?", (cid,))

    # volumes ------------------------------------------------------------------------------

    def add_volume(
        self,
        name: str,
        created: float,
        anonymous: bool,
        labels: dict[str, str],
        options: dict[str, str],
    ) -> bool:
        """False when a volume of that name exists already."""
        try:
            with self.tx() as db:
                db.execute(
                    "INSERT INTO volumes (name, created, anonymous, labels, options)"
                    " VALUES (?,?,?,?,?)",
                    (name, created, int(anonymous), json.dumps(labels), json.dumps(options)),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def volume(self, name: str) -> VolumeRow | None:
        rows = self._rows("SELECT * FROM volumes WHERE name=?", (name,))
        return _volume(rows[0]) if rows else None

    def volumes(self) -> list[VolumeRow]:
        return [_volume(r) for r in self._rows("SELECT * FROM volumes ORDER BY name")]

    def delete_volume(self, name: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM volumes WHERE name=?", (name,))

    # events -------------------------------------------------------------------------------

    def add_event(self, ev: StoredEvent) -> None:
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO events (time, type, action, id, attributes, job_id)"
                " VALUES (?,?,?,?,?,?)",
                (ev.time, ev.type, ev.action, ev.id, json.dumps(ev.attributes), ev.job_id),
            )
            seq = cur.lastrowid or 0
            if seq % 500 == 0:
                db.execute("DELETE FROM events WHERE seq <= ?", (seq - EVENT_LOG_MAX,))

    def events_since(self, since: float, until: float = 0.0) -> list[StoredEvent]:
        sql = "SELECT * FROM events WHERE time >= ?"
        args: tuple[Any, ...] = (since,)
        if until:
            sql += " AND time <= ?"
            args += (until,)
        return [
            StoredEvent(
                time=r["time"],
                type=r["type"],
                action=r["action"],
                id=r["id"],
                attributes=json.loads(r["attributes"]),
                job_id=r["job_id"],
            )
            for r in self._rows(sql + " ORDER BY seq", args)
        ]

    # networks and their endpoints -----------------------------------------------------------

    def add_network(self, nid: str, name: str, record: str) -> bool:
        """False when the name is taken."""
        try:
            with self.tx() as db:
                db.execute(
                    "INSERT INTO networks (id, name, record) VALUES (?,?,?)", (nid, name, record)
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def put_network(self, nid: str, record: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE networks SET record=? WHERE id=?", (record, nid))

    def network(self, nid: str) -> str | None:
        rows = self._rows("SELECT record FROM networks WHERE id=?", (nid,))
        return rows[0]["record"] if rows else None

    def network_id_by_name(self, name: str) -> str | None:
        rows = self._rows("SELECT id FROM networks WHERE name=?", (name,))
        return rows[0]["id"] if rows else None

    def network_ids_with_prefix(self, prefix: str) -> list[str]:
        # substr, not LIKE: a network's id is hex, but the prefix is the user's text.
        return [
            r["id"]
            for r in self._rows(
                "SELECT id FROM networks WHERE substr(id, 1, ?) = ?", (len(prefix), prefix)
            )
        ]

    def networks(self) -> list[str]:
        return [r["record"] for r in self._rows("SELECT record FROM networks ORDER BY name")]

    def delete_network(self, nid: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM networks WHERE id=?", (nid,))

    def add_endpoint(self, row: EndpointRow, replace: bool = False) -> bool:
        """Reserves row.address on its network for the container; False when the address is
        taken. `replace` drops the container's endpoint on that network first, in the same
        transaction."""
        try:
            with self.tx() as db:
                if replace:
                    db.execute(
                        "DELETE FROM endpoints WHERE network_id=? AND container_id=?",
                        (row.network_id, row.container_id),
                    )
                db.execute(
                    "INSERT INTO endpoints (network_id, container_id, address, endpoint_id,"
                    " aliases) VALUES (?,?,?,?,?)",
                    (
                        row.network_id,
                        row.container_id,
                        row.address or None,
                        row.endpoint_id,
                        json.dumps(row.aliases),
                    ),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def endpoint(self, network_id: str, container_id: str) -> EndpointRow | None:
        rows = self._rows(
            "SELECT * FROM endpoints WHERE network_id=? AND container_id=?",
            (network_id, container_id),
        )
        return _endpoint(rows[0]) if rows else None

    def endpoints(self, network_id: str) -> list[EndpointRow]:
        return [
            _endpoint(r)
            for r in self._rows(
                "SELECT * FROM endpoints WHERE network_id=? ORDER BY rowid", (network_id,)
            )
        ]

    def endpoints_of(self, container_id: str) -> list[EndpointRow]:
        return [
            _endpoint(r)
            for r in self._rows(
                "SELECT * FROM endpoints WHERE container_id=? ORDER BY rowid", (container_id,)
            )
        ]

    def endpoint_counts(self) -> dict[str, int]:
        """network id -> number of endpoints, for the networks that have any."""
        return {
            r["network_id"]: r["n"]
            for r in self._rows(
                "SELECT network_id, count(*) AS n FROM endpoints GROUP BY network_id"
            )
        }

    def delete_endpoint(self, network_id: str, container_id: str) -> bool:
        """False when there was none."""
        with self.tx() as db:
            cur = db.execute(
                "DELETE FROM endpoints WHERE network_id=? AND container_id=?",
                (network_id, container_id),
            )
        return cur.rowcount > 0


@dataclass
class EndpointRow:
    network_id: str
    container_id: str
    address: str  # "" on a network without addresses
    endpoint_id: str
    aliases: list[str]


def _endpoint(r: sqlite3.Row) -> EndpointRow:
    return EndpointRow(
        r["network_id"],
        r["container_id"],
        r["address"] or "",
        r["endpoint_id"],
        json.loads(r["aliases"]),
    )
