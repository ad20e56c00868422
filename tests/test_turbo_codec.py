"""TurboQuant codes (cpp/codec/turbo_set.cpp) against a float64 numpy reference: the rotation,
the codes, decode and every score, on hard data (clustered, low intrinsic dimension, raw
unnormalised rows), at every ISA level; and the turbo4 datatype's fixed point."""

from __future__ import annotations

import numpy as np
import pytest

from vqdb import _core

BITS = ["bits1", "bits1_5", "bits2", "bits4"]
PLANES = {"bits1": 1, "bits1_5": 2, "bits2": 2, "bits4": 4}
ROUNDS = 3  # kRotationRounds


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Tight clusters far from the origin, with very different scales per dimension."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, dim)) * 3 + 5
    x = centres[rng.integers(0, 8, n)] + 0.3 * rng.standard_normal((n, dim))
    return (x * rng.uniform(0.1, 4.0, dim)).astype(np.float32)


def low_rank(n: int, dim: int, seed: int = 1) -> np.ndarray:
    """Rows on a 6-dimensional subspace, plus a little noise."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((6, dim))
    x = rng.standard_normal((n, 6)) @ basis + 0.01 * rng.standard_normal((n, dim))
    return x.astype(np.float32)


def raw(n: int, dim: int, seed: int = 2) -> np.ndarray:
    """Unnormalised rows whose norms span two orders of magnitude."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)) * np.exp(rng.uniform(-2, 2, (n, 1)))
    return x.astype(np.float32)


DATA = {"clustered": clustered, "low_rank": low_rank, "raw": raw}


def rotation(signs: np.ndarray, dim: int) -> np.ndarray:
    """The rotation as a float64 matrix: per round, signs, then Hadamard blocks over the
    largest power of two P <= dim, on the first P coordinates and then the last P."""
    p = 1 << (dim.bit_length() - 1)
    h = np.array([[1.0]])
    while h.shape[0] < p:
        h = np.block([[h, h], [h, -h]])
    h /= np.sqrt(p)
    r = np.eye(dim)
    for k in range(ROUNDS):
        first, last = np.eye(dim), np.eye(dim)
        first[:p, :p] = h
        last[dim - p :, dim - p :] = h
        step = np.diag(signs[k * dim : (k + 1) * dim].astype(np.float64))
        r = (last @ first if p < dim else first) @ step @ r
    return r


