"""Fixtures of the API tests: `vqdb serve` subprocesses and an HTTP client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from served import Server


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(env: dict[str, str] | None = None, storage: Path | None = None) -> Server:
        server = Server(storage or tmp_path_factory.mktemp("storage"), env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server: Callable[..., Server]) -> Server:
    """One open server shared by the tests of this folder (each uses its own collections)."""
    return start_server({"VQDB__STORAGE__OPTIMIZER_THREADS": "2"})


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
