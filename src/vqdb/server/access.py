"""API keys, as Qdrant checks them: the `api-key` header or an `Authorization: Bearer` token.
A full key may do anything; a read-only key may read and search but not write (403)."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection


class Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Access:
    def __init__(self, api_key: str | None, read_only_api_key: str | None) -> None:
        self.api_key = api_key or None
        self.read_only_api_key = read_only_api_key or None

    @property
    def open(self) -> bool:
        return self.api_key is None and self.read_only_api_key is None

    def check(self, request: HTTPConnection, *, writes: bool) -> None:
        if self.open:  # the headers are not even parsed
            return
        headers = request.headers
        given = headers.get("api-key")
        if given is None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        if not given:
            raise Denied(401, "Must provide an API key or an Authorization bearer token")
        if _same(given, self.api_key):
            return
        if _same(given, self.read_only_api_key):
            if writes:
                raise Denied(403, "Forbidden: this API key is read-only")
            return
        raise Denied(401, "Invalid API key or JWT")


def _same(given: str, key: str | None) -> bool:
    # constant time, so the comparison does not tell how much of a guess was right
    return key is not None and hmac.compare_digest(given.encode(), key.encode())
