"""Crash safety: a writer process killed with SIGKILL at a random moment loses no acknowledged
write, and a torn or damaged WAL tail is cut off on open, never fatal.

The writer (crash_writer.py) logs `start <op>` before each call and `done <op>` after it
returns. The parent replays the acknowledged operations on a plain dict model; after the kill
the reopened collection must equal that model, or that model plus the one operation in flight
(applied whole: a WAL record is atomic). Vectors compare up to the cosine normalisation.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import info, query, reads
from vqdb.database import Database

sys.path.insert(0, str(Path(__file__).parent))
import crash_writer as writer  # noqa: E402

WRITER = Path(__file__).with_name("crash_writer.py")
Model = dict[Any, tuple[int, dict[str, Any]]]  # id -> (vector counter, payload)


class State:
    """What the storage must hold: points and the quantization config last set."""

    def __init__(self) -> None:
        self.points: Model = {}
        self.quantization: Any = writer.QUANTIZATIONS[0]

    def applied(self, op: dict[str, Any]) -> State:
        new = copy.deepcopy(self)
        points, kind, ids = new.points, op["op"], op.get("ids", [])
        if kind == "upsert":
            for pid, n in zip(ids, op["c"]):
                points[pid] = (n, writer.payload_of(n))
        elif kind == "delete":
            for pid in ids:
                points.pop(pid, None)
        elif kind == "delete_filter":
            for pid in [p for p, (_, pl) in points.items() if pl.get("tag") == op["tag"]]:
                del points[pid]
        elif kind == "set_payload":
            for pid in ids:
                if pid in points:
                    points[pid][1]["s"] = op["c"][0]
        elif kind in ("overwrite_payload", "clear_payload"):
            for pid in ids:
                if pid in points:
                    new_payload = writer.payload_of(op["c"][0]) if "c" in op else {}
                    points[pid] = (points[pid][0], new_payload)
        elif kind == "update_vectors":
            if ids[0] in points:
                points[ids[0]] = (op["c"][0], points[ids[0]][1])
        elif kind == "quantization":
            q = writer.QUANTIZATIONS[op["q"]]
            new.quantization = None if q == "Disabled" else q
        else:
            raise AssertionError(kind)
        return new


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def stored(c: Any) -> dict[Any, tuple[list[float], dict[str, Any]]]:
    page = reads.scroll(c, {"limit": 10_000, "with_vector": True, "with_payload": True})
    assert page["next_page_offset"] is None
    return {p["id"]: (p["vector"], p["payload"]) for p in page["points"]}


def mismatch(found: dict[Any, Any], expected: State) -> str | None:
    """Why `found` is not `expected` (None: it is)."""
    if set(found) != set(expected.points):
        extra, missing = set(found) - set(expected.points), set(expected.points) - set(found)
        return f"ids differ: extra {sorted(map(str, extra))}, missing {sorted(map(str, missing))}"
    for pid, (n, payload) in expected.points.items():
        vector, got_payload = found[pid]
        if got_payload != payload:
            return f"payload of {pid}: {got_payload} != {payload}"
        if not np.allclose(vector[""], unit(writer.vector_of(n)), rtol=1e-5, atol=1e-6):
            return f"vector of {pid} is not vector_of({n})"
        sparse, stored_sparse = writer.sparse_of(n), vector["s"]
        same_values = np.array_equal(
            np.float32(stored_sparse["values"]), np.float32(sparse["values"])
        )
        if stored_sparse["indices"] != sparse["indices"] or not same_values:
            return f"sparse vector of {pid} is not sparse_of({n})"
    return None


def check(db: Database, before: State, inflight: dict[str, Any] | None) -> State:
    """The reopened storage holds `before`, or `before` plus the operation in flight."""
    c = db.collection(writer.NAME)
    found = stored(c)
    candidates = [before] if inflight is None else [before, before.applied(inflight)]
    reasons = [mismatch(found, state) for state in candidates]
    assert None in reasons, f"state after the crash is none of the allowed ones: {reasons}"
    state = candidates[reasons.index(None)]
    if inflight is not None and inflight["op"] == "quantization":
        # the config is checkpointed, not logged: either value may be the durable one
        allowed = [candidates[0].quantization, candidates[1].quantization]
    else:
        allowed = [state.quantization]
    assert info.info(c)["config"].get("quantization_config") in allowed
    state.quantization = info.info(c)["config"].get("quantization_config")
    assert reads.count(c, {}) == {"count": len(state.points)}
    tag = {"must": [{"key": "tag", "match": {"value": "t1"}}]}
    tagged = sum(1 for _, p in state.points.values() if p.get("tag") == "t1")
    assert reads.count(c, {"filter": tag}) == {"count": tagged}
    for pid in random.Random(len(found)).sample(sorted(state.points, key=str), min(5, len(found))):
        q = writer.vector_of(state.points[pid][0]).tolist()
        hits = query.query(c, {"query": q, "limit": 3, "params": {"exact": True}})["points"]
        assert hits[0]["id"] == pid, (pid, hits)
        hits = query.query(c, {"query": q, "limit": 3})["points"]  # the index answers too
        assert hits
        sparse = writer.sparse_of(state.points[pid][0])
        hits = query.query(c, {"query": sparse, "using": "s", "limit": 1000})["points"]
        assert pid in [h["id"] for h in hits], (pid, sparse)
    return state


class Writer:
    """crash_writer.py in a subprocess, its stdout drained by a thread."""

    def __init__(self, path: Path, seed: int, counter: int, ops: int | None = None) -> None:
        args = [sys.executable, str(WRITER), str(path), str(seed), str(counter)]
        if ops is not None:
            args.append(str(ops))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, word: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(line.strip() == word for line in self.lines):
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"writer exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
                assert time.monotonic() < deadline, f"writer never printed {word!r}"
                self._seen.wait(0.1)

    def kill(self) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """SIGKILL; then the acknowledged operations (in order) and the one in flight."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(30)
        assert self.proc.returncode == -signal.SIGKILL, self.proc.stderr.read()  # type: ignore[union-attr]
        acknowledged, inflight = [], None
        for line in self.lines:
            if not line.endswith("\n"):
                break  # torn by the kill: the call after it never started
            word, _, rest = line.rstrip("\n").partition(" ")
            if word == "start":
                inflight = json.loads(rest)
            elif word in ("done", "fail"):
                op = json.loads(rest)
                assert op == inflight
                inflight = None
                if word == "done":
                    acknowledged.append(op)
        return acknowledged, inflight


