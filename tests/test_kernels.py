"""Every kernel at every SIMD level this CPU has, against a numpy float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

from vqdb import _core

DIMS = [1, 3, 17, 97, 1023, 1536]


def floats(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Normal values with rows of zeros and rows of large values mixed in."""
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x[0] = 0.0
    x[1] *= 1e3
    x[2, ::2] = 0.0
    return x


def tolerance(reference: np.ndarray, magnitude: np.ndarray, dim: int) -> np.ndarray:
    # float32 accumulation error grows with sqrt(dim) in practice; bound it generously by dim.
    return 1e-5 + 2e-6 * dim * magnitude


@pytest.mark.parametrize("dim", DIMS)
def test_float_kernels(simd_level: str, dim: int) -> None:
    rng = np.random.default_rng(dim)
    a, b = floats(rng, 8, dim), floats(rng, 8, dim)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cases = {
        _core.dot_f32: ((a64 * b64).sum(1), (np.abs(a64) * np.abs(b64)).sum(1)),
        _core.l2_f32: (((a64 - b64) ** 2).sum(1), ((np.abs(a64) + np.abs(b64)) ** 2).sum(1)),
        _core.l1_f32: (np.abs(a64 - b64).sum(1), (np.abs(a64) + np.abs(b64)).sum(1)),
    }
    four = {
        _core.dot4_f32: (
            _core.dot4_f32(a[0], b),
            (a64[0] * b64).sum(1),
            np.abs(a64[0] * b64).sum(1),
        ),
        _core.l24_f32: (
            _core.l24_f32(a[0], b),
            ((a64[0] - b64) ** 2).sum(1),
            ((np.abs(a64[0]) + np.abs(b64)) ** 2).sum(1),
        ),
    }
    for got, reference, magnitude in four.values():
        np.testing.assert_array_less(np.abs(got - reference), tolerance(reference, magnitude, dim))
    for kernel, (reference, magnitude) in cases.items():
        got = kernel(a, b)
        assert got.dtype == np.float32 and got.shape == (8,)
        np.testing.assert_array_less(np.abs(got - reference), tolerance(reference, magnitude, dim))


@pytest.mark.parametrize("dim", DIMS)
def test_u8_kernels_are_exact(simd_level: str, dim: int) -> None:
    rng = np.random.default_rng(dim)
    a = rng.integers(0, 128, (8, dim), dtype=np.uint8)
    b = rng.integers(0, 128, (8, dim), dtype=np.uint8)
    a[0], b[1] = 0, 127  # extremes: all zero, all at the 7-bit maximum
    a[2] = 127
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    np.testing.assert_array_equal(_core.dot_u8(a, b), (a64 * b64).sum(1))
    np.testing.assert_array_equal(_core.dot4_u8(a[2], b), (a64[2] * b64).sum(1))
    q = rng.integers(-127, 128, dim, dtype=np.int8)
    q[: dim // 2 + 1] = -127  # the most negative query bytes against the largest codes
    np.testing.assert_array_equal(_core.dot4_s8u8(q, b), (q.astype(np.int64) * b64).sum(1))
    np.testing.assert_array_equal(_core.dot4_s8u8(q, a[:3]), (q.astype(np.int64) * a64[:3]).sum(1))
    np.testing.assert_array_equal(_core.dot_s8u8(q, b), (q.astype(np.int64) * b64).sum(1))
    np.testing.assert_array_equal(_core.l2_u8(a, b), ((a64 - b64) ** 2).sum(1))
    np.testing.assert_array_equal(_core.l1_u8(a, b), np.abs(a64 - b64).sum(1))


def popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8), axis=-1).sum(-1)


@pytest.mark.parametrize("dim", DIMS)
def test_binary_kernels(simd_level: str, dim: int) -> None:
    words = (dim + 63) // 64
    rng = np.random.default_rng(dim)
    a = rng.integers(0, 2**63, (8, words), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, (8, words), dtype=np.uint64)
    a[0] = 0
    b[1] = np.uint64(2**64 - 1)
    np.testing.assert_array_equal(_core.hamming_b1(a, b), popcount(a ^ b))
    np.testing.assert_array_equal(_core.hamming_b1_rows(a[3], b), popcount(a[3] ^ b))
    for n_planes in (1, 4, 8):
        planes = rng.integers(0, 2**63, (n_planes, words), dtype=np.uint64)
        expected = sum(popcount(planes[p] & b).astype(np.int64) << p for p in range(n_planes))
        np.testing.assert_array_equal(_core.andpop_b1(planes, b), expected)


