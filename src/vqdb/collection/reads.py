"""Reading points: retrieve by id, scroll in id order, a random sample, count, and how a point
is shown (`with_payload` / `with_vector` selections, Qdrant's Record and ScoredPoint shapes)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vqdb.collection import order, strict
from vqdb.collection.collection import Collection, checked_filter
from vqdb.collection.ranked import Ranked
from vqdb.errors import BadInput
from vqdb.filters import Filter, delete_at, pick
from vqdb.floats import decimal_floats
from vqdb.index.sparse_vectors import SparseVector
from vqdb.native import _core
from vqdb.segment.ids import PointId, SortedIds, point_id, sort_key
from vqdb.segment.segment import Segment


class Selection:
    """Which payload keys and vectors a response shows."""

    def __init__(self, with_payload: Any, with_vector: Any, collection: Collection) -> None:
        self.include: list[str] | None = None
        self.exclude: list[str] | None = None
        self.payload = True
        if with_payload is None or isinstance(with_payload, bool):
            self.payload = bool(with_payload)
        elif isinstance(with_payload, list):
            self.include = _keys(with_payload, "with_payload")
        elif isinstance(with_payload, Mapping) and set(with_payload) <= {"include", "exclude"}:
            if with_payload.get("include") is not None:
                self.include = _keys(with_payload["include"], "with_payload.include")
            if with_payload.get("exclude") is not None:
                self.exclude = _keys(with_payload["exclude"], "with_payload.exclude")
        else:
            raise BadInput("with_payload must be a bool, a list of keys, or {include|exclude}")
        names = collection.config.names
        if with_vector is None or isinstance(with_vector, bool):
            self.vectors = names if with_vector else []
        elif isinstance(with_vector, list) and all(isinstance(n, str) for n in with_vector):
            unknown = [n for n in with_vector if not collection.config.has_vector(n)]
            if unknown:
                raise BadInput(f"Wrong input: Not existing vector name error: {unknown[0]}")
            self.vectors = list(with_vector)
        else:
            raise BadInput("with_vector must be a bool or a list of vector names")
        self.named = collection.config.named

    def show(self, segment: Segment, offset: int, extra: dict[str, Any]) -> dict[str, Any]:
        point: dict[str, Any] = {"id": segment.ids.id_at(offset), **extra}
        if self.payload:
            point["payload"] = self._payload(segment.payload(offset))
        if self.vectors:
            found = segment.point_vectors(offset, self.vectors)
            as_lists = {name: _shown(v) for name, v in found.items()}
            # Qdrant: a plain list when the point has only the unnamed vector, else a map (an
            # empty one for a point without vectors)
            only_unnamed = not self.named and set(as_lists) == {""}
            point["vector"] = as_lists[""] if only_unnamed else as_lists
        return point

    def show_scored(
        self, hits: Sequence[tuple[Any, Any, Segment, int]], scores: Iterator[float]
    ) -> list[dict[str, Any]]:
        """ScoredPoints of ranked hits, each with the next of `scores` (shown as given): show()
        in one loop, as a page of a search is shown."""
        located = hits.located() if isinstance(hits, Ranked) else [(h[2], h[3]) for h in hits]
        if self.vectors:
            return [
                self.show(segment, offset, {"version": segment.version, "score": score})
                for (segment, offset), score in zip(located, scores)  # hits first: zip
            ]  # stops on them without taking a score of the next page
        page = []
        for (segment, offset), score in zip(located, scores):
            point: dict[str, Any] = {
                "id": segment.ids.id_at(offset),
                "version": segment.version,
                "score": score,
            }
            if self.payload:
                point["payload"] = self._payload(segment.payload(offset))
            page.append(point)
        return page

    def _payload(self, stored: dict[str, Any] | None) -> dict[str, Any]:
        """What is shown of a stored payload, as the caller's own copy: writes replace stored
        payloads and never change them, but an embedded caller could change what it is given
        (picks and deletes copy what they keep)."""
        if not stored:
            return {}
        if self.include is None and not self.exclude:
            payload: dict[str, Any] = _core.json_copy(stored)
            return payload
        payload = stored
        if self.include is not None:
            payload = pick(payload, self.include)
        for key in self.exclude or ():
            payload = delete_at(payload, key)
        return payload


def _keys(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise BadInput(f"{where} must be a list of payload keys")
    return list(value)


@strict.checked("retrieve")
def retrieve(c: Collection, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """PointRequest: {"ids", "with_payload" (default true), "with_vector"}."""
    raw = body.get("ids")
    if not isinstance(raw, list):
        raise BadInput("'ids' must be a list of point ids")
    ids = [point_id(v, f"ids[{i}]") for i, v in enumerate(raw)]
    selection = Selection(body.get("with_payload", True), body.get("with_vector"), c)
    out = []
    with c.lock.read():
        for pid in ids:
            for segment in c.segments:
                offset = segment.find(pid)
                if offset >= 0:
                    out.append(selection.show(segment, offset, {}))
                    break
    return out


@strict.checked("scroll")
def scroll(c: Collection, body: Mapping[str, Any]) -> dict[str, Any]:
    """ScrollRequest: points in id order from `offset`, `limit` per page, and where the next
    page starts."""
    limit = checked_count(body.get("limit"), 10, "limit", minimum=1)
    query_filter = checked_filter(body.get("filter"))
    selection = Selection(body.get("with_payload", True), body.get("with_vector"), c)
    if body.get("order_by") is not None:
        return _scroll_ordered(c, body, limit, query_filter, selection)
    start = None if body.get("offset") is None else point_id(body["offset"], "offset")
    with c.lock.read():
        found = first_by_id(c, query_filter, limit + 1, start)
        page = [selection.show(segment, o, {}) for _, segment, o in found[:limit]]
    next_offset = found[limit][1].ids.id_at(found[limit][2]) if len(found) > limit else None
    return {"points": page, "next_page_offset": next_offset}


def first_by_id(
    c: Collection, query_filter: Filter | None, count: int, start: PointId | None = None
) -> list[tuple[int, Segment, int]]:
    """The first `count` points matching the filter in id order, from `start` on, as (segment
    position, segment, offset); the caller holds the read lock. An optimized segment's offsets
    are in id order already, so only its first `count` matches are looked at."""
    found: list[tuple[tuple[int, int], int, Segment, int]] = []
    for s, segment in enumerate(c.segments):
        mask = segment.mask(query_filter)
        if isinstance(segment.ids, SortedIds):
            begin = 0 if start is None else segment.ids.first_at_or_after(start)
            offsets = (np.flatnonzero(mask[begin:])[:count] + begin).tolist()
        else:
            offsets = np.flatnonzero(mask).tolist()
        keys = [(sort_key(segment.ids.id_at(o)), o) for o in offsets]
        if start is not None:
            first = sort_key(start)
            keys = [k for k in keys if k[0] >= first]
        keys.sort()
        found.extend((key, s, segment, o) for key, o in keys[:count])
    found.sort(key=lambda item: item[0])
    return [(s, segment, o) for _, s, segment, o in found[:count]]


def _scroll_ordered(
    c: Collection, body: Mapping[str, Any], limit: int, query_filter: Any, selection: Selection
) -> dict[str, Any]:
    """Scroll by a payload key's values (order.py): one page only, as in Qdrant, which pages
    with `start_from` and a filter on the ids already seen at that value instead."""
    if body.get("offset") is not None:
        raise BadInput(
            "Cannot use an `offset` when using `order_by`. The alternative for paging is to use "
            "`order_by.start_from` and a filter to exclude the IDs that you've already seen for "
            "the `order_by.start_from` value"
        )
    spec = order.parse(body["order_by"])
    with c.lock.read():
        masks = [s.mask(query_filter) for s in c.segments]
        found = order.ordered(c, spec, masks, limit)
        page = [
            selection.show(c.segments[s], offset, {"order_value": value})
            for value, s, offset in found
        ]
    return {"points": page, "next_page_offset": None}


@strict.checked("count")
def count(c: Collection, body: Mapping[str, Any] | None) -> dict[str, int]:
    query_filter = checked_filter((body or {}).get("filter"))
    with c.lock.read():
        return {"count": sum(int(np.count_nonzero(s.mask(query_filter))) for s in c.segments)}


def checked_count(value: Any, default: int, name: str, minimum: int) -> int:
    """A limit or offset: an integer >= minimum, or the default when absent."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadInput(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _shown(vector: Any) -> Any:
    """A stored vector as JSON values, each float by its shortest decimal (as Qdrant writes
    f32s): a list, a list of rows (multivectors), or {indices, values} (sparse)."""
    if isinstance(vector, SparseVector):
        values = decimal_floats(vector.values).tolist()
        return {"indices": vector.indices.tolist(), "values": values}
    return decimal_floats(vector).tolist()
