"""Routing and merging of distributed collections (vqdb.cluster), without Ray: which shard an
id goes to, and how the shards' answers become one."""

from __future__ import annotations

import uuid

import numpy as np

from vqdb.cluster import merge, routing


def test_ids_spread_over_shards_the_same_way_in_every_process() -> None:
    ids = list(range(1000)) + [str(uuid.UUID(int=i)) for i in range(1000)]
    where = routing.split(ids, [0, 1, 2, 3])
    assert sorted(np.concatenate(list(where.values())).tolist()) == list(range(2000))
    assert all(400 < len(positions) < 600 for positions in where.values())
    assert routing.id_hash(7) == 1_877_464_688  # crc32 of 7's 8 bytes: no per-process salt
    assert routing.split([5, 6], [9])[9].tolist() == [0, 1]


def test_shard_keys_of_a_request() -> None:
    assert routing.shard_keys(None) is None
    assert routing.shard_keys("a") == ["a"]
    assert routing.shard_keys([1, "b"]) == [1, "b"]
    assert routing.shard_keys({"fallback": "x", "target": "y"}) == ["y"]


def test_scored_points_merge_best_first_with_ties_by_id() -> None:
    a = [{"id": 3, "score": 0.9}, {"id": 1, "score": 0.5}]
    b = [{"id": 2, "score": 0.9}, {"id": "00000000-0000-0000-0000-000000000001", "score": 0.7}]
    assert [p["id"] for p in merge.scored([a, b], descending=True)] == [
        2,
        3,
        "00000000-0000-0000-0000-000000000001",
        1,
    ]
    assert [p["id"] for p in merge.scored([a, b], descending=False)][0] == 1


def test_order_by_and_id_order() -> None:
    a = [{"id": 1, "order_value": 5}, {"id": 4, "order_value": 7}]
    b = [{"id": 2, "order_value": 5}, {"id": 3, "order_value": 6}]
    assert [p["id"] for p in merge.ordered([a, b], descending=False)] == [1, 2, 3, 4]
    assert [p["id"] for p in merge.ordered([a, b], descending=True)] == [4, 3, 1, 2]
    assert [p["id"] for p in merge.by_id([[{"id": "u"}, {"id": 9}], [{"id": 2}]])] == [2, 9, "u"]


def test_facet_counts_add_up() -> None:
    a = {"hits": [{"value": "x", "count": 2}, {"value": "y", "count": 1}]}
    b = {"hits": [{"value": "y", "count": 2}, {"value": "z", "count": 3}]}
    assert merge.facet_hits([a, b], 2) == {
        "hits": [{"value": "y", "count": 3}, {"value": "z", "count": 3}]
    }


def test_groups_of_the_same_value_join() -> None:
    a = {"groups": [{"id": "k", "hits": [{"id": 1, "score": 0.9}, {"id": 2, "score": 0.1}]}]}
    b = {
        "groups": [
            {"id": "k", "hits": [{"id": 3, "score": 0.5}]},
            {"id": 7, "hits": [{"id": 4, "score": 0.95}]},
        ]
    }
    found = merge.groups([a, b], limit=5, size=2, descending=True)
    assert [(g["id"], [h["id"] for h in g["hits"]]) for g in found] == [(7, [4]), ("k", [1, 3])]


def test_queries_that_name_points_resolve_them_in_the_collection() -> None:
    """Ids in a query become a lookup_from of the collection itself (its points live in one
    shard each); vectors are left alone, without walking their numbers."""
    from vqdb.cluster.reads import _looked_up

    def looks_up(body: dict) -> bool:
        return "lookup_from" in _looked_up(body, "c")

    assert not looks_up({"query": [0.5, 1, 2]})
    assert not looks_up({"query": {"nearest": [1, 2, 3]}})
    assert looks_up({"query": 7})
    assert looks_up({"query": {"nearest": "00000000-0000-0000-0000-000000000001"}})
    assert looks_up({"query": {"recommend": {"positive": [[0.1, 0.2], 3]}}})
    assert not looks_up({"query": {"recommend": {"positive": [[1, 2]], "negative": []}}})
    assert looks_up({"query": {"context": [{"positive": 1, "negative": [0.1, 0.2]}]}})
    assert looks_up({"positive": [1], "negative": []})  # the legacy recommend
    nested = _looked_up({"query": [0.1], "prefetch": [{"query": 4}, {"query": [0.2]}]}, "c")
    assert "lookup_from" in nested["prefetch"][0] and "lookup_from" not in nested["prefetch"][1]
    assert "lookup_from" not in nested


def test_a_replicas_debt_is_kept_on_disk(tmp_path) -> None:
    from vqdb.cluster.backlog import Backlog

    backlog = Backlog(tmp_path / "missed")
    assert backlog.load(0, 1) == []
    backlog.add(0, 1, ("write", ("delete", {"points": [1]}, True)))
    backlog.add(0, 1, ("delete_payload_index", ("k", False)))
    with open(tmp_path / "missed" / "0-1.missed", "ab") as f:
        f.write(b"\x80\x05\x95")  # a record torn by a crash
    again = Backlog(tmp_path / "missed")
    assert again.load(0, 1) == [
        ("write", ("delete", {"points": [1]}, True)),
        ("delete_payload_index", ("k", False)),
    ]
    again.clear(0, 1)
    assert again.load(0, 1) == []