@pytest.mark.parametrize("dim", DIMS)
def test_turbo_planes(simd_level: str, dim: int) -> None:
    """sum_j q_j k_j for a signed 8-bit query in bit planes against 1..4-bit codes, exactly."""
    words = (dim + 63) // 64
    rng = np.random.default_rng(dim)
    q = rng.integers(-128, 128, dim)
    q[: min(2, dim)] = [-128, 127][: min(2, dim)]  # the extremes
    bits = np.zeros((8, words * 64), np.uint8)
    bits[:, :dim] = (q.astype(np.uint8)[None, :] >> np.arange(8)[:, None]) & 1
    query = np.packbits(bits, axis=1, bitorder="little").view(np.uint64).reshape(8, words)
    for n_planes in (1, 2, 4):
        k = rng.integers(0, 1 << n_planes, (9, dim))
        k[0] = (1 << n_planes) - 1
        kb = np.zeros((9, n_planes, words * 64), np.uint8)
        kb[:, :, :dim] = (k[:, None, :] >> np.arange(n_planes)[None, :, None]) & 1
        x = np.packbits(kb, axis=2, bitorder="little").view(np.uint64).reshape(9, n_planes * words)
        np.testing.assert_array_equal(_core.turbo_planes(query, x, n_planes), k @ q)
    # bits1_5: plane 1 covers the first half only, cut to its own words (zeros past the half)
    cover = (dim + 1) // 2
    words1 = (cover + 63) // 64
    k = rng.integers(0, 2, (9, dim))
    k[:, :cover] = rng.integers(0, 4, (9, cover))
    bits = np.zeros((9, words + words1, 64), np.uint8)
    bits.reshape(9, -1)[:, :dim] = k & 1
    bits[:, words:].reshape(9, -1)[:, :cover] = k[:, :cover] >> 1
    x = np.packbits(bits.reshape(9, -1), axis=1, bitorder="little").view(np.uint64)
    np.testing.assert_array_equal(_core.turbo_planes(query, x, 2, words1), k @ q)


@pytest.mark.parametrize("dim", DIMS)
def test_turbo_pair(simd_level: str, dim: int) -> None:
    """sum k_a k_b, sum k_a and sum k_b of two codes' bit planes."""
    words = (dim + 63) // 64
    rng = np.random.default_rng(dim)
    for n_planes in (1, 2, 4):
        k = rng.integers(0, 1 << n_planes, (2, dim))
        kb = np.zeros((2, n_planes, words * 64), np.uint8)
        kb[:, :, :dim] = (k[:, None, :] >> np.arange(n_planes)[None, :, None]) & 1
        x = np.packbits(kb, axis=2, bitorder="little").view(np.uint64).reshape(2, -1)
        got = _core.turbo_pair(x[0], x[1], n_planes)
        np.testing.assert_array_equal(got, [k[0] @ k[1], k[0].sum(), k[1].sum()])


@pytest.mark.parametrize("dim", [d for d in DIMS if d >= 2])
def test_turbo_pair15(simd_level: str, dim: int) -> None:
    """bits1_5 codes: 4 levels on the first (dim + 1) // 2 coordinates, 2 on the rest."""
    words, cover = (dim + 63) // 64, (dim + 1) // 2
    words1 = (cover + 63) // 64
    rng = np.random.default_rng(dim)
    k = rng.integers(0, 2, (2, dim))
    k[:, :cover] = rng.integers(0, 4, (2, cover))
    k[0, : min(3, cover)] = 3
    bits = np.zeros((2, words + words1, 64), np.uint8)
    bits.reshape(2, -1)[:, :dim] = k & 1
    bits[:, words:].reshape(2, -1)[:, :cover] = k[:, :cover] >> 1
    x = np.packbits(bits.reshape(2, -1), axis=1, bitorder="little").view(np.uint64)
    mb = np.zeros(words1 * 64, np.uint8)
    mb[:cover] = 1
    mask1 = np.packbits(mb, bitorder="little").view(np.uint64)
    a, b = k[0], k[1]
    head, tail = slice(0, cover), slice(cover, dim)
    expected = [a[head] @ b[head], a[head].sum() + b[head].sum()]
    expected += [a[tail] @ b[tail], a[tail].sum() + b[tail].sum()]
    np.testing.assert_array_equal(_core.turbo_pair15(x[0], x[1], mask1), expected)


