"""Domain errors and the one place they become gRPC status codes."""

from __future__ import annotations

import grpc
import sqlalchemy.exc

from tokhai_engine import ClosedError, InvalidInputError, StoreError, UnknownStayError


class ServiceError(Exception):
    """A refused call: its status code and a message that says what is wrong."""

    code = grpc.StatusCode.INTERNAL


class Invalid(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE


class Exhausted(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


def status_of(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status a call ends with when `error` escapes its handler.
    Anything unexpected is INTERNAL with a generic message: details of a
    bug stay in the server's log, not in the client's hands."""
    match error:
        case ServiceError():
            return error.code, str(error)
        case UnknownStayError():
            return grpc.StatusCode.NOT_FOUND, str(error)
        case InvalidInputError():
            return grpc.StatusCode.INVALID_ARGUMENT, str(error)
        case StoreError() | ClosedError():
            return grpc.StatusCode.UNAVAILABLE, "the check-in store is unavailable; retry later"
        case sqlalchemy.exc.OperationalError() | sqlalchemy.exc.InterfaceError():
            # Locked past the timeout, a dropped connection: passing trouble.
            return grpc.StatusCode.UNAVAILABLE, "the database is unavailable; retry later"
        case _:
            return grpc.StatusCode.INTERNAL, "internal error"
