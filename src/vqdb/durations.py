"""Durations of one kind of operation as Qdrant's telemetry keeps them (its
OperationDurationStatistics): count, the smoothed average of the last 128, min, max, total,
when it last ran, and a histogram for Prometheus. Used for REST responses and optimizations."""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import time
from collections import deque
from typing import Any

LAST = 128  # the average covers the latest operations only, as Qdrant's does
SMOOTHING = 8  # Qdrant's sliding window: the average of each one's window of the last 8
BUCKETS_MICROS = (1e3, 5e3, 1e4, 2e4, 5e4, 1e5, 5e5, 1e6, 5e6, 1e7, 5e7)  # Qdrant's bounds


def now(seconds: float | None = None) -> dt.datetime:
    """UTC (of `seconds` since the epoch; None: now) to the hundredth of a second, as Qdrant
    stamps its telemetry."""
    t = dt.datetime.fromtimestamp(time.time() if seconds is None else seconds, dt.timezone.utc)
    return t.replace(microsecond=t.microsecond // 10_000 * 10_000)


def stamp(t: dt.datetime) -> str:
    """RFC 3339 with a Z, milliseconds (Python's fromisoformat reads 3 or 6 digits only)."""
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Durations:
    __slots__ = ("buckets", "count", "last", "max", "min", "recent", "total_micros")

    def __init__(self) -> None:
        self.count = 0
        self.recent: deque[float] = deque(maxlen=LAST)
        self.min: float | None = None
        self.max: float | None = None
        self.total_micros = 0
        self.last: float | None = None  # seconds since the epoch: a datetime only when shown
        self.buckets = [0] * len(BUCKETS_MICROS)  # not cumulative; past the last: count only

    def add(self, seconds: float) -> None:
        self.add_many([seconds], time.time())

    def add_many(self, seconds: list[float], at: float) -> None:
        """Operations that took `seconds` each, the last of them ended `at` (since the epoch)."""
        if not seconds:
            return
        micros = [float(int(s * 1e6)) for s in seconds]  # whole microseconds: Rust's as_micros
        self.count += len(micros)
        self.recent.extend(micros)
        low, high = min(micros), max(micros)
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)
        self.total_micros += int(sum(micros))
        buckets, past = self.buckets, len(BUCKETS_MICROS)
        for m in micros:
            i = bisect.bisect_left(BUCKETS_MICROS, m)  # the first bound at or above it
            if i < past:
                buckets[i] += 1
        self.last = at

    def copy(self) -> Durations:
        return copy.deepcopy(self)

    def average(self) -> float | None:
        data = list(self.recent)
        if not data:
            return None
        smoothed = [
            sum(data[max(0, i - SMOOTHING) : i + 1]) / len(data[max(0, i - SMOOTHING) : i + 1])
            for i in range(len(data))
        ]
        return sum(smoothed) / len(smoothed)

    def statistics(self, detailed: bool) -> dict[str, Any]:
        """OperationDurationStatistics; min, max, total and last only when detailed (Qdrant's
        details_level 1 and above)."""
        out: dict[str, Any] = {"count": self.count}
        average = self.average()
        if average is not None:
            out["avg_duration_micros"] = average
        if detailed:
            for key, value in (
                ("min_duration_micros", self.min),
                ("max_duration_micros", self.max),
                ("total_duration_micros", self.total_micros),
                ("last_responded", None if self.last is None else stamp(now(self.last))),
            ):
                if value is not None:
                    out[key] = value
        return out

    def histogram(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, cumulative count) for each bound; +Inf is `count`."""
        total = 0
        out = []
        for bound, n in zip(BUCKETS_MICROS, self.buckets):
            total += n
            out.append((bound / 1e6, total))
        return out
