"""fd://: serving on sockets handed over by a service manager (the LISTEN_FDS protocol).

gRPC Python cannot adopt an already-bound socket, so each passed socket is relayed: the
daemon's gRPC server listens on a private unix socket under the exec root, and a thread accepts
on the passed socket and splices each connection to it. gRPC connections are few and
long-lived (HTTP/2), so a thread pair per connection costs little.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

from caisson import errors, logs, server

log = logs.get("caisson.daemon.fd")

SD_LISTEN_FDS_START = 3


def passed_fds() -> list[int]:
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    try:
        n = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(key, None)
    return list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + n))


def listen_fds(spec: str, exec_root: str) -> list[server.Address]:
    """Starts relays for fd:// (all passed sockets) or fd://N; returns the private addresses."""
    fds = passed_fds()
    if not fds:
        raise errors.InvalidArgument(
            f"{spec}: no sockets were passed (LISTEN_FDS/LISTEN_PID not set for this process)"
        )
    wanted = spec[len("fd://") :]
    if wanted:
        if not wanted.isdigit() or int(wanted) not in fds:
            raise errors.InvalidArgument(f"{spec}: fd {wanted} was not passed (passed: {fds})")
        fds = [int(wanted)]
    out = []
    for fd in fds:
        listener = socket.socket(fileno=fd)
        path = os.path.join(exec_root, f"fd-{fd}.sock")
        out.append(server.Address("unix", path=path))
        threading.Thread(target=_accept, args=(listener, path), daemon=True).start()
        log.info("serving passed socket", fd=fd, relay=path)
    return out


def _accept(listener: socket.socket, target: str) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(target)
        except OSError as e:
            log.warning("relay cannot reach the daemon's socket", error=str(e))
            conn.close()
            continue
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            src.shutdown(socket.SHUT_RD)
