"""Sparse vectors through the collection layer: exact search in appendable and optimized
segments, filters, deletes and updates, IDF, restarts, snapshots, and bad input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import info, query, reads, snapshots
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput
from vqdb.floats import decimal_floats
from vqdb.follower import Follower
from vqdb.index.sparse_vectors import SparseVectors

sys.path.insert(0, str(Path(__file__).parents[1]))
from sparse_data import as_json, assert_exact, exact_scores, random_sparse  # noqa: E402

N = 3000
DIM = 4
FILTER = {"must": [{"key": "k", "match": {"value": 1}}]}


# segments seal after short write pauses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("quick_optimizer")


def body(indexing_threshold: int, modifier: str = "none") -> dict[str, Any]:
    return {
        "vectors": {"d": {"size": DIM, "distance": "Dot"}},
        "sparse_vectors": {"text": {"modifier": modifier, "index": {"on_disk": False}}},
        "optimizers_config": {"indexing_threshold": indexing_threshold},
    }


class Model:
    """What the collection should hold: each id's sparse vector (or none) and payload."""

    def __init__(self) -> None:
        self.rows: dict[int, Any] = {}
        self.payloads: dict[int, dict[str, Any]] = {}

    def truth(
        self,
        q: dict[str, Any],
        allowed: set[int] | None = None,
        idf: bool = False,
        corpus: set[int] | None = None,
    ):
        ids = sorted(self.rows)
        batch = SparseVectors.concat([SparseVectors.parse([self.rows[i]], "r") for i in ids])
        weights = None
        if idf:
            population = [i for i in ids if corpus is None or i in corpus]
            n_total = len(population)
            df = np.array(
                [sum(t in self.rows[i]["indices"] for i in population) for t in q["indices"]]
            )
            weights = np.log((n_total - df + 0.5) / (df + 0.5) + 1)
        scores, overlap = exact_scores(batch, q, weights)
        return {
            pid: float(scores[j])
            for j, pid in enumerate(ids)
            if overlap[j] and (allowed is None or pid in allowed)
        }


def fill(c: Collection, model: Model, n: int = N, first: int = 0, seed: int = 0) -> None:
    rows = as_json(random_sparse(n, seed=seed))
    dense = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    for start in range(0, n, 500):
        ids = list(range(first + start, first + min(n, start + 500)))
        part = rows[start : start + 500]
        payloads = [{"k": i % 5} for i in ids]
        if start % 1000 == 0:  # the column form
            vectors = {"d": dense[start : start + 500], "text": part}
            c.upsert({"batch": {"ids": ids, "vectors": vectors, "payloads": payloads}})
        else:  # the list form, some points without the sparse vector
            points = [
                {
                    "id": i,
                    "vector": {"d": dense[start + j].tolist()}
                    | ({} if i % 7 == 0 else {"text": part[j]}),
                    "payload": payloads[j],
                }
                for j, i in enumerate(ids)
            ]
            c.upsert({"points": points})
            part = [r if i % 7 else None for i, r in zip(ids, part)]
        for pid, row, payload in zip(ids, part, payloads):
            model.rows.pop(pid, None)
            if row is not None:
                model.rows[pid] = row
            model.payloads[pid] = payload


