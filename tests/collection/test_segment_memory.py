"""What a segment keeps in RAM: no array for ids that are one run, the originals of an on-disk
vector only as a view of its file."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

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
