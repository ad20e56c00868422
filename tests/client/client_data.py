"""Data and helpers of the client tests: vectors, payloads, exact search, plain ids."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import vqdb

DIM = 16
N = 400


def vectors(n: int = N, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def payloads(n: int = N) -> list[dict[str, Any]]:
    return [{"k": i % 10, "name": f"p{i}"} for i in range(n)]


def cosine_top(
    x: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[list[int], np.ndarray]:
    """Exact Cosine search in float64: (ids = row numbers, scores), best first."""
    unit = x.astype(np.float64) / np.linalg.norm(x, axis=1, keepdims=True)
    scores = unit @ (q.astype(np.float64) / np.linalg.norm(q))
    rows = np.arange(len(x)) if allowed is None else np.flatnonzero(allowed)
    order = rows[np.argsort(-scores[rows], kind="stable")][:k]
    return order.tolist(), scores[order]


def pid(point: Any) -> Any:
    """A point's id as qdrant-client shows it (an int, or a UUID string)."""
    return point.model_dump(mode="json")["id"]


def ids(points: list[Any]) -> list[Any]:
    return [pid(p) for p in points]


def payload(point: Any) -> Any:
    return point.model_dump(mode="json")["payload"]


def vector(point: Any) -> Any:
    return point.model_dump(mode="json")["vector"]


def wait_green(client: vqdb.Client, name: str, timeout: float = 60) -> None:
    """Until the optimizer has built every segment (indexes, quantized copies)."""
    deadline = time.monotonic() + timeout
    while client.get_collection(name).status.value != "green":
        assert time.monotonic() < deadline, "the optimizer did not finish in time"
        time.sleep(0.02)
