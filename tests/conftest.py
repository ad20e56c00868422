from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vqdb import _core
from vqdb.collection import optimizer
from vqdb.database import Database

LEVELS = ["serial", "avx2", "avx512"]
AVAILABLE_LEVELS = LEVELS[: LEVELS.index(_core.max_simd_level()) + 1]


@pytest.fixture(params=AVAILABLE_LEVELS)
def simd_level(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a test once per SIMD level this CPU supports, restoring the best one afterwards."""
    _core.set_simd_level(request.param)
    try:
        yield request.param
    finally:
        _core.set_simd_level(_core.max_simd_level())


@pytest.fixture
def quick_optimizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments are sealed after writes pause for QUIET_SECONDS: a short pause keeps the tests
    that wait for indexing fast. Modules ask for it with
    `pytestmark = pytest.mark.usefixtures("quick_optimizer")`."""
    monkeypatch.setattr(optimizer, "QUIET_SECONDS", 0.02)


@pytest.fixture(params=["memory", "disk"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database in memory, then one on disk (a module needing only one defines its own)."""
    database = Database(None if request.param == "memory" else tmp_path / "storage")
    yield database
    database.close()
