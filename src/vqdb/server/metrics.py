"""GET /metrics in Prometheus' text format: requests and their latency per endpoint, and the
collections and points the database holds (names as Qdrant's metrics have them)."""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict

from vqdb import __version__
from vqdb.database import Database

# seconds; an in-memory k=10 search takes about a millisecond, a big upsert a second
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._responses: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: defaultdict[tuple[str, str], list[int]] = defaultdict(
            lambda: [0] * (len(BUCKETS) + 1)
        )
        self._seconds: defaultdict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, endpoint: str, status: int, start: float) -> None:
        seconds = time.perf_counter() - start
        with self._lock:
            self._responses[method, endpoint, status] += 1
            self._buckets[method, endpoint][bisect.bisect_left(BUCKETS, seconds)] += 1
            self._seconds[method, endpoint] += seconds

    def text(self) -> str:
        names = self._db.collection_names()
        points = 0
        for name in names:
            try:
                points += self._db.collection(name).points_count
            except ValueError:  # deleted meanwhile
                continue
        lines = [
            "# HELP app_info information about the vqdb server",
            "# TYPE app_info gauge",
            f'app_info{{name="vqdb",version="{__version__}"}} 1',
            "# HELP collections_total number of collections",
            "# TYPE collections_total gauge",
            f"collections_total {len(names)}",
            "# HELP collections_vector_total number of points over all collections",
            "# TYPE collections_vector_total gauge",
            f"collections_vector_total {points}",
            "# HELP rest_responses_total REST responses by endpoint and status",
            "# TYPE rest_responses_total counter",
        ]
        with self._lock:
            responses = sorted(self._responses.items())
            buckets = sorted((k, list(v)) for k, v in self._buckets.items())
            seconds = dict(self._seconds)
        for (method, endpoint, status), count in responses:
            labels = f'method="{method}",endpoint="{endpoint}",status="{status}"'
            lines.append(f"rest_responses_total{{{labels}}} {count}")
        lines += [
            "# HELP rest_responses_duration_seconds REST response time by endpoint",
            "# TYPE rest_responses_duration_seconds histogram",
        ]
        for (method, endpoint), counts in buckets:
            labels = f'method="{method}",endpoint="{endpoint}"'
            total = 0
            for bound, count in zip((*BUCKETS, float("inf")), counts):
                total += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(
                    f'rest_responses_duration_seconds_bucket{{{labels},le="{le}"}} {total}'
                )
            lines.append(
                f"rest_responses_duration_seconds_sum{{{labels}}} {seconds[method, endpoint]}"
            )
            lines.append(f"rest_responses_duration_seconds_count{{{labels}}} {total}")
        return "\n".join(lines) + "\n"
