"""Merging the shards' answers into the one a single node gives: the best `offset + limit`
scored points of all shards (each shard answered its own best `offset + limit`), id-ordered
scroll pages, summed counts and facet counts, and groups.

Ties between equal scores go to the lower id (a single node breaks them by where the points
are stored, which no two deployments share)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

Json = dict[str, Any]


def id_key(pid: Any) -> tuple[int, Any]:
    """Qdrant's id order: integer ids before UUIDs."""
    return (1, str(pid)) if isinstance(pid, str) else (0, pid)


def scored(lists: Iterable[Sequence[Json]], descending: bool) -> list[Json]:
    """ScoredPoints of every shard, best first."""
    points = [p for found in lists for p in found]
    sign = -1.0 if descending else 1.0
    return sorted(points, key=lambda p: (sign * p["score"], id_key(p["id"])))


def ordered(lists: Iterable[Sequence[Json]], descending: bool) -> list[Json]:
    """Points of an order_by query, by their order value (equal values by id)."""
    points = by_id(lists)
    return sorted(points, key=lambda p: p["order_value"], reverse=descending)


def by_id(lists: Iterable[Sequence[Json]]) -> list[Json]:
    return sorted((p for found in lists for p in found), key=lambda p: id_key(p["id"]))


def facet_hits(answers: Iterable[Json], limit: int) -> Json:
    counts: dict[Hashable, int] = {}
    for answer in answers:
        for hit in answer["hits"]:
            counts[hit["value"]] = counts.get(hit["value"], 0) + hit["count"]
    hits = sorted(counts.items(), key=lambda hit: (-hit[1], id_key(hit[0])))[:limit]
    return {"hits": [{"value": value, "count": n} for value, n in hits]}


def groups(answers: Iterable[Json], limit: int, size: int, descending: bool) -> list[Json]:
    """Groups of the same value from several shards as one: their hits merged (best `size`),
    the groups ranked by their best hit."""
    merged: dict[Hashable, list[Json]] = {}
    for answer in answers:
        for group in answer["groups"]:
            merged.setdefault(_hashable(group["id"]), []).append(group)
    out = []
    for parts in merged.values():
        hits = scored([g["hits"] for g in parts], descending)[:size]
        out.append({"hits": hits, "id": parts[0]["id"]})
    sign = -1.0 if descending else 1.0
    out.sort(key=lambda g: (sign * g["hits"][0]["score"], id_key(g["hits"][0]["id"])))
    return out[:limit]


def _hashable(value: Any) -> Hashable:
    return (type(value).__name__, value) if isinstance(value, (int, str)) else repr(value)
