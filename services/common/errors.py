"""Domain errors and the one table that maps them to gRPC status codes (both ways).

Logic raises these; servicers never build status codes themselves: the interceptor in
`caisson.server` aborts with the mapped code, and `from_rpc_error` turns a status coming back
from another service into the same domain error, so errors cross process hops unchanged.
"""

from __future__ import annotations

import grpc


class CaissonError(Exception):
    """Base of every error a user can see. The message is one plain line for the user."""

    code = grpc.StatusCode.UNKNOWN


class NotFound(CaissonError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(CaissonError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgument(CaissonError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(CaissonError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(CaissonError):
    code = grpc.StatusCode.UNAVAILABLE


class Unauthenticated(CaissonError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(CaissonError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(CaissonError):
    """Disk full, quota reached."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DataLoss(CaissonError):
    """Content that does not match its digest or size."""

    code = grpc.StatusCode.DATA_LOSS


class Cancelled(CaissonError):
    code = grpc.StatusCode.CANCELLED


class Internal(CaissonError):
    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[CaissonError]] = {
    cls.code: cls
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
_BY_CODE[grpc.StatusCode.DEADLINE_EXCEEDED] = Unavailable


def from_rpc_error(err: grpc.RpcError, service: str = "") -> CaissonError:
    """The domain error for a status received from another service."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    if code == grpc.StatusCode.UNAVAILABLE and service and _transport_failure(details):
        # The service itself is unreachable, not something it reported as unavailable.
        details = f"{service} unavailable: {details}"
    return _BY_CODE.get(code, Internal)(details or str(code))


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
