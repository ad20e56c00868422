"""Quantizers: error bounds, encode(decode(encode(x))) == encode(x), identical codes on every
ISA, and scorers that agree with the decoded vectors."""

from __future__ import annotations

import numpy as np
import pytest

from vqdb import _core

DIM = 97


def sample(n: int = 2000, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, dim)) * rng.uniform(0.5, 2.0, dim)).astype(np.float32)


def make(kind: str, metric: str = "dot", dim: int = DIM) -> _core.VectorSet:
    if kind == "scalar":
        return _core.VectorSet.scalar(dim, metric, 0.99)
    if kind.startswith("binary"):
        return _core.VectorSet.binary(dim, metric, kind.split(":")[1], "binary")
    if kind.startswith("product"):
        return _core.VectorSet.product(dim, metric, int(kind.split(":")[1]), iterations=6)
    return _core.VectorSet.float32(dim, metric)


CODECS = [
    "float32",
    "scalar",
    "binary:one_bit",
    "binary:one_and_half_bits",
    "binary:two_bits",
    "product:1",
    "product:2",
    "product:4",
    "product:8",
    "product:16",
]


def trained(kind: str, x: np.ndarray, metric: str = "dot") -> _core.VectorSet:
    s = make(kind, metric, x.shape[1])
    s.train(x)
    return s


@pytest.mark.parametrize("kind", CODECS)
def test_round_trip_is_stable(kind: str) -> None:
    x = sample()
    s = trained(kind, x)
    codes = s.encode(x)
    assert codes.shape == (len(x), s.code_bytes)
    np.testing.assert_array_equal(s.encode(s.decode(codes)), codes)


@pytest.mark.parametrize("kind", CODECS)
def test_codes_identical_across_isas(kind: str, simd_level: str) -> None:
    x = sample()
    _core.set_simd_level("serial")
    s = trained(kind, x)
    reference = s.encode(x)
    _core.set_simd_level(simd_level)
    np.testing.assert_array_equal(s.encode(x), reference)


def test_scalar_error_bound() -> None:
    x = sample()
    s = trained("scalar", x)
    lo, alpha = s.state()["bounds"]
    inside = (x >= lo) & (x <= lo + 127 * alpha)
    err = np.abs(s.decode(s.encode(x)) - x)
    assert err[inside].max() <= alpha / 2 * (1 + 1e-4)
    # Qdrant's rule trims n_rows * (1 - q) / 2 values at each end of the rows' values: only the
    # rarest outliers fall outside.
    assert 0.9999 < inside.mean() < 1.0


@pytest.mark.parametrize("sub_dim", [1, 2, 4, 8, 16])
def test_product_error_shrinks_with_smaller_subvectors(sub_dim: int) -> None:
    x = sample(4000)
    s = trained(f"product:{sub_dim}", x)
    rel = ((s.decode(s.encode(x)) - x) ** 2).sum() / (x**2).sum()
    # 256 centroids per sub-vector: finer sub-vectors reconstruct better.
    assert rel < {1: 0.01, 2: 0.1, 4: 0.3, 8: 0.55, 16: 0.75}[sub_dim]


def test_binary_sign_bits() -> None:
    x = sample()
    s = trained("binary:one_bit", x)
    np.testing.assert_array_equal(np.sign(s.decode(s.encode(x))), np.where(x > 0, 1, -1))


@pytest.mark.parametrize("metric", ["dot", "l2", "l1"])
def test_scalar_scores_match_decoded_vectors(metric: str) -> None:
    """Quantized scores are exact for the decoded vectors: L2 / L1 against the decoded query,
    Dot against the query rounded to its own signed 8-bit scale (asymmetric scoring)."""
    x = sample()
    s = trained("scalar", x, metric)
    s.add(x)
    q = x[5]
    decoded = s.decode(s.encode(x)).astype(np.float64)
    qd = s.decode(s.encode(q[None]))[0].astype(np.float64)
    step = np.abs(q).max() / 127.0
    q8 = np.round(q.astype(np.float64) / step) * step
    expected = {
        "dot": decoded @ q8,
        "l2": -((decoded - qd) ** 2).sum(1),
        "l1": -np.abs(decoded - qd).sum(1),
    }[metric]
    got = s.score(q, np.arange(len(x), dtype=np.uint32))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
    if metric == "dot":  # the query's own scale beats the codes' grid: closer to decoded @ q
        exact = decoded @ q.astype(np.float64)
        assert np.abs(got - exact).mean() < np.abs(decoded @ qd - exact).mean()


