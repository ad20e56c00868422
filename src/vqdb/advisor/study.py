"""The advisor's run: screen every candidate at every oversampling on the sample, then verify
the best screened ones, in the objective's order, behind the collection's HNSW graph until one
holds the target with confidence.

A screened recall is a scan's; a graph walked with the codes loses a little more, so the
recommendation is always a verified row, and its estimate is the verified recall.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from tqdm.auto import tqdm

from vqdb.advisor import trial
from vqdb.advisor.advice import OBJECTIVES, Advice, mark_frontier, ranked
from vqdb.advisor.candidates import CANDIDATES, OVERSAMPLING, REFERENCE, Candidate
from vqdb.advisor.sample import Sample
from vqdb.advisor.trial import Row
from vqdb.errors import invalid

MAX_VERIFIED = 3  # candidates built behind a graph before giving up (each costs a graph build)
EF_FACTORS = (2, 4)  # hnsw_ef tried beyond the default (ef_construct), as multiples of it
# progress(done, total, what): how a caller that is no terminal follows a run
Progress = Callable[[int, int, str], None]


def check_target(target_recall: Any, objective: Any) -> float:
    if isinstance(target_recall, bool) or not isinstance(target_recall, (int, float)):
        raise invalid("target_recall", "must be a number between 0 and 1", "request")
    if not 0.0 < float(target_recall) <= 1.0:
        raise invalid("target_recall", f"must be between 0 and 1, got {target_recall}", "request")
    if objective not in OBJECTIVES:
        raise invalid("objective", f"must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    return float(target_recall)


def study(
    sample: Sample,
    *,
    target_recall: float,
    objective: str = "memory",
    hnsw: dict[str, int] | None = None,
    candidates: Iterable[Candidate] = CANDIDATES,
    oversampling: tuple[float, ...] = OVERSAMPLING,
    progress: bool | None = None,
    on_progress: Progress | None = None,
) -> Advice:
    target = check_target(target_recall, objective)
    hnsw = hnsw or {"m": 16, "ef_construct": 100}
    started = time.perf_counter()
    dim = sample.base.shape[1]
    chosen_from = [*candidates]
    total = len(chosen_from) + 1 + MAX_VERIFIED
    # progress None: a bar on a terminal only (tqdm's disable=None)
    bar = tqdm(
        total=total, desc="advise", unit="step", disable=None if progress is None else not progress
    )
    notes: list[str] = []
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        bar.set_postfix_str(what, refresh=False)
        bar.update(1)
        if on_progress is not None:
            on_progress(done, total, what)

    rows: list[Row] = []
    try:
        for candidate in [REFERENCE, *chosen_from]:
            try:
                rows += trial.screen(candidate, sample, oversampling)
            except ValueError as e:  # a method this shape cannot take (kept out, said why)
                notes.append(f"{candidate.label}: {e}")
            step(candidate.label)
        verified, graph = _verify(rows, sample, target, objective, hnsw, oversampling, step)
    finally:
        bar.close()
    original = sample.base.itemsize * dim if sample.datatype == "float32" else _bytes(sample)
    for row in [*rows, *verified]:
        ram = row.bytes_per_vector_codes or original  # no codes: the originals are walked
        row.bytes_per_vector_ram = ram + graph
        row.bytes_per_vector_disk = original + row.bytes_per_vector_codes + graph
    mark_frontier(rows)
    chosen = next((r for r in verified if _holds(r, target)), None)
    if sample.sampled:
        notes.append(
            f"measured on {len(sample.base):,} of {sample.total:,} vectors: recall on the "
            "whole set may be somewhat lower (neighbours are denser there)"
        )
    return Advice(
        target,
        objective,
        sample.describe(),
        rows,
        verified,
        chosen,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _holds(row: Row, target: float) -> bool:
    """The target is met with confidence: the interval's lower end reaches it."""
    return row.recall_interval[0] >= target


def _verify(
    rows: list[Row],
    sample: Sample,
    target: float,
    objective: str,
    hnsw: dict[str, int],
    oversampling: tuple[float, ...],
    step: Callable[[str], None],
) -> tuple[list[Row], float]:
    """Behind the graph, the screened rows that met the target, best first: for each method its
    least oversampling that met it, then more, until one holds."""
    by_label = {c.label: c for c in CANDIDATES}
    verified: list[Row] = []
    graph = 0.0
    tried: list[str] = []
    for row in ranked([r for r in rows if r.recall >= target and r.method != "none"], objective):
        if row.label in tried or len(tried) == MAX_VERIFIED:
            continue
        tried.append(row.label)
        candidate = by_label[row.label]
        # more oversampling first (cheap: a few more rescored candidates), then a wider beam
        # where the graph, not the codes, loses the neighbours
        more = [os for os in oversampling if os >= row.oversampling]
        efs = [None, *(hnsw["ef_construct"] * f for f in EF_FACTORS)]
        grid = [(os, ef) for ef in efs for os in more]
        measured, graph = trial.verify(
            candidate, grid, sample, hnsw, lambda found: _holds(found, target)
        )
        step(f"verify {row.label}")
        for found in measured:
            # the screened size: a graph-built set may hold spare capacity, not codes
            found.bytes_per_vector_codes = row.bytes_per_vector_codes
            verified.append(found)
            if _holds(found, target):
                return verified, graph
    if not graph:  # nothing met the target: the graph's size is still the RAM's largest part
        measured, graph = trial.verify(REFERENCE, [(1.0, None)], sample, hnsw)
        verified += measured
    return verified, graph


def _bytes(sample: Sample) -> float:
    per_value = {"float16": 2, "uint8": 1}.get(sample.datatype, 4)
    return float(per_value * sample.base.shape[1])
