"""The long checks (python -m pytest -m slow): every query of every text set, and a large PQ."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import load_dataset, recall_at_10

import vqdb

pytestmark = pytest.mark.slow

MODES = [
    ({"scalar": {"type": "int8", "quantile": 0.99}}, 2.0, 0.99),
    ({"binary": {"encoding": "two_bits"}}, 4.0, 0.97),
    ({"binary": {"encoding": "one_bit", "query_encoding": "scalar8bits"}}, 4.0, 0.97),
    ({"product": {"compression": "x32"}}, 4.0, 0.95),
]


@pytest.mark.parametrize("name", ["wordnet-mpnet-768", "python-docs-minilm-384"])
@pytest.mark.parametrize(("quantization", "oversampling", "floor"), MODES)
def test_all_queries(name, quantization, oversampling, floor) -> None:
    base, queries, gt, _ = load_dataset(name)
    index = vqdb.Index(base.shape[1], "Cosine", quantization=quantization)
    index.add(np.arange(len(base)), base)
    params = {"hnsw_ef": 128, "quantization": {"rescore": True, "oversampling": oversampling}}
    ids, _ = index.search(queries, 10, params)
    assert recall_at_10(ids, gt) >= floor


def test_product_x16_on_100k_vectors() -> None:
    """Training and encoding 100k x 768 (the PQ build target's size) gives usable codes."""
    base, queries, gt, _ = load_dataset("wordnet-mpnet-768")
    rng = np.random.default_rng(0)
    big = np.concatenate([base] * 5)[:100_000] + rng.normal(0, 0.01, (100_000, 768)).astype(
        np.float32
    )
    index = vqdb.Index(768, "Cosine", quantization={"product": {"compression": "x16"}}, hnsw=None)
    index.add(np.arange(len(big)), big)
    assert len(index) == 100_000 and index.code_bytes == 192
    ids, _ = index.search(big[:50], 1, {"quantization": {"rescore": True, "oversampling": 8}})
    np.testing.assert_array_equal(ids[:, 0], np.arange(50))