@pytest.mark.parametrize("metric", ["dot", "l2", "l1"])
def test_product_scores_match_decoded_vectors(metric: str) -> None:
    """Scores sum a uint8 copy of the query's lookup table: each entry is off by at most half a
    step, so a score by at most n_sub / 2 steps from the decoded vector's exact score."""
    x = sample()
    s = trained("product:4", x, metric)
    s.add(x)
    q = x[3]
    decoded = s.decode(s.encode(x)).astype(np.float64)
    diff = decoded - q.astype(np.float64)
    expected = {
        "dot": decoded @ q,
        "l2": -(diff**2).sum(1),
        "l1": -np.abs(diff).sum(1),
    }[metric]
    centroids = s.params()["centroids"].astype(np.float64)  # (n_sub, 4, 256), zero padded
    n_sub = centroids.shape[0]
    q_sub = np.zeros(n_sub * 4)
    q_sub[:DIM] = q
    q_sub = q_sub.reshape(n_sub, 4, 1)
    table = {
        "dot": (q_sub * centroids).sum(1),
        "l2": -((q_sub - centroids) ** 2).sum(1),
        "l1": -np.abs(q_sub - centroids).sum(1),
    }[metric]
    step = np.ptp(table, axis=1).max() / 255
    bound = n_sub * step / 2 + 1e-4 * np.abs(expected).max()
    got = s.score(q, np.arange(len(x), dtype=np.uint32))
    assert np.abs(got - expected).max() <= bound
    assert np.abs(got - expected).mean() < bound / 4  # rounding errors mostly cancel
    # The plain scan (search(None, ...)) scores through score_range: the very same sums.
    ids, scores = _core.search(None, s, None, q[None], 50, 50, 0, None, 1)
    np.testing.assert_array_equal(scores[0], got[ids[0]])
    assert len(set(ids[0]) & set(np.argsort(-expected)[:50])) >= 45


def test_binary_symmetric_score_is_negative_hamming() -> None:
    x = sample()
    s = trained("binary:one_bit", x)
    s.add(x)
    bits = x > 0
    expected = -(bits != (x[7] > 0)).sum(1)
    np.testing.assert_array_equal(s.score(x[7], np.arange(len(x), dtype=np.uint32)), expected)


@pytest.mark.parametrize("query_encoding", ["scalar4bits", "scalar8bits"])
def test_binary_asymmetric_score_tracks_dot_with_decoded(query_encoding: str) -> None:
    x = sample()
    s = _core.VectorSet.binary(DIM, "dot", "one_bit", query_encoding)
    s.add(x)
    q = x[11]
    signs = np.where(x > 0, 1.0, -1.0)
    got = s.score(q, np.arange(len(x), dtype=np.uint32))
    # q.sign(x) = 2 q.bits - sum(q): the estimate is an affine map of it up to query rounding.
    corr = np.corrcoef(got, signs @ q)[0, 1]
    assert corr > (0.99 if query_encoding == "scalar8bits" else 0.95)


def test_untrained_quantizer_refuses_vectors() -> None:
    s = make("scalar")
    with pytest.raises(Exception, match="trained"):
        s.add(sample(10))


def test_state_round_trip() -> None:
    x = sample()
    for kind in CODECS:
        s = trained(kind, x)
        s.add(x)
        t = make(kind)
        t.load_state(s.state())
        ids = np.arange(0, len(x), 7, dtype=np.uint32)
        np.testing.assert_array_equal(t.codes(ids), s.codes(ids))
        np.testing.assert_array_equal(t.score(x[0], ids), s.score(x[0], ids))
