"""Multivectors in the index layer: MaxSim against numpy, quantized walks rescored by the
originals, HNSW recall against exact MaxSim, deletes, state round trips."""

from __future__ import annotations

import numpy as np
import pytest
from multi_data import api_scores, clustered, maxsim, queries

import vqdb
from vqdb import _core
from vqdb.index.multi_vectors import MultiVectors

DISTANCES = ["Dot", "Cosine", "Euclid", "Manhattan"]


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("level", ["serial", _core.max_simd_level()])
def test_maxsim_matches_numpy(distance: str, level: str) -> None:
    docs = clustered(300, dim=17, rows=(1, 9), seed=3)
    index = vqdb.Index(17, distance, hnsw=None, multivector=True)
    index.add(np.arange(300), docs)
    before = _core.simd_level()
    _core.set_simd_level(level)
    try:
        for q in queries(5, dim=17):
            expected = api_scores(maxsim(q, docs, distance), distance)
            ids, scores = index.search(q, limit=300)
            np.testing.assert_allclose(scores, expected[ids], rtol=2e-5, atol=2e-4)
            ascending = distance in ("Euclid", "Manhattan")
            order = np.argsort(expected if ascending else -expected, kind="stable")
            np.testing.assert_allclose(expected[ids[:10]], expected[order[:10]], rtol=1e-5)
    finally:
        _core.set_simd_level(before)


def test_maxsim_is_the_native_pair_score() -> None:
    docs = clustered(20, dim=8, rows=(1, 5), seed=2)
    s = _core.MultiVectorSet(_core.VectorSet.float32(8, "dot"))
    s.add_groups(docs.rows, docs.offsets)
    for a, b in [(0, 1), (3, 7), (5, 5)]:
        expected = (docs[a].astype(np.float64) @ docs[b].T.astype(np.float64)).max(1).sum()
        assert s.score_pair(a, b) == pytest.approx(expected, rel=1e-5)
    assert s.size == 20 and s.rows == int(docs.offsets[-1])


def test_a_batch_of_queries_equals_one_at_a_time() -> None:
    docs = clustered(200, dim=16, seed=4)
    index = vqdb.Index(16, "Dot", hnsw=None, multivector=True)
    index.add(np.arange(200), docs)
    qs = queries(4, dim=16)
    ids, scores = index.search(qs, limit=7)
    assert ids.shape == (4, 7)
    for i, q in enumerate(qs):
        one_ids, one_scores = index.search(q, limit=7)
        np.testing.assert_array_equal(ids[i], one_ids)
        np.testing.assert_allclose(scores[i], one_scores)


@pytest.mark.parametrize(
    "quantization",
    [
        {"scalar": {"type": "int8", "quantile": 0.99}},
        {"binary": {"encoding": "two_bits"}},
        {"product": {"compression": "x8"}},
    ],
)
def test_quantized_walk_rescored_by_the_originals(quantization: dict) -> None:
    docs = clustered(400, dim=16, seed=5)
    index = vqdb.Index(16, "Cosine", hnsw=None, multivector=True, quantization=quantization)
    index.add(np.arange(400), docs)
    params = {"quantization": {"rescore": True, "oversampling": 400 / 10}}
    for q in queries(3, dim=16):
        exact = maxsim(q, docs, "Cosine")
        ids, scores = index.search(q, limit=10, params=params)
        # every candidate rescored: the exact top 10 and exact scores
        np.testing.assert_allclose(scores, exact[ids], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(np.sort(ids), np.sort(np.argsort(-exact)[:10]))


@pytest.mark.parametrize("distance", ["Dot", "Cosine"])
def test_hnsw_recall_against_exact_maxsim(distance: str) -> None:
    n, k = 2000, 10
    docs = clustered(n, dim=32, seed=6)
    index = vqdb.Index(32, distance, hnsw={"m": 16, "ef_construct": 64}, multivector=True)
    index.add(np.arange(n), docs)
    qs = queries(30, dim=32, seed=7)
    found, _ = index.search(qs, limit=k, params={"hnsw_ef": 128})
    exact, _ = index.search(qs, limit=k, params={"exact": True})
    recall = np.mean([len(set(f) & set(e)) / k for f, e in zip(found, exact)])
    assert recall >= 0.95, recall


def test_scalar_graph_recall_with_rescoring() -> None:
    n, k = 2000, 10
    docs = clustered(n, dim=32, seed=8)
    index = vqdb.Index(
        32,
        "Dot",
        hnsw={"m": 16, "ef_construct": 64},
        multivector=True,
        quantization={"scalar": {"type": "int8"}},
    )
    index.add(np.arange(n), docs)
    qs = queries(30, dim=32, seed=9)
    params = {"hnsw_ef": 64, "quantization": {"rescore": True, "oversampling": 2.0}}
    found, _ = index.search(qs, limit=k, params=params)
    exact, _ = index.search(qs, limit=k, params={"exact": True})
    recall = np.mean([len(set(f) & set(e)) / k for f, e in zip(found, exact)])
    assert recall >= 0.9, recall


def test_deletes_never_come_back_and_state_round_trips() -> None:
    docs = clustered(500, dim=8, seed=10)
    index = vqdb.Index(
        8,
        "Dot",
        hnsw={"m": 8, "ef_construct": 32},
        multivector=True,
        quantization={"scalar": {"type": "int8"}},
    )
    index.add(np.arange(1000, 1500), docs)
    gone = np.arange(1000, 1500, 3)
    index.delete(gone)
    qs = queries(5, dim=8)
    ids, scores = index.search(qs, limit=20)
    assert not set(ids.ravel().tolist()) & set(gone.tolist())
    again = vqdb.Index.from_state(index.config(), index.state())
    ids2, scores2 = again.search(qs, limit=20)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_array_equal(scores, scores2)
    stored = again.vectors([1001, 1499])
    assert isinstance(stored, MultiVectors)
    np.testing.assert_array_equal(stored[0], docs[1])
    np.testing.assert_array_equal(stored[1], docs[499])


def test_views_search_in_place() -> None:
    docs = clustered(100, dim=8, seed=11)
    index = vqdb.Index(8, "Cosine", hnsw=None, multivector=True)
    index.add(np.arange(100), docs)
    state = {k: np.array(v) for k, v in index.state().items()}
    viewed = vqdb.Index.from_state(index.config(), state, views=("originals",))
    assert viewed.read_only
    q = queries(1, dim=8)[0]
    np.testing.assert_array_equal(viewed.search(q, 5)[0], index.search(q, 5)[0])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([[1.0, 2.0]], "dimension"),
        ([], "at least one"),
        ([[float("nan")] * 4], "NaN"),
        ([1.0, 2.0, 3.0, 4.0], "not a single vector"),
    ],
)
def test_bad_multivectors_are_refused(bad: list, message: str) -> None:
    index = vqdb.Index(4, "Dot", hnsw=None, multivector=True)
    with pytest.raises(ValueError, match=message):
        index.add([1], [bad])
    assert len(index) == 0