def covers(bits: str, dim: int) -> list[int]:
    return {
        "bits1": [dim],
        "bits1_5": [dim, (dim + 1) // 2],
        "bits2": [dim, dim],
        "bits4": [dim] * 4,
    }[bits]


def code_bytes(bits: str, dim: int) -> int:
    """Bytes before the two floats: bit planes, or bits4's nibbles in as many bytes as 4 planes."""
    return sum((c + 63) // 64 for c in covers(bits, dim)) * 8


def unpack(codes: np.ndarray, bits: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid indexes k (n, dim) and the per-code floats (f, e) from the codes' bit planes, or
    bits4's nibbles (k_2i in the low nibble of byte i, k_2i+1 in the high one)."""
    size = code_bytes(bits, dim)
    side = np.ascontiguousarray(codes[:, size : size + 8]).view(np.float32).astype(np.float64)
    if bits == "bits4":
        k = np.stack([codes[:, :size] & 15, codes[:, :size] >> 4], axis=2).reshape(len(codes), -1)
        assert (k[:, dim:] == 0).all()  # the padding
        return k[:, :dim].astype(np.int64), side
    k = np.zeros((codes.shape[0], dim), np.int64)
    offset = 0
    for p, cover in enumerate(covers(bits, dim)):
        words = (cover + 63) // 64
        planes = codes[:, offset * 8 : (offset + words) * 8]
        k[:, :cover] |= (
            np.unpackbits(planes, axis=1, bitorder="little")[:, :cover].astype(np.int64) << p
        )
        offset += words
    return k, side


def prepared(x: np.ndarray, metric: str) -> np.ndarray:
    x = x.astype(np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x


def built(bits: str, metric: str, x: np.ndarray) -> _core.VectorSet:
    s = _core.VectorSet.turbo(x.shape[1], metric, bits)
    s.train(x)
    s.add(x)
    return s


def reference_scores(s: _core.VectorSet, bits: str, metric: str, q: np.ndarray) -> np.ndarray:
    """The estimator in float64 from the set's own codes and parameters, with the query
    rounded to signed 8 bits as the scorer rounds it."""
    st = s.state()
    dim = s.dim
    r = rotation(st["signs"], dim)
    k, side = unpack(st["codes"], bits, dim)
    lo, step, mean = (st[n].astype(np.float64) for n in ("lo", "step", "mean"))
    qp = prepared(q[None], metric)[0]
    y = r @ (qp - mean)
    w = y * step
    ws = np.abs(w).max() / 127.0
    w8 = np.round(w / ws) * ws
    estimate = side[:, 0] * (y @ lo + k @ w8)
    if metric == "l2":
        return -(((qp - mean) ** 2).sum() + side[:, 1] - 2 * estimate)
    return qp @ mean + side[:, 1] + estimate


def test_rotation_matches_reference_and_is_orthogonal() -> None:
    for dim in (2, 3, 64, 97, 384):
        s = _core.VectorSet.turbo(dim, "dot", "bits4")
        r = rotation(s.params()["signs"], dim)
        np.testing.assert_allclose(r @ r.T, np.eye(dim), atol=1e-9)
        if dim >= 64:  # a one-hot row spreads over many coordinates (the blocks overlap)
            assert np.abs(r).max() < 6 / np.sqrt(dim)  # a random rotation: about 4.5


@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("metric", ["dot", "cosine", "l2"])
def test_codes_and_scores_match_float64_reference(data: str, bits: str, metric: str) -> None:
    x = DATA[data](600, 97)
    s = built(bits, metric, x)
    st = s.state()
    dim = x.shape[1]
    r = rotation(st["signs"], dim)
    lo, step, mean = (st[n].astype(np.float64) for n in ("lo", "step", "mean"))
    k, side = unpack(st["codes"], bits, dim)
    # codes: the float64 rounding of the unit rotated residuals, except within float32 noise
    # of a cell boundary
    xc = prepared(x, metric) - mean
    norm = np.linalg.norm(xc, axis=1, keepdims=True)
    u = (xc @ r.T) / norm
    levels = np.array([1 << sum(j < c for c in covers(bits, dim)) for j in range(dim)])
    t = (u - lo) / step
    expected = np.clip(np.floor(t + 0.5), 0, levels - 1)
    boundary = np.abs(t + 0.5 - np.round(t + 0.5)) < 1e-4
    if bits == "bits4":
        # refined from the rounding: one level at a time, only where that narrows the angle
        # between the code and the vector (the estimator's error)
        def cosine(levels: np.ndarray) -> np.ndarray:
            c = lo + step * levels
            return (c * u).sum(1) / np.linalg.norm(c, axis=1)

        assert (np.abs(k - expected) <= 3).all()  # kRefinePasses
        assert (cosine(k) >= cosine(expected) - 1e-6).all()
        assert cosine(k).mean() > cosine(expected).mean()
    else:
        assert ((k == expected) | boundary).all()
    # per-code floats: f = |x_c| / <c^, u>, e = |x_c|^2 (L2) or <mean, x_c>
    chat = lo + step * k
    np.testing.assert_allclose(side[:, 0], norm[:, 0] / (chat * u).sum(1), rtol=1e-4)
    e = norm[:, 0] ** 2 if metric == "l2" else xc @ mean
    np.testing.assert_allclose(side[:, 1], e, rtol=1e-4, atol=1e-4 * np.abs(e).max())
    # scores, for a stored row and an unseen query
    ids = np.arange(len(x), dtype=np.uint32)
    for q in (x[3], DATA[data](1, 97, seed=9)[0]):
        got = s.score(q, ids)
        ref = reference_scores(s, bits, metric, q)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("bits", BITS)
def test_scores_identical_on_every_isa(bits: str, simd_level: str) -> None:
    x = clustered(300, 130)
    s = built(bits, "cosine", x)
    got = s.score(x[7], np.arange(300, dtype=np.uint32))
    _core.set_simd_level("serial")
    try:
        expected = s.score(x[7], np.arange(300, dtype=np.uint32))
    finally:
        _core.set_simd_level(simd_level)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bits", BITS)
def test_estimates_are_unbiased_and_improve_with_bits(bits: str) -> None:
    """The RaBitQ correction keeps dot estimates centred on the truth; more bits, less error."""
    x = raw(2000, 128)
    q = raw(20, 128, seed=5)
    s = built(bits, "dot", x)
    ids = np.arange(len(x), dtype=np.uint32)
    norms = np.linalg.norm(x.astype(np.float64), axis=1)
    # errors in units of |x| |q| / sqrt(dim), the size of one-bit RaBitQ's error
    errors = np.concatenate(
        [(s.score(v, ids) - x.astype(np.float64) @ v) / (norms * np.linalg.norm(v)) for v in q]
    ) * np.sqrt(128)
    assert abs(errors.mean()) < 0.1
    limit = {"bits1": 0.7, "bits1_5": 0.55, "bits2": 0.35, "bits4": 0.1}[
        bits
    ]  # measured: .61 .46 .29 .085
    assert np.abs(errors).mean() < limit


def test_one_bit_ranks_better_than_sign_bits() -> None:
    """Rows sharing a common direction, with unequal spreads per dimension (as text
    embeddings do): centred, rotated and corrected, one bit a dimension finds far more true
    neighbours than the sign bits of the rows (binary one_bit, even with 8-bit queries).
    (Tight clusters defeat both: one global centre cannot resolve neighbours within one.)"""
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((3040, 96)) * rng.uniform(0.2, 2, 96) + rng.standard_normal(96) * 1.5
    rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    x, queries = rows[:3000], rows[3000:]
    turbo = built("bits1", "cosine", x)
    binary = _core.VectorSet.binary(96, "cosine", "one_bit", "scalar8bits")
    binary.add(x)
    ids = np.arange(len(x), dtype=np.uint32)

    def recall(s: _core.VectorSet) -> float:
        hits = 0
        for q in queries:
            truth = set(np.argsort(-(x @ q))[:10])
            hits += len(truth & set(np.argsort(-s.score(q, ids))[:40]))
        return hits / (10 * len(queries))

    assert recall(turbo) > recall(binary) + 0.2  # measured: 0.74 against 0.39


@pytest.mark.parametrize("metric", ["dot", "cosine", "l2", "l1"])
def test_turbo4_datatype_is_a_fixed_point(metric: str) -> None:
    x = raw(200, 77)
    s = _core.VectorSet.turbo4(77, metric)
    assert s.trained
    codes = s.encode(x)
    decoded = s.decode(codes)
    recoded = s.encode(decoded)
    size = code_bytes("bits4", 77)
    np.testing.assert_array_equal(recoded[:, :size], codes[:, :size])  # the same grid cells
    # and the same scale, but for float32 rounding in the rotation
    scale = np.abs(decoded).max(axis=1, keepdims=True)
    assert (np.abs(s.decode(recoded) - decoded) < 1e-5 * scale).all()
    if metric != "cosine":
        cos = (decoded * x).sum(1) / np.linalg.norm(decoded, axis=1) / np.linalg.norm(x, axis=1)
        assert cos.min() > 0.98
    zero = s.decode(s.encode(np.zeros((1, 77), np.float32)))
    np.testing.assert_array_equal(zero, 0.0)


@pytest.mark.parametrize("metric", ["dot", "l2", "l1"])
def test_turbo4_scores_are_the_decoded_vectors(metric: str) -> None:
    x = clustered(300, 64)
    s = _core.VectorSet.turbo4(64, metric)
    s.add(x)
    decoded = s.decode(s.encode(x)).astype(np.float64)
    q = x[11].astype(np.float64)
    expected = {
        "dot": decoded @ q,
        "l2": -((decoded - q) ** 2).sum(1),
        "l1": -np.abs(decoded - q).sum(1),
    }[metric]
    got = s.score(x[11], np.arange(300, dtype=np.uint32))
    # the query is rounded to 8 bits against the codes' grid: a small fraction of the spread
    np.testing.assert_allclose(got, expected, atol=0.01 * np.abs(expected).max())


@pytest.mark.parametrize("metric", ["dot", "cosine", "l2"])
def test_turbo4_pair_scores_are_the_decoded_rows(metric: str, simd_level: str) -> None:
    x = raw(200, 77)
    s = _core.VectorSet.turbo4(77, metric)
    s.add(x)
    d = s.decode(s.encode(x)).astype(np.float64)
    got = np.array([s.score_pair(3, j) for j in range(200)])
    expected = -((d - d[3]) ** 2).sum(1) if metric == "l2" else d @ d[3]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("bits", BITS)
def test_pair_scores_track_the_decoded_rows(bits: str, simd_level: str) -> None:
    """Graph builds compare stored codes with one mean step and centre per segment of
    coordinates: close to the per-coordinate grids' f_a f_b <c^_a, c^_b> plus the mean terms."""
    s = built(bits, "cosine", clustered(500, 97))
    st = s.state()
    k, side = unpack(st["codes"], bits, 97)
    rotated = (st["lo"].astype(np.float64) + st["step"] * k) * side[:, :1]
    mean = st["mean"].astype(np.float64)
    expected = rotated @ rotated[3] + mean @ mean + side[:, 1] + side[3, 1]
    got = np.array([s.score_pair(3, j) for j in range(500)])
    assert np.corrcoef(got, expected)[0, 1] > 0.99  # measured 0.992-0.999
    assert np.abs(got - expected).max() < 0.8 * expected.std()


def test_state_round_trip_gives_identical_scores() -> None:
    x = low_rank(500, 50)
    s = built("bits1_5", "cosine", x)
    t = _core.VectorSet.turbo(50, "cosine", "bits1_5")
    t.load_state(s.state())
    ids = np.arange(500, dtype=np.uint32)
    np.testing.assert_array_equal(t.score(x[1], ids), s.score(x[1], ids))


@pytest.mark.parametrize("fixed", [False, True])
def test_bit_plane_codes_of_older_versions_are_refused(fixed: bool) -> None:
    """bits4 codes were bit planes of the same size: without the nibbles mark a state is
    refused, not read as other vectors."""
    x = low_rank(100, 50)

    def fresh() -> _core.VectorSet:
        return _core.VectorSet.turbo4(50, "dot") if fixed else _core.VectorSet.turbo(50, "dot")

    s = fresh()
    s.train(x)
    s.add(x)
    old = {k: v for k, v in s.state().items() if k != "nibbles"}
    t = fresh()
    with pytest.raises(ValueError, match="older vqdb"):
        t.load_state(old)
    t.load_state(s.state())
    ids = np.arange(100, dtype=np.uint32)
    np.testing.assert_array_equal(t.score(x[1], ids), s.score(x[1], ids))


def test_refusals() -> None:
    with pytest.raises(ValueError, match="unknown turbo bits"):
        _core.VectorSet.turbo(8, "dot", "bits3")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        _core.VectorSet.turbo(1, "dot", "bits1")
    with pytest.raises(ValueError, match="finite"):
        _core.VectorSet.turbo(4, "dot", "bits1").train(np.full((3, 4), np.nan, np.float32))
