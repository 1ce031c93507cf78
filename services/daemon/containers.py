"""Containers as the daemon sees them: records, lifecycle and the docker rules around them
(transport-free; servicer_containers.py adapts it). The executor runs them; the daemon keeps
the records (SQLite), decides names, configs, restarts and removal, and follows the
executor's container events to keep records true, also across restarts of either service.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from caisson import errors, logs
from caisson.daemon import containerprune, containerspec, containerstats, names, signals
from caisson.daemon import top as ps_top
from caisson.daemon.clients import Executor
from caisson.daemon.containernet import (
    ContainerNetworks,
    check_endpoint_config,
    endpoint_for,
)
from caisson.daemon.containerrecord import ContainerRecord, NetworkAttachment
from caisson.daemon.engine import Engine
from caisson.daemon.images import ImageService
from caisson.daemon.store import Store
from caisson.daemon.volumes import VolumeService
from caisson_api.daemon.v1 import containers_pb2 as api
from caisson_api.daemon.v1 import networks_pb2 as napi
from caisson_api.executor.v1 import containers_pb2 as xpb

if TYPE_CHECKING:
    from caisson.daemon.networks import NetworkService

log = logs.get("caisson.daemon.containers")

DEFAULT_STOP_TIMEOUT = 10
RESTART_FIRST_DELAY = 0.1
RESTART_MAX_DELAY = 60.0
RESTART_RESET_AFTER = 10.0
_RUNNING = ("running", "paused", "restarting")


@dataclass
class Output:
    """What an attach or exec stream yields: one of these fields is set."""

    attached: str = ""
    stream: str = ""  # "stdout" / "stderr"
    data: bytes = b""
    exit: api.ExitStatus | None = None


def _status(st: xpb.ContainerState) -> str:
    if st.status == xpb.STATUS_RUNNING:
        return "running"
    if st.status == xpb.STATUS_PAUSED:
        return "paused"
    if st.status == xpb.STATUS_STOPPED and st.started:
        return "exited"
    # Never started, or its start failed (docker keeps those "created", with the exit code).
    return "created"


def restart_wanted(rec: ContainerRecord) -> bool:
    """docker's restart policies, applied after an exit the user did not ask for."""
    policy = rec.host_config.restart_policy
    if rec.manually_stopped or rec.state.status not in ("exited", "restarting"):
        return False
    if policy.name in ("always", "unless-stopped"):
        return True
    if policy.name == "on-failure":
        limit = policy.maximum_retry_count
        return rec.state.exit_code != 0 and (limit <= 0 or rec.restart_count < limit)
    return False


def _seconds(ts: object, present: bool) -> float:
    return ts.ToNanoseconds() / 1e9 if present else 0.0  # type: ignore[attr-defined]


