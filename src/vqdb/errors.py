"""vqdb's errors. All are ValueErrors, as qdrant-client's local mode raises, except the storage
errors (OSErrors); the HTTP layer maps each class to Qdrant's status code."""

import errno
from typing import TypeGuard

from vqdb.native import _core


class BadInput(ValueError):
    """Malformed or invalid input (HTTP 400). The message names the problem."""


class OutOfRange(BadInput):
    """Well-formed input outside the allowed range, e.g. a name too long (HTTP 422, Qdrant's
    "Validation error"). The message is the whole answer."""


def invalid(where: str, message: str, part: str = "JSON body") -> OutOfRange:
    """Qdrant's validator error (HTTP 422) for a value in the request that is well-formed but
    not allowed: `where` is its place (`points[0].vector`), `part` the request's part."""
    return OutOfRange(f"Validation error in {part}: [{where}: {message}]")


def coded(code: str) -> str:
    """How Qdrant's validator words an error that carries a code and no message."""
    return f"Validation error: {code} [{{}}]"


def refused(error: ValueError) -> BadInput:
    """A ValueError from a check as the BadInput it is (kept as it is if it is one already, so
    a 422 stays a 422)."""
    return error if isinstance(error, BadInput) else BadInput(str(error))


class NotFound(ValueError):
    """A missing collection, point or vector name (HTTP 404)."""


class AlreadyExists(ValueError):
    """The collection exists already (HTTP 409)."""


class BadRequest(BadInput):
    """A request the server will not carry out as given (HTTP 400, Qdrant's "Bad request"), such
    as a snapshot location that names no usable file."""


class Forbidden(ValueError):
    """A request for something the server does not hand out, such as a file outside its
    snapshots folder (HTTP 403)."""


class RateLimited(ValueError):
    """A collection's strict mode read or write rate limit is spent (HTTP 429, Qdrant's "Rate
    limiting exceeded: ..."); `retry_after` is the seconds until the request would pass (None:
    it never will, being larger than the limit)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# A storage file is missing, truncated or unreadable (HTTP 500); the message names the file. An
# OSError, raised by the checks at open and by the native row reader alike.
StorageError = _core.StorageError


class StorageFull(OSError):
    """The disk (or the quota) is full (HTTP 507): the write was not applied, and nothing of it
    is left behind; it succeeds once space is freed."""


def is_storage_full(error: BaseException) -> TypeGuard[OSError]:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
