"""What a segment keeps in RAM: no array for ids that are one run, the originals of an on-disk
vector only as a view of its file."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from vqdb.database import Database
from vqdb.segment.ids import PointId, SortedIds, sort_key

UUIDS = sorted((str(uuid.UUID(int=i * 7919)) for i in range(1, 4)), key=sort_key)


@pytest.mark.parametrize(
    ("nums", "run"),
    [
        (list(range(5, 15)), True),
        ([0], True),
        ([], True),  # nothing to store either way
        ([1, 2, 4, 5], False),
        ([3, 2**64 - 2, 2**64 - 1], False),
        ([2**64 - 3, 2**64 - 2, 2**64 - 1], True),
    ],
)
def test_sorted_ids_as_a_run_answer_like_the_array(nums: list[int], run: bool) -> None:
    ids: list[PointId] = [*nums, *UUIDS]
    tracker = SortedIds.of(ids)
    assert (tracker.nbytes == 3 * 16) == run  # only the UUIDs are stored when the ints are a run
    array = SortedIds.of(ids)
    array._nums = np.array(nums, dtype=np.uint64)  # the general case, for comparison
    probes: list[PointId] = [0, 1, 3, 4, 5, 14, 15, 2**64 - 1, 2**64 - 3, *UUIDS]
    probes.append(str(uuid.UUID(int=1)))
    assert tracker.lookup(probes).tolist() == array.lookup(probes).tolist()
    for pid in probes:
        assert tracker.offset(pid) == array.offset(pid)
        assert tracker.first_at_or_after(pid) == array.first_at_or_after(pid)
    assert [tracker.id_at(i) for i in range(len(ids))] == ids
    np.testing.assert_array_equal(tracker.state()["nums"], np.array(nums, dtype=np.uint64))
    assert tracker.state()["nums"].dtype == np.uint64


def test_a_reopened_on_disk_segment_holds_codes_and_links_only(tmp_path: Path) -> None:
    n, dim = 600, 64
    body = {
        "vectors": {"size": dim, "distance": "Cosine", "on_disk": True},
        "quantization_config": {"binary": {"always_ram": True}},
        "optimizers_config": {"indexing_threshold": 1},
    }
    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    with Database(tmp_path) as db:
        c = db.create_collection("c", body)
        c.upsert({"batch": {"ids": list(range(n)), "vectors": x}})
        assert c.optimizer.wait_idle(60)
    with Database(tmp_path) as db:
        (segment,) = [s for s in db.collection("c").segments if s.size]
        assert not segment.appendable and segment.size == n
        index = segment.vectors[""]
        assert index.read_only  # the originals are a view of their file
        usage = segment.memory_usage()
        assert usage["ids"] == 0  # ids 0..n-1: a run, no array
        assert usage["vectors.originals"] == 0
        assert usage["vectors.quantized"] == n * dim // 8
        links = sum(
            np.load(p, mmap_mode="r").nbytes
            for p in (tmp_path / "collections" / "c" / "segments" / segment.name).glob(
                "vector.0.graph.*.npy"
            )
            if "links0" in p.name or "upper" in p.name
        )
        assert links <= usage["vectors.graph"] <= links + 2 * n  # + levels and upper starts
