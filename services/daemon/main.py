"""caisson-daemon: start-up and shutdown, in the order the design fixes.

flags and config file -> pidfile lock -> signal trap -> stores -> child services (waited for
until healthy) -> serve, accepting connections only now. SIGTERM/SIGINT: stop accepting,
let running jobs finish within a grace period (then cancel them), stop the children we
started, remove sockets and the pidfile. SIGHUP: re-read the reloadable keys.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from caisson import errors, logs, server
from caisson.content import ContentStore
from caisson.daemon import children, config, servicer_containers, servicer_networks
from caisson.daemon.clients import Executor, RegistryProxy
from caisson.daemon.containers import ContainerService
from caisson.daemon.engine import Engine, Events
from caisson.daemon.images import ImageService
from caisson.daemon.networks import NetworkService
from caisson.daemon.pidfile import PidFile
from caisson.daemon.servicer import ImagesServicer, SystemServicer
from caisson.daemon.servicer_containers import ContainersServicer, VolumesServicer
from caisson.daemon.socket_activation import listen_fds
from caisson.daemon.store import Store
from caisson.daemon.system import SystemService
from caisson.daemon.volumes import VolumeService
from caisson_api.daemon.v1 import (
    containers_pb2_grpc,
    daemon_pb2,
    daemon_pb2_grpc,
    networks_pb2_grpc,
)

log = logs.get("caisson.daemon")

SHUTDOWN_GRACE = 10.0


@dataclass
class Daemon:
    cfg: config.Config
    stop: threading.Event = field(default_factory=threading.Event)
    hup: threading.Event = field(default_factory=threading.Event)
    cleanups: list[Any] = field(default_factory=list)
    started: list[children.Child] = field(default_factory=list)
    proxy_child: children.Child | None = None
    proxy_restart_pending: bool = False
    engine: Engine | None = None

    def trap_signals(self) -> None:
        def on_stop(signum: int, _frame: Any) -> None:
            log.info("signal received, shutting down", signal=signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self.hup.set())

    def reload(self) -> None:
        old = self.cfg
        try:
            self.cfg = config.reload(self.cfg)
        except errors.CaissonError as e:
            log.error("config reload failed, keeping the current settings", error=str(e))
            return
        changed = [k for k in config.PROXY_KEYS if getattr(old, k) != getattr(self.cfg, k)]
        if changed and self.proxy_child is not None:
            # Applied by restarting the registry proxy once no pull is running.
            self.proxy_restart_pending = True
        elif changed:
            log.warning(
                "registry settings changed but the registry proxy is not ours", keys=changed
            )
        logs.configure(self.cfg.log_level, self.cfg.log_format == "json", "daemon")
        log.info(
            "config reloaded",
            log_level=self.cfg.log_level,
            max_concurrent_downloads=self.cfg.max_concurrent_downloads,
        )

    def check_listeners(self) -> list[server.Address | str]:
        out: list[server.Address | str] = []
        for host in self.cfg.listen:
            if host.startswith("fd://"):
                out.append(host)
                continue
            addr = server.parse_address(host)
            if addr.scheme == "tcp" and not addr.loopback and not self._tls().enabled:
                raise errors.InvalidArgument(
                    f"refusing to listen on {host} without TLS: anyone who reaches it gets root "
                    "on this host; use --tlsverify with --tlscacert, --tlscert and --tlskey"
                )
            out.append(addr)
        return out

    def _tls(self) -> server.TLSConfig:
        c = self.cfg
        return server.TLSConfig(ca=c.tlscacert, cert=c.tlscert, key=c.tlskey, verify=c.tlsverify)

    def run(self) -> int:
        cfg = self.cfg
        listeners = self.check_listeners()
        pidfile = PidFile(cfg.pidfile_path)
        pidfile.acquire()
        self.cleanups.append(pidfile.release)
        os.makedirs(cfg.data_root, mode=0o711, exist_ok=True)
        os.makedirs(cfg.exec_root, mode=0o711, exist_ok=True)
        data_lock = PidFile(
            os.path.join(cfg.data_root, "caisson.lock"), f"data root {cfg.data_root}"
        )
        data_lock.acquire()
        self.cleanups.append(data_lock.release)
        self.trap_signals()
        store = Store(os.path.join(cfg.data_root, "caisson.db"))
        self.cleanups.append(store.close)
        content = ContentStore(os.path.join(cfg.data_root, "content"))
        content.init()

        proxy_addr, executor_addr = cfg.registry_proxy, cfg.executor
        if not executor_addr:
            child = children.start_executor(cfg)
            self.started.append(child)
            self.cleanups.append(child.stop)
            executor_addr = child.address
        if self.stop.is_set():
            return 0
        if not proxy_addr:
            child = children.start_registry_proxy(cfg, content.root)
            self.started.append(child)
            self.proxy_child = child
            self.cleanups.append(child.stop)
            proxy_addr = child.address
        if self.stop.is_set():
            return 0
        proxy, executor = RegistryProxy(proxy_addr), Executor(executor_addr)
        self.cleanups += [proxy.close, executor.close]
        for name, client in (("registry proxy", proxy), ("executor", executor)):
            if not server.wait_healthy(client.channel, children.START_TIMEOUT):
                raise errors.Unavailable(f"{name} at {client.address} is not healthy")

        events = Events(store)
        engine = Engine(events)
        self.engine = engine
        images = ImageService(
            store, content, engine, proxy, executor, lambda: self.cfg.max_concurrent_downloads
        )
        system = SystemService(lambda: self.cfg, store, content, engine, proxy, executor)
        volumes = VolumeService(store, engine, executor, cfg.data_root)
        pool, pool_size = cfg.address_pool
        networks = NetworkService(
            store, engine, executor, cfg.bridge, cfg.bip, pool=pool, pool_size=pool_size
        )
        containers = ContainerService(store, engine, images, executor, volumes, networks)
        networks.container_name = containers.name_of
        images.in_use = containers.in_use
        system.containers = containers.records
        volumes.users = containers.volume_users
        # Records follow the executor's container events (and are reconciled with what
        # really runs each time that stream starts) before the API serves anything.
        containers.reconcile()
        follower = threading.Thread(
            target=containers.follow_executor, name="executor-events", daemon=True
        )
        follower.start()
        self.cleanups.append(containers.close)

        # Attach, logs -f and wait hold a worker each for as long as they last.
        srv = server.Server("daemon", max_workers=512)
        srv.add(
            daemon_pb2_grpc.add_ImagesServicer_to_server,
            ImagesServicer(images),
            daemon_pb2.DESCRIPTOR.services_by_name["Images"].full_name,
        )
        srv.add(
            daemon_pb2_grpc.add_SystemServicer_to_server,
            SystemServicer(system),
            daemon_pb2.DESCRIPTOR.services_by_name["System"].full_name,
        )
        srv.add(
            containers_pb2_grpc.add_ContainersServicer_to_server,
            ContainersServicer(containers),
            servicer_containers.CONTAINERS,
        )
        srv.add(
            containers_pb2_grpc.add_VolumesServicer_to_server,
            VolumesServicer(volumes),
            servicer_containers.VOLUMES,
        )
        srv.add(
            networks_pb2_grpc.add_NetworksServicer_to_server,
            servicer_networks.NetworksServicer(networks, containers),
            servicer_networks.NETWORKS,
        )
        for lst in listeners:
            if isinstance(lst, str):
                for addr in listen_fds(lst, cfg.exec_root):
                    srv.listen(addr)
            else:
                srv.listen(lst, self._tls())
        srv.start()
        log.info(
            "daemon started",
            pid=os.getpid(),
            listen=list(cfg.listen),
            data_root=cfg.data_root,
            registry_proxy=proxy_addr,
            executor=executor_addr,
        )
        while not self.stop.wait(0.5):
            if self.hup.is_set():
                self.hup.clear()
                self.reload()
            self.supervise()
            self.apply_proxy_settings()
        engine.stop_accepting()
        events.close()
        srv.stop(SHUTDOWN_GRACE)
        log.info("daemon stopped")
        return 0

    def supervise(self) -> None:
        """Starts again a child service that died (a crash must not leave the API half-dead);
        requests in flight to it fail with UNAVAILABLE and clients retry."""
        for child in self.started:
            code = child.exited()
            if code is None or self.stop.is_set():
                continue
            log.error("child exited unexpectedly, restarting", child=child.name, code=code)
            try:
                child.respawn()
            except errors.CaissonError as e:
                log.error("child restart failed", child=child.name, error=str(e))

    def apply_proxy_settings(self) -> None:
        child = self.proxy_child
        if not self.proxy_restart_pending or child is None or self.engine is None:
            return
        if any(job.name == "pull" for job in self.engine.running):
            return
        self.proxy_restart_pending = False
        content_root = os.path.join(self.cfg.data_root, "content")
        child.argv = children.registry_proxy_argv(self.cfg, content_root, child.address)
        child.stop()
        try:
            child.respawn()
        except errors.CaissonError as e:
            log.error("registry proxy restart failed", error=str(e))
            return
        log.info(
            "registry proxy restarted with new settings",
            insecure_registries=list(self.cfg.insecure_registries),
            registry_mirrors=list(self.cfg.registry_mirrors),
        )

    def cleanup(self) -> None:
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:  # noqa: BLE001 - keep cleaning the rest
                log.exception("cleanup step failed")
        self.cleanups.clear()


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = config.load(argv)
    except errors.CaissonError as e:
        print(f"caisson-daemon: {e}", file=sys.stderr)
        return 1
    logs.configure(cfg.log_level, cfg.log_format == "json", "daemon")
    daemon = Daemon(cfg)
    try:
        return daemon.run()
    except errors.CaissonError as e:
        log.error("daemon failed to start", error=str(e))
        print(f"caisson-daemon: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        log.error("daemon failed", error=str(e))
        print(f"caisson-daemon: {e}", file=sys.stderr)
        return 1
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    sys.exit(main())
