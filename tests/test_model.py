"""Random sequences of adds, deletes and searches against a plain dict model with exact scores."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vqdb

DIM = 8
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 40), st.integers(0, 2**31)),
        st.tuples(st.just("delete"), st.integers(1, 10), st.integers(0, 2**31)),
        st.tuples(st.just("search"), st.integers(1, 12), st.integers(0, 2**31)),
    ),
    min_size=1,
    max_size=25,
)


def exact_ids(
    model: dict[int, np.ndarray], q: np.ndarray, distance: str, k: int
) -> tuple[list[int], np.ndarray]:
    """The model's top k ids and engine scores (higher is better)."""
    ids = sorted(model)
    base = np.stack([model[i] for i in ids]).astype(np.float64)
    q = q.astype(np.float64)
    if distance == "Cosine":
        base = base / np.linalg.norm(base, axis=1, keepdims=True)
        scores = base @ (q / np.linalg.norm(q))
    elif distance == "Euclid":
        scores = -((base - q) ** 2).sum(1)
    else:
        scores = base @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order], scores[order]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=operations,
    distance=st.sampled_from(["Cosine", "Dot", "Euclid"]),
    quantization=st.sampled_from([None, {"scalar": {}}, {"binary": {}}]),
    plain=st.booleans(),
)
def test_index_matches_a_dict_model(ops, distance, quantization, plain) -> None:
    index = vqdb.Index(DIM, distance, quantization=quantization, hnsw=None if plain else {})
    model: dict[int, np.ndarray] = {}
    next_id = 0
    for op, n, seed in ops:
        rng = np.random.default_rng(seed)
        if op == "add":
            vectors = rng.standard_normal((n, DIM)).astype(np.float32)
            index.add(np.arange(next_id, next_id + n), vectors)
            model.update(zip(range(next_id, next_id + n), vectors))
            next_id += n
        elif op == "delete" and model:
            gone = rng.choice(sorted(model), size=min(n, len(model)), replace=False)
            index.delete(gone)
            for i in gone:
                del model[int(i)]
        elif op == "search" and model:
            k = min(n, len(model))
            q = rng.standard_normal(DIM).astype(np.float32)
            ids, scores = index.search(q, k, {"exact": True})
            want, want_scores = exact_ids(model, q, distance, k)
            # Ties aside, exact search is exact; scores are what Qdrant shows.
            shown = -np.sqrt(-want_scores) if distance == "Euclid" else want_scores
            got = -scores if distance == "Euclid" else scores
            np.testing.assert_allclose(got, shown, rtol=1e-4, atol=1e-4)
            assert set(ids.tolist()) <= set(model)
            found, _ = index.search(q, k, {"hnsw_ef": 64, "quantization": {"oversampling": 4}})
            assert set(found[found >= 0].tolist()) <= set(model)  # deleted ids never return
        assert len(index) == len(model)
