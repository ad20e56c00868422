"""What the optimizer is doing and has done, in Qdrant's shapes (GET
/collections/{name}/optimizations): the running job, an estimate of the queue, the last
completed jobs, and the segments nothing is planned for.

Jobs are named by Qdrant's optimizers: `config_mismatch` (a segment built with an older
config), `indexing` (sealed appendable segments), `vacuum` (many deletes), `merge` (the two
smallest indexed segments). A job's uuid is the segment it builds; segments are shown by
UUIDs derived from their names (vqdb names them by 64-bit hex strings).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vqdb.durations import stamp
from vqdb.segment.segment import Segment

COMPLETED_KEPT = 64  # the most `completed_limit` can show


def segment_uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vqdb-segment:{name}"))


def segment_info(segment: Segment) -> dict[str, Any]:
    return {"uuid": segment_uuid(segment.name), "points_count": segment.count}


@dataclass
class Phase:
    """One step of a job, with when it started and finished (Qdrant's ProgressTree)."""

    name: str
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    seconds: float | None = None
    _clock: float = 0.0

    def start(self) -> None:
        self.started, self._clock = dt.datetime.now(dt.timezone.utc), time.perf_counter()

    def finish(self) -> None:
        if self.started is None:
            self.start()
        self.finished = dt.datetime.now(dt.timezone.utc)
        self.seconds = time.perf_counter() - self._clock

    def shown(self, children: Sequence[Phase] = ()) -> dict[str, Any]:
        return {
            "name": self.name,
            "started_at": None if self.started is None else stamp(self.started),
            "finished_at": None if self.finished is None else stamp(self.finished),
            "duration_sec": self.seconds,
            "children": [p.shown() for p in children],
        }


@dataclass
class Optimization:
    optimizer: str
    segments: list[dict[str, Any]]  # as they were when the job began
    builds: str  # the name of the segment it builds
    status: str | dict[str, str] = "optimizing"
    whole: Phase = field(default_factory=lambda: Phase("Segment Optimizing"))
    phases: list[Phase] = field(
        default_factory=lambda: [Phase("snapshot"), Phase("build"), Phase("save"), Phase("swap")]
    )

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    def shown(self) -> dict[str, Any]:
        return {
            "uuid": segment_uuid(self.builds),
            "optimizer": self.optimizer,
            "status": self.status,
            "segments": self.segments,
            "progress": self.whole.shown(self.phases),
        }


def report(
    running: Optimization | None,
    queued: list[tuple[str, list[Segment]]],
    completed: list[Optimization],
    segments: list[Segment],
    extras: set[str],
    completed_limit: int,
) -> dict[str, Any]:
    """Qdrant's OptimizationsResponse; `extras`: which of queued, completed, idle_segments to
    include (its `with` parameter)."""
    planned = {s.name for _, sources in queued for s in sources}
    busy = {s["uuid"] for s in running.segments} if running else set()
    idle = [s for s in segments if s.name not in planned and segment_uuid(s.name) not in busy]
    out: dict[str, Any] = {
        "summary": {
            "queued_optimizations": len(queued),
            "queued_segments": len(planned),
            "queued_points": sum(s.count for _, sources in queued for s in sources),
            "idle_segments": len(idle),
        },
        "running": [running.shown()] if running else [],
    }
    if "queued" in extras:
        out["queued"] = [
            {"optimizer": kind, "segments": [segment_info(s) for s in sources]}
            for kind, sources in queued
        ]
    if "completed" in extras:
        latest = completed[max(0, len(completed) - completed_limit) :] if completed_limit else []
        out["completed"] = [o.shown() for o in reversed(latest)]
    if "idle_segments" in extras:
        out["idle_segments"] = [segment_info(s) for s in idle]
    return out
