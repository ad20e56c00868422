"""Fixtures of the client tests: a client in memory and on disk, a quick optimizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import vqdb


@pytest.fixture(autouse=True)
def quick(quick_optimizer: None) -> None:
    """Every client test gets tests/conftest.py's quick optimizer."""


@pytest.fixture(params=["memory", "disk"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[vqdb.Client]:
    c = vqdb.Client(":memory:") if request.param == "memory" else vqdb.Client(path=tmp_path / "db")
    yield c
    c.close()