class ContainerService:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        images: ImageService,
        executor: Executor,
        volumes: VolumeService,
        networks: NetworkService | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.images = images
        self.executor = executor
        self.volumes = volumes
        self.networks = networks
        self.nets = (
            ContainerNetworks(networks, executor.set_names, self.records)
            if networks is not None
            else None
        )
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._closed = threading.Event()
        self._removing: set[str] = set()
        self._backoff: dict[str, float] = {}

    # -- records ---------------------------------------------------------------------------

    def _load(self, cid: str) -> ContainerRecord | None:
        raw = self.store.container(cid)
        return ContainerRecord.from_json(raw) if raw else None

    def _save(self, rec: ContainerRecord) -> None:
        with self._changed:
            self.store.put_container(rec.id, rec.name, rec.to_json())
            self._changed.notify_all()

    def resolve(self, text: str) -> ContainerRecord:
        """A container by name, full id or unique id prefix (docker's order)."""
        cid = self.store.container_id_by_name(text.removeprefix("/")) if text else None
        if cid is None and text and all(c in "0123456789abcdef" for c in text):
            ids = self.store.container_ids_with_prefix(text)
            if len(ids) > 1 and text not in ids:
                raise errors.InvalidArgument(f"Multiple IDs found with provided prefix: {text}")
            cid = ids[0] if ids else None
        rec = self._load(cid) if cid else None
        if rec is None:
            raise errors.NotFound(f"No such container: {text}")
        return rec

    def name_of(self, cid: str) -> str:
        rec = self._load(cid)
        return rec.name if rec is not None else ""

    def records(self) -> list[ContainerRecord]:
        return [ContainerRecord.from_json(r) for r in self.store.containers()]

    def volume_users(self, name: str) -> list[str]:
        return [r.id for r in self.records() if any(m.name == name for m in r.mounts)]

    def in_use(self, image_id: str) -> list[str]:
        """Ids of the containers made from the image (rmi refuses to remove it)."""
        return [r.id for r in self.records() if r.image_id == image_id]

    # -- create ----------------------------------------------------------------------------

    def create(self, req: api.CreateContainerRequest) -> tuple[str, list[str]]:
        if not req.config.image:
            raise errors.InvalidArgument("No image was specified")
        img = self.images.resolve(req.config.image)
        image_config = self.images.config(img)
        cid = names.new_id()
        if req.name:
            name = names.validate(req.name)
        else:
            name = names.generate(cid, lambda n: self.store.container_id_by_name(n) is not None)
        with self.engine.job("container.create", container=cid):
            rec, warnings = containerspec.new_record(
                cid,
                name,
                req,
                img.id,
                image_config,
                time.time(),
                volume_path=self.volumes.mountpoint,
                path_exists=os.path.exists,
            )
            holder = self.store.container_id_by_name(name)
            if holder is not None:
                raise names.conflict(name, holder)
            netmode = self._network_mode(rec, req)
            for m in rec.mounts:
                if m.type == "volume":
                    self.volumes.ensure(m.name, anonymous=m.anonymous)
            spec = containerspec.executor_spec(
                rec, [layer.chain_id for layer in img.layers], netmode=netmode
            )
            if not self.store.add_container(cid, name, rec.to_json()):
                raise names.conflict(name, self.store.container_id_by_name(name) or "")
            try:
                st = self.executor.create(spec)
            except BaseException:
                self.store.delete_container(cid)
                raise
            rec.rootfs = st.rootfs
            rec.log_path = st.log_path
            self._save(rec)
            self.engine.events.publish("container", "create", cid, name=name, image=rec.image)
            log.info("container created", container=cid, name=name)
        return cid, warnings

    def _network_mode(self, rec: ContainerRecord, req: api.CreateContainerRequest) -> str:
        """The executor's network mode; records the networks the container joins."""
        mode = rec.host_config.network_mode
        if mode.startswith("container:"):
            other = self.resolve(mode.partition(":")[2])
            if other.id == rec.id:
                raise errors.InvalidArgument("cannot join own network")
            # docker: the joined container's hostname (and /etc files) are this one's.
            rec.config.hostname = other.config.hostname
            rec.config.domainname = other.config.domainname
            return f"container:{other.id}"
        if self.nets is not None:
            rec.networks = self.nets.attachments(rec.host_config, dict(req.endpoints))
        elif containerspec.network_mode(mode) == "bridge":
            raise errors.FailedPrecondition("this daemon has no networking")
        return containerspec.network_mode(mode)

    # -- start, attach ---------------------------------------------------------------------

    def _prepare_network(self, cid: str) -> xpb.Networking | None:
        """Allocates the start's addresses (saved in the record) and returns the executor's
        Networking for it."""
        if self.nets is None:
            return None
        with self._changed:
            rec = self._load(cid)
            if rec is None:
                raise errors.NotFound(f"No such container: {cid}")
            net = self.nets.prepare(rec, rec.config.exposed_ports)
            if net is not None:
                self.store.put_container(rec.id, rec.name, rec.to_json())
            return net

    def _network_started(self, cid: str, st: xpb.ContainerState) -> None:
        if self.nets is None:
            return
        with self._changed:
            rec = self._load(cid)
            if rec is None or not rec.networks:
                return
            self.nets.started(rec, st.ports)
            self.store.put_container(rec.id, rec.name, rec.to_json())
        self.nets.push_names(att.network_id for att in rec.networks)

    def _release_network(self, cid: str) -> None:
        """A run's end (or a start that failed): addresses and ports go back."""
        if self.nets is None:
            return
        with self._changed:
            rec = self._load(cid)
            if rec is None or not self.nets.release(rec):
                return
            self.store.put_container(rec.id, rec.name, rec.to_json())
            self._changed.notify_all()
        self.nets.push_names(att.network_id for att in rec.networks)

    def _executor_start(self, cid: str) -> xpb.ContainerState:
        net = self._prepare_network(cid)
        try:
            st = self.executor.start(cid, net)
        except BaseException as e:
            self._release_network(cid)
            raise self._start_error(cid, e) from None
        self._network_started(cid, st)
        return st

    def _start_error(self, cid: str, e: BaseException) -> BaseException:
        """A start that failed before the process ran: docker's words for a taken port; a
        --rm container goes (docker would leave it Created, of no use to anyone)."""
        rec = self._load(cid)
        if rec is None or not isinstance(e, errors.CaissonError):
            return e
        if "port is already allocated" in str(e) or str(e).startswith("listen tcp4"):
            endpoint = rec.networks[0].endpoint_id if rec.networks else ""
            e = errors.FailedPrecondition(
                f"driver failed programming external connectivity on endpoint {rec.name} "
                f"({endpoint or cid}): {e}"
            )
        if rec.host_config.auto_remove and rec.state.status == "created":
            with contextlib.suppress(errors.CaissonError):
                st = self.executor.get(cid)
                if not st.started and st.status != xpb.STATUS_RUNNING:
                    self.remove(cid, force=True, volumes=True)
        return e

    def start(self, text: str) -> None:
        rec = self.resolve(text)
        if rec.state.status in ("running", "restarting"):
            return  # docker: starting a running container is not an error
        if rec.state.status == "paused":
            raise errors.FailedPrecondition("cannot start a paused container, try unpause instead")
        with self.engine.job("container.start", container=rec.id):
            try:
                st = self._executor_start(rec.id)
            except errors.FailedPrecondition as e:
                try:
                    st = self.executor.get(rec.id)
                except errors.NotFound:
                    raise e from None  # --rm: removed after a start that failed
                if st.status != xpb.STATUS_STOPPED or st.started:
                    raise
                self._apply(rec.id, st)
                raise errors.FailedPrecondition(st.error) from None
            self._started(rec.id, st)

    def _started(self, cid: str, st: xpb.ContainerState) -> None:
        with self._lock:
            rec = self._load(cid)
            if rec is None:
                return
            if rec.manually_stopped:
                rec.manually_stopped = False
                self._save(rec)
        self._apply(cid, st)

    def attach(
        self, open_: api.AttachOpen, inputs: Iterator[api.AttachRequest]
    ) -> Iterator[Output]:
        """Streams a container's output (starting it first with open.start) and ends with its
        exit status once it exits; input requests are forwarded as they come."""
        rec = self.resolve(open_.container)
        if open_.start and rec.state.status in _RUNNING:
            open_ = api.AttachOpen(
                container=open_.container,
                stdin=open_.stdin,
                stdout=open_.stdout,
                stderr=open_.stderr,
                start=False,
                size=open_.size,
            )
        if not open_.start and rec.state.status not in _RUNNING:
            raise errors.FailedPrecondition(
                "You cannot attach to a stopped container, start it first"
            )
        requests: queue.Queue[xpb.AttachRequest | None] = queue.Queue()
        net = self._prepare_network(rec.id) if open_.start else None
        requests.put(
            xpb.AttachRequest(
                open=xpb.AttachOpen(
                    id=rec.id,
                    start=open_.start,
                    size=xpb.Resize(rows=open_.size.rows, cols=open_.size.cols),
                    networking=net,
                )
            )
        )
        attached = False
        if open_.stdin or rec.config.tty:  # else there is nothing to forward (input, resizes)
            threading.Thread(
                target=_forward_inputs,
                args=(inputs, requests, open_.stdin),
                daemon=True,
                name="attach-in",
            ).start()
        stream = self.executor.attach(_drain(requests))
        want = {"stdout": open_.stdout, "stderr": open_.stderr}
        try:
            for resp in stream:
                kind = resp.WhichOneof("response")
                if kind == "attached":
                    attached = True
                    if open_.start:
                        self._network_started(rec.id, resp.attached)
                        self._started(rec.id, resp.attached)
                    yield Output(attached=rec.id)
                elif kind in ("stdout", "stderr"):
                    if want[kind]:
                        yield Output(stream=kind, data=getattr(resp, kind))
                elif kind == "exit":
                    self._apply(rec.id, resp.exit)
                    yield Output(exit=self._exit_status(rec.id, resp.exit))
                    return
        except errors.FailedPrecondition as e:
            if not open_.start:
                raise
            if not attached:
                self._release_network(rec.id)
            st = self.executor.get(rec.id)
            if st.status != xpb.STATUS_STOPPED or st.started:
                if attached:
                    raise
                raise self._start_error(rec.id, e) from None
            self._apply(rec.id, st)
            yield Output(exit=self._exit_status(rec.id, st))
        except BaseException as e:
            if open_.start and not attached:
                self._release_network(rec.id)
                raise self._start_error(rec.id, e) from None
            raise
        finally:
            requests.put(None)
            stream.cancel()

    def _exit_status(self, cid: str, st: xpb.ContainerState) -> api.ExitStatus:
        status = api.ExitStatus(
            exit_code=st.exit_code, error=st.error, oom_killed=st.oom_killed, started=st.started
        )
        rec = self._load(cid)
        if rec is not None and rec.host_config.auto_remove:
            # `run --rm` returns once the container is gone, as docker's CLI waits for it.
            self._auto_remove(cid)
        return status

    # -- state from the executor -----------------------------------------------------------

    def _apply(self, cid: str, st: xpb.ContainerState) -> ContainerRecord | None:
        """Brings a record in line with the executor's state; publishes what changed."""
        with self._changed:
            rec = self._load(cid)
            if rec is None:
                return None
            before = rec.state.status
            new = _status(st)
            started = _seconds(st.started_at, st.HasField("started_at"))
            if new in ("running", "paused") and started and rec.state.finished_at >= started:
                # A late view of a run whose end is already recorded (a start's reply that
                # arrives after the exit event): it must not bring the container back to life.
                return rec
            finished = _seconds(st.finished_at, st.HasField("finished_at"))
            # An exit not seen before (a restarted container's exit has a later time).
            new_exit = (
                st.status == xpb.STATUS_STOPPED
                and st.started
                and finished > rec.state.finished_at + 1e-6
            )
            if (
                before == "restarting"
                and new == "exited"
                and not new_exit
                and not rec.manually_stopped
            ):
                new = "restarting"  # waiting to be started again: still the same exit
            s = rec.state
            seen = replace(s)
            s.status = new
            s.pid = st.pid if new in ("running", "paused") else 0
            if st.HasField("started_at") and st.started:
                s.started_at = _seconds(st.started_at, True)
            if st.status == xpb.STATUS_STOPPED:
                s.exit_code = st.exit_code
                s.error = st.error
                s.oom_killed = st.oom_killed
                if st.HasField("finished_at"):
                    s.finished_at = _seconds(st.finished_at, True)
            elif new == "running":
                s.error = ""
                s.oom_killed = False
            if s != seen:  # the same news comes twice (the exit: by event and by attach)
                self.store.put_container(rec.id, rec.name, rec.to_json())
                self._changed.notify_all()
        if before != new or new_exit:
            self._publish_change(rec, before, new, new_exit)
        return rec

    def _publish_change(self, rec: ContainerRecord, before: str, new: str, new_exit: bool) -> None:
        ev = self.engine.events.publish
        attrs = {"name": rec.name, "image": rec.image}
        if new_exit or new in ("exited", "dead"):
            self._release_network(rec.id)
        if new_exit:
            if before not in ("running", "paused"):
                ev("container", "start", rec.id, **attrs)  # it ran and ended between looks
            if rec.state.oom_killed:
                ev("container", "oom", rec.id, **attrs)
            ev("container", "die", rec.id, exitCode=str(rec.state.exit_code), **attrs)
            self._after_exit(rec)
        elif new == "running" and before in ("created", "exited", "restarting"):
            ev("container", "start", rec.id, **attrs)
        elif new == "paused":
            ev("container", "pause", rec.id, **attrs)
        elif new == "running" and before == "paused":
            ev("container", "unpause", rec.id, **attrs)

    def _after_exit(self, rec: ContainerRecord) -> None:
        if rec.host_config.auto_remove:
            threading.Thread(target=self._auto_remove, args=(rec.id,), daemon=True).start()
        elif restart_wanted(rec):
            threading.Thread(target=self._restart_later, args=(rec.id,), daemon=True).start()

    def _restart_later(self, cid: str) -> None:
        """docker's restart manager: wait (100 ms, doubled at each restart in a row, reset
        after a run of 10 s or more, at most a minute), then start again unless the container
        was stopped or removed meanwhile."""
        with self._changed:
            rec = self._load(cid)
            if rec is None or not restart_wanted(rec):
                return
            ran = rec.state.finished_at - rec.state.started_at
            if ran >= RESTART_RESET_AFTER:
                self._backoff[cid] = RESTART_FIRST_DELAY
            delay = self._backoff.get(cid, RESTART_FIRST_DELAY)
            self._backoff[cid] = min(delay * 2, RESTART_MAX_DELAY)
            rec.state.status = "restarting"
            self.store.put_container(rec.id, rec.name, rec.to_json())
            self._changed.notify_all()
        if self._closed.wait(delay):
            return
        with self._changed:
            rec = self._load(cid)
            if rec is None or rec.state.status != "restarting" or rec.manually_stopped:
                return
            rec.restart_count += 1
            self.store.put_container(rec.id, rec.name, rec.to_json())
        try:
            self._started(cid, self._executor_start(cid))
            self.engine.events.publish("container", "restart", cid, name=rec.name)
        except errors.CaissonError as e:
            log.warning("restart failed", container=cid, error=str(e))
            st = self.executor.get(cid)
            self._apply(cid, st)

    def _auto_remove(self, cid: str) -> None:
        """--rm: removes the container, or waits for the removal already under way (the
        attach stream and the exit event both ask; `run --rm` returns only once it is gone)."""
        while True:
            with self._changed:
                while cid in self._removing:
                    self._changed.wait(0.5)
                rec = self._load(cid)
                if rec is None:
                    return
            try:
                self._remove(rec, force=True, volumes=True)
                return
            except errors.NotFound:
                return
            except errors.FailedPrecondition as e:
                if "already in progress" not in str(e):
                    log.warning("auto-remove failed", container=cid, error=str(e))
                    return
            except errors.CaissonError as e:
                log.warning("auto-remove failed", container=cid, error=str(e))
                return

    def follow_executor(self) -> None:
        """Runs until close(): applies the executor's container events; after the stream
        breaks (executor restarted), reconciles every record, then follows again."""
        while not self._closed.is_set():
            stream = self.executor.events()
            self._stream = stream
            try:
                self.reconcile()
                for st in stream:
                    self._apply(st.id, st)
            except errors.CaissonError as e:
                if self._closed.is_set():
                    return
                log.info("executor events interrupted, reconnecting", error=str(e))
            self._closed.wait(0.5)

    def reconcile(self) -> None:
        if self.networks is not None:
            self.networks.ensure_all()
        states = {st.id: st for st in self.executor.list()}
        for rec in self.records():
            st = states.get(rec.id)
            if st is None:
                if rec.state.status in _RUNNING:
                    with self._changed:
                        rec.state.status = "exited"
                        rec.state.pid = 0
                        rec.state.exit_code = 255
                        rec.state.error = "the container is gone from the executor"
                        rec.state.finished_at = time.time()
                        self.store.put_container(rec.id, rec.name, rec.to_json())
                        self._changed.notify_all()
                self._release_network(rec.id)
                continue
            self._apply(rec.id, st)
            if st.status not in (xpb.STATUS_RUNNING, xpb.STATUS_PAUSED):
                self._release_network(rec.id)  # it ended while the daemon was away
        if self.nets is not None:
            self.nets.push_all()

    def close(self) -> None:
        self._closed.set()
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.cancel()
        with self._changed:
            self._changed.notify_all()

    # -- wait, stop, kill ------------------------------------------------------------------

    def wait(self, text: str, condition: str, cancelled: threading.Event) -> tuple[int, str]:
        rec = self.resolve(text)
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise errors.InvalidArgument(f"invalid condition: {condition!r}")
        start_finished = rec.state.finished_at
        rounds = 0
        while not cancelled.is_set() and not self._closed.is_set():
            with self._changed:
                cur = self._load(rec.id)
                if cur is None:
                    if condition == "removed":
                        return rec.state.exit_code, rec.state.error
                    raise errors.NotFound(f"No such container: {text}")
                rec = cur
                if condition in ("", "not-running") and rec.state.status not in _RUNNING:
                    return rec.state.exit_code, rec.state.error
                if condition == "next-exit" and rec.state.finished_at != start_finished:
                    return rec.state.exit_code, rec.state.error
                self._changed.wait(0.5)
            rounds += 1
            if rounds % 4 == 0 and rec.state.status in ("running", "paused"):
                # Events are the fast path; asking now and then heals one that was missed
                # (an executor restarting at that moment).
                with contextlib.suppress(errors.CaissonError):
                    self._apply(rec.id, self.executor.get(rec.id))
        raise errors.Cancelled("wait cancelled")

    def stop(self, text: str, timeout: int | None) -> None:
        rec = self.resolve(text)
        with self.engine.job("container.stop", container=rec.id):
            self._stop(rec, timeout)

    def _stop(self, rec: ContainerRecord, timeout: int | None) -> None:
        with self._lock:
            rec.manually_stopped = True
            cur = self._load(rec.id)
            if cur is not None:
                cur.manually_stopped = True
                self._save(cur)
        st = self.executor.get(rec.id)
        if st.status not in (xpb.STATUS_RUNNING, xpb.STATUS_PAUSED):
            self._apply(rec.id, st)
            return
        if timeout is None:
            has = rec.config.HasField("stop_timeout")
            timeout = rec.config.stop_timeout if has else DEFAULT_STOP_TIMEOUT
        sig = signals.parse(rec.config.stop_signal, signal.SIGTERM)
        self.engine.events.publish("container", "kill", rec.id, name=rec.name, signal=str(sig))
        try:
            if st.status == xpb.STATUS_PAUSED:
                # A frozen process cannot act on a signal; docker thaws it after signalling.
                self.executor.kill(rec.id, sig)
                self.executor.resume(rec.id)
            else:
                self.executor.kill(rec.id, sig)
        except errors.FailedPrecondition:
            pass  # it exited meanwhile
        if timeout < 0 or not self._wait_exit(rec.id, timeout):
            with contextlib.suppress(errors.FailedPrecondition):  # it exited meanwhile
                self.executor.kill(rec.id, signal.SIGKILL, True)
            self._wait_exit(rec.id, 30)
        self._apply(rec.id, self.executor.get(rec.id))
        self.engine.events.publish("container", "stop", rec.id, name=rec.name)

    def _wait_exit(self, cid: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout if timeout >= 0 else None
        while True:
            st = self.executor.get(cid)
            if st.status not in (xpb.STATUS_RUNNING, xpb.STATUS_PAUSED):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            with self._changed:
                self._changed.wait(0.05)

    def restart(self, text: str, timeout: int | None) -> None:
        rec = self.resolve(text)
        with self.engine.job("container.restart", container=rec.id):
            self._stop(rec, timeout)
            st = self._executor_start(rec.id)
            self._started(rec.id, st)
            self.engine.events.publish("container", "restart", rec.id, name=rec.name)

    def kill(self, text: str, signal_text: str) -> None:
        rec = self.resolve(text)
        sig = signals.parse(signal_text)
        st = self.executor.get(rec.id)
        if st.status not in (xpb.STATUS_RUNNING, xpb.STATUS_PAUSED):
            raise errors.FailedPrecondition(
                f"Cannot kill container: {text}: Container {rec.id} is not running"
            )
        self.engine.events.publish("container", "kill", rec.id, name=rec.name, signal=str(sig))
        if sig == signal.SIGKILL:
            self.executor.kill(rec.id, sig, True)
        else:
            self.executor.kill(rec.id, sig)

    # -- remove ----------------------------------------------------------------------------

    def remove(self, text: str, force: bool, volumes: bool) -> None:
        self._remove(self.resolve(text), force, volumes)

    def _remove(self, rec: ContainerRecord, force: bool, volumes: bool) -> None:
        with self._lock:
            if rec.id in self._removing:
                raise errors.FailedPrecondition(
                    f"removal of container {rec.id} is already in progress"
                )
            self._removing.add(rec.id)
        try:
            if not self._delete_ended(rec):
                self._delete_running(rec, force)
            self._release_network(rec.id)
            with self._changed:
                self.store.delete_container(rec.id)
                self._changed.notify_all()
            if volumes:
                for m in rec.mounts:
                    if m.type == "volume" and m.anonymous:
                        try:
                            self.volumes.remove(m.name, force=False)
                        except errors.CaissonError as e:
                            log.warning("volume not removed", volume=m.name, error=str(e))
            self.engine.events.publish("container", "destroy", rec.id, name=rec.name)
            log.info("container removed", container=rec.id)
        finally:
            with self._changed:
                self._removing.discard(rec.id)
                self._changed.notify_all()

    def _delete_ended(self, rec: ContainerRecord) -> bool:
        """The executor's delete alone, when the record says the container does not run: the
        executor refuses to delete a running one, so a record behind the facts costs a second
        try, never a wrong removal. False when the executor refused."""
        if rec.state.status in _RUNNING:
            return False
        try:
            self.executor.delete(rec.id)
        except errors.NotFound:
            pass
        except errors.FailedPrecondition:
            return False
        return True

    def _delete_running(self, rec: ContainerRecord, force: bool) -> None:
        st = self.executor.get(rec.id)
        if st.status in (xpb.STATUS_RUNNING, xpb.STATUS_PAUSED):
            if not force:
                what = "paused" if st.status == xpb.STATUS_PAUSED else "running"
                raise errors.FailedPrecondition(
                    f"You cannot remove a {what} container {rec.id}. Stop the container "
                    "before attempting removal or force remove"
                )
            self.executor.kill(rec.id, signal.SIGKILL, True)
            if st.status == xpb.STATUS_PAUSED:
                self.executor.resume(rec.id)
            self._wait_exit(rec.id, 30)
            self._apply(rec.id, self.executor.get(rec.id))
        with contextlib.suppress(errors.NotFound):
            self.executor.delete(rec.id)

    # -- networks: connect, disconnect ------------------------------------------------------

    def connect_network(self, container: str, network: str, ipv4: str, aliases: list[str]) -> None:
        if self.networks is None or self.nets is None:
            raise errors.FailedPrecondition("this daemon has no networking")
        rec = self.resolve(container)
        net = self.networks.resolve(network)
        mode = rec.host_config.network_mode
        if mode == "host" or net.driver == "host":
            raise errors.PermissionDenied(
                "container cannot be disconnected from host network or connected to host network"
            )
        if mode == "none" or net.driver == "null":
            raise errors.PermissionDenied(
                "container cannot be connected to multiple networks with one of the networks "
                "in private (none) mode"
            )
        if mode.startswith("container:"):
            raise errors.PermissionDenied(
                "conflicting options: container type network can't be used with multiple networks"
            )
        if any(att.network_id == net.id for att in rec.networks):
            raise errors.PermissionDenied(
                f"endpoint with name {rec.name} already exists in network {net.name}"
            )
        check_endpoint_config(net.dns, napi.EndpointConfig(ipv4_address=ipv4, aliases=aliases))
        att = NetworkAttachment(net.id, net.name, ipv4_address=ipv4, aliases=list(aliases))
        with self.engine.job("network.connect", container=rec.id), self._changed:
            rec = self.resolve(rec.id)
            running = rec.state.status in ("running", "paused")
            if running:
                ep = self.networks.allocate(net.id, rec.id, ipv4, aliases)
                att.endpoint_id, att.address, att.prefix_len = (
                    ep.endpoint_id,
                    ep.address,
                    ep.prefix_len,
                )
                att.gateway, att.mac = ep.gateway, ep.mac
                try:
                    self.executor.connect(rec.id, endpoint_for(att))
                except BaseException:
                    self.networks.release(net.id, rec.id)
                    raise
            rec.networks.append(att)
            self.store.put_container(rec.id, rec.name, rec.to_json())
            self._changed.notify_all()
        if running:
            self.nets.push_names([net.id])
        self.engine.events.publish(
            "network", "connect", net.id, container=rec.id, name=net.name, type=net.driver
        )

    def disconnect_network(self, container: str, network: str, force: bool) -> None:
        if self.networks is None or self.nets is None:
            raise errors.FailedPrecondition("this daemon has no networking")
        rec = self.resolve(container)
        net = self.networks.resolve(network)
        if rec.host_config.network_mode == "host" or net.driver == "host":
            raise errors.PermissionDenied(
                "container cannot be disconnected from host network or connected to host network"
            )
        with self.engine.job("network.disconnect", container=rec.id), self._changed:
            rec = self.resolve(rec.id)
            att = next((a for a in rec.networks if a.network_id == net.id), None)
            if att is None:
                raise errors.PermissionDenied(
                    f"container {rec.id} is not connected to network {net.name}"
                )
            if rec.state.status in ("running", "paused") and att.address:
                # NotFound: the executor no longer has it; the record is what is left.
                with contextlib.suppress(errors.NotFound):
                    self.executor.disconnect(rec.id, net.id)
            self.networks.release(net.id, rec.id)
            rec.networks.remove(att)
            self.store.put_container(rec.id, rec.name, rec.to_json())
            self._changed.notify_all()
        self.nets.push_names([net.id])
        self.engine.events.publish(
            "network", "disconnect", net.id, container=rec.id, name=net.name, type=net.driver
        )

    def network_users(self, network_id: str) -> list[ContainerRecord]:
        return [r for r in self.records() if any(a.network_id == network_id for a in r.networks)]

    # -- pause -----------------------------------------------------------------------------

    def pause(self, text: str) -> None:
        rec = self.resolve(text)
        st = self.executor.get(rec.id)
        if st.status == xpb.STATUS_PAUSED:
            raise errors.FailedPrecondition(f"Container {rec.id} is already paused")
        if st.status != xpb.STATUS_RUNNING:
            raise errors.FailedPrecondition(f"Container {rec.id} is not running")
        self.executor.pause(rec.id)
        self._apply(rec.id, self.executor.get(rec.id))

    def unpause(self, text: str) -> None:
        rec = self.resolve(text)
        st = self.executor.get(rec.id)
        if st.status != xpb.STATUS_PAUSED:
            raise errors.FailedPrecondition(f"Container {rec.id} is not paused")
        self.executor.resume(rec.id)
        self._apply(rec.id, self.executor.get(rec.id))

    # -- rename ----------------------------------------------------------------------------

    def rename(self, text: str, new_name: str) -> None:
        rec = self.resolve(text)
        if not new_name:
            raise errors.InvalidArgument("Neither old nor new names may be empty")
        name = names.validate(new_name)
        if name == rec.name:
            raise errors.InvalidArgument(
                "Renaming a container with the same name as its current name"
            )
        with self._changed:
            holder = self.store.container_id_by_name(name)
            if holder is not None:
                raise names.conflict(name, holder)
            old = rec.name
            rec = self.resolve(rec.id)
            rec.name = name
            self.store.put_container(rec.id, rec.name, rec.to_json())
            self._changed.notify_all()
        self.engine.events.publish("container", "rename", rec.id, name=name, oldName="/" + old)

    # -- queries ---------------------------------------------------------------------------

    def logs(self, req: api.LogsRequest) -> Iterator[xpb.LogEntry]:
        rec = self.resolve(req.container)
        xreq = xpb.LogsRequest(id=rec.id, follow=req.follow, tail=req.tail)
        if req.HasField("since"):
            xreq.since.CopyFrom(req.since)
        if req.HasField("until"):
            xreq.until.CopyFrom(req.until)
        stream = self.executor.logs(xreq)
        want = {"stdout": req.stdout, "stderr": req.stderr}
        try:
            for entry in stream:
                if want.get(entry.stream, False):
                    yield entry
        finally:
            stream.cancel()

    def exec(self, open_: api.ExecOpen, inputs: Iterator[api.ExecRequest]) -> Iterator[Output]:
        rec = self.resolve(open_.container)
        if rec.state.status == "paused":
            raise errors.FailedPrecondition(
                f"Container {rec.id} is paused, unpause the container before exec"
            )
        if rec.state.status != "running":
            raise errors.FailedPrecondition(f"Container {rec.id} is not running")
        if not open_.cmd:
            raise errors.InvalidArgument("No exec command specified")
        env = containerspec.exec_env(rec, list(open_.env), open_.tty)
        exec_id = names.new_id()
        requests: queue.Queue[xpb.ExecRequest | None] = queue.Queue()
        requests.put(
            xpb.ExecRequest(
                open=xpb.ExecOpen(
                    id=rec.id,
                    exec_id=exec_id,
                    process=xpb.Process(
                        args=list(open_.cmd),
                        env=env,
                        cwd=open_.working_dir or rec.config.working_dir or "/",
                        user=open_.user or rec.config.user,
                        additional_groups=list(rec.host_config.group_add),
                        tty=open_.tty,
                        stdin=open_.stdin,
                        rows=open_.size.rows,
                        cols=open_.size.cols,
                    ),
                    privileged=open_.privileged,
                    detach=open_.detach,
                )
            )
        )
        threading.Thread(target=_forward_exec_inputs, args=(inputs, requests), daemon=True).start()
        self.engine.events.publish(
            "container", "exec_create: " + " ".join(open_.cmd), rec.id, name=rec.name
        )
        stream = self.executor.exec(_drain(requests))
        try:
            for resp in stream:
                kind = resp.WhichOneof("response")
                if kind == "started":
                    self.engine.events.publish(
                        "container", "exec_start: " + " ".join(open_.cmd), rec.id, name=rec.name
                    )
                    yield Output(attached=exec_id)
                    if open_.detach:
                        return
                elif kind in ("stdout", "stderr"):
                    yield Output(stream=kind, data=getattr(resp, kind))
                elif kind == "exit":
                    e = resp.exit
                    yield Output(
                        exit=api.ExitStatus(exit_code=e.exit_code, error=e.error, started=e.started)
                    )
                    self.engine.events.publish(
                        "container", "exec_die", rec.id, name=rec.name, exitCode=str(e.exit_code)
                    )
                    return
        finally:
            requests.put(None)
            stream.cancel()

    # -- top, stats, cp, prune (logic in top.py, containerstats.py, containerprune.py) ------

    def top(self, text: str, ps_args: list[str]) -> ps_top.Top:
        rec = self.resolve(text)
        if rec.state.status == "restarting":
            raise errors.FailedPrecondition(
                f"Container {rec.id} is restarting, wait until the container is running"
            )
        if rec.state.status not in _RUNNING:
            raise errors.FailedPrecondition(f"Container {rec.id} is not running")
        args = ps_top.ps_args(ps_args)
        ps_top.validate(args)
        result = ps_top.top(args, list(self.executor.top(rec.id).pids))
        self.engine.events.publish("container", "top", rec.id, name=rec.name)
        return result

    def stats(
        self, names: list[str], stream: bool, cancelled: threading.Event
    ) -> Iterator[list[api.ContainerStats]]:
        ids = [self.resolve(n).id for n in names]

        def targets() -> list[ContainerRecord | None]:
            if ids:
                return [self._load(cid) for cid in ids]
            return sorted(self.records(), key=lambda r: r.created, reverse=True)

        return containerstats.rounds(targets, self.executor.stats, stream, cancelled)

    def copy_from(self, text: str, path: str) -> Iterator[xpb.CopyChunk]:
        rec = self.resolve(text)
        stream = self.executor.copy_from(rec.id, path)
        try:
            yield from stream
        except errors.NotFound:
            raise errors.NotFound(f"Could not find the file {path} in container {text}") from None
        finally:
            stream.cancel()
        self.engine.events.publish("container", "archive-path", rec.id, name=rec.name)

    def copy_to(self, open_: api.CopyToOpen, data: Iterator[bytes]) -> None:
        rec = self.resolve(open_.container)
        first = xpb.CopyToRequest(open=xpb.CopyToOpen(id=rec.id, path=open_.path))
        rest = (xpb.CopyToRequest(data=block) for block in data)
        try:
            self.executor.copy_to(itertools.chain([first], rest))
        except errors.NotFound:
            raise errors.NotFound(
                f"Could not find the file {open_.path} in container {open_.container}"
            ) from None
        self.engine.events.publish("container", "extract-to-dir", rec.id, name=rec.name)

    def prune(self, filters: list[str]) -> tuple[list[str], int]:
        f = containerprune.parse(filters)
        deleted, reclaimed = [], 0
        for rec in containerprune.selected(self.records(), f):
            size = containerprune.writable_layer_size(rec)
            try:
                self.remove(rec.id, force=False, volumes=False)
            except errors.CaissonError as e:  # started or removed meanwhile
                log.warning("container not pruned", container=rec.id, error=str(e))
                continue
            deleted.append(rec.id)
            reclaimed += size
        self.engine.events.publish("container", "prune", "", reclaimed=str(reclaimed))
        return deleted, reclaimed


# --- stream plumbing -----------------------------------------------------------------------


def _drain(q: queue.Queue[Any]) -> Iterator[Any]:
    while True:
        item = q.get()
        if item is None:
            return
        yield item


def _forward_inputs(
    inputs: Iterator[api.AttachRequest],
    out: queue.Queue[xpb.AttachRequest | None],
    stdin: bool,
) -> None:
    try:
        for req in inputs:
            kind = req.WhichOneof("request")
            if kind == "stdin" and stdin:
                out.put(xpb.AttachRequest(stdin=req.stdin))
            elif kind == "resize":
                out.put(
                    xpb.AttachRequest(resize=xpb.Resize(rows=req.resize.rows, cols=req.resize.cols))
                )
            elif kind == "close_stdin" and stdin:
                out.put(xpb.AttachRequest(close_stdin=True))
    except Exception:  # noqa: BLE001 - the client went away: nothing more to forward
        pass


def _forward_exec_inputs(
    inputs: Iterator[api.ExecRequest], out: queue.Queue[xpb.ExecRequest | None]
) -> None:
    try:
        for req in inputs:
            kind = req.WhichOneof("request")
            if kind == "stdin":
                out.put(xpb.ExecRequest(stdin=req.stdin))
            elif kind == "resize":
                out.put(
                    xpb.ExecRequest(resize=xpb.Resize(rows=req.resize.rows, cols=req.resize.cols))
                )
            elif kind == "close_stdin":
                out.put(xpb.ExecRequest(close_stdin=True))
    except Exception:  # noqa: BLE001 - the client went away: nothing more to forward
        pass
