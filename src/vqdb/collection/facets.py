"""Facets: the distinct values of a payload key and how many points hold each (Qdrant's
`POST /collections/{name}/facet`).

Counted from the postings of the key's map index (keyword, integer with lookup, uuid, bool)
against each segment's filter mask, so no payload is read: a point counts once per distinct
value it holds, arrays included. Qdrant requires such an index and says so (400) otherwise.
Hits come by count, highest first, then by value ascending (Qdrant's order: strings by their
bytes, uuids by their 128-bit value, false before true).

`exact` is accepted and changes nothing here: Qdrant's approximate mode samples candidate
values on keys with more distinct values than about 10 x limit (at least 1000), and may then
miss some or undercount them; vqdb always counts every value exactly, which is one of the
answers the approximate mode allows. Like Qdrant's, the approximate mode skips segments without
points before asking for the index, so it answers an empty collection with no hits.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.collection import strict
from vqdb.collection.collection import Collection, checked_filter
from vqdb.collection.reads import checked_count
from vqdb.errors import BadInput
from vqdb.filters.index import FieldIndex, IntegerIndex, MapIndex
from vqdb.segment.segment import Segment

DEFAULT_LIMIT = 10  # Qdrant's


@strict.checked("facet")
def facet(c: Collection, body: Mapping[str, Any]) -> dict[str, Any]:
    """FacetRequest: {key, filter, limit, exact} -> {"hits": [{"value", "count"}, ...]}."""
    key = body.get("key")
    if not isinstance(key, str):
        raise BadInput("'key' must be a payload key")
    limit = checked_count(body.get("limit"), DEFAULT_LIMIT, "limit", minimum=1)
    exact = body.get("exact") or False
    if not isinstance(exact, bool):
        raise BadInput("'exact' must be a bool")
    query_filter = checked_filter(body.get("filter"))
    counts: dict[Hashable, int] = {}
    with c.lock.read():
        for segment in c.segments:
            if not exact and segment.count == 0:
                continue
            index = _map_index(segment, key)
            for value, n in _segment_counts(segment, index, segment.mask(query_filter)):
                counts[value] = counts.get(value, 0) + n
    hits = sorted(counts.items(), key=lambda hit: (-hit[1], hit[0]))[:limit]
    return {"hits": [{"value": value, "count": n} for value, n in hits]}


def _map_index(segment: Segment, key: str) -> MapIndex:
    index: FieldIndex | None = segment.indexes.get(key)
    if isinstance(index, IntegerIndex):
        index = index.lookup
    if not isinstance(index, MapIndex):
        raise BadInput(
            f"Wrong input: No appropriate index for faceting: `{key}`. Please create one to "
            "facet on this field. Check https://qdrant.tech/documentation/concepts/indexing/"
            "#payload-index to see which payload schemas support Match conditions"
        )
    return index


def _segment_counts(
    segment: Segment, index: MapIndex, mask: npt.NDArray[np.bool_]
) -> list[tuple[Hashable, int]]:
    """(value, points of `mask` holding it) for each value with at least one."""
    values: Sequence[Hashable]
    values, codes, offsets = index.postings()
    if index.schema["data_type"] == "uuid":
        # one value per UUID however it was written, as Qdrant stores them as 128-bit numbers
        values, codes, offsets = _canonical_uuids(values, codes, offsets, segment.size)
    kept = codes[mask[offsets]]
    counts = np.bincount(kept, minlength=len(values))
    found = np.flatnonzero(counts)
    return [(values[i], int(counts[i])) for i in found.tolist()]


def _canonical_uuids(
    values: Sequence[Hashable],
    codes: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    size: int,
) -> tuple[list[Hashable], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    shown: list[Hashable] = [
        str(uuid.UUID(str(v))) for v in values
    ]  # lower case, hyphenated: Qdrant's form
    distinct, at = np.unique(np.array(shown, dtype=object), return_inverse=True)
    if len(distinct) == len(values):
        return shown, codes, offsets  # nothing merged
    merged = np.asarray(at, dtype=np.int64)[codes]
    pairs = np.unique(merged * max(size, 1) + offsets)  # a point once per UUID
    return list(distinct), pairs // max(size, 1), pairs % max(size, 1)
