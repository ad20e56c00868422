"""A query's leaves run natively (`_core.ranked`, `_core.fused_rrf`, cpp/query/leaf.h): each must
give exactly what the stage-by-stage path gives, the searches of every segment merged by
`Ranked.merged` and fused by fusion.py, for dense, multi and sparse vectors, every distance,
filters, thresholds, points without some vectors (stores whose rows are not the segment's
offsets), deleted points and several segments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vqdb.collection import fusion, query
from vqdb.collection.collection import Collection
from vqdb.collection.ranked import Ranked
from vqdb.database import Database
from vqdb.index.stores import concat
from vqdb.params import SearchParams

pytestmark = pytest.mark.usefixtures("quick_optimizer")

N, DIM = 500, 16


@pytest.fixture(scope="module", params=["Cosine", "Dot", "Euclid", "Manhattan"])
def distance(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def collection(distance: str) -> Iterator[Collection]:
    """Clustered raw vectors; a third of the points lack the dense vector, a fifth the sparse
    one; half sealed into an indexed, binary-quantized segment, the rest appendable; some
    deleted in each."""
    db = Database(None)
    c = db.create_collection(
        "c",
        {
            "vectors": {
                "d": {
                    "size": DIM,
                    "distance": distance,
                    "quantization_config": {"binary": {"always_ram": True}},
                },
                "m": {
                    "size": 4,
                    "distance": distance,
                    "multivector_config": {"comparator": "max_sim"},
                },
            },
            "sparse_vectors": {"s": {"modifier": "idf"}},
            "optimizers_config": {"indexing_threshold": 10},
        },
    )
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((5, DIM)) * 10
    x = centres[rng.integers(0, 5, N)] + rng.standard_normal((N, DIM)) * 0.3
    points = []
    for i in range(N):
        vector: dict[str, Any] = {"m": rng.standard_normal((1 + i % 3, 4)).tolist()}
        if i % 3:
            vector["d"] = x[i].tolist()
        if i % 5:
            terms = rng.choice(40, size=int(rng.integers(1, 6)), replace=False)
            vector["s"] = {"indices": terms.tolist(), "values": rng.random(terms.size).tolist()}
        points.append({"id": i, "vector": vector, "payload": {"k": i % 4}})
    c.upsert({"points": points[: N // 2]})
    assert c.optimizer.wait_idle(60)
    c.optimizer.stop()  # the rest stays appendable
    c.upsert({"points": points[N // 2 :]})
    c.delete({"points": list(range(0, N, 11))})
    assert len(c.segments) >= 2
    yield c
    db.close()


def queries(rng: np.random.Generator) -> list[tuple[str, Any]]:
    sparse = {"indices": [1, 5, 9, 30], "values": rng.random(4).tolist()}
    return [
        ("d", (rng.standard_normal(DIM) * 10).tolist()),
        ("m", rng.standard_normal((2, 4)).tolist()),
        ("s", sparse),
    ]


def request(c: Collection, body: dict[str, Any]) -> query.Request:
    return query._request(c, body, False, True, limit=body["limit"], offset=0, shown=False)


def by_stages(c: Collection, r: query.Request, raw: Any) -> Ranked:
    """The same search, one native call per segment (Segment.search), merged by
    Ranked.merged: the path every query took before leaves."""
    vector = query._vector(c, raw, r.using)
    batch = query._batch_of_one(c, r, vector)
    wanted = r.offset + r.limit
    positions, found, found_scores = [], [], []
    threshold = c.config.full_scan_threshold_vectors(r.using)
    for s, segment in enumerate(c.segments):
        allowed = query._allowed(s, segment, r)
        if not segment.size or (allowed is not None and not allowed.any()):
            continue
        offsets, scores = segment.search(r.using, batch, wanted, r.params, allowed, threshold)
        positions.append(s)
        found.append(offsets)
        found_scores.append(scores)
    ascending = c.config.distance(r.using).ascending
    merged = Ranked.merged(
        positions, found, found_scores, 1, c.segments, ascending, r.score_threshold, wanted
    )
    return merged[0]


def same(a: Ranked, b: Ranked) -> None:
    assert a.keys.tolist() == b.keys.tolist()
    np.testing.assert_array_equal(a.scores, b.scores)


@pytest.mark.parametrize("seed", range(4))
def test_a_leaf_ranks_as_the_segments_merged(collection: Collection, seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = collection
    for using, raw in queries(rng):
        for body in (
            {"using": using, "limit": 25},
            {"using": using, "limit": 7, "filter": {"must": [{"key": "k", "match": {"value": 1}}]}},
            {"using": using, "limit": 400, "params": {"hnsw_ef": 16}},
            {"using": using, "limit": 5, "params": {"exact": True}},
        ):
            with c.lock.read():
                native = query._hits(c, request(c, body), query._vector(c, raw, using))
                assert isinstance(native, Ranked)
                same(native, by_stages(c, request(c, body), raw))
                # a threshold halfway down the list keeps what the merge keeps
                if len(native) > 2:
                    cut = float(native.scores[len(native) // 2])
                    bounded = request(c, {**body, "score_threshold": cut})
                    got = query._hits(c, bounded, query._vector(c, raw, using))
                    assert isinstance(got, Ranked)
                    same(got, by_stages(c, bounded, raw))
                    assert 0 < len(got) < len(native)


@pytest.mark.parametrize("spec", [{"fusion": "rrf"}, {"rrf": {"k": 60, "weights": [3, 0.5, 0]}}])
def test_fused_leaves_rank_as_fusion_of_the_stages(collection: Collection, spec: Any) -> None:
    rng = np.random.default_rng(11)
    c = collection
    for trial in range(5):
        prefetch = [
            {"query": raw, "using": using, "limit": 20 + 10 * trial} for using, raw in queries(rng)
        ]
        if trial % 2:
            prefetch[2]["filter"] = {"must_not": [{"key": "k", "match": {"value": 0}}]}
        body = {"prefetch": prefetch, "query": spec, "limit": 12, "offset": trial}
        with c.lock.read():
            top = query._request(c, body, False, False)
            native = query._fused_leaves(c, top, spec, prefetch, depth=1)
            assert native is not None
            lists = [
                by_stages(c, query._both(None, request(c, p)), p["query"]).keys for p in prefetch
            ]
        rrf = spec.get("rrf", {})
        keys, scores = fusion.rrf(lists, rrf.get("k", 2), rrf.get("weights"))
        wanted = 12 + trial
        assert native.keys.tolist() == keys[:wanted].tolist()
        np.testing.assert_array_equal(native.scores, scores[:wanted])


def test_shapes_the_leaves_do_not_take_run_stage_by_stage(collection: Collection) -> None:
    """A DBSF, a prefetch that is itself a fusion, a recommend: no native fusion, same API."""
    c = collection
    rng = np.random.default_rng(5)
    (_, dense), _, (_, sparse) = queries(rng)
    leaves = [{"query": dense, "using": "d"}, {"query": sparse, "using": "s"}]
    recommend = {"query": {"recommend": {"positive": [1]}}, "using": "d"}
    with c.lock.read():
        for q, prefetch in (
            ({"fusion": "dbsf"}, leaves),
            ({"fusion": "rrf"}, [*leaves, {"prefetch": leaves, "query": {"fusion": "rrf"}}]),
            ({"fusion": "rrf"}, [*leaves, recommend]),
        ):
            top = query._request(c, {"query": q}, False, False)
            assert query._fused_leaves(c, top, q, prefetch, depth=1) is None
    found = query.query(
        c,
        {
            "prefetch": [*leaves, {"prefetch": leaves, "query": {"fusion": "rrf"}}],
            "query": {"fusion": "rrf"},
            "limit": 5,
        },
    )["points"]
    assert len(found) == 5


def test_a_leaf_of_many_queries_ranks_each_as_alone(collection: Collection) -> None:
    """A batch in one leaf (all its queries, every segment, one call on every core)."""
    c = collection
    rng = np.random.default_rng(3)
    asked = [queries(rng) for _ in range(6)]
    for i, using in enumerate(("d", "m", "s")):
        body = {
            "using": using,
            "limit": 9,
            "filter": {"must_not": [{"key": "k", "match": {"value": 2}}]},
        }
        r = request(c, body)
        raws = [one[i][1] for one in asked]
        batch = concat([query._batch_of_one(c, r, query._vector(c, raw, using)) for raw in raws])
        with c.lock.read():
            found = query._searched(c, r, batch)
            assert len(found) == len(raws)
            for got, raw in zip(found, raws):
                same(got, by_stages(c, r, raw))


@pytest.mark.parametrize("seed", range(3))
def test_a_rescoring_stage_scores_its_candidates_as_an_exact_search(
    collection: Collection, seed: int
) -> None:
    """A query over a prefetch's candidates (rows scored in place for a dense query, an exact
    search allowed them alone for multi and sparse) ranks as an exact search of each segment
    allowed only those candidates."""
    c = collection
    rng = np.random.default_rng(seed)
    for using, raw in queries(rng):
        prefetch = {"query": (rng.standard_normal(DIM) * 10).tolist(), "using": "d", "limit": 30}
        body = {"prefetch": prefetch, "query": raw, "using": using, "limit": 8}
        if seed:
            body["filter"] = {"must_not": [{"key": "k", "match": {"value": seed}}]}
        with c.lock.read():
            _, native = query.ranked(c, body)
            assert isinstance(native, Ranked) and len(native) > 0
            top = query._request(c, body, False, True)
            inner = request(c, prefetch)
            inner.query_filter = top.query_filter  # the request's filter applies below it too
            among = query.candidates([by_stages(c, inner, prefetch["query"])])
            exact = SearchParams(exact=True)
            batch = query._batch_of_one(c, top, query._vector(c, raw, using))
            positions, found, found_scores = [], [], []
            for s, offsets in among.items():
                segment = c.segments[s]
                allowed = np.zeros(segment.size, dtype=np.bool_)
                allowed[offsets] = True
                allowed &= segment.mask(top.query_filter)
                ids, scores = segment.search(using, batch, 8, exact, allowed, 0)
                positions.append(s)
                found.append(ids)
                found_scores.append(scores)
            ascending = c.config.distance(using).ascending
            want = Ranked.merged(positions, found, found_scores, 1, c.segments, ascending, None, 8)
        same(native, want[0])
