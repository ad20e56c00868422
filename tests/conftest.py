from __future__ import annotations

from collections.abc import Iterator

import pytest

from vqdb import _core

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