def kill_round(
    path: Path, state: State, rng: random.Random, counter: int, early: bool = False
) -> tuple[State, int]:
    """One writer run killed after a random delay, then the reopen check; the state next
    rounds continue from, and how many operations were acknowledged. `early`: the kill may
    come while the writer still opens (replays, truncates the WAL) or creates the storage."""
    w = Writer(path, rng.randrange(2**31), counter)
    if early:
        time.sleep(rng.uniform(0.2, 2.0))
    else:
        w.wait_for("ready")
        time.sleep(rng.uniform(0.05, 1.2))
    acknowledged, inflight = w.kill()
    for op in acknowledged:
        state = state.applied(op)
    with Database(path) as db:
        if not db.exists(writer.NAME):  # killed while creating it: never acknowledged
            assert "ready\n" not in w.lines and not state.points
            return state, 0
        state = check(db, state, inflight)
        if rng.random() < 0.3:  # sometimes let the optimizer finish what it found
            assert db.collection(writer.NAME).optimizer.wait_idle(60)
            state = check(db, state, None)
    return state, len(acknowledged)


def kill_rounds(
    tmp_path: Path, rounds: int, fresh_every: int, seed: int, early: float = 0.0
) -> None:
    """`rounds` kills mid-write, plus a share `early` of kills while the writer starts."""
    rng = random.Random(seed)
    acknowledged_total = killed_writing = 0
    path, state = tmp_path / "s0", State()
    i = 0
    while killed_writing < rounds:
        if i and i % fresh_every == 0:
            path, state = tmp_path / f"s{i}", State()
        is_early = rng.random() < early
        state, acknowledged = kill_round(path, state, rng, (i + 1) * 1_000_000, is_early)
        acknowledged_total += acknowledged
        killed_writing += not is_early
        i += 1
    assert acknowledged_total > rounds  # the writers did get going


