"""The slice condition: Qdrant's SipHash-2-4 of each id, the same partition in every segment
kind and for one point tested alone."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from vqdb.collection import reads
from vqdb.database import Database
from vqdb.errors import OutOfRange
from vqdb.filters import parse_filter
from vqdb.filters.slices import siphash24

pytestmark = pytest.mark.usefixtures("quick_optimizer")


def test_siphash_reference_vectors() -> None:
    """The reference implementation's outputs for key 00..0f and messages 00, 01, ..."""
    key = bytes(range(16))
    expected = {0: 0x726FDB47DD0E0E31, 8: 0x93F5F5799A932462, 15: 0xA129CA6149BE45E5}
    for length, value in expected.items():
        message = np.arange(length, dtype=np.uint8).reshape(1, length)
        assert int(siphash24(message, key)[0]) == value


def ids() -> list[int | str]:
    rng = np.random.default_rng(5)
    nums: list[int | str] = [int(i) for i in rng.choice(2**40, 300, replace=False)]
    return nums + [str(uuid.UUID(int=int(rng.integers(2**62)) << 60)) for _ in range(300)]


@pytest.mark.parametrize("threshold", [1, 100_000], ids=["optimized", "appendable"])
def test_slices_partition_the_points(threshold: int) -> None:
    db = Database(None)
    c = db.create_collection(
        "c",
        {
            "vectors": {"size": 2, "distance": "Dot"},
            "optimizers_config": {"indexing_threshold": threshold},
        },
    )
    every = ids()
    c.upsert({"points": [{"id": i, "vector": [1.0, 0.0]} for i in every]})
    if threshold == 1:  # KB: 128 vectors of 2 dimensions
        assert c.optimizer.wait_idle(60)
        assert any(not s.appendable and s.count for s in c.segments)

    def members(total: int, index: int) -> set[int | str]:
        body = {"filter": {"must": {"slice": {"total": total, "index": index}}}, "limit": 1000}
        return {p["id"] for p in reads.scroll(c, body)["points"]}

    parts = [members(4, i) for i in range(4)]
    assert set().union(*parts) == set(every) and sum(map(len, parts)) == len(every)
    assert all(90 < len(p) < 210 for p in parts)  # uniform: 150 expected in each
    assert parts[0] <= members(2, 0)  # correlated totals, as Qdrant documents
    condition = parse_filter({"must": {"slice": {"total": 4, "index": 1}}})
    assert condition is not None
    assert {i for i in every if condition.matches({}, point_id=i)} == parts[1]
    db.close()


def test_bad_slices() -> None:
    with pytest.raises(OutOfRange, match="Slice index must be less than the total"):
        parse_filter({"must": {"slice": {"total": 4, "index": 4}}})
    for bad in ({"total": 0, "index": 0}, {"total": 2}, {"total": 2, "index": -1}):
        with pytest.raises(ValueError, match="slice"):
            parse_filter({"must": {"slice": bad}})
