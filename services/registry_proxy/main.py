"""caisson-registry-proxy: pulls images from registries into the content store.

It is the part that talks to the internet, so it needs no root: a root daemon starts it as an
unprivileged user, and it writes nothing but the content root (and its socket).
"""

from __future__ import annotations

import argparse
import os
import sys

import caisson
from caisson import errors, logs, privileges, server
from caisson.content import ContentStore
from caisson.registry_proxy.distribution import Registry
from caisson.registry_proxy.hosts import DEFAULT_CERTS_DIR, Hosts
from caisson.registry_proxy.pull import DEFAULT_MAX_CONCURRENT_DOWNLOADS, Puller
from caisson.registry_proxy.service import SERVICE_NAME, RegistryService, register

log = logs.get("caisson.registry_proxy")

DEFAULT_LISTEN = "unix:///run/caisson/registry-proxy.sock"
DEFAULT_CONTENT_ROOT = "/var/lib/caisson/content"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="caisson-registry-proxy",
        description="Pulls images from registries into the Caisson content store.",
    )
    p.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="ADDRESS",
        help=f"unix:///PATH or tcp://HOST:PORT (default {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--content-root",
        default=DEFAULT_CONTENT_ROOT,
        metavar="DIR",
        help=f"content store directory (default {DEFAULT_CONTENT_ROOT})",
    )
    p.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]|CIDR",
        help="registry allowed over plain HTTP or unverified HTTPS (repeatable)",
    )
    p.add_argument(
        "--registry-mirror",
        action="append",
        default=[],
        metavar="URL",
        help="mirror tried before Docker Hub, e.g. https://mirror.example (repeatable)",
    )
    p.add_argument(
        "--max-concurrent-downloads",
        type=int,
        default=DEFAULT_MAX_CONCURRENT_DOWNLOADS,
        metavar="N",
        help=f"layers downloaded at once per pull (default {DEFAULT_MAX_CONCURRENT_DOWNLOADS})",
    )
    p.add_argument(
        "--certs-dir",
        default=DEFAULT_CERTS_DIR,
        metavar="DIR",
        help=f"per-registry CAs, client certs: DIR/HOST:PORT/ca.crt (default {DEFAULT_CERTS_DIR})",
    )
    p.add_argument(
        "--user",
        default="",
        metavar="NAME",
        help="when started as root, become this user before creating any file (the daemon: nobody)",
    )
    logs.add_flags(p)
    p.add_argument("--version", action="version", version=f"%(prog)s {caisson.__version__}")
    args = p.parse_args(argv)
    if args.max_concurrent_downloads < 1:
        p.error("--max-concurrent-downloads must be at least 1")
    return args


def _import_lazy_modules() -> None:
    """Modules imported only on first use, imported while the installed code is readable:
    after the drop to --user, the interpreter's own directory may be closed to us."""
    import encodings.idna  # noqa: F401 - socket.getaddrinfo encodes every host name
    import http.client  # noqa: F401
    import ssl  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs.configure(args.log_level, args.log_format == "json", "registry-proxy")
    try:
        address = server.parse_address(args.listen)
        hosts = Hosts(args.insecure_registry, args.registry_mirror, args.certs_dir)
        if args.user:
            # First thing: everything below (content store, socket) is created as the user,
            # in directories that are the user's (the daemon prepares them too; a proxy
            # started on its own, as in docker-compose.yml, does it here).
            root = args.content_root
            dirs = [root, *(os.path.join(root, d) for d in ("blobs", "blobs/sha256", "ingest"))]
            if address.scheme == "unix":
                dirs.append(os.path.dirname(address.path))
            privileges.hand_over(args.user, dirs)
            _import_lazy_modules()
            privileges.drop_to(args.user)
        content = ContentStore(args.content_root)
        content.init()
        registry = Registry(hosts)
        puller = Puller(content, registry, max_concurrent_downloads=args.max_concurrent_downloads)
        srv = server.Server("registry-proxy")
        srv.add(register, RegistryService(puller, registry), SERVICE_NAME)
        srv.on_stop(lambda: puller.fetcher.interrupt(everything=True))
        srv.on_stop(registry.transport.clear)
        srv.listen(address)
    except errors.CaissonError as e:
        print(f"caisson-registry-proxy: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"caisson-registry-proxy: {errors.from_os_error(e, 'starting')}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # grpc: "Failed to bind to address"
        print(f"caisson-registry-proxy: cannot listen on {args.listen}: {e}", file=sys.stderr)
        return 1
    srv.trap_signals()
    srv.start()
    log.info(
        "registry proxy serving",
        address=str(address),
        content_root=args.content_root,
        uid=os.getuid(),
        insecure_registries=args.insecure_registry,
        mirrors=args.registry_mirror,
        max_concurrent_downloads=args.max_concurrent_downloads,
    )
    srv.wait()
    log.info("registry proxy stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
