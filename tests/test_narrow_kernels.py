"""The float16 and uint8 originals' kernels (a float32 query against narrower stored rows) and
their conversions, at every SIMD level this CPU has, against numpy float64 references."""

from __future__ import annotations

import numpy as np
import pytest

from vqdb import _core

DIMS = [1, 3, 17, 97, 1023, 1536]


def tolerance(magnitude: np.ndarray, dim: int) -> np.ndarray:
    return 1e-5 + 2e-6 * dim * magnitude  # as tests/test_kernels.py bounds float32 sums


def queries(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    q = rng.standard_normal((n, dim)).astype(np.float32)
    q[0] = 0.0
    q[1] *= 100.0
    return q


def halves(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """float16 rows: normal values, zeros, large values, subnormals."""
    x = rng.standard_normal((n, dim)).astype(np.float16)
    x[1] = 0.0
    x[2] = np.clip(rng.standard_normal(dim) * 3e4, -65504, 65504).astype(np.float16)
    x[3] = (rng.standard_normal(dim) * 1e-6).astype(np.float16)  # subnormal halves
    x[4, ::2] = np.float16(65504.0)
    return x


def check(got: np.ndarray, reference: np.ndarray, magnitude: np.ndarray, dim: int) -> None:
    assert got.dtype == np.float32 and got.shape == reference.shape
    np.testing.assert_array_less(np.abs(got - reference), tolerance(magnitude, dim))


@pytest.mark.parametrize("dim", DIMS)
def test_float16_kernels(simd_level: str, dim: int) -> None:
    rng = np.random.default_rng(dim)
    q, x = queries(rng, 8, dim), halves(rng, 8, dim)
    q64, x64 = q.astype(np.float64), x.astype(np.float64)
    bits = x.view(np.uint16)
    check(_core.dot_f16(q, bits), (q64 * x64).sum(1), np.abs(q64 * x64).sum(1), dim)
    check(
        _core.l2_f16(q, bits),
        ((q64 - x64) ** 2).sum(1),
        ((np.abs(q64) + np.abs(x64)) ** 2).sum(1),
        dim,
    )
    check(_core.l1_f16(q, bits), np.abs(q64 - x64).sum(1), (np.abs(q64) + np.abs(x64)).sum(1), dim)


@pytest.mark.parametrize("dim", DIMS)
def test_uint8_kernels(simd_level: str, dim: int) -> None:
    rng = np.random.default_rng(dim)
    q = queries(rng, 8, dim)
    x = rng.integers(0, 256, (8, dim), dtype=np.uint8)
    x[2], x[3] = 0, 255  # all zero, all at the maximum
    q64, x64 = q.astype(np.float64), x.astype(np.float64)
    check(_core.dot_u8f32(q, x), (q64 * x64).sum(1), np.abs(q64 * x64).sum(1), dim)
    check(
        _core.l2_u8f32(q, x),
        ((q64 - x64) ** 2).sum(1),
        ((np.abs(q64) + x64) ** 2).sum(1),
        dim,
    )
    check(_core.l1_u8f32(q, x), np.abs(q64 - x64).sum(1), (np.abs(q64) + x64).sum(1), dim)
    norms = np.sqrt((x64**2).sum(1))
    cos = np.divide((q64 * x64).sum(1), norms, out=np.zeros(8), where=norms > 0)
    magnitude = np.divide(np.abs(q64 * x64).sum(1), norms, out=np.zeros(8), where=norms > 0)
    got = _core.cos_u8f32(q, x)
    check(got, cos, magnitude, dim)
    assert got[2] == 0.0  # a zero row scores 0, as in Qdrant


def test_integer_queries_on_uint8_are_exact(simd_level: str) -> None:
    # integer products and their sums stay exact in float32 while below 2^24
    rng = np.random.default_rng(7)
    q = rng.integers(0, 256, (4, 97)).astype(np.float32)
    x = rng.integers(0, 256, (4, 97), dtype=np.uint8)
    reference = (q.astype(np.int64) * x.astype(np.int64)).sum(1)
    np.testing.assert_array_equal(_core.dot_u8f32(q, x), reference.astype(np.float32))


def test_kernels_reject_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        _core.dot_f16(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.uint16))
    with pytest.raises(ValueError, match="same shape"):
        _core.dot_u8f32(np.zeros((2, 3), np.float32), np.zeros((1, 3), np.uint8))


def test_float16_conversion_is_numpys() -> None:
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    finite = every[np.isfinite(every.view(np.float16))]
    s = _core.VectorSet.float16(int(finite.shape[0]), "dot")
    # decoding: every finite bit pattern (normals, subnormals, both zeros)
    decoded = s.decode(finite.view(np.uint8).reshape(1, -1))[0]
    np.testing.assert_array_equal(decoded, finite.view(np.float16).astype(np.float32))
    # encoding: rounds to nearest, ties to even, subnormals included
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.standard_normal(20_000) * 10.0 ** rng.integers(-9, 5, 20_000),
            # exact ties between neighbouring halves, and neighbours of them
            (finite.view(np.float16).astype(np.float64)[:-1] + np.diff(decoded) / 2)[::7],
            [0.0, -0.0, 65504.0, -65504.0, 65519.0, 6e-8, 3e-8, 2.9e-8, 1e-9],
        ]
    ).astype(np.float32)
    x = x[np.abs(x) < 65504.0]
    s = _core.VectorSet.float16(int(x.shape[0]), "dot")
    got = s.encode(x.reshape(1, -1)).view(np.uint16)[0]
    np.testing.assert_array_equal(got, x.astype(np.float16).view(np.uint16))


def test_float16_saturates_instead_of_overflowing() -> None:
    s = _core.VectorSet.float16(4, "dot")
    got = s.decode(s.encode(np.array([[7e4, -1e30, 65519.0, 65520.0]], np.float32)))
    np.testing.assert_array_equal(got, [[65504.0, -65504.0, 65504.0, 65504.0]])


def test_uint8_conversion_truncates_and_saturates() -> None:
    # Qdrant stores `x as u8`: toward zero, then clamped to 0..255 (its test: 256.19 -> 255)
    x = np.array([[256.19, 1.81, 2.75, 3.11, -0.5, -7.0, 254.99, 255.0, 1e9, 0.0]], np.float32)
    s = _core.VectorSet.uint8(x.shape[1], "dot")
    codes = s.encode(x)
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes[0], [255, 1, 2, 3, 0, 0, 254, 255, 255, 0])
    np.testing.assert_array_equal(s.decode(codes), codes.astype(np.float32))


@pytest.mark.parametrize("dim", [24, 768])
def test_float16_cosine_rows_are_stable_when_added_again(dim: int) -> None:
    # the optimizer re-adds decoded rows: normalising them again must not move a bit
    x = np.random.default_rng(dim).standard_normal((3000, dim)).astype(np.float32)
    first = _core.VectorSet.float16(dim, "cosine")
    first.add(x)
    again = _core.VectorSet.float16(dim, "cosine")
    again.add(first.decode(first.codes_view))
    np.testing.assert_array_equal(again.codes_view, first.codes_view)
    norms = np.linalg.norm(first.decode(first.codes_view).astype(np.float64), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-3)
