"""One candidate measured on a sample: its codes built once, then searched at each
oversampling with rescoring by the originals; recall@k against the exact top-k, with a
bootstrap interval over the queries, queries per second, build seconds and bytes per vector.

Screening scans the codes of every vector (no graph): it ranks the methods by what their codes
lose, quickly. `verify` then builds the collection's own HNSW graph over the sample for the
one recommended, since a graph walked with codes loses a little more than a scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.advisor.candidates import Candidate
from vqdb.advisor.sample import Sample
from vqdb.index.vector_index import Index

CONFIDENCE = 0.95
_RESAMPLES = 1000


@dataclass
class Row:
    """One candidate at one oversampling (the JSON's `candidates`)."""

    label: str
    method: str
    quantization_config: dict[str, Any] | str
    oversampling: float
    recall: float
    recall_interval: tuple[float, float]
    qps: float
    build_s: float
    bytes_per_vector_codes: float
    bytes_per_vector_ram: float = 0.0  # codes + graph (the originals on disk)
    bytes_per_vector_disk: float = 0.0  # originals + codes + graph
    search_params: dict[str, Any] = field(default_factory=dict)
    pareto: bool = False
    index: str = "scan"  # "scan" (screened) or "hnsw m=.. ef_construct=.." (verified)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "method": self.method,
            "quantization_config": self.quantization_config,
            "oversampling": self.oversampling,
            "search_params": self.search_params,
            "recall": round(self.recall, 4),
            "recall_interval": [round(v, 4) for v in self.recall_interval],
            "qps": round(self.qps, 1),
            "build_s": round(self.build_s, 3),
            "bytes_per_vector_codes": round(self.bytes_per_vector_codes, 2),
            "bytes_per_vector_ram": round(self.bytes_per_vector_ram, 2),
            "bytes_per_vector_disk": round(self.bytes_per_vector_disk, 2),
            "pareto": self.pareto,
            "index": self.index,
        }


def search_params(
    candidate: Candidate, oversampling: float, hnsw_ef: int | None = None
) -> dict[str, Any]:
    """Qdrant's SearchParams for a candidate: rescoring by the originals is what makes
    oversampling pay, so it is on for every method; `hnsw_ef` only where the default
    (ef_construct) lost too much."""
    params: dict[str, Any] = {} if hnsw_ef is None else {"hnsw_ef": hnsw_ef}
    if candidate.config is not None:
        params["quantization"] = {"rescore": True, "oversampling": oversampling}
    return params


def recall_interval(hits: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The central CONFIDENCE interval of mean recall, by bootstrap over the queries (queries
    differ far more than the neighbours of one query do, so they are the unit resampled)."""
    rng = np.random.default_rng(0)
    means = hits[rng.integers(0, len(hits), (_RESAMPLES, len(hits)))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def per_query_recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> Any:
    k = truth.shape[1]
    hits = [np.intersect1d(f[:k], t, assume_unique=True).size for f, t in zip(found, truth)]
    return np.asarray(hits, dtype=np.float64) / k


def _built(
    candidate: Candidate, sample: Sample, hnsw: dict[str, int] | None
) -> tuple[Index, float]:
    """The candidate's index over the whole sample (a plain scan without `hnsw`), and its
    build time in seconds."""
    index = Index(
        sample.base.shape[1],
        sample.distance,
        quantization=candidate.config,
        hnsw=hnsw,
        datatype=sample.datatype,
    )
    started = time.perf_counter()
    index.add(np.arange(len(sample.base)), sample.base)
    return index, time.perf_counter() - started


def screen(candidate: Candidate, sample: Sample, oversampling: tuple[float, ...]) -> list[Row]:
    """The candidate's codes over the whole sample, scanned, at each oversampling."""
    index, build_s = _built(candidate, sample, None)
    codes = index.memory_usage()["quantized"] / len(sample.base)
    grid = oversampling if candidate.config is not None else (1.0,)
    return [_measured(index, candidate, sample, os, build_s, codes, "scan") for os in grid]


def verify(
    candidate: Candidate,
    grid: list[tuple[float, int | None]],
    sample: Sample,
    hnsw: dict[str, int],
    enough: Callable[[Row], bool] = lambda row: False,
) -> tuple[list[Row], float]:
    """The candidate behind the HNSW graph a collection would build (same m, ef_construct)
    over the sample, at each (oversampling, hnsw_ef) of the grid in turn, up to the first row
    that is `enough`; also the graph's bytes per vector."""
    index, build_s = _built(candidate, sample, hnsw)
    usage = index.memory_usage()
    codes = usage["quantized"] / len(sample.base)
    kind = f"hnsw m={hnsw['m']} ef_construct={hnsw['ef_construct']}"
    rows = []
    for os, ef in grid:
        rows.append(_measured(index, candidate, sample, os, build_s, codes, kind, ef))
        if enough(rows[-1]):
            break
    return rows, usage["graph"] / len(sample.base)


def _measured(
    index: Index,
    candidate: Candidate,
    sample: Sample,
    oversampling: float,
    build_s: float,
    codes: float,
    kind: str,
    hnsw_ef: int | None = None,
) -> Row:
    params = search_params(candidate, oversampling, hnsw_ef)
    started = time.perf_counter()
    found, _ = index.search(sample.queries, sample.limit, params)
    seconds = max(time.perf_counter() - started, 1e-9)
    hits = per_query_recall(found.reshape(len(sample.queries), -1), sample.truth)
    return Row(
        label=candidate.label,
        method=candidate.method,
        quantization_config=candidate.quantization_config(),
        oversampling=oversampling,
        recall=float(hits.mean()),
        recall_interval=recall_interval(hits),
        qps=len(sample.queries) / seconds,
        build_s=build_s,
        bytes_per_vector_codes=codes,
        search_params=params,
        index=kind,
    )
