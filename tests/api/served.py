"""A `vqdb serve` subprocess on a free port, started as users start it, and the small HTTP
helpers the API tests share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest


class Server:
    """`port`: a free one unless given; `args`: more of `vqdb serve`'s flags."""

    def __init__(
        self,
        storage: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
        args: tuple[str, ...] = (),
        start_seconds: float = 60,
        log_level: str = "WARNING",
    ) -> None:
        self.storage = storage
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "vqdb", "serve", "--storage", str(storage), *args]
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (read and closed by stop())
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--log-level", log_level],
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.stop()
                raise RuntimeError(f"vqdb serve did not start:\n{output}")
            time.sleep(0.05)

    def output(self) -> str:
        """What it has printed so far."""
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> str:
        """SIGTERM, as a service manager stops it; returns what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._log.closed:
            return ""
        output = self.output()
        self._log.close()
        return output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ok(response: httpx.Response) -> Any:
    """The result of a 200 answer (anything else fails the test with the answer's text)."""
    assert response.status_code == 200, response.text
    return response.json()["result"]


def ids(result: Any) -> list[Any]:
    """The ids of a query's points (or of a plain list of points), in order."""
    points = result["points"] if isinstance(result, dict) else result
    return [p["id"] for p in points]


def unique_name(prefix: str, request: pytest.FixtureRequest) -> str:
    """A collection name of this test alone (parametrized cases differ), on a shared server."""
    return f"{prefix}-{request.node.originalname}-{zlib.crc32(request.node.name.encode())}"


def fresh_collection(
    http: httpx.Client, name: str, body: dict[str, Any], points: list[dict[str, Any]]
) -> Iterator[str]:
    """For a fixture to `yield from`: collection `name` made anew from `body` and holding
    `points`, deleted after the test."""
    http.delete(f"/collections/{name}")
    assert http.put(f"/collections/{name}", json=body).status_code == 200
    put = http.put(f"/collections/{name}/points?wait=true", json={"points": points})
    assert put.status_code == 200, put.text
    yield name
    http.delete(f"/collections/{name}")
