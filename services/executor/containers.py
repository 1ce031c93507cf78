"""Containers as the executor runs them (transport-free; service_containers.py adapts it).

Everything the executor must remember is on disk, so a restarted executor finds its
containers again and a container outlives the executor:
    DATA_ROOT/containers/<id>/   spec.json (the ContainerSpec), rootfs/ (the overlay mount),
                                 upper/ + work/ (the writable layer), <id>-json.log,
                                 hostname, hosts, resolv.conf
    EXEC_ROOT/containers/<id>/   init.json, the monitor's monitor.pid, attach.sock and exit,
                                 state.json (pid, start time), exec/<exec id>/,
                                 netns + networking.pb while it runs on a network (sandbox.py)
A container's process runs under its own monitor (monitor.c), which owns its stdio and log
and writes its exit status; the executor only watches monitors and reads what they wrote.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import platform
import secrets
import select
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caisson import errors, logs
from caisson.executor import capabilities, copy, etcfiles, jsonlog, monitor, rootfs, seccomp
from caisson.executor.cgroup_manager import (
    DEFAULT_DEVICES,
    Cgroup,
    CgroupFS,
    Resources,
    cpus_to_cfs,
    open_cgroup,
)
from caisson.executor.containerinit import InitSpec, ProcessSpec
from caisson.executor.rmtree import remove_tree as rmtree
from caisson.executor.sandbox import NETNS, Sandboxes, close_all
from caisson.executor.snapshots import Snapshotter
from caisson.executor.stats import Sample
from caisson.executor.stats import collect as collect_stats
from caisson.executor.syscalls import RealSyscalls
from caisson_api.executor.v1 import containers_pb2 as pb
from caisson_api.executor.v1 import networks_pb2 as npb

log = logs.get("caisson.executor.containers")

CREATED, RUNNING, PAUSED, STOPPED = "created", "running", "paused", "stopped"
INIT_PATH = "/sbin/docker-init"  # where docker puts its init; images may rely on the path
_TINI_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/bin/tini")
_SECCOMP_DEFAULT = Path(__file__).with_name("seccomp_default.json")
_ID_CHARS = set("0123456789abcdef")


@dataclass
class State:
    id: str
    status: str
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    rootfs: str = ""
    log_path: str = ""
    # Published ports as bound, while it runs.
    ports: list[npb.PortMapping] = field(default_factory=list)


@dataclass
class _Live:
    """In-memory companions of a running container (rebuilt after a restart)."""

    done: threading.Event = field(default_factory=threading.Event)


def _check_id(cid: str) -> None:
    if len(cid) < 12 or not set(cid) <= _ID_CHARS:
        raise errors.InvalidArgument(f"invalid container id {cid!r}")


def _write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e9):09d}Z"


def _parse_rfc3339(text: str) -> float:
    if not text:
        return 0.0
    base, _, frac = text.rstrip("Z").partition(".")
    import calendar

    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs + (int(frac.ljust(9, "0")[:9]) / 1e9 if frac else 0.0)


class ContainerManager:
    def __init__(
        self,
        data_root: str,
        exec_root: str,
        snapshots: Snapshotter,
        cgroup_mode: str,
        cgroup_parent: str = "caisson",
        sandboxes: Sandboxes | None = None,
    ) -> None:
        self.data = Path(data_root) / "containers"
        self.run = Path(exec_root) / "containers"
        # Where a deleted container's directories go at once, to be emptied in the background
        # (see _discard); what a crash leaves there, init() removes.
        self.data_removing = Path(data_root) / "containers.removing"
        self.run_removing = Path(exec_root) / "containers.removing"
        self.volumes = Path(data_root) / "volumes"
        self.snapshots = snapshots
        self.cgroup_mode = cgroup_mode
        self.cgroup_parent = cgroup_parent
        self._cgroup_fs = CgroupFS()  # one for all: it learns the v1 layout once
        self.sandboxes = sandboxes
        # Where a deleted container's overlay gets its last close (see _detach_rootfs) and its
        # directories are removed (see _discard), after the delete has returned.
        self._releases = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release")
        # Network setup at a start and teardown at an exit exclude each other: a restart may
        # begin before the watcher of the run that ended has torn its network down.
        self._net_lock = threading.Lock()
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        # The monitors' ends: one thread waits on all their pidfds (_watch_exits), a few
        # workers handle each end (_exited).
        self._pidfds = select.epoll()
        self._watched: dict[int, tuple[str, _Live]] = {}  # pidfd -> container
        self._exit_watcher: threading.Thread | None = None
        self._exit_workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="exit")
        self._listeners: list[Callable[[State], None]] = []
        self._closed = threading.Event()

    # -- paths -----------------------------------------------------------------------------

    def _data(self, cid: str) -> Path:
        return self.data / cid

    def _bundle(self, cid: str) -> Path:
        return self.run / cid

    def _cgroup(self, cid: str) -> Cgroup:
        return open_cgroup(cid, self.cgroup_parent, mode=self.cgroup_mode, fs=self._cgroup_fs)

    def log_path(self, cid: str) -> Path:
        return self._data(cid) / f"{cid}-json.log"

    def volume_dir(self, name: str) -> Path:
        if not name or "/" in name or name in (".", ".."):
            raise errors.InvalidArgument(f"invalid volume name {name!r}")
        return self.volumes / name / "_data"

    # -- start-up --------------------------------------------------------------------------

    def init(self) -> None:
        """Finds the containers a previous executor left: running ones are watched again."""
        self.data.mkdir(parents=True, exist_ok=True)
        self.run.mkdir(parents=True, exist_ok=True)
        for trash in (self.data_removing, self.run_removing):
            with contextlib.suppress(FileNotFoundError):
                for left in trash.iterdir():
                    self._releases.submit(_remove_left, left)
        running = set()
        for cid in self._ids():
            st = self.get(cid)
            if st.status in (RUNNING, PAUSED):
                running.add(cid)
                if self.sandboxes is not None:
                    self.sandboxes.revive(cid, self._bundle(cid))
                self._watch(cid)
            elif st.status == STOPPED and st.started:
                self._record_oom(cid)  # it ended while no executor watched
                self._teardown_network(cid)
        if self.sandboxes is not None:
            # Rules of containers that ended (or went) while no executor watched.
            with contextlib.suppress(errors.FailedPrecondition):  # no table, no rules
                for cid in self.sandboxes.firewall.container_ids() - running:
                    self.sandboxes.firewall.unpublish(cid)
        log.info("containers found", count=len(self._ids()))

    def close(self) -> None:
        self._closed.set()
        if not self._ids():
            # No container of ours is left: our parent cgroup goes too (it stays while any
            # other engine sharing it has containers: rmdir of a busy cgroup just fails).
            with contextlib.suppress(errors.CaissonError):
                self._cgroup("0" * 12).remove_parent()

    def subscribe(self, listener: Callable[[State], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def cancel() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return cancel

    def _publish(self, st: State) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            fn(st)

    def _ids(self) -> list[str]:
        try:
            return sorted(p.name for p in self.data.iterdir() if (p / "spec.json").exists())
        except FileNotFoundError:
            return []

    # -- create ----------------------------------------------------------------------------

    def spec(self, cid: str) -> pb.ContainerSpec:
        _check_id(cid)
        try:
            raw = (self._data(cid) / "spec.json").read_bytes()
        except FileNotFoundError:
            raise errors.NotFound(f"no such container: {cid}") from None
        spec = pb.ContainerSpec()
        spec.ParseFromString(raw)
        return spec

    def create(self, spec: pb.ContainerSpec) -> State:
        _check_id(spec.id)
        data = self._data(spec.id)
        if (data / "spec.json").exists():
            raise errors.AlreadyExists(f"container {spec.id} already exists")
        for chain in spec.layers:
            if not self.snapshots.exists(chain):
                raise errors.FailedPrecondition(f"layer {chain} is not unpacked")
        # Validated (and the filter compiled) here so that a bad --cap-add or seccomp profile
        # fails create, not start.
        caps = capabilities.effective_set(list(spec.cap_add), list(spec.cap_drop), spec.privileged)
        self._seccomp_program(spec, caps)
        resources = _resources(spec.resources, spec.privileged)
        resources.validate()
        try:
            data.mkdir(parents=True)
            for d in ("upper", "work", "rootfs"):
                (data / d).mkdir()
            self._mount_rootfs(spec)
            self._cgroup(spec.id).create(resources)
            self._write_etc_files(spec)
            self._prepare_volumes(spec)
            (data / "spec.json").write_bytes(spec.SerializeToString())
        except BaseException as e:
            self._remove_all(spec.id)
            if isinstance(e, OSError):  # a full disk above all: the user's to see, plainly
                raise errors.from_os_error(e, f"creating container {spec.id[:12]}") from None
            raise
        log.info("container created", container=spec.id)
        return self.get(spec.id)

    def _mount_rootfs(self, spec: pb.ContainerSpec) -> None:
        data = self._data(spec.id)
        target = str(data / "rootfs")
        if os.path.ismount(target):
            return
        lowers = [self.snapshots.fs_path(c) for c in reversed(spec.layers)]
        rootfs.mount_overlay(
            RealSyscalls(), lowers, str(data / "upper"), str(data / "work"), target
        )

    def _write_etc_files(self, spec: pb.ContainerSpec) -> None:
        data = self._data(spec.id)
        _write_atomic(data / "hostname", (spec.hostname or spec.id[:12]) + "\n")
        self._write_network_files(spec)

    def _write_network_files(
        self, spec: pb.ContainerSpec, own_hosts: list[str] | None = None, embedded_dns: bool = False
    ) -> None:
        """/etc/hosts and /etc/resolv.conf: at create, and again at each start on a network
        (its own address, the embedded DNS)."""
        data = self._data(spec.id)
        mode = spec.network_mode or "none"
        host_hosts = _read_text("/etc/hosts") if mode == "host" else ""
        _write_atomic(
            data / "hosts", etcfiles.hosts(mode, host_hosts, list(spec.extra_hosts), own_hosts)
        )
        _write_atomic(
            data / "resolv.conf",
            etcfiles.resolv_conf(
                mode,
                _read_text("/etc/resolv.conf"),
                list(spec.dns),
                list(spec.dns_search),
                list(spec.dns_options),
                embedded_dns=embedded_dns,
            ),
        )

    def _prepare_volumes(self, spec: pb.ContainerSpec) -> None:
        """Creates named volumes' directories; a new (empty) one is seeded with what the image
        has at the mount point, owners and modes included, as docker does."""
        rootfs_dir = self._data(spec.id) / "rootfs"
        for m in spec.mounts:
            if m.type != "volume":
                continue
            path = self.volume_dir(m.source)
            fresh = not path.exists()
            path.mkdir(parents=True, exist_ok=True)
            if not (m.seed and (fresh or not any(path.iterdir()))):
                continue
            try:
                src, _ = rootfs.resolve_in_root(str(rootfs_dir), m.target)
            except errors.CaissonError:
                continue
            if os.path.isdir(src) and not os.path.islink(src):
                _copy_tree(src, str(path))

    # -- start -----------------------------------------------------------------------------

    def _init_spec(self, spec: pb.ContainerSpec) -> InitSpec:
        data = self._data(spec.id)
        proc = spec.process
        args = list(proc.args)
        binds = [self._bind(spec, m) for m in spec.mounts if m.type in ("bind", "volume")]
        if spec.init:
            binds.append(
                {
                    "source": _tini(),
                    "destination": INIT_PATH,
                    "readonly": True,
                    "recursive": False,
                    "propagation": "rprivate",
                }
            )
            args = [INIT_PATH, "--", *args]
        mode = spec.network_mode or "none"
        # --network container:ID shares that container's /etc files too, as docker does.
        etc = self._data(mode.partition(":")[2]) if mode.startswith("container:") else data
        tmpfs = [
            {"destination": m.target, "options": _tmpfs_options(m)}
            for m in spec.mounts
            if m.type == "tmpfs"
        ]
        root: dict[str, object] = {
            "rootfs": str(data / "rootfs"),
            "readonly": spec.readonly_rootfs,
            "shm_size": spec.shm_size or 64 * 1024 * 1024,
            "binds": binds,
            "tmpfs": tmpfs,
            "hostname_file": str(etc / "hostname"),
            "hosts_file": str(etc / "hosts"),
            "resolv_conf_file": str(etc / "resolv.conf"),
        }
        if spec.privileged:
            # docker's --privileged: nothing masked or read-only, the host's devices.
            root["masked_paths"] = []
            root["readonly_paths"] = []
            root["readonly_sys"] = False
            root["host_devices"] = True
        nss = ["mnt", "uts", "ipc", "cgroup"]
        netns_path = ""
        if mode == "bridge":
            netns_path = str(self._bundle(spec.id) / NETNS)
        elif mode.startswith("container:"):
            netns_path = self._joined_netns(mode.partition(":")[2])
        elif mode != "host":
            nss.append("net")
        caps = capabilities.effective_set(list(spec.cap_add), list(spec.cap_drop), spec.privileged)
        return InitSpec(
            mode="run",
            process=ProcessSpec(
                args=args,
                env=list(proc.env),
                cwd=proc.cwd or "/",
                user=proc.user,
                groups=list(proc.additional_groups),
            ),
            namespaces=nss,
            netns_path=netns_path,
            hostname=spec.hostname or spec.id[:12],
            domainname=spec.domainname,
            cgroup_procs=self._cgroup_procs(spec.id),
            rootfs=root,
            rlimits=[(r.name, r.soft, r.hard) for r in spec.rlimits],
            caps=sorted(caps),
            no_new_privs=spec.no_new_privileges,
            console=proc.tty,
            **self._seccomp_program(spec, caps),
        )

    def _joined_netns(self, other: str) -> str:
        """--network container:ID: the network namespace of that running container."""
        st = self.get(other)
        if st.status not in (RUNNING, PAUSED) or not st.pid:
            raise errors.FailedPrecondition(
                f"cannot join network of a non running container: {other}"
            )
        return f"/proc/{st.pid}/ns/net"

    def _seccomp_program(self, spec: pb.ContainerSpec, caps: frozenset[str]) -> dict[str, Any]:
        """The container's seccomp filter compiled to BPF, once per (profile, caps): the file
        and the flags to load it with (InitSpec's seccomp fields)."""
        text = _seccomp_text(spec)
        if text is None:
            return {"seccomp_bpf": "", "seccomp_flags": 0}
        try:
            profile = _seccomp_profile(text)
        except ValueError as e:
            raise errors.InvalidArgument(str(e)) from None
        key = hashlib.sha256(
            "\0".join([text, ",".join(sorted(caps)), platform.machine()]).encode()
        ).hexdigest()
        path = self.run.parent / "seccomp" / f"{key}.bpf"
        if not path.exists():
            path.parent.mkdir(mode=0o700, exist_ok=True)
            _write_atomic(path, seccomp.compile_bpf(profile, caps), 0o600)
        return {"seccomp_bpf": str(path), "seccomp_flags": seccomp.filter_flags(profile)}

    def _cgroup_procs(self, cid: str) -> list[str]:
        cg = self._cgroup(cid)
        return [os.path.join(cg.fs.path(d), "cgroup.procs") for d in cg.dirs()]

    def _bind(self, spec: pb.ContainerSpec, m: pb.Mount) -> dict[str, object]:
        source = str(self.volume_dir(m.source)) if m.type == "volume" else m.source
        return {
            "source": source,
            "destination": m.target,
            "readonly": m.read_only,
            "recursive": True,
            "propagation": m.propagation or "rprivate",
        }

    def start(
        self,
        cid: str,
        attach: Callable[[Path], None] | None = None,
        size: tuple[int, int] | None = None,
        networking: pb.Networking | None = None,
    ) -> State:
        """Starts the container's process under a new monitor and returns once it runs.
        `attach`, when given, is called with the bundle once the monitor listens and before the
        process starts (so an attached client misses no output). A process that cannot start
        raises StartFailed after its state (exit code 126/127) is recorded."""
        spec = self.spec(cid)
        st = self.get(cid)
        if st.status in (RUNNING, PAUSED):
            raise errors.FailedPrecondition(f"container {cid} is already running")
        bundle = self._bundle(cid)
        bundle.mkdir(parents=True, exist_ok=True)
        for name in ("exit", "state.json", "attach.sock", "monitor.pid", "oom"):
            (bundle / name).unlink(missing_ok=True)
        self._mount_rootfs(spec)
        held = self._network(spec, networking or pb.Networking())
        try:
            return self._launch(spec, attach, size, held)
        except BaseException:
            self._teardown_network(cid)
            raise
        finally:
            close_all(held)  # the monitor holds its own copies

    def _network(self, spec: pb.ContainerSpec, net: pb.Networking) -> list[socket.socket]:
        """The start's network: the sandbox (bridge mode) and the /etc files naming it."""
        mode = spec.network_mode or "none"
        if mode != "bridge":
            if net.endpoints or net.ports:
                raise errors.InvalidArgument(f"network mode {mode} takes no endpoints or ports")
            return []
        if self.sandboxes is None:
            raise errors.FailedPrecondition("this executor has no networking")
        self._write_network_files(spec, list(net.own_hosts), net.embedded_dns)
        with self._net_lock:
            return self.sandboxes.setup(spec.id, self._bundle(spec.id), net, list(spec.dns))

    def _teardown_network(self, cid: str, ended: bool = False) -> None:
        """`ended`: the watcher of a run, which must leave alone the network of a new run."""
        if self.sandboxes is None:
            return
        with self._net_lock:
            try:
                if ended and self.get(cid).status != STOPPED:
                    return
                self.sandboxes.teardown(cid, self._bundle(cid))
            except errors.NotFound:
                pass
            except errors.CaissonError as e:
                log.warning("network teardown failed", container=cid, error=str(e))

    def _launch(
        self,
        spec: pb.ContainerSpec,
        attach: Callable[[Path], None] | None,
        size: tuple[int, int] | None,
        held: list[socket.socket],
    ) -> State:
        cid = spec.id
        bundle = self._bundle(cid)
        init = self._init_spec(spec)
        _write_atomic(bundle / "init.json", init.to_json(), 0o600)
        opts = monitor.MonitorOptions(
            dir=bundle,
            log=self.log_path(cid),
            log_max_size=spec.log_max_size,
            log_max_file=spec.log_max_file or 1,
            tty=spec.process.tty,
            console=spec.process.tty,
            stdin=spec.process.stdin,
            wait_attach=attach is not None,
            newpid=True,
            tty_size=size
            or ((spec.process.rows, spec.process.cols) if spec.process.rows else None),
            hold_fds=tuple(s.fileno() for s in held),
        )
        started_at = time.time()
        # The cgroup's OOM counter outlives a run: a restarted container compares with this.
        oom_before = self._oom_kills(cid)
        spawned = monitor.launch(opts, _init_argv(bundle), _init_env())
        try:
            if attach is not None:
                attach(bundle)
            started = spawned.started()
        except BaseException as e:
            spawned.close()
            if not isinstance(e, monitor.StartFailed):
                raise
            _write_atomic(
                bundle / "state.json",
                json.dumps({"pid": 0, "started_at": _rfc3339(started_at)}),
            )
            self._teardown_network(cid)
            self._publish(self.get(cid))
            log.info("container failed to start", container=cid, error=e.message)
            raise
        _write_atomic(
            bundle / "state.json",
            json.dumps(
                {
                    "pid": started.child_pid,
                    "started_at": _rfc3339(started_at),
                    "oom_before": oom_before,
                }
            ),
        )
        log.info("container started", container=cid, pid=started.child_pid)
        st = self.get(cid)
        self._publish(st)  # first: the news may already be its exit, awaited by the daemon
        self._watch(cid)
        return st

    def _watch(self, cid: str) -> None:
        """Has the end of the container's monitor handled, without a thread of its own: one
        started at each start would be on the start's path and live as long as the container."""
        live = _Live()
        with self._lock:
            self._live[cid] = live
        pidfd = monitor_pidfd(self._bundle(cid))
        if pidfd is None:  # gone already
            self._exit_workers.submit(self._exited, cid, live)
            return
        with self._lock:
            self._watched[pidfd] = (cid, live)
            if self._exit_watcher is None:
                self._exit_watcher = threading.Thread(
                    target=self._watch_exits, name="exits", daemon=True
                )
                self._exit_watcher.start()
        self._pidfds.register(pidfd, select.EPOLLIN)

    def _watch_exits(self) -> None:
        while True:
            for pidfd, _ in self._pidfds.poll():
                self._pidfds.unregister(pidfd)
                with self._lock:
                    cid, live = self._watched.pop(pidfd)
                os.close(pidfd)
                self._exit_workers.submit(self._exited, cid, live)

    def _exited(self, cid: str, live: _Live) -> None:
        """A container's monitor is gone: the end of its run is recorded and told."""
        if self._closed.is_set():
            return
        try:
            self._record_oom(cid)
            self._teardown_network(cid, ended=True)
            st = self.get(cid)
        except errors.NotFound:
            return  # deleted meanwhile (rm -f): no one is left to tell
        except (errors.CaissonError, OSError) as e:
            log.warning("end of container not handled", container=cid, error=str(e))
            return
        finally:
            live.done.set()
            with self._lock:
                if self._live.get(cid) is live:
                    del self._live[cid]
        log.info("container exited", container=cid, exit_code=st.exit_code)
        self._publish(st)

    # -- state -----------------------------------------------------------------------------

    def get(self, cid: str) -> State:
        data = self._data(cid)
        if not (data / "spec.json").exists():
            _check_id(cid)
            raise errors.NotFound(f"no such container: {cid}")
        bundle = self._bundle(cid)
        st = State(
            id=cid,
            status=CREATED,
            rootfs=str(data / "rootfs"),
            log_path=str(self.log_path(cid)),
        )
        info = _read_json(bundle / "state.json")
        if info is None:
            return st
        st.started_at = _parse_rfc3339(info.get("started_at", ""))
        st.pid = int(info.get("pid", 0))
        ex = monitor.read_exit(bundle)
        if ex is not None:
            st.status = STOPPED
            st.pid = 0
            st.exit_code = ex.exit_code
            st.error = ex.error
            st.started = ex.started
            st.finished_at = _parse_rfc3339(ex.finished_at)
            st.oom_killed = (bundle / "oom").exists()
            return st
        if monitor.monitor_alive(bundle):
            st.started = True
            st.status = PAUSED if self._frozen(cid) else RUNNING
            if self.sandboxes is not None:
                net = self.sandboxes.record(bundle)
                st.ports = list(net.ports) if net is not None else []
            return st
        # The monitor is gone without an exit record (killed, or the host rebooted).
        st.status = STOPPED
        st.started = st.pid > 0
        st.pid = 0
        st.exit_code = 255
        st.error = "the container's monitor is gone; its exit status is unknown"
        return st

    def _record_oom(self, cid: str) -> None:
        """Marks the last run OOM-killed when the cgroup counted a kill since it started."""
        bundle = self._bundle(cid)
        info = _read_json(bundle / "state.json") or {}
        if self._oom_kills(cid) > int(info.get("oom_before", 0)):  # type: ignore[call-overload]
            (bundle / "oom").touch()

    def _oom_kills(self, cid: str) -> int:
        try:
            return self._cgroup(cid).oom_kills()
        except (errors.CaissonError, OSError):
            return 0

    def _frozen(self, cid: str) -> bool:
        try:
            return self._cgroup(cid).frozen()
        except (errors.CaissonError, OSError):
            return False

    def list(self) -> list[State]:
        out = []
        for cid in self._ids():
            try:
                out.append(self.get(cid))
            except errors.NotFound:
                continue
        return out

    def wait(self, cid: str, cancelled: threading.Event) -> State:
        st = self.get(cid)
        while st.status in (RUNNING, PAUSED) and not cancelled.is_set():
            with self._lock:
                live = self._live.get(cid)
            if live is None:
                # Not watched (yet): poll the monitor.
                cancelled.wait(0.05)
            else:
                live.done.wait(0.5)
            st = self.get(cid)
        return st

    # -- signals, pause --------------------------------------------------------------------

    def kill(self, cid: str, sig: int, all_: bool = False) -> None:
        st = self.get(cid)
        if st.status not in (RUNNING, PAUSED):
            raise errors.FailedPrecondition(f"container {cid} is not running")
        cg = self._cgroup(cid)
        if all_:
            for pid in cg.procs():
                _signal(pid, sig)
            return
        # The pid is ours only while it is in the container's cgroup (pids are recycled).
        if st.pid not in cg.procs():
            return
        _signal(st.pid, sig)
        if st.status == PAUSED and sig == signal.SIGKILL:
            cg.thaw()

    def pause(self, cid: str) -> None:
        st = self.get(cid)
        if st.status == PAUSED:
            raise errors.FailedPrecondition(f"Container {cid} is already paused")
        if st.status != RUNNING:
            raise errors.FailedPrecondition(f"Container {cid} is not running")
        self._cgroup(cid).freeze()
        self._publish(self.get(cid))

    def resume(self, cid: str) -> None:
        st = self.get(cid)
        if st.status != PAUSED:
            raise errors.FailedPrecondition(f"Container {cid} is not paused")
        self._cgroup(cid).thaw()
        self._publish(self.get(cid))

    # -- delete ----------------------------------------------------------------------------

    def delete(self, cid: str) -> None:
        st = self.get(cid)
        if st.status in (RUNNING, PAUSED):
            raise errors.FailedPrecondition(f"container {cid} is running: stop it first or kill it")
        self._remove_all(cid)
        log.info("container deleted", container=cid)

    def _remove_all(self, cid: str) -> None:
        data = self._data(cid)
        self._teardown_network(cid)
        self._detach_rootfs(str(data / "rootfs"))
        try:
            cg = self._cgroup(cid)
            cg.kill_all()  # both are no-ops for a cgroup that is not there
            cg.remove()
        except errors.NotFound:
            pass
        # The bundle first: a container whose data is gone is gone, its bundle with it.
        self._discard(self._bundle(cid), self.run_removing)
        self._discard(data, self.data_removing)

    def _discard(self, path: Path, trash: Path) -> None:
        """Takes a directory away at once, by a rename into `trash`, and removes it in the
        background: a container's files (its writable layer above all) are most of a delete's
        time, and what is in `trash` is no one's."""
        gone = trash / f"{path.name}.{secrets.token_hex(4)}"
        try:
            trash.mkdir(mode=0o700, exist_ok=True)
            os.rename(path, gone)
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            rmtree(str(path))  # `trash` is on another filesystem: here and now, then
            return
        self._releases.submit(_remove_left, gone)

    def _detach_rootfs(self, target: str) -> None:
        """Unmounts the rootfs without waiting for the overlay's end, which syncs its upper
        filesystem (the data root's, all of it: a few ms idle, far more under writes). A
        descriptor pins each mount on `target`, the lazy unmount takes it out of every view at
        once, and the descriptor's close, where the overlay ends, happens on another thread;
        should the executor die first, the kernel closes it."""
        sc = RealSyscalls()
        while True:
            try:
                pin = os.open(target, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                return
            try:
                sc.umount2(target, rootfs.MNT_DETACH)
            except OSError as e:
                os.close(pin)
                if e.errno in (errno.EINVAL, errno.ENOENT):
                    return  # not (or no longer) a mount point
                raise errors.Internal(f"cannot unmount {target}: {e.strerror}") from e
            self._releases.submit(os.close, pin)

    # -- network connect/disconnect of a running container ---------------------------------

    def connect(self, cid: str, endpoint: npb.Endpoint) -> None:
        self._running(cid)
        if self.sandboxes is None:
            raise errors.FailedPrecondition("this executor has no networking")
        self.sandboxes.connect(cid, self._bundle(cid), endpoint)

    def disconnect(self, cid: str, network_id: str) -> None:
        self._running(cid)
        if self.sandboxes is None:
            raise errors.FailedPrecondition("this executor has no networking")
        self.sandboxes.disconnect(cid, self._bundle(cid), network_id)

    # -- logs ------------------------------------------------------------------------------

    def logs(
        self,
        cid: str,
        *,
        follow: bool,
        tail: int | None,
        since_ns: int | None,
        until_ns: int | None,
        cancelled: threading.Event,
    ) -> Iterator[jsonlog.LogEntry]:
        self.get(cid)
        path = self.log_path(cid)

        def stop() -> bool:
            if cancelled.is_set():
                return True
            try:
                return self.get(cid).status not in (RUNNING, PAUSED)
            except errors.NotFound:
                return True

        yield from jsonlog.read_log(
            path, tail=tail, since_ns=since_ns, until_ns=until_ns, follow=follow, stop=stop
        )

    # -- volumes ---------------------------------------------------------------------------

    def remove_volume(self, name: str) -> None:
        path = self.volume_dir(name).parent
        if path.exists():
            rmtree(str(path))

    def volume_size(self, name: str) -> int:
        return _du(self.volume_dir(name))

    # -- stats, top, copy (logic in stats.py and copy.py) ---------------------------------

    def _running(self, cid: str) -> State:
        st = self.get(cid)
        if st.status not in (RUNNING, PAUSED):
            raise errors.FailedPrecondition(f"Container {cid} is not running")
        return st

    def stats(self, cid: str) -> Sample:
        st = self._running(cid)
        host_network = self.spec(cid).network_mode == "host"
        return collect_stats(self._cgroup(cid), st.pid, host_network)

    def top(self, cid: str) -> list[int]:
        self._running(cid)
        return self._cgroup(cid).procs()

    def copy_request(self, op: str, cid: str, path: str) -> copy.Request:
        spec = self.spec(cid)
        self._mount_rootfs(spec)  # gone after a reboot, for a stopped container
        return copy.request_for(op, spec, str(self._data(cid)), self.volume_dir, path)


# --- helpers -------------------------------------------------------------------------------


def exited_state(cid: str, ex: monitor.ExitStatus) -> State:
    """A run's end as its monitor told an attached client: what to report when the container
    is already being removed (`run --rm`: the daemon saw the exit event first) and its
    state on disk is going."""
    return State(
        id=cid,
        status=STOPPED,
        exit_code=ex.exit_code,
        error=ex.error,
        started=ex.started,
        finished_at=_parse_rfc3339(ex.finished_at),
    )


def monitor_pidfd(bundle: Path) -> int | None:
    """A pidfd of the monitor of `bundle`, None when it is gone. A pidfd tells when any
    process exits, not only a child: monitors are not the executor's children."""
    pid = monitor.read_monitor_pid(bundle)
    if pid is None or not monitor.monitor_alive(bundle):
        return None
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    # The pid was checked before the pidfd was opened: check again, it may be recycled.
    if not monitor.monitor_alive(bundle):
        os.close(fd)
        return None
    return fd


def wait_monitor(bundle: Path, cancelled: threading.Event) -> None:
    """Returns once the monitor of `bundle` is gone (or `cancelled` is set)."""
    fd = monitor_pidfd(bundle)
    if fd is None:
        return
    try:
        while not cancelled.is_set():
            if select.select([fd], [], [], 0.5)[0]:
                return
    finally:
        os.close(fd)


def _resources(r: pb.Resources, privileged: bool = False) -> Resources:
    quota = period = None
    if r.nano_cpus:
        quota, period = cpus_to_cfs(r.nano_cpus / 1e9)
    return Resources(
        memory=r.memory or None,
        memory_swap=r.memory_swap or None,
        cpu_quota=quota,
        cpu_period=period,
        cpu_shares=r.cpu_shares or None,
        cpuset_cpus=r.cpuset_cpus or None,
        pids_limit=r.pids_limit or None,
        devices=("a",) if privileged else DEFAULT_DEVICES,
    )


def _tmpfs_options(m: pb.Mount) -> list[str]:
    opts = list(m.options)
    if m.tmpfs_size and not any(o.startswith("size=") for o in opts):
        opts.append(f"size={m.tmpfs_size}")
    if m.tmpfs_mode and not any(o.startswith("mode=") for o in opts):
        opts.append(f"mode={m.tmpfs_mode:o}")
    return opts


def _remove_left(path: Path) -> None:
    try:
        rmtree(str(path))
    except OSError as e:
        log.warning("removal failed", path=str(path), error=str(e))


def _seccomp_text(spec: pb.ContainerSpec) -> str | None:
    if spec.privileged or spec.seccomp_profile == "unconfined":
        return None
    if spec.seccomp_profile:
        return spec.seccomp_profile
    return _seccomp_default()


@functools.cache
def _seccomp_default() -> str:
    return _SECCOMP_DEFAULT.read_text()


@functools.lru_cache(maxsize=32)
def _seccomp_profile(text: str) -> seccomp.Profile:
    """A profile parsed once (docker's default takes 0.2 ms, asked at every create and start)."""
    return seccomp.load_profile(text)


def _tini() -> str:
    for path in _TINI_CANDIDATES:
        if os.path.exists(path):
            return path
    raise errors.FailedPrecondition(
        "--init needs tini (apt-get install tini): none of "
        + ", ".join(_TINI_CANDIDATES)
        + " exists"
    )


def _init_argv(bundle: Path) -> list[str]:
    from caisson.executor import initboot  # the init's interpreter starts without site

    return initboot.argv(sys.executable, str(bundle / "init.json"))


def _init_env() -> dict[str, str]:
    # The init's own environment (the container's is in init.json). Its interpreter is
    # isolated (initboot.py): PYTHON* variables would not be read.
    keep = ("PATH", "LANG")
    return {k: os.environ[k] for k in keep if k in os.environ}


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _copy_tree(src: str, dst: str) -> None:
    """Copies the image's content at a volume's mount point into the new volume, keeping
    owners, modes and times (shutil.copytree alone keeps no owners)."""
    st = os.lstat(src)
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)
    for entry in os.scandir(src):
        s, d = entry.path, os.path.join(dst, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(s), d)
            os.lchown(d, *_owner(s))
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(d)
            _copy_tree(s, d)
        elif entry.is_file(follow_symlinks=False):
            shutil.copy2(s, d, follow_symlinks=False)
            os.lchown(d, *_owner(s))


def _owner(path: str) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def _du(path: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
