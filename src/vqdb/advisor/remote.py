"""`vqdb advise --url`: the advisor of a served collection runs in the server, beside the
vectors (reading 100k vectors through JSON would take longer than measuring them); this asks
it over HTTP, with the standard library alone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from vqdb.errors import BadInput


def call(url: str, path: str, body: Any, api_key: str | None, timeout: float = 900) -> Any:
    """POSTs JSON to url + path; the result of Qdrant's envelope, or BadInput with the
    server's error message."""
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **({"api-key": api_key} if api_key else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)["result"]
    except urllib.error.HTTPError as e:
        try:
            message = json.load(e)["status"]["error"]
        except (ValueError, KeyError, TypeError):
            message = e.reason
        raise BadInput(f"{url}{path}: HTTP {e.code}: {message}") from None
    except urllib.error.URLError as e:
        raise BadInput(f"{url}: {e.reason}") from None
