"""Host-port reservations for published ports.

A published port's traffic is DNATed by the firewall before any host socket sees it, so
nothing needs to listen; but the port must stay taken, or a host program could bind it and
then never get its traffic (or a second container could publish it too). A reservation is a
socket bound to the port and never listened on.

No SO_REUSEADDR (docker-proxy has it, but it listens): Linux lets two sockets that both set
SO_REUSEADDR share a port as long as neither listens (TCP) or at all (UDP), so with it a
later `nc -l PORT` (which sets it too) would bind and listen on the reserved port. Without
it, any later bind of the port fails with EADDRINUSE.

The socket is close-on-exec like every Python socket, so processes spawned meanwhile do not
take it along; the caller hands its fd to the process that holds it (subprocess's pass_fds
makes it inheritable in that child only).
"""

from __future__ import annotations

import errno
import ipaddress
import socket

from caisson import errors

_TYPES = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


def reserve(protocol: str, host_ip: str, host_port: int) -> socket.socket:
    """Binds host_ip:host_port/protocol ("" host_ip: every address; port 0: a free one the
    kernel picks, read it with getsockname()). A taken port is docker's error."""
    kind = _TYPES.get(protocol)
    if kind is None:
        raise errors.InvalidArgument(f"invalid protocol: {protocol!r}")
    if not 0 <= host_port <= 65535:
        raise errors.InvalidArgument(f"invalid host port: {host_port}")
    address = host_ip or "0.0.0.0"
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        raise errors.InvalidArgument(f"invalid host address (IPv4 only): {host_ip!r}") from None
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((address, host_port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise errors.FailedPrecondition(
                f"Bind for {address}:{host_port} failed: port is already allocated"
            ) from None
        # docker's words for the others, e.g. an address the host does not have
        raise errors.FailedPrecondition(
            f"listen {protocol}4 {address}:{host_port}: bind: {(e.strerror or str(e)).lower()}"
        ) from None
    return sock
