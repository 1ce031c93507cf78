"""Domain errors and the one table that maps them to gRPC status codes (both ways).

Logic raises these; servicers never build status codes themselves: the interceptor in
`caisson.server` aborts with the mapped code, and `from_rpc_error` turns a status coming back
from another service into the same domain error, so errors cross process hops unchanged.
"""

from __future__ import annotations

# typing's flag without importing typing: the container init imports this module at every
# start (through rootfs.py), and typing alone costs it milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import grpc


class CaissonError(Exception):
    """Base of every error a user can see. The message is one plain line for the user.

    `status` names the gRPC code; grpc itself is imported only when a code is asked for, so
    the container init (which imports these errors through rootfs.py) starts without it."""

    status = "UNKNOWN"

    @property
    def code(self) -> grpc.StatusCode:
        import grpc

        return grpc.StatusCode[self.status]


class NotFound(CaissonError):
    status = "NOT_FOUND"


class AlreadyExists(CaissonError):
    status = "ALREADY_EXISTS"


class InvalidArgument(CaissonError):
    status = "INVALID_ARGUMENT"


class FailedPrecondition(CaissonError):
    status = "FAILED_PRECONDITION"


class Unavailable(CaissonError):
    status = "UNAVAILABLE"


class Unauthenticated(CaissonError):
    status = "UNAUTHENTICATED"


class PermissionDenied(CaissonError):
    status = "PERMISSION_DENIED"


class ResourceExhausted(CaissonError):
    """Disk full, quota reached."""

    status = "RESOURCE_EXHAUSTED"


class DataLoss(CaissonError):
    """Content that does not match its digest or size."""

    status = "DATA_LOSS"


class Cancelled(CaissonError):
    status = "CANCELLED"


class Internal(CaissonError):
    status = "INTERNAL"


_BY_STATUS: dict[str, type[CaissonError]] = {
    cls.status: cls
    for cls in (
        NotFound,
        AlreadyExists,
        InvalidArgument,
        FailedPrecondition,
        Unavailable,
        Unauthenticated,
        PermissionDenied,
        ResourceExhausted,
        DataLoss,
        Cancelled,
        Internal,
    )
}
_BY_STATUS["DEADLINE_EXCEEDED"] = Unavailable


def from_rpc_error(err: grpc.RpcError, service: str = "") -> CaissonError:
    """The domain error for a status received from another service."""
    import grpc

    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    if code == grpc.StatusCode.UNAVAILABLE and service and _transport_failure(details):
        # The service itself is unreachable, not something it reported as unavailable.
        details = f"{service} unavailable: {details}"
    return _BY_STATUS.get(code.name, Internal)(details or str(code))


def _transport_failure(details: str) -> bool:
    d = details.lower()
    return any(
        s in d for s in ("failed to connect", "socket closed", "connection reset", "connect failed")
    )


def from_os_error(err: OSError, what: str) -> CaissonError:
    """Maps an OSError met while doing `what` to the error the user should see."""
    import errno

    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceExhausted(f"{what}: no space left on device")
    if err.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"{what}: {err.strerror}")
    return Internal(f"{what}: {err.strerror or err}")
