"""Random clustered multivectors and exact MaxSim in numpy (float64): the reference."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vqdb.index.multi_vectors import MultiVectors


def clustered(
    n: int, dim: int = 32, rows: tuple[int, int] = (4, 16), seed: int = 0, clusters: int = 64
) -> MultiVectors:
    """n multivectors of 4-16 rows each; rows drawn around shared centres, so that points
    share structure as token embeddings do."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    lengths = rng.integers(rows[0], rows[1] + 1, size=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    # each point draws its rows from a few centres of its own
    home = rng.integers(0, clusters, size=(n, 3))
    pick = home[np.repeat(np.arange(n), lengths), rng.integers(0, 3, size=total)]
    x = centres[pick] + 0.4 * rng.standard_normal((total, dim))
    return MultiVectors(offsets, x.astype(np.float32))


def queries(n: int, dim: int = 32, seed: int = 1) -> list[npt.NDArray[np.float32]]:
    base = clustered(n, dim, rows=(2, 8), seed=seed)
    return [base[i] for i in range(n)]


def sim(a: np.ndarray, b: np.ndarray, distance: str) -> np.ndarray:
    """Pairwise scores of rows, higher is better (as the engine scores them)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    if distance == "Cosine":
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-300)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
    if distance in ("Dot", "Cosine"):
        return a @ b.T
    if distance == "Euclid":
        return -(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return -np.abs(a[:, None, :] - b[None, :, :]).sum(-1)


def maxsim(query: np.ndarray, docs: MultiVectors, distance: str) -> np.ndarray:
    """Engine scores (higher is better) of one query matrix against every doc."""
    return np.array([sim(query, docs[i], distance).max(axis=1).sum() for i in range(len(docs))])


def api_scores(engine: np.ndarray, distance: str) -> np.ndarray:
    """What the API shows: Euclid sqrt(-s), Manhattan -s, the rest as they are."""
    if distance == "Euclid":
        return np.sqrt(-engine)
    if distance == "Manhattan":
        return -engine
    return engine
