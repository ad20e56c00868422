"""The advisor's promise on real data (slow): on each shared set, its recommendation for
recall@10 >= 0.95 at the least memory, applied to a collection of the whole set, gives a real
recall@10 over the set's 1000 held-out queries >= 0.95 and within 0.02 of its estimate.
benchmarks/advisor_check.py does the work and prints the table the README quotes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from shared_data import DATA_ROOT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import advisor_check  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", advisor_check.SETS)
def test_the_recommendation_holds_on_the_whole_set(name: str) -> None:
    if not (DATA_ROOT / name / "base.npy").exists():
        pytest.skip(f"dataset {name} not found under {DATA_ROOT} (set VQDB_DATA to its folder)")
    found = advisor_check.check(DATA_ROOT / name, target=0.95, objective="memory")
    assert found["estimated_recall"] is not None, found
    assert found["real_recall"] >= 0.95, found
    assert abs(found["real_recall"] - found["estimated_recall"]) <= advisor_check.TOLERANCE, found
