"""Vectors of fewer than 16 dimensions score as Qdrant scores them: products summed one at a
time, in order, in float32, at every SIMD level, through every float32 path (scan, graph,
rescoring of a quantized search), so scores shown to users match Qdrant's to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

import vqdb


def in_order(q: np.ndarray, rows: np.ndarray, distance: str) -> np.ndarray:
    out = np.zeros(rows.shape[0], dtype=np.float32)
    for j in range(q.shape[0]):
        if distance == "Dot":
            term = q[j] * rows[:, j]
        elif distance == "Euclid":
            term = (q[j] - rows[:, j]) * (q[j] - rows[:, j])
        else:
            term = np.abs(q[j] - rows[:, j])
        out = (out + term).astype(np.float32)
    if distance == "Euclid":
        return np.sqrt(out)
    return out


@pytest.mark.parametrize("dim", [3, 4, 7, 15])
@pytest.mark.parametrize("distance", ["Dot", "Euclid", "Manhattan"])
@pytest.mark.parametrize(
    "params", [{"exact": True}, {"hnsw_ef": 200}, {"quantization": {"rescore": True}}]
)
def test_scores_are_sums_in_order(simd_level: str, dim: int, distance: str, params: dict) -> None:
    rng = np.random.default_rng(dim)
    base = rng.normal(size=(300, dim)).astype(np.float32)
    quantization = {"scalar": {}} if "quantization" in params else None
    index = vqdb.Index(dim, distance, quantization=quantization)
    index.add(np.arange(300), base)
    queries = rng.normal(size=(5, dim)).astype(np.float32)
    ids, scores = index.search(queries, limit=20, params=params)
    for q, found, got in zip(queries, ids, scores):
        kept = found >= 0
        assert np.array_equal(got[kept], in_order(q, base[found[kept]], distance))


def test_sixteen_and_more_keep_the_simd_kernels() -> None:
    """The plain loops are for short vectors only (a SIMD sum rounds differently; what matters
    here is only that long vectors still score correctly)."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(100, 64)).astype(np.float32)
    index = vqdb.Index(64, "Dot")
    index.add(np.arange(100), base)
    q = rng.normal(size=64).astype(np.float32)
    ids, scores = index.search(q, limit=5, params={"exact": True})
    assert np.allclose(scores, base[ids] @ q, atol=1e-4)
