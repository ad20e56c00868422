"""A full disk, for real: `vqdb serve` on a small tmpfs that a filler file fills up.

Writes that cannot be logged are refused with 507 and leave nothing behind; once space is back,
writes resume, and a SIGKILL after that loses none of the acknowledged ones (a failed append
used to leave a torn record mid-WAL, and replay stopped there, dropping every later record).
Mounting needs root (CAP_SYS_ADMIN); elsewhere these tests skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from served import Server

DIM = 32
BATCH = 100


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root: run the suite as root to test disk-full")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): needs CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the disk's free space."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as f:
        if free > leave:
            os.posix_fallocate(f.fileno(), 0, free - leave)
    return filler


def batch(start: int) -> dict[str, object]:
    rng = np.random.default_rng(start)
    vectors = rng.standard_normal((BATCH, DIM)).astype(np.float32)
    return {
        "points": [
            {"id": start + i, "vector": v.tolist(), "payload": {"n": start + i}}
            for i, v in enumerate(vectors)
        ]
    }


def upsert(server: Server, start: int) -> httpx.Response:
    return httpx.put(f"{server.url}/collections/c/points?wait=true", json=batch(start), timeout=30)


def count(server: Server) -> int:
    answer = httpx.post(f"{server.url}/collections/c/points/count", json={"exact": True})
    return int(answer.json()["result"]["count"])


def fill_until_refused(server: Server, start: int) -> tuple[int, list[int]]:
    """Upserts batches until the disk refuses one; returns the next start and the starts of
    the acknowledged batches."""
    acknowledged = []
    for _ in range(200):
        answer = upsert(server, start)
        if answer.status_code != 200:
            assert answer.status_code == 507, answer.text
            assert "No space left on device" in answer.json()["status"]["error"]
            return start + BATCH, acknowledged
        acknowledged.append(start)
        start += BATCH
    raise AssertionError("the disk never filled up")


def test_disk_full_then_kill_loses_no_acknowledged_write(small_disk: Path) -> None:
    storage = small_disk / "storage"
    server = Server(storage)
    try:
        create = {"vectors": {"size": DIM, "distance": "Dot"}}
        assert httpx.put(f"{server.url}/collections/c", json=create).status_code == 200
        acknowledged = []
        for start in range(0, 5 * BATCH, BATCH):
            assert upsert(server, start).status_code == 200
            acknowledged.append(start)
        fill(small_disk, leave=256 << 10)
        start, more = fill_until_refused(server, 5 * BATCH)
        acknowledged += more
        # a few more attempts on the full disk, each refused cleanly
        for _ in range(3):
            assert upsert(server, start).status_code == 507
            start += BATCH
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert count(server) == len(acknowledged) * BATCH  # the refused batches left no trace
        fill(small_disk, leave=0)  # not even room for a new collection's manifest
        refused = httpx.put(f"{server.url}/collections/d", json=create)
        assert refused.status_code == 507, refused.text
        assert not (storage / "collections" / "d").exists()
        assert not list(storage.rglob("*.tmp"))

        (small_disk / "filler").unlink()  # space is back: writes resume
        assert httpx.put(f"{server.url}/collections/d", json=create).status_code == 200
        for _ in range(10):
            assert upsert(server, start).status_code == 200
            acknowledged.append(start)
            start += BATCH
        server.process.kill()
        server.process.wait()

        server = Server(storage)
        assert count(server) == len(acknowledged) * BATCH
        ids = [s + i for s in acknowledged for i in (0, BATCH - 1)]
        found = httpx.post(f"{server.url}/collections/c/points", json={"ids": ids}).json()
        assert sorted(p["id"] for p in found["result"]) == sorted(ids)
    finally:
        server.stop()


def test_sigterm_on_a_full_disk_exits_promptly_and_keeps_every_write(small_disk: Path) -> None:
    storage = small_disk / "storage"
    server = Server(storage)
    try:
        create = {"vectors": {"size": DIM, "distance": "Dot"}}
        assert httpx.put(f"{server.url}/collections/c", json=create).status_code == 200
        fill(small_disk, leave=256 << 10)
        _, acknowledged = fill_until_refused(server, 0)
        started = time.monotonic()
        server.stop()  # the closing checkpoint cannot be written: the WAL keeps everything
        assert server.process.returncode is not None
        assert time.monotonic() - started < 20
        (small_disk / "filler").unlink()
        server = Server(storage)
        assert count(server) == len(acknowledged) * BATCH
    finally:
        server.stop()
