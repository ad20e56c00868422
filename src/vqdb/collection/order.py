"""Points in an order of their own rather than by similarity: by a payload key's values
(`order_by`, in scroll and as a query) or at random (`{"sample": "random"}`), as Qdrant orders
them.

order_by needs a payload index on the key that holds ranges (integer, float, datetime; an
integer index with `range: false` does not): its sorted values are what is walked. A point
comes once per distinct value it has (a list of values lists it several times), ties go by
point id (descending for `desc`), and `start_from` keeps the values from it on (inclusive).
Integers and datetimes (microseconds since the epoch) order as integers, float indexes as
floats: that value is the point's `order_value`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.collection.collection import Collection
from vqdb.errors import BadInput
from vqdb.filters.datetimes import to_micros
from vqdb.segment.ids import sort_key

Mask = npt.NDArray[np.bool_]
OrderValue = int | float
Found = tuple[OrderValue | None, int, int]  # order value (None: sampled), segment position, offset


@dataclass(frozen=True)
class OrderBy:
    key: str
    descending: bool
    start_from: OrderValue | None


def parse(raw: Any) -> OrderBy:
    """Qdrant's OrderByInterface: a key, or {"key", "direction": asc | desc, "start_from"}
    (a number, or an RFC 3339 datetime that counts as its microseconds)."""
    if isinstance(raw, str):
        raw = {"key": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str):
        raise BadInput("order_by must be a payload key or {key, direction, start_from}")
    direction = raw.get("direction") or "asc"
    direction = getattr(direction, "value", direction)  # an enum left by model_dump()
    if direction not in ("asc", "desc"):
        raise BadInput(f"order_by.direction must be asc or desc, got {direction!r}")
    start = raw.get("start_from")
    if start is not None and not _is_number(start):
        micros = to_micros(start) if isinstance(start, (str, date)) else None
        if micros is None:
            raise BadInput(f"order_by.start_from must be a number or a datetime, got {start!r}")
        start = micros
    return OrderBy(raw["key"], direction == "desc", start)


def ordered(c: Collection, spec: OrderBy, masks: Sequence[Mask | None], limit: int) -> list[Found]:
    """The first `limit` (value, segment, offset) in the order, among the allowed offsets of
    each segment (`masks[s]`; None: its live points). The caller holds the read lock."""
    if spec.key not in c.payload_schema:
        raise _no_index(spec.key)
    found: list[tuple[OrderValue, tuple[int, int], int, int]] = []
    for s, segment in enumerate(c.segments):
        index = segment.indexes.get(spec.key)
        pairs = None if index is None else index.ordering()
        if pairs is None:
            raise _no_index(spec.key)
        values, offsets = pairs
        mask = masks[s]
        keep = (segment.visible if mask is None else mask)[offsets]
        if spec.start_from is not None:
            keep &= values <= spec.start_from if spec.descending else values >= spec.start_from
        values, offsets = values[keep], offsets[keep]
        if spec.descending:
            values, offsets = values[::-1], offsets[::-1]
        values, offsets = _first(values, offsets, limit)
        seen = set()
        for value, offset in zip(values.tolist(), offsets.tolist()):
            if (value, offset) not in seen:  # a value given twice lists the point once
                seen.add((value, offset))
                found.append((value, sort_key(segment.ids.id_at(offset)), s, offset))
    found.sort(key=lambda f: (f[0], f[1]), reverse=spec.descending)
    return [(value, s, offset) for value, _, s, offset in found[:limit]]


def _first(
    values: npt.NDArray[Any], offsets: npt.NDArray[np.int64], limit: int
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """The first `limit` entries (values in order, ascending or descending) and those tied
    with the last of them, whose order is decided by point ids later."""
    if values.shape[0] <= limit:
        return values, offsets
    end = limit + int(np.count_nonzero(values[limit:] == values[limit - 1]))
    return values[:end], offsets[:end]


def sampled(c: Collection, masks: Sequence[Mask | None], limit: int) -> list[Found]:
    """`limit` allowed points drawn uniformly at random (without replacement), in random
    order."""
    allowed = [
        np.flatnonzero(segment.visible if mask is None else mask)
        for segment, mask in zip(c.segments, masks)
    ]
    ends = np.cumsum([a.shape[0] for a in allowed])
    total = int(ends[-1]) if len(allowed) else 0
    picks = np.random.default_rng().choice(total, size=min(limit, total), replace=False)
    positions = np.searchsorted(ends, picks, side="right")
    starts = ends - [a.shape[0] for a in allowed]
    return [
        (None, s, int(allowed[s][p - starts[s]]))
        for s, p in zip(positions.tolist(), picks.tolist())
    ]


def _no_index(key: str) -> BadInput:
    return BadInput(
        f"No range index for `order_by` key: `{key}`. Please create one to use `order_by`. "
        "Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which "
        "payload schemas support Range conditions"
    )


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