def nibbles(k: np.ndarray) -> np.ndarray:
    """4-bit codes (n, dim) as bytes: k_2i in the low nibble of byte i, k_2i+1 in the high."""
    k = np.pad(k, ((0, 0), (0, k.shape[1] % 2)))
    return (k[:, 0::2] | k[:, 1::2] << 4).astype(np.uint8)


@pytest.mark.parametrize("dim", DIMS)
def test_turbo_nibbles(simd_level: str, dim: int) -> None:
    """sum_j q_j k_j for a signed 8-bit query against nibble codes, exactly."""
    rng = np.random.default_rng(dim)
    q = rng.integers(-128, 128, dim)
    q[: min(2, dim)] = [-128, 127][: min(2, dim)]  # the extremes
    k = rng.integers(0, 16, (9, dim))
    k[0] = 15
    x = nibbles(k)
    qp = np.pad(q, (0, dim % 2))
    query = np.concatenate([qp[0::2], qp[1::2]]).astype(np.int8)
    np.testing.assert_array_equal(_core.turbo_nibbles(query, x), k @ q)


@pytest.mark.parametrize("dim", DIMS)
def test_turbo_nibble_pair(simd_level: str, dim: int) -> None:
    rng = np.random.default_rng(dim)
    k = rng.integers(0, 16, (2, dim))
    k[0, : min(5, dim)] = 15
    x = nibbles(k)
    got = _core.turbo_nibble_pair(x[0], x[1])
    np.testing.assert_array_equal(got, [k[0] @ k[1], k[0].sum(), k[1].sum()])


@pytest.mark.parametrize("n_sub", [1, 3, 17, 97, 384])
def test_pq_adc(simd_level: str, n_sub: int) -> None:
    rng = np.random.default_rng(n_sub)
    table = rng.integers(0, 256, (n_sub, 256), dtype=np.uint8)
    table[:, 255] = 255  # the largest sums: no overflow at any width
    codes = rng.integers(0, 256, (16, n_sub), dtype=np.uint8)
    codes[0] = 255
    expected = table.astype(np.int64)[np.arange(n_sub), codes].sum(1)
    np.testing.assert_array_equal(_core.adc_pq_u8(table, codes), expected)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 8, 16])
def test_pq_assign_matches_reference_and_every_isa(simd_level: str, width: int) -> None:
    rng = np.random.default_rng(width)
    x = rng.standard_normal((300, width)).astype(np.float32)
    centroids = rng.standard_normal((width, 256)).astype(np.float32)
    centroids[:, 7] = centroids[:, 3]  # a tie: the lower index must win
    x[0] = centroids[:, 3]
    codes, dists = _core.pq_assign(x, centroids)
    d64 = ((x.astype(np.float64)[:, :, None] - centroids[None]) ** 2).sum(1)
    np.testing.assert_allclose(dists, d64.min(1), rtol=1e-5, atol=1e-5)
    assert codes[0] == 3
    # Codes are bit-identical to the serial kernel's, whatever the ISA.
    _core.set_simd_level("serial")
    serial_codes, serial_dists = _core.pq_assign(x, centroids)
    np.testing.assert_array_equal(codes, serial_codes)
    np.testing.assert_array_equal(dists, serial_dists)


def test_simd_levels() -> None:
    assert _core.simd_level() in ("serial", "avx2", "avx512")
    with pytest.raises(ValueError, match="unknown SIMD level"):
        _core.set_simd_level("sse9")
    if _core.max_simd_level() != "avx512":
        with pytest.raises(ValueError, match="not supported"):
            _core.set_simd_level("avx512")


def test_kernels_reject_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        _core.dot_f32(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32))
