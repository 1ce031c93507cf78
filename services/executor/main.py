"""caisson-executor: the privileged service (layer unpack into snapshots, containers).

Start-up: parse flags -> refuse unless root -> detect the cgroup mode -> open the snapshot
store (removing what a crash left half done) -> find the containers a previous executor left
(running ones are watched again) -> listen -> serve until SIGTERM/SIGINT, then stop
accepting, cancel unpacks in flight (their temp dirs are removed) and remove the socket.
Containers keep running: each is under its own monitor process.
"""

from __future__ import annotations

import argparse
import os
import sys

from caisson import errors, logs, server
from caisson.content import ContentStore
from caisson.executor import cgroups, service_containers, service_networks
from caisson.executor.containers import ContainerManager
from caisson.executor.dns import Resolver
from caisson.executor.execs import ExecManager
from caisson.executor.firewall import Firewall
from caisson.executor.networks import NetworkManager
from caisson.executor.sandbox import Sandboxes
from caisson.executor.service import SERVICE_NAME, ExecutorService
from caisson.executor.snapshots import Snapshotter
from caisson_api.executor.v1 import containers_pb2_grpc, executor_pb2_grpc, networks_pb2_grpc

log = logs.get("caisson.executor")

DEFAULT_DATA_ROOT = "/var/lib/caisson"
DEFAULT_EXEC_ROOT = "/run/caisson"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="caisson-executor",
        description="Caisson's privileged service: unpacks layers into snapshots.",
    )
    p.add_argument(
        "--listen",
        metavar="ADDRESS",
        help="unix:///PATH or tcp://HOST:PORT (default: unix://EXEC_ROOT/executor.sock)",
    )
    p.add_argument("--data-root", default=DEFAULT_DATA_ROOT, help="default: %(default)s")
    p.add_argument("--exec-root", default=DEFAULT_EXEC_ROOT, help="default: %(default)s")
    p.add_argument(
        "--firewall-table",
        default="caisson",
        help="Caisson's own nftables table (ip family); one per engine on a host "
        "(default: %(default)s)",
    )
    logs.add_flags(p)
    args = p.parse_args(argv)
    if args.listen is None:
        args.listen = f"unix://{os.path.join(args.exec_root, 'executor.sock')}"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print(
            "caisson-executor: must run as root (it unpacks layers with their owners, "
            "modes and device nodes); start it with sudo or let a root caisson-daemon start it",
            file=sys.stderr,
        )
        return 1
    logs.configure(args.log_level, args.log_format == "json", "executor")
    try:
        address = server.parse_address(args.listen)
        os.makedirs(args.exec_root, mode=0o700, exist_ok=True)
        snapshots = Snapshotter(
            os.path.join(args.data_root, "snapshots"),
            ContentStore(os.path.join(args.data_root, "content")),
        )
        snapshots.init()
        mode = cgroups.detect_mode()
        firewall = Firewall(args.firewall_table)
        resolver = Resolver()
        networks = NetworkManager(args.exec_root, firewall, resolver)
        networks.init()
        manager = ContainerManager(
            args.data_root,
            args.exec_root,
            snapshots,
            mode,
            sandboxes=Sandboxes(networks, firewall, resolver),
        )
        manager.init()
        # Each attached stream and each wait holds a worker for its whole life.
        srv = server.Server("executor", max_workers=512)
        srv.add(
            executor_pb2_grpc.add_ExecutorServicer_to_server,
            ExecutorService(snapshots, mode),
            SERVICE_NAME,
        )
        srv.add(
            containers_pb2_grpc.add_ContainersServicer_to_server,
            service_containers.ContainersService(manager, ExecManager(manager)),
            service_containers.SERVICE_NAME,
        )
        srv.add(
            networks_pb2_grpc.add_NetworksServicer_to_server,
            service_networks.NetworksService(networks),
            service_networks.SERVICE_NAME,
        )
        srv.on_stop(manager.close)
        srv.on_stop(resolver.close)
        srv.on_stop(snapshots.close)
        srv.listen(address)
    except errors.CaissonError as e:
        print(f"caisson-executor: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"caisson-executor: {errors.from_os_error(e, 'starting')}", file=sys.stderr)
        return 1
    srv.trap_signals()
    srv.start()
    log.info(
        "executor serving",
        address=str(address),
        data_root=args.data_root,
        exec_root=args.exec_root,
        cgroup_mode=mode,
        snapshots=snapshots.count(),
    )
    srv.wait()
    log.info("executor stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
