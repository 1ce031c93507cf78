"""The daemon's engine: every API call that does work runs as a job, and jobs and objects
publish events.

A job has an id, a name, a state and start/end times; its id is bound into every log line
written while it runs (structlog contextvars), and its start and end are events, so a user can
follow `caisson events --filter type=job`.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog

from caisson import errors, logs
from caisson.daemon.store import Store, StoredEvent

log = logs.get("caisson.daemon.engine")


@dataclass
class Job:
    id: str
    name: str
    state: str = "running"  # running, done, failed, cancelled
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    error: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


class Events:
    """Fan-out of events to live subscribers, backed by the store's event log."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._subs: set[queue.Queue[StoredEvent | None]] = set()
        self._lock = threading.Lock()

    def publish(
        self, type_: str, action: str, id_: str, job_id: str = "", **attributes: str
    ) -> None:
        ev = StoredEvent(time.time(), type_, action, id_, dict(attributes), job_id)
        self._store.add_event(ev)
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            q.put(ev)

    @contextmanager
    def subscribe(self) -> Iterator[queue.Queue[StoredEvent | None]]:
        q: queue.Queue[StoredEvent | None] = queue.Queue()
        with self._lock:
            self._subs.add(q)
        try:
            yield q
        finally:
            with self._lock:
                self._subs.discard(q)

    def close(self) -> None:
        """Wakes every subscriber so streams end on shutdown."""
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            q.put(None)


class Engine:
    def __init__(self, events: Events) -> None:
        self.events = events
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._accepting = True

    @property
    def running(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.state == "running"]

    def stop_accepting(self) -> None:
        with self._lock:
            self._accepting = False

    @contextmanager
    def job(self, name: str, **attributes: str) -> Iterator[Job]:
        with self._lock:
            if not self._accepting:
                raise errors.Unavailable("the daemon is shutting down")
            job = Job(id=uuid.uuid4().hex[:16], name=name, attributes=dict(attributes))
            self._jobs[job.id] = job
        tokens = structlog.contextvars.bind_contextvars(job_id=job.id, job=name)
        log.info("job start", **attributes)
        self.events.publish("job", "start", job.id, job_id=job.id, name=name, **attributes)
        try:
            yield job
        except GeneratorExit:
            job.state, job.error = "cancelled", "client went away"
            raise
        except errors.Cancelled as e:
            job.state, job.error = "cancelled", str(e)
            raise
        except Exception as e:
            job.state, job.error = "failed", str(e)
            raise
        else:
            job.state = "done"
        finally:
            job.ended = time.time()
            took = round(job.ended - job.started, 3)
            if job.state == "done":
                log.info("job done", seconds=took)
            else:
                log.warning("job " + job.state, seconds=took, error=job.error)
            action = {"done": "done", "failed": "fail"}.get(job.state, "cancel")
            extra = {"error": job.error} if job.error else {}
            self.events.publish(
                "job", action, job.id, job_id=job.id, name=name, **attributes, **extra
            )
            structlog.contextvars.reset_contextvars(**tokens)
            with self._lock:
                self._jobs.pop(job.id, None)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.running
