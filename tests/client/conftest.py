"""Fixtures of the client tests: a client in memory and on disk, a quick optimizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import vqdb
from vqdb.collection import optimizer


@pytest.fixture(autouse=True)
def quick_optimizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments are sealed after writes pause for QUIET_SECONDS: a short pause keeps the tests
    that wait for indexing fast."""
    monkeypatch.setattr(optimizer, "QUIET_SECONDS", 0.02)


@pytest.fixture(params=["memory", "disk"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[vqdb.Client]:
    c = vqdb.Client(":memory:") if request.param == "memory" else vqdb.Client(path=tmp_path / "db")
    yield c
    c.close()
