"""GET /metrics in Prometheus' text format with Qdrant's names, help texts and labels (its
src/common/metrics.rs): the app, the collections (points, vectors by name, update queues), the
cluster (disabled), the REST responses of Qdrant's endpoint list (timings for 200s only; with
`per_collection=true` a `collection` label instead of the global series), memory and the
process. A family with no series is left out, as Qdrant's encoder does."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from typing import Any

from vqdb import engine
from vqdb.collection import telemetry as collection_telemetry
from vqdb.errors import NotFound
from vqdb.server.telemetry import Telemetry, memory

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# the REST routes Qdrant reports (searches, reads and writes of points); timings only for 200
REST_ENDPOINTS = frozenset(
    "/collections/{collection_name}" + suffix
    for suffix in (
        "/index",
        "/points",
        "/points/batch",
        "/points/count",
        "/points/delete",
        "/points/discover",
        "/points/discover/batch",
        "/points/facet",
        "/points/payload",
        "/points/payload/clear",
        "/points/payload/delete",
        "/points/query",
        "/points/query/batch",
        "/points/query/groups",
        "/points/recommend",
        "/points/recommend/batch",
        "/points/recommend/groups",
        "/points/scroll",
        "/points/search",
        "/points/search/batch",
        "/points/search/groups",
        "/points/search/matrix/offsets",
        "/points/search/matrix/pairs",
        "/points/vectors",
        "/points/vectors/delete",
        "/vectors/{vector_name}",
    )
)

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, float]  # (name suffix, labels, value)


def text(telemetry: Telemetry, per_collection: bool = False) -> str:
    lines: list[str] = []

    def family(name: str, help: str, kind: str, samples: Iterable[Sample]) -> None:
        rows = list(samples)
        if not rows:
            return
        lines.extend((f"# HELP {name} {help}", f"# TYPE {name} {kind}"))
        lines.extend(f"{name}{suffix}{_labels(labels)} {_number(v)}" for suffix, labels, v in rows)

    def one(value: float, **labels: str) -> list[Sample]:
        return [("", tuple(labels.items()), value)]

    app = telemetry.app(level=1)
    family(
        "app_info",
        "information about qdrant server",
        "gauge",
        one(1, name=app["name"], version=app["version"]),
    )
    family("app_status_recovery_mode", "features enabled in qdrant server", "gauge", one(0))
    _collections(telemetry, family)
    family("cluster_enabled", "is cluster support enabled", "gauge", one(0))
    _responses(telemetry, per_collection, family)
    for key, help in (
        ("active_bytes", "Total number of bytes in active pages allocated by the application"),
        ("allocated_bytes", "Total number of bytes allocated by the application"),
        ("metadata_bytes", "Total number of bytes dedicated to metadata"),
        ("resident_bytes", "Maximum number of bytes in physically resident data pages mapped"),
        ("retained_bytes", "Total number of bytes in virtual memory mappings"),
    ):
        family(f"memory_{key}", help, "gauge", one(memory()[key]))
    _process(family)
    return "\n".join(lines) + "\n"


def _collections(telemetry: Telemetry, family: Any) -> None:
    names = telemetry.db.collection_names()
    family("collections_total", "number of collections", "gauge", [("", (), len(names))])
    points, vectors, excluded, running, queued = [], [], [], [], []
    for name in names:
        try:
            c = telemetry.db.collection(name)
        except NotFound:  # deleted meanwhile
            continue
        if not engine.local(c):  # distributed: its segments are its replicas' (vqdb.cluster)
            continue
        ident = (("id", name),)
        points.append(("", ident, c.points_count))
        for vector, count in collection_telemetry.vectors_by_name(c).items():
            vectors.append(("", (("collection", name), ("vector", vector)), count))
        for vector, count in collection_telemetry.indexed_only_excluded(c).items():
            excluded.append(("", (*ident, ("vector", vector)), count))
        busy = c.optimizer is not None and c.optimizer.busy
        running.append(("", ident, int(busy)))
        queued.append(("", ident, c.queued))
    total = sum(v for _, _, v in vectors)
    gauge = "gauge"
    family(
        "collections_vector_total",
        "total number of vectors in all collections",
        gauge,
        [("", (), total)],
    )
    family("collection_vectors", "amount of vectors grouped by vector name", gauge, vectors)
    family(
        "collection_indexed_only_excluded_points",
        "amount of points excluded in indexed_only requests",
        gauge,
        excluded,
    )
    replicas = 1 if names else 0  # one active replica of one shard per collection
    family(
        "collection_active_replicas_min",
        "minimum number of active replicas across all shards",
        gauge,
        [("", (), replicas)],
    )
    family(
        "collection_active_replicas_max",
        "maximum number of active replicas across all shards",
        gauge,
        [("", (), replicas)],
    )
    family(
        "collection_running_optimizations",
        "number of currently running optimization tasks per collection",
        gauge,
        running,
    )
    family("collection_points", "approximate amount of points per collection", gauge, points)
    family(
        "collection_dead_replicas",
        "total amount of shard replicas in non-active state",
        gauge,
        [("", (), 0)],
    )
    zero = [("", ident, 0) for _, ident, _ in points]
    family(
        "collection_shard_transfer_incoming",
        "incoming shard transfers currently running",
        gauge,
        zero,
    )
    family(
        "collection_shard_transfer_outgoing",
        "outgoing shard transfers currently running",
        gauge,
        zero,
    )
    family(
        "collection_update_queue_length",
        "number of pending operations in update queues per collection",
        gauge,
        queued,
    )
    family(
        "collection_update_queue_deferred_points",
        "number of points currently hidden during read operations as they're not yet optimized",
        gauge,
        zero,
    )


def _responses(telemetry: Telemetry, per_collection: bool, family: Any) -> None:
    total: list[Sample] = []
    avg: list[Sample] = []
    low: list[Sample] = []
    high: list[Sample] = []
    histogram: list[Sample] = []
    rows = sorted(telemetry.responses.rows(per_collection), key=lambda r: (r[1], r[2], r[0] or ""))
    for collection, key, status, durations in rows:
        method, _, route = key.partition(" ")
        if route not in REST_ENDPOINTS:
            continue
        labels: Labels = (("method", method), ("endpoint", route), ("status", str(status)))
        if collection is not None:
            labels += (("collection", collection),)
        total.append(("", labels, durations.count))
        if status != 200:
            continue
        avg.append(("", labels, (durations.average() or 0.0) / 1e6))
        low.append(("", labels, (durations.min or 0.0) / 1e6))
        high.append(("", labels, (durations.max or 0.0) / 1e6))
        for bound, count in durations.histogram():
            histogram.append(("_bucket", (*labels, ("le", _number(bound))), count))
        histogram.append(("_bucket", (*labels, ("le", "+Inf")), durations.count))
        histogram.append(("_sum", labels, durations.total_micros / 1e6))
        histogram.append(("_count", labels, durations.count))
    family("rest_responses_total", "total number of responses", "counter", total)
    family("rest_responses_avg_duration_seconds", "average response duration", "gauge", avg)
    family("rest_responses_min_duration_seconds", "minimum response duration", "gauge", low)
    family("rest_responses_max_duration_seconds", "maximum response duration", "gauge", high)
    family("rest_responses_duration_seconds", "response duration histogram", "histogram", histogram)


def _process(family: Any) -> None:
    """The process's threads, memory maps and files, from /proc (Linux only)."""
    try:
        threads = len(os.listdir("/proc/self/task"))
        with open("/proc/self/maps") as f:
            maps = sum(1 for _ in f)
        with open("/proc/sys/vm/max_map_count") as f:
            max_maps = int(f.read())
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = [n for n in (soft, hard) if n != resource.RLIM_INFINITY]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for name, help, kind, value in (
        ("process_threads", "count of active threads", "gauge", threads),
        ("process_open_mmaps", "count of open mmaps", "gauge", maps),
        ("system_max_mmaps", "system wide limit of open mmaps", "gauge", max_maps),
        ("process_open_fds", "count of currently open file descriptors", "gauge", fds),
        ("process_max_fds", "limit for open file descriptors", "gauge", min(limits, default=0)),
        (
            "process_minor_page_faults_total",
            "count of minor page faults which didn't cause a disk access",
            "counter",
            usage.ru_minflt,
        ),
        (
            "process_major_page_faults_total",
            "count of disk accesses caused by a mmap page fault",
            "counter",
            usage.ru_majflt,
        ),
    ):
        family(name, help, kind, [("", (), value)])


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