def queries(model: Model, n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for pid in rng.choice(sorted(model.rows), size=n, replace=False).tolist():
        row = model.rows[pid]
        keep = rng.random(len(row["indices"])) < 0.3
        keep[0] = True
        values = rng.standard_normal(int(keep.sum())).astype(np.float32).tolist()
        out.append({"indices": np.array(row["indices"])[keep].tolist(), "values": values})
    return out


def check(c: Collection, model: Model, n: int = 8, idf: bool = False) -> None:
    """Every query form answers exactly what the model says."""
    allowed = {pid for pid, p in model.payloads.items() if p["k"] == 1}
    for q in queries(model, n):
        truth = model.truth(q, idf=idf)
        found = query.query(c, {"query": q, "using": "text", "limit": 10})["points"]
        assert_exact([p["id"] for p in found], [p["score"] for p in found], truth, 10)
        nearest = query.query(c, {"query": {"nearest": q}, "using": "text", "limit": 10})
        assert [p["id"] for p in nearest["points"]] == [p["id"] for p in found]
        legacy = query.search(c, {"vector": {"name": "text", "vector": q}, "limit": 10})
        assert [p["id"] for p in legacy] == [p["id"] for p in found]
        filtered = query.query(c, {"query": q, "using": "text", "limit": 20, "filter": FILTER})
        ftruth = model.truth(q, allowed, idf=idf)
        points = filtered["points"]
        assert_exact([p["id"] for p in points], [p["score"] for p in points], ftruth, 20)
        page = query.query(c, {"query": q, "using": "text", "limit": 5, "offset": 5})
        assert [p["id"] for p in page["points"]] == [p["id"] for p in found[5:10]]
        if len(found) >= 5:
            t = found[4]["score"]
            above = query.query(c, {"query": q, "using": "text", "limit": 50, "score_threshold": t})
            expected = [pid for pid, s in truth.items() if s >= t + 1e-4]
            got = [p["id"] for p in above["points"]]
            assert all(p["score"] >= t for p in above["points"])
            assert set(expected) <= set(got) and len(got) <= len(expected) + 2


@pytest.mark.parametrize("indexed", [False, True], ids=["appendable", "optimized"])
def test_exact_search_deletes_and_updates(db: Database, indexed: bool) -> None:
    c = db.create_collection("c", body(1 if indexed else 0))
    model = Model()
    fill(c, model)
    if indexed:
        assert c.optimizer.wait_idle(120)
        built = [s for s in c.segments if not s.appendable]
        assert built and sum(len(s.vectors["text"]) for s in built) == len(model.rows)
    else:
        assert all(s.appendable for s in c.segments)
    check(c, model)
    has = {"must": [{"has_vector": "text"}]}
    assert reads.count(c, {"filter": has}) == {"count": len(model.rows)}
    # deletes, dropped sparse vectors, replaced ones (moved to the appendable segment)
    gone = list(range(0, N, 6))
    c.delete({"points": gone})
    for pid in gone:
        model.rows.pop(pid, None)
        model.payloads.pop(pid)
    dropped = [pid for pid in range(1, 300, 4) if pid in model.rows]
    c.delete_vectors({"points": dropped, "vector": ["text"]})
    for pid in dropped:
        del model.rows[pid]
    updated = [pid for pid in range(5, N, 11) if pid in model.payloads]
    fresh = as_json(random_sparse(len(updated), seed=42))
    c.update_vectors({"points": [{"id": i, "vector": {"text": r}} for i, r in zip(updated, fresh)]})
    model.rows.update(zip(updated, fresh))
    check(c, model)
    assert reads.count(c, {"filter": has}) == {"count": len(model.rows)}
    shown = reads.retrieve(c, {"ids": updated[:3], "with_vector": ["text"]})
    shown_as = [{**r, "values": decimal_floats(r["values"]).tolist()} for r in fresh[:3]]
    assert [p["vector"]["text"] for p in shown] == shown_as  # f32s by their shortest decimals
    if indexed:  # and again once the optimizer has rebuilt what changed
        assert c.optimizer.wait_idle(120)
        check(c, model)


def test_idf_over_a_corpus(db: Database) -> None:
    """params.idf.corpus: IDF statistics of the points matching a filter only, whatever the
    search's own filter, in optimized and appendable segments alike."""
    c = db.create_collection("c", body(1, modifier="idf"))
    model = Model()
    fill(c, model, n=1200)
    assert c.optimizer.wait_idle(120)
    fill(c, model, n=60, first=5000, seed=3)
    corpus = {"must": [{"key": "k", "match": {"value": 2}}]}
    members = {pid for pid, p in model.payloads.items() if p["k"] == 2}
    for q in queries(model, 4):
        truth = model.truth(q, idf=True, corpus=members)
        request = {"query": q, "using": "text", "limit": 10, "params": {"idf": {"corpus": corpus}}}
        found = query.query(c, request)["points"]
        assert_exact([p["id"] for p in found], [p["score"] for p in found], truth, 10)
        narrowed = query.query(c, {**request, "filter": FILTER})["points"]  # k == 1: none in corpus
        allowed = {pid for pid, p in model.payloads.items() if p["k"] == 1}
        ftruth = model.truth(q, allowed, idf=True, corpus=members)
        assert_exact([p["id"] for p in narrowed], [p["score"] for p in narrowed], ftruth, 10)
        nobody = {"idf": {"corpus": {"must": [{"key": "k", "match": {"value": 99}}]}}}
        empty = query.query(c, {**request, "params": nobody})["points"]
        assert_exact(
            [p["id"] for p in empty],
            [p["score"] for p in empty],
            model.truth(q, idf=True, corpus=set()),
            10,
        )
    assert query.query(
        c, {"query": q, "using": "text", "params": {"idf": "global"}}
    ) == query.query(c, {"query": q, "using": "text"})
    with pytest.raises(BadInput, match="idf"):
        query.query(c, {"query": [0.0] * DIM, "using": "d", "params": {"idf": "global"}})


def test_idf_over_every_segment(db: Database) -> None:
    c = db.create_collection("c", body(1, modifier="idf"))
    model = Model()
    fill(c, model, n=1500)
    assert c.optimizer.wait_idle(120)
    c.delete({"points": list(range(0, 1500, 3))})  # deletes count: N and n are of live points
    for pid in range(0, 1500, 3):
        model.rows.pop(pid, None)
        model.payloads.pop(pid)
    extra = Model()
    fill(c, extra, n=40, first=5000, seed=7)  # an appendable segment beside optimized ones
    model.rows.update(extra.rows)
    model.payloads.update(extra.payloads)
    assert any(s.appendable and s.count for s in c.segments)
    assert any(not s.appendable for s in c.segments)
    check(c, model, idf=True)
    # a term held by one live point: its idf is ln((N - 1 + 0.5) / 1.5 + 1)
    q = {"indices": [29_999, 29_998], "values": [1.0, 1.0]}
    holders = [pid for pid, r in model.rows.items() if set(q["indices"]) & set(r["indices"])]
    found = query.query(c, {"query": q, "using": "text", "limit": 100})["points"]
    assert sorted(p["id"] for p in found) == sorted(holders)
    # switching the modifier off (PATCH) changes scores at once, with no rebuild
    db.update_collection("c", {"sparse_vectors": {"text": {"modifier": "none"}}})
    assert info.info(c)["config"]["params"]["sparse_vectors"] == {
        "text": {"modifier": "none", "index": {"on_disk": False}}
    }
    check(c, model, n=3)


def test_restart_and_snapshot(tmp_path: Path) -> None:
    db = Database(tmp_path / "storage")
    c = db.create_collection("c", body(1, modifier="idf"))
    model = Model()
    fill(c, model, n=1000)
    assert c.optimizer.wait_idle(120)
    fill(c, model, n=30, first=4000, seed=3)  # logged only: replayed from the WAL
    c.delete({"points": [1, 2, 3]})
    for pid in (1, 2, 3):
        model.rows.pop(pid, None)
    qs = queries(model, 5)

    def answers(coll: Collection) -> list[Any]:
        out = [query.query(coll, {"query": q, "using": "text", "limit": 10}) for q in qs]
        page = reads.scroll(coll, {"limit": 2000, "with_vector": True})
        return [[(p["id"], p["score"]) for p in a["points"]] for a in out] + [page]

    before = answers(c)
    follower = Follower(tmp_path / "storage")  # what a reader process opens
    there = follower.collection("c")
    stores = [s.vectors["text"] for s in there.segments if not s.appendable]
    assert stores and all(s._index.viewed for s in stores)  # the files' postings, in place
    assert answers(there) == before
    check(there, model, n=3, idf=True)
    follower.close()
    taken = snapshots.create(db, "c")
    db.close()
    with Database(tmp_path / "storage") as again:
        assert answers(again.collection("c")) == before
        file = snapshots.path_of(again, "c", taken["name"])
        assert snapshots.recover(again, "copy", file)
        assert answers(again.collection("copy")) == before
        check(again.collection("copy"), model, n=3, idf=True)


def test_an_on_disk_sparse_index_is_read_in_place(tmp_path: Path) -> None:
    """`index.on_disk`: the writer too searches an optimized segment's rows and postings in
    the files, as built and after a restart; deletes and replaced vectors work as in RAM."""
    config = body(1)
    config["sparse_vectors"]["text"]["index"]["on_disk"] = True
    model = Model()
    with Database(tmp_path) as db:
        c = db.create_collection("c", config)
        fill(c, model, n=1000)
        assert c.optimizer.wait_idle(120)
        built = [s.vectors["text"] for s in c.segments if not s.appendable]
        assert built and all(s._index.viewed for s in built)
        check(c, model, n=3)
    with Database(tmp_path) as db:
        c = db.collection("c")
        stores = [s.vectors["text"] for s in c.segments if not s.appendable]
        assert stores and all(s._index.viewed for s in stores)
        c.delete({"points": [3, 4]})
        for pid in (3, 4):
            model.rows.pop(pid, None)
            model.payloads.pop(pid)
        fresh = as_json(random_sparse(2, seed=9))
        c.update_vectors(
            {"points": [{"id": i, "vector": {"text": r}} for i, r in zip((5, 6), fresh)]}
        )
        model.rows.update(zip((5, 6), fresh))
        check(c, model, n=3)
    with Database(tmp_path) as db:  # in RAM once it says so
        db.update_collection("c", {"sparse_vectors": {"text": {"index": {"on_disk": False}}}})
    with Database(tmp_path) as db:
        stores = [s.vectors["text"] for s in db.collection("c").segments if not s.appendable]
        assert stores and not any(s._index.viewed for s in stores)
        check(db.collection("c"), model, n=3)


def test_bad_sparse_vectors_write_nothing(db: Database) -> None:
    c = db.create_collection("c", body(0))
    good = {"indices": [1, 2], "values": [0.5, 0.25]}
    c.upsert({"points": [{"id": 1, "vector": {"text": good}}]})
    bad = [
        ({"indices": [1, 2], "values": [0.5]}, "same length"),
        ({"indices": [3, 3], "values": [0.5, 0.5]}, "unique"),
        ({"indices": [-3], "values": [0.5]}, "from 0 to 4294967295"),
        ({"indices": [3], "values": [float("inf")]}, "finite"),
        ([0.5, 0.5], "sparse vector"),
    ]
    for vector, message in bad:
        for form in (
            {
                "points": [
                    {"id": 2, "vector": {"text": good}},
                    {"id": 3, "vector": {"text": vector}},
                ]
            },
            {"batch": {"ids": [2, 3], "vectors": {"text": [good, vector]}}},
        ):
            with pytest.raises(BadInput, match=message):
                c.upsert(form)
        with pytest.raises(BadInput, match=message):
            c.update_vectors({"points": [{"id": 1, "vector": {"text": vector}}]})
    with pytest.raises(BadInput, match="Not existing vector name error: 'nope'"):
        c.upsert({"points": [{"id": 2, "vector": {"nope": good}}]})
    with pytest.raises(BadInput, match="dense vector"):
        query.query(c, {"query": good, "using": "d"})
    with pytest.raises(BadInput, match="is a sparse vector"):
        query.query(c, {"query": [1.0, 2.0], "using": "text"})
    with pytest.raises(BadInput, match="unique"):
        query.query(c, {"query": {"indices": [1, 1], "values": [1.0, 1.0]}, "using": "text"})
    # recommend by the one stored point: it is never its own recommendation
    found = query.query(c, {"query": {"recommend": {"positive": [1]}}, "using": "text"})
    assert found["points"] == []
    assert reads.count(c, {}) == {"count": 1}
    shown = reads.retrieve(c, {"ids": [1], "with_vector": True})
    assert shown[0]["vector"] == {"text": good}
