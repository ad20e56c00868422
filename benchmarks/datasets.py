"""Helpers shared by the benchmarks: load a dataset folder, score recall, time queries, fill
a qdrant-edge shard.

No real set has 1536 dimensions or 100k+ vectors, so `derived` makes larger ones from real
vectors. A dataset folder (see shared/data/README.md) holds base.npy, queries.npy (float32) and
gt_<metric>.npy: int32 (nq, 100) ids of the exact neighbours, best first.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np


def load(
    folder: str | Path, metric: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Return (base, queries, gt, metric) from a dataset folder.

    metric picks gt_<metric>.npy; None takes the folder's only ground-truth file.
    """
    folder = Path(folder)
    if metric is None:
        gt_files = sorted(folder.glob("gt_*.npy"))
        if len(gt_files) != 1:
            raise ValueError(f"{folder}: expected one gt_*.npy, found {len(gt_files)}; pass metric")
        gt_path = gt_files[0]
        metric = gt_path.stem[len("gt_") :]
    else:
        gt_path = folder / f"gt_{metric}.npy"
    base = np.load(folder / "base.npy").astype(np.float32, copy=False)
    queries = np.load(folder / "queries.npy").astype(np.float32, copy=False)
    return base, queries, np.load(gt_path), metric


def normalize(x: np.ndarray) -> np.ndarray:
    """Unit-normalise rows (float32), for engines that do inner product rather than cosine.

    GloVe is raw, so cosine ground truth only matches inner product after this.
    """
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-30)).astype(np.float32)


def derived(base: np.ndarray, n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n unit vectors of `dim` made from sums of two random real vectors."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(max(1, dim // base.shape[1])):
        a, b = rng.integers(0, base.shape[0], (2, n))
        parts.append(normalize(base[a] + base[b]))
    return normalize(np.concatenate(parts, axis=1)[:, :dim])


def exact_cosine(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(nq, k) ids of each query's exact cosine top k in `base` (float64 scores; ties go to the
    lower id)."""
    b = base.astype(np.float64) / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries.astype(np.float64) / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = q @ b.T
    return np.stack([np.lexsort((np.arange(len(b)), -s))[:k] for s in scores])


def table(rows: list[dict[str, Any]]) -> None:
    """Prints rows (dicts with the same keys) as aligned columns."""
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths)))
    print()


def in_fresh_process(probe: str, *args: str) -> Any:
    """Runs `probe` (Python source) in a new interpreter with `args` as sys.argv[1:] and gives
    back the JSON of its last line: what a store costs a process that opens it, with nothing
    of the writer's left over."""
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the probe failed ({args}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def pad_ids(found: Sequence[Any], k: int) -> np.ndarray:
    """Stack per-query id lists of any length into an int64 (nq, k) array, -1 padded."""
    out = np.full((len(found), k), -1, dtype=np.int64)
    for row, ids in zip(out, found, strict=True):
        ids = np.asarray(ids, dtype=np.int64)[:k]
        row[: len(ids)] = ids
    return out


def recall_at_k(found_ids: Any, gt: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the true top-k found in the first k returned ids.

    found_ids: (nq, >=k) ids, -1 for padding, or a list of per-query id lists.
    Counting from the ground-truth side means padding and duplicates never score.
    """
    found = pad_ids(found_ids, k) if not isinstance(found_ids, np.ndarray) else found_ids
    found = found[:, :k]
    true = gt[: len(found), :k]
    hits = (true[:, :, None] == found[:, None, :]).any(axis=2)
    return float(hits.sum(axis=1).mean() / k)


class Timer:
    """Context manager measuring wall seconds: `with Timer() as t: ...; t.seconds`."""

    def __enter__(self) -> Timer:
        self.seconds = 0.0
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


class Measured(NamedTuple):
    qps: float  # median over the repeats
    cores: float  # process CPU seconds / wall seconds: ~1.0 for a single-threaded search
    results: list[Any]  # fn's return value per query, from the last repeat


def qps(
    fn: Callable[[np.ndarray], Any],
    queries: np.ndarray,
    repeat: int = 3,
    warmup_s: float = 0.2,
    min_seconds: float = 1.0,
) -> Measured:
    """Time fn(query) called once per query, like a service answering one request at a time.

    The machine is noisy, so take the median of at least `repeat` (>= 3) passes, and keep
    adding passes until min_seconds were timed: a 300-query pass at 10k QPS lasts only 30 ms.
    An untimed warm-up of warmup_s seconds first pages in the index and lets the threads that
    built it go idle (OpenMP workers spin on the second core for a while after a build).
    """
    return qps_side_by_side({"": fn}, queries, repeat, warmup_s, min_seconds)[""]


def qps_side_by_side(
    fns: dict[str, Callable[[np.ndarray], Any]],
    queries: np.ndarray,
    repeat: int = 3,
    warmup_s: float = 0.2,
    min_seconds: float = 1.0,
) -> dict[str, Measured]:
    """qps() for several engines at once, their passes taken in turn (A B C A B C ...).

    This machine is shared: its speed drifts by tens of percent over minutes. Timed one after
    the other, two engines can meet different machines; timed in turn, a drift slows both.
    """
    for fn in fns.values():
        start, i = time.perf_counter(), 0
        while time.perf_counter() - start < warmup_s:
            fn(queries[i % len(queries)])
            i += 1
    rates: dict[str, list[float]] = {name: [] for name in fns}
    cores: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, list[Any]] = {}
    timed = dict.fromkeys(fns, 0.0)
    while any(len(rates[n]) < max(repeat, 3) or timed[n] < min_seconds for n in fns):
        for name, fn in fns.items():
            out = []
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for q in queries:
                out.append(fn(q))
            wall = time.perf_counter() - wall0
            results[name] = out
            timed[name] += wall
            rates[name].append(len(queries) / wall)
            cores[name].append((time.process_time() - cpu0) / wall)
    return {
        name: Measured(
            statistics.median(rates[name]), statistics.median(cores[name]), results[name]
        )
        for name in fns
    }


def filled_edge_shard(
    config: Any, prefix: str, batches: Iterable[list[Any]]
) -> tuple[Any, Callable[[], None]]:
    """A qdrant-edge shard made with `config` in a new temporary folder, upserted one batch of
    points at a time and optimized, and the call that closes it and removes the folder (which
    goes at once if filling fails, so a failed engine leaves nothing behind)."""
    import qdrant_edge as qe  # only the runs that compare with qdrant-edge need it

    path = tempfile.mkdtemp(prefix=prefix)
    try:
        shard = qe.EdgeShard.create(path, config)
        for points in batches:
            shard.update(qe.UpdateOperation.upsert_points(points))
        shard.optimize()
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise

    def close() -> None:
        shard.close()
        shutil.rmtree(path, ignore_errors=True)

    return shard, close
