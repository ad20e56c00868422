"""vqdb's errors. All are ValueErrors, as qdrant-client's local mode raises, except StorageError;
the HTTP layer maps each class to Qdrant's status code."""

from vqdb import _core


class BadInput(ValueError):
    """Malformed or invalid input (HTTP 400). The message names the problem."""


class NotFound(ValueError):
    """A missing collection, point or vector name (HTTP 404)."""


class AlreadyExists(ValueError):
    """The collection exists already (HTTP 409)."""


# A storage file is missing, truncated or unreadable (HTTP 500); the message names the file. An
# OSError, raised by the checks at open and by the native row reader alike.
StorageError = _core.StorageError
