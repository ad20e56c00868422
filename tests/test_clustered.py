"""Clustered data: Gaussian clusters in high dimension, where every member of a cluster is nearly
equidistant from the others and every other cluster is far. A graph whose lists fill up with
their own cluster has no way out of the cluster a search lands in, and queries of another one
find none of their neighbours. Ground truth by exact numpy brute force."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import vqdb

HNSW = {"m": 16, "ef_construct": 100}


def clusters(
    n: int, dim: int, k: int, queries: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """n points and some queries around k centres drawn from N(0, 1), noise 0.6 per coordinate."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim), dtype=np.float32)
    base = centres[rng.integers(0, k, n)] + 0.6 * rng.standard_normal((n, dim), dtype=np.float32)
    q = centres[rng.integers(0, k, queries)]
    q = q + 0.6 * rng.standard_normal((queries, dim), dtype=np.float32)
    return base, q


def exact_top10(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.argsort(-(q @ b.T), axis=1, kind="stable")[:, :10]


def hits(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per query: how many of its true top 10 were found."""
    return np.array([len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth)])


def unreachable(index: vqdb.Index) -> int:
    """Nodes that no walk from the entry point along level-0 links reaches."""
    state = index._graph.state()
    links, entry = state["links0"], int(state["meta"][2])
    seen = np.zeros(len(links), dtype=bool)
    seen[entry] = True
    frontier = np.array([entry])
    while len(frontier):
        nxt = np.concatenate([links[u, 1 : 1 + links[u, 0]] for u in frontier])
        frontier = np.unique(nxt[~seen[nxt]])
        seen[frontier] = True
    return int((~seen).sum())


def test_float_graph_reaches_every_cluster() -> None:
    """16 clusters of ~310 points in 1536-d. With DiskANN's slack applied in one pass, lists
    held only their own cluster: recall@10 0.90 at ef=256 with 10-12 of 200 queries finding none
    of their neighbours, and 6-7% of the nodes unreachable on level 0."""
    base, queries = clusters(5000, 1536, 16, 200)
    index = vqdb.Index(1536, "Cosine", hnsw=HNSW)
    index.add(np.arange(len(base)), base)
    found, _ = index.search(queries, 10, {"hnsw_ef": 256})
    per_query = hits(found, exact_top10(base, queries))
    assert (per_query == 0).sum() == 0, f"{(per_query == 0).sum()} queries found no neighbour"
    assert per_query.mean() / 10 >= 0.99
    assert unreachable(index) <= len(base) // 200


QUANTIZED: list[tuple[str, dict[str, Any], float, float]] = [
    # (name, config, oversampling, floor): each floor a little under what the graph reached on
    # this data, where binary and PQ codes rank a cluster's nearly equidistant members poorly
    # (a plain scan with the same codec reaches the same recall, which the test checks too)
    ("scalar", {"scalar": {"type": "int8", "quantile": 0.99}}, 2.0, 0.99),
    ("binary", {"binary": {"encoding": "one_bit"}}, 16.0, 0.85),
    ("binary-asym", {"binary": {"encoding": "one_bit", "query_encoding": "scalar8bits"}}, 16, 0.9),
    ("product", {"product": {"compression": "x16"}}, 16.0, 0.96),
]


@pytest.fixture(scope="module")
def full_size() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The issue's case: 20k x 1536 from 64 clusters."""
    base, queries = clusters(20_000, 1536, 64, 200)
    return base, queries, exact_top10(base, queries)


@pytest.mark.slow
def test_float_graph_reaches_every_cluster_full_size(full_size) -> None:
    """Was recall@10 0.77 at ef=100 and 0.80-0.82 at ef=256 (0.86 at ef=1000), with 36-38 and
    22-26 of 200 queries finding no neighbour (hnswlib: 0.999 and 1.0)."""
    base, queries, truth = full_size
    index = vqdb.Index(1536, "Cosine", hnsw=HNSW)
    index.add(np.arange(len(base)), base)
    for ef in (100, 256):
        found, _ = index.search(queries, 10, {"hnsw_ef": ef})
        per_query = hits(found, truth)
        assert (per_query == 0).sum() == 0, f"ef={ef}: {(per_query == 0).sum()} missed"
        assert per_query.mean() / 10 >= 0.99
    assert unreachable(index) <= len(base) // 200


@pytest.mark.slow
@pytest.mark.parametrize(("name", "config", "oversampling", "floor"), QUANTIZED)
def test_quantized_graphs_reach_every_cluster_full_size(
    full_size, name: str, config: dict[str, Any], oversampling: float, floor: float
) -> None:
    """With rescoring, each quantized graph finds what a plain scan with the same codec finds:
    the graph loses nothing on top of the codec's own error."""
    base, queries, truth = full_size
    rescore = {"quantization": {"rescore": True, "oversampling": oversampling}}
    recalls = []
    for hnsw in (HNSW, None):
        index = vqdb.Index(1536, "Cosine", quantization=config, hnsw=hnsw)
        index.add(np.arange(len(base)), base)
        found, _ = index.search(queries, 10, {"hnsw_ef": 256, **rescore})
        per_query = hits(found, truth)
        assert (per_query == 0).sum() == 0, f"{name}: {(per_query == 0).sum()} found nothing"
        recalls.append(per_query.mean() / 10)
        del index
    graph, scan = recalls
    assert graph >= floor
    assert graph >= scan - 0.005