def test_kill_mid_write_quick(tmp_path: Path) -> None:
    kill_rounds(tmp_path, rounds=2, fresh_every=2, seed=1)


@pytest.mark.slow
def test_kill_mid_write_continuing(tmp_path: Path) -> None:
    """20 kills mid-write on one storage, each round writing on after the previous crash,
    and a few more while the writer opens the storage."""
    kill_rounds(tmp_path, rounds=20, fresh_every=1_000, seed=2, early=0.2)


@pytest.mark.slow
def test_kill_mid_write_fresh(tmp_path: Path) -> None:
    """Kills of writers on fresh storage: early crashes (during create, the first segments)."""
    kill_rounds(tmp_path, rounds=8, fresh_every=1, seed=3, early=0.3)


# ---- torn WAL tails ---------------------------------------------------------------------------


def logged_storage(tmp_path: Path, ops: int) -> tuple[Path, list[dict[str, Any]], list[State]]:
    """A storage whose WAL holds `ops` operations (indexing off: nothing checkpoints them),
    left by a killed writer; those operations, and the state after each prefix of them."""
    path = tmp_path / "wal"
    w = Writer(path, seed=7, counter=1, ops=ops)
    w.wait_for("idle")
    acknowledged, inflight = w.kill()
    assert inflight is None
    states = [State()]
    for op in acknowledged:
        states.append(states[-1].applied(op))
    return path, acknowledged, states


def reopened(path: Path) -> dict[Any, Any]:
    with Database(path) as db:
        return stored(db.collection(writer.NAME))


def test_torn_wal_tail_is_ignored(tmp_path: Path) -> None:
    ops = 40
    path, acknowledged, states = logged_storage(tmp_path, ops)
    wal = path / "collections" / writer.NAME / "wal.log"
    assert wal.stat().st_size > 0
    pristine = wal.read_bytes()
    # without damage everything comes back (and the WAL must not have been emptied by a
    # checkpoint: reopen from a copy, since closing checkpoints)
    snapshot = tmp_path / "snapshot"
    shutil.copytree(path, snapshot)
    assert mismatch(reopened(path), states[-1]) is None

    def restore() -> None:
        shutil.rmtree(path)
        shutil.copytree(snapshot, path)

    # garbage after the last record: ignored, nothing lost
    for garbage in (b"\x00", b"\xff" * 3, b"\x10\x00\x00\x00junk", os.urandom(100)):
        restore()
        with open(wal, "ab") as f:
            f.write(garbage)
        assert mismatch(reopened(path), states[-1]) is None, garbage
    # the last record cut short: it is gone, every record before it stays
    for cut in (1, 3, 9):
        restore()
        with open(wal, "r+b") as f:
            f.truncate(len(pristine) - cut)
        assert mismatch(reopened(path), states[-2]) is None, cut
    # a damaged byte in the middle: that one record is lost, every record after it replayed
    restore()
    data = bytearray(pristine)
    data[len(data) // 2] ^= 0xFF
    wal.write_bytes(bytes(data))
    found = reopened(path)
    skipping = []
    for lost in range(len(acknowledged)):
        state = State()
        for k, op in enumerate(acknowledged):
            state = state if k == lost else state.applied(op)
        skipping.append(mismatch(found, state) is None)
    assert any(skipping[1:-1]), skipping
    # and after a cut tail the storage takes new writes and keeps them
    restore()
    with open(wal, "ab") as f:
        f.write(b"\x07" * 5)
    with Database(path) as db:
        c = db.collection(writer.NAME)
        c.upsert({"points": [{"id": 999, "vector": writer.vector_of(5).tolist()}]})
    with Database(path) as db:
        assert reads.retrieve(db.collection(writer.NAME), {"ids": [999]})[0]["id"] == 999
        assert reads.count(db.collection(writer.NAME), {}) == {"count": len(states[-1].points) + 1}
