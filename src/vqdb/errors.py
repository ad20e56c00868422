"""vqdb's errors. All are ValueErrors, as qdrant-client's local mode raises; the HTTP layer maps
each class to Qdrant's status code."""


class BadInput(ValueError):
    """Malformed or invalid input (HTTP 400). The message names the problem."""


class NotFound(ValueError):
    """A missing collection, point or vector name (HTTP 404)."""


class AlreadyExists(ValueError):
    """The collection exists already (HTTP 409)."""
