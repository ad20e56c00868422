"""The quantization advisor: measures every quantization vqdb has on the user's own vectors and
recommends one for a recall target, at the least memory or the most speed.

    >>> import numpy as np, vqdb.advisor
    >>> x = np.random.default_rng(0).standard_normal((2000, 32)).astype(np.float32)
    >>> advice = vqdb.advisor.advise(x, "Cosine", target_recall=0.9, progress=False)
    >>> rec = advice.to_json()["recommendation"]
    >>> rec["met"], sorted(rec["search_params"]["quantization"])
    (True, ['oversampling', 'rescore'])

`vqdb advise` (cli.py), `Client.advise` and `POST /vqdb/collections/{name}/advise` call it.
"""

from __future__ import annotations

from typing import Any

from vqdb.advisor.advice import OBJECTIVES, Advice
from vqdb.advisor.candidates import CANDIDATES, OVERSAMPLING, Candidate
from vqdb.advisor.sample import QUERIES, checked_vectors, draw
from vqdb.advisor.study import Progress, check_target, study
from vqdb.distance import Distance
from vqdb.errors import BadInput

__all__ = [
    "CANDIDATES",
    "OBJECTIVES",
    "OVERSAMPLING",
    "Advice",
    "Candidate",
    "advise",
    "advise_collection",
]


def advise(
    vectors: Any,
    distance: Distance | str = "Cosine",
    *,
    queries: Any = None,
    target_recall: float = 0.95,
    objective: str = "memory",
    limit: int = 10,
    n_queries: int = QUERIES,
    sample_size: int | None = None,
    hnsw: dict[str, int] | None = None,
    datatype: str = "float32",
    progress: bool | None = None,
    on_progress: Progress | None = None,
    seed: int = 0,
) -> Advice:
    """Advice for a set of vectors (n, dim): `queries` the user's own, else held-out vectors."""
    check_target(target_recall, objective)  # before the minutes of work, not after
    try:
        metric = Distance.parse(distance)
    except ValueError as e:
        raise BadInput(str(e)) from None
    x = checked_vectors(vectors)
    q = None if queries is None else checked_vectors(queries, "queries")
    sample = draw(
        x,
        metric,
        queries=q,
        limit=limit,
        n_queries=n_queries,
        sample_size=sample_size,
        datatype=datatype,
        seed=seed,
    )
    return study(
        sample,
        target_recall=target_recall,
        objective=objective,
        hnsw=hnsw,
        progress=progress,
        on_progress=on_progress,
    )


def advise_collection(collection: Any, vector_name: str = "", **options: Any) -> Advice:
    """Advice for one dense vector of a collection (vqdb.collection.Collection), from a sample
    of its points read under the read lock; the graph verified is the collection's."""
    from vqdb.advisor.reading import dense_sample

    check_target(options.get("target_recall", 0.95), options.get("objective", "memory"))
    vectors, distance, datatype, hnsw = dense_sample(collection, vector_name)
    options.setdefault("hnsw", hnsw)
    advice = advise(vectors, distance, datatype=datatype, **options)
    advice.vector_name = vector_name
    threshold = collection.config.indexing_threshold_vectors(vector_name)
    if collection.points_count < threshold or threshold <= 0:
        advice.notes.append(
            f"the collection indexes a segment from {threshold:,} vectors on (its optimizer's "
            "indexing_threshold): until then its vectors are scanned exactly, without codes, "
            "and the quantization applies once it grows"
        )
    return advice
