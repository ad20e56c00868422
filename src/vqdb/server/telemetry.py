"""GET /telemetry in Qdrant's TelemetryData shape at its details levels (0 to 4, anything above
is 4): the app, the collections (collection/telemetry.py), the cluster (a standalone node's),
the REST responses; from level 1 also memory, hardware and the search pool. /metrics is drawn
from the same collectors (metrics.py)."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

from vqdb import engine
from vqdb.collection import telemetry as collection_telemetry
from vqdb.database import Database
from vqdb.durations import now, stamp
from vqdb.errors import NotFound
from vqdb.server.responses import Responses

# Qdrant's app name: tools built for Qdrant (its dashboards, its client's checks) select on it;
# the version is the API's (API_VERSION), which is what those tools compare
APP_NAME = "qdrant"
# the CPU flags Qdrant reports, in its order
CPU_FLAGS = ("sse", "sse2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512vl", "avx512vpopcntdq")
LINUX_NAMES = {"avx512vpopcntdq": "avx512_vpopcntdq"}  # as /proc/cpuinfo spells them


class Telemetry:
    def __init__(
        self,
        db: Database,
        responses: Responses,
        version: str,
        storage: Path | None,
        staging: bool = False,
    ) -> None:
        self.db = db
        self.staging = staging  # Qdrant's staging operations are served
        self.responses = responses
        self.version = version
        self.storage = storage
        self.id = str(uuid.uuid4())  # Qdrant's: one per process
        self.startup = now()

    def data(self, level: int, per_collection: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "app": self.app(level),
            "collections": self.collections(level),
            "cluster": {"enabled": False, "resharding_enabled": False},
            "requests": {
                "rest": self.responses.telemetry(level >= 1, per_collection),
                "grpc": {"responses": {}},  # vqdb serves no gRPC
            },
        }
        if level >= 1:
            out["memory"] = memory()
            out["hardware"] = {"collection_data": {}}  # no per-collection hardware counters
            cores = os.cpu_count() or 1
            # searches run on the event loop with their native work on every core: one pool
            out["search_pool"] = {
                "mode": "high_cpu",
                "high_cpu_threads": cores,
                "high_io_threads": 0,
            }
        # no quota is enforced: disabled, and null (not false) for each resource, as Qdrant
        out["quota"] = {
            "config": {"enabled": False},
            "exceeded": {"resident_memory": None, "disk_usage": None},
        }
        return out

    def app(self, level: int) -> dict[str, Any]:
        out: dict[str, Any] = {"name": APP_NAME, "version": self.version}
        if level >= 1:
            out["features"] = {
                "debug": False,
                "service_debug_feature": False,
                "recovery_mode": False,
                "gpu": False,
                "rocksdb": False,
                "staging": self.staging,
            }
            out["system"] = system(self.storage)
        out["startup"] = stamp(self.startup)
        return out

    def collections(self, level: int) -> dict[str, Any]:
        names = self.db.collection_names()
        out: dict[str, Any] = {"number_of_collections": len(names)}
        if level < 1:
            return out
        collections = []
        for name in names:
            try:
                c = self.db.collection(name)
            except NotFound:  # deleted meanwhile
                continue
            if not engine.local(c):  # distributed: its segments are its replicas' (vqdb.cluster)
                continue
            if level == 1:
                collections.append(collection_telemetry.aggregated(c))
            else:
                collections.append(collection_telemetry.collection(c, level))
        out["collections"] = collections
        # snapshots are made within their request: none is ever running between requests
        out["snapshots"] = [{"id": c["id"]} for c in collections if "id" in c]
        return out


def system(storage: Path | None) -> dict[str, Any]:
    """RunningEnvironmentTelemetry; sizes in KiB."""
    try:
        release = platform.freedesktop_os_release()
        distribution, version = release.get("ID"), release.get("VERSION_ID")
    except OSError:
        distribution, version = platform.system(), platform.release()
    out: dict[str, Any] = {
        "distribution": distribution,
        "distribution_version": version,
        "is_docker": Path("/.dockerenv").exists(),
        "cores": os.cpu_count(),
        "ram_size": _ram_kib(),
        "disk_size": None,
        "cpu_flags": ",".join(f for f in CPU_FLAGS if LINUX_NAMES.get(f, f) in _cpu_flags()),
        "cpu_endian": sys.byteorder,
    }
    if storage is not None:
        with contextlib.suppress(OSError):
            out["disk_size"] = shutil.disk_usage(storage).total // 1024
    return out


def memory() -> dict[str, int]:
    """MemoryTelemetry. Qdrant reads jemalloc's counters; Python's allocator has none, so these
    are the kernel's view of the process: anonymous resident memory as allocated and active,
    resident memory, and the address space as retained."""
    status = _proc_status()
    resident = status.get("VmRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    anonymous = status.get("RssAnon", resident)
    return {
        "active_bytes": anonymous,
        "allocated_bytes": anonymous,
        "metadata_bytes": 0,
        "resident_bytes": resident,
        "retained_bytes": status.get("VmSize", resident),
    }


def _proc_status() -> dict[str, int]:
    """/proc/self/status's kB lines in bytes (empty where there is no /proc)."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                parts = value.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def _ram_kib() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
    except (ValueError, OSError):
        return None


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()
