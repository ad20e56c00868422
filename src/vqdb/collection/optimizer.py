"""The background optimizer: turns appendable segments into indexed, quantized ones, rebuilds
segments after a config change or many deletes, and merges small segments.

One thread per collection, woken after writes. Each job snapshots its source segments under the
read lock, builds the new segment with no lock held (searches and writes go on), writes its
files, then swaps it in under the write lock and checkpoints. Which jobs, in order:
1. segments built with an older config (quantization, graph or on_disk changed);
2. sealed appendable segments. The appendable one is sealed once it holds more than the
   indexing threshold and writes have paused for a moment (a bulk upload becomes one segment,
   not a string of small ones rebuilt by merges), or once it reaches the maximum segment size,
   or, where it holds deferred points (prevent_unoptimized: reads wait for them), as soon as no
   other sealed segment is waiting or being built, however few live points it has left: so a
   steady upload leaves at most two segments' thresholds for searches to scan;
3. indexed segments with more than `deleted_threshold` of their points deleted;
4. merges of the two smallest indexed segments while there are more than the target number
   and the two together stay under the maximum segment size.
With max_optimization_threads 0 it does nothing (the collection stays yellow while work is due),
as in Qdrant.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from vqdb.collection.collection import Collection, new_segment_name
from vqdb.collection.optimizations import COMPLETED_KEPT, Optimization, report, segment_info
from vqdb.collection.storage import BUILDING, checkpoint, segment_dir
from vqdb.durations import Durations
from vqdb.index.stores import store_config
from vqdb.segment import builder, files
from vqdb.segment.segment import Segment
from vqdb.storage.files import release_free_memory

log = logging.getLogger("vqdb")

QUIET_SECONDS = 0.5  # writes paused this long: the appendable segment may be sealed
# How much lower a build's CPU priority is than the server's: Qdrant runs its HNSW build threads
# at nice 10 "so we interfere less with serving traffic". Where a build and requests want the
# same cores, the requests come first and the build takes what is left (docs/ARCHITECTURE.md:
# searches during a 100k x 768 rebuild on 2 cores, p99 4.6 -> 0.6 ms).
BUILD_NICENESS = 10

T = TypeVar("T")


class Optimizer:
    def __init__(self, collection: Collection, threads: int = 0) -> None:
        self.collection = collection
        self.threads = threads
        self.error: str | None = None
        self.busy = False
        self.durations = Durations()  # of the segment builds swapped in (Qdrant's telemetry)
        self.optimized_points = 0  # the points of those builds, since the start
        self.running: Optimization | None = None
        self.completed: deque[Optimization] = deque(maxlen=COMPLETED_KEPT)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, name=f"vqdb-optimizer-{collection.name}", daemon=True
        )
        collection.optimizer = self
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Blocks until there is nothing left to optimize; False on timeout, or at once where
        work is due that it may not do (max_optimization_threads 0)."""
        if not self.collection.config.optimizing() and not self.busy:
            return not self.pending()
        deadline = None if timeout is None else time.monotonic() + timeout
        self.wake()
        with self._idle:
            while self.busy or self._wake.is_set() or self.pending():
                if self.error is not None or self._stop.is_set():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(0.05 if left is None else min(left, 0.05))
        return True

    def pending(self) -> bool:
        with self.collection.lock.read():
            return self._should_seal(now=False) or self._next_job() is not None

    def progress(self, extras: set[str], completed_limit: int = 16) -> dict[str, Any]:
        """Qdrant's optimization progress (optimizations.py). The queue is an estimate: the
        appendable segment once due for sealing, and the job the optimizer would pick next."""
        c = self.collection
        with c.lock.read():
            queued = []
            if self._should_seal(now=False):
                queued.append(("indexing", [c.appendable]))
            job = self._next_job()
            running = self.running
            busy = set() if running is None else {s["uuid"] for s in running.segments}
            if job is not None and not busy & {segment_info(s)["uuid"] for s in job[1]}:
                queued.append(job)
            segments = list(c.segments)
        return report(running, queued, list(self.completed), segments, extras, completed_limit)

    # ---- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            # a timeout, too: a quiet period after writes may make sealing due
            self._wake.wait(timeout=QUIET_SECONDS)
            if self._stop.is_set():
                break
            self.busy = True
            self._wake.clear()
            try:
                while not self._stop.is_set() and self._step():
                    pass
            except Exception as e:  # keep serving searches; report the failure in info()
                log.exception("optimizer of collection %s failed", self.collection.name)
                self.error = f"{type(e).__name__}: {e}"
            finally:
                self.busy = False
                with self._idle:
                    self._idle.notify_all()

    def _step(self) -> bool:
        """Runs one job; False when there is nothing to do."""
        c = self.collection
        with c.lock.write():
            if c.closed or not c.config.optimizing():
                return False
            if self._should_seal():
                c.seal()
            sources = self._next_job()
        if sources is None:
            return False
        self._rebuild(*sources)
        return True

    def _should_seal(self, now: bool = True) -> bool:
        """Whether the appendable segment is due for sealing (`now`: at this moment, rather
        than once writes pause)."""
        c = self.collection
        names = c.config.names
        if not names:
            return False
        if c.appendable.deferred_count and not any(
            s.appendable and s is not c.appendable for s in c.segments
        ):
            # by offset: deletes may have left it under the threshold. One at a time: while one
            # is built, the appendable shows at most the threshold and defers the rest
            return True
        threshold = min(c.config.indexing_threshold_vectors(n) for n in names)
        if threshold <= 0 or c.appendable.count < threshold:
            return False
        full = c.appendable.count >= min(c.config.max_segment_vectors(n) for n in names)
        return full or not now or time.monotonic() - c.last_write >= QUIET_SECONDS

    def _next_job(self) -> tuple[str, list[Segment]] | None:
        """Which optimizer (Qdrant's names) runs next, on which segments."""
        c = self.collection
        names = c.config.names
        if not names or min(c.config.indexing_threshold_vectors(n) for n in names) <= 0:
            return None  # indexing disabled: everything stays appendable
        indexed = [s for s in c.segments if not s.appendable]
        for segment in indexed:
            if not self.current(segment):
                return "config_mismatch", [segment]
        sealed = [s for s in c.segments if s.appendable and s is not c.appendable]
        if sealed:
            return "indexing", sealed
        options = c.config.optimizers
        for segment in indexed:
            deleted = segment.size - segment.count
            if (
                deleted >= options.vacuum_min_vector_number
                and deleted > options.deleted_threshold * segment.size
            ):
                return "vacuum", [segment]
        target = max(1, options.default_segment_number or 2)
        smallest = sorted(indexed, key=lambda s: s.count)[:2]
        cap = min(c.config.max_segment_vectors(n) for n in names)
        if len(indexed) > target and sum(s.count for s in smallest) <= cap:
            return "merge", smallest
        return None

    def current(self, segment: Segment) -> bool:
        """Whether the segment was built with the collection's present config."""
        config = self.collection.config
        for name, args in config.store_args().items():
            index = segment.vectors.get(name)
            if index is None or index.config() != store_config(args):
                return False
        stored = self.collection.path is not None
        for name, vector in config.vectors.items():
            if segment.vectors[name].read_only != (vector.on_disk and stored):
                return False
        return True

    def _rebuild(self, kind: str, sources: Sequence[Segment]) -> None:
        name = new_segment_name()
        job = Optimization(kind, [segment_info(s) for s in sources], name)
        job.whole.start()
        self.running = job
        try:
            self._build(job, name, sources)
            if job.status == "optimizing":
                job.status = "done"
        except BaseException as e:
            job.status = {"error": f"{type(e).__name__}: {e}"}
            raise
        finally:
            job.whole.finish()
            self.running = None
            self.completed.append(job)

    def _build(self, job: Optimization, name: str, sources: Sequence[Segment]) -> None:
        c = self.collection
        job.phase("snapshot").start()
        with c.lock.read():
            snap = builder.snapshot(sources)
            vectors_changed = c.vectors_changed
            schema = dict(c.payload_schema)
        job.phase("snapshot").finish()
        started = time.perf_counter()
        new = _behind_requests(lambda: self._made(job, name, snap, schema))
        job.phase("swap").start()
        with c.lock.write():
            stale = c.vectors_changed != vectors_changed  # a named vector made or deleted
            if c.closed or stale or any(s not in c.segments for s in sources):
                self._discard(new)
                job.status = {"cancelled": "the collection changed during the build"}
                return
            if c.path is not None:  # renamed only now: a checkpoint meanwhile deletes strays
                os.replace(c.path / "segments" / (BUILDING + name), segment_dir(c, new))
            builder.carry_over(new, snap, sources, c.payload_schema)
            at = min(c.segments.index(s) for s in sources)
            c.segments = [s for s in c.segments if s not in sources]
            c.segments.insert(at, new)
            checkpoint(c)
            self.durations.add(time.perf_counter() - started)
            self.optimized_points += new.count
        job.phase("swap").finish()
        release_free_memory()  # the build's copies
        log.info(
            "collection %s: built segment %s (%d points) from %d segment(s) in %.1f s",
            c.name,
            name,
            new.count,
            len(sources),
            time.perf_counter() - started,
        )

    def _made(
        self, job: Optimization, name: str, snap: builder.Snapshot, schema: dict[str, Any]
    ) -> Segment:
        """The new segment built from the snapshot, and its files written (no lock held)."""
        c = self.collection
        args = c.config.store_args()
        job.phase("build").start()
        new = builder.build(name, snap, args, schema, self.threads)
        job.phase("build").finish()
        job.phase("save").start()
        if c.path is not None:
            staging = c.path / "segments" / (BUILDING + name)
            on_disk = c.config.on_disk
            try:
                files.save(
                    new,
                    staging,
                    0,
                    full=True,
                    on_disk=on_disk,
                    payloads_cached=c.config.payloads_cached,
                )
                if on_disk:  # search the originals from the file, not from a copy in RAM
                    new = files.load(
                        staging,
                        name,
                        0,
                        on_disk=on_disk,
                        read_path=c.read_path,
                        payload_schema=schema,
                        payloads_cached=c.config.payloads_cached,
                    )
            except BaseException:  # a full disk, say: give its space back, retry later
                shutil.rmtree(staging, ignore_errors=True)
                raise
            new.on_disk_files = True
            new.generation = 0
        job.phase("save").finish()
        return new

    def _discard(self, segment: Segment) -> None:
        if self.collection.path is not None:
            staging = segment_dir(self.collection, segment).with_name(BUILDING + segment.name)
            shutil.rmtree(staging, ignore_errors=True)


def _behind_requests(make: Callable[[], T]) -> T:
    """make() on a thread of its own, BUILD_NICENESS lower in CPU priority (on Linux a thread's
    niceness is its own, and the native threads it starts inherit it), its result or its
    exception passed on. Only work outside the collection's locks goes there: a thread that
    holds a lock at a low priority holds up everyone who waits for it. A daemon, as the
    optimizer's thread is: an exit does not wait for a build."""
    made: Future[T] = Future()

    def run() -> None:
        _lower_priority()
        try:
            made.set_result(make())
        except BaseException as e:  # raised again on the optimizer's thread
            made.set_exception(e)

    name = f"{threading.current_thread().name}-build"
    threading.Thread(target=run, name=name, daemon=True).start()
    return made.result()


def _lower_priority() -> None:
    """This thread's niceness raised by BUILD_NICENESS (to 19 at most), on Linux; elsewhere
    setpriority takes a process, not a thread, and nothing changes."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + BUILD_NICENESS))
    except OSError as e:  # a sandbox that refuses it: the build runs as before
        log.debug("could not lower the build's priority: %s", e)
