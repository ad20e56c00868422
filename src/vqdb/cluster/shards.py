"""The shards of a distributed collection and their replicas' actors: calling them, noticing
when one dies, and bringing it back.

Writes to a shard go to every replica under the shard's lock, so all replicas apply them in
the same order; a write counts as done when `write_consistency_factor` replicas applied it. A
replica whose call fails because its actor died is marked Dead and keeps the writes it missed;
reads go to the shard's Active replicas only. The missed writes are kept on the router's disk too
(backlog.py), so a restarted server still owes them. A watcher thread pings Dead replicas: once Ray
has restarted the actor (which replays its own WAL on start), it is Partial while the missed
writes are sent to it in order (under the shard's lock, so none slips past), then Active.
A missed write may have reached the replica before it died; sending it again is harmless,
since every write a router sends names its points (ids or a filter) and states their result.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vqdb.cluster import ray_module
from vqdb.cluster.backlog import Backlog
from vqdb.errors import BadInput

log = logging.getLogger("vqdb.cluster")

ACTIVE, DEAD, PARTIAL = "Active", "Dead", "Partial"  # Qdrant's replica states
WRITE_TIMEOUT = 600.0  # seconds a replica may take to apply one write before it counts as dead
READ_TIMEOUT = 300.0
WATCH_INTERVAL = 0.5


class Unavailable(BadInput):
    """No replica of a shard can answer (Qdrant's 'No active replica' service error)."""


@dataclass
class Replica:
    index: int
    node: str | None
    folder: str
    handle: Any = None
    state: str = ACTIVE
    missed: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


@dataclass
class Shard:
    id: int
    key: str | int | None
    replicas: list[Replica]
    lock: threading.Lock = field(default_factory=threading.Lock)
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def active(self) -> list[Replica]:
        return [r for r in self.replicas if r.state == ACTIVE]


def actor_failed(error: BaseException) -> bool:
    """Whether a Ray error means the actor is gone (died, restarting, unreachable)."""
    ray = ray_module()
    return isinstance(error, (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError))


def unwrap(answer: tuple[str, Any]) -> Any:
    kind, value = answer
    if kind == "error":
        raise value
    return value


class Shards:
    """The shards of one collection; `spawn(shard, replica)` makes (or finds) an actor."""

    def __init__(
        self,
        shards: list[Shard],
        spawn: Callable[[Shard, Replica], Any],
        write_consistency: int,
        backlog: Backlog,
    ) -> None:
        self.shards = shards
        self.spawn = spawn
        self.write_consistency = write_consistency
        self.backlog = backlog
        for shard in shards:  # what a previous server owed its replicas, they are owed still
            for replica in shard.replicas:
                replica.missed = backlog.load(shard.id, replica.index)
                if replica.missed:
                    replica.state = DEAD
        self._closing = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="vqdb-replicas")
        self._watcher.start()

    def by_ids(self, ids: Sequence[int]) -> list[Shard]:
        return [s for s in self.shards if s.id in ids]

    # ---- writes ----------------------------------------------------------------------------

    def write(self, parts: dict[int, tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Calls method(*args) on every replica of each shard in `parts` (shard id -> call);
        returns one answer per shard (the first replica's that applied it)."""
        ray = ray_module()
        shards = sorted(self.by_ids(list(parts)), key=lambda s: s.id)
        for shard in shards:  # in id order: two writes never wait for each other's locks
            shard.lock.acquire()
        try:
            sent = []
            behind: dict[int, list[Replica]] = {s.id: [] for s in shards}  # did not get it
            for shard in shards:
                method, args = parts[shard.id]
                for replica in shard.replicas:
                    if replica.state != ACTIVE:
                        behind[shard.id].append(replica)
                        continue
                    ref = getattr(replica.handle, method).remote(*args)
                    sent.append((shard, replica, ref))
            answers: dict[int, list[Any]] = {s.id: [] for s in shards}
            for shard, replica, ref in sent:
                try:
                    answers[shard.id].append(ray.get(ref, timeout=WRITE_TIMEOUT))
                except Exception as e:
                    if not actor_failed(e):
                        raise
                    log.warning(
                        "replica %d of shard %d failed a write: %s",
                        replica.index,
                        shard.id,
                        type(e).__name__,
                    )
                    replica.state = DEAD
                    behind[shard.id].append(replica)
            for shard in shards:  # a write some replica applied is owed to those that missed it
                if any(answer[0] == "ok" for answer in answers[shard.id]):
                    for replica in behind[shard.id]:
                        replica.missed.append(parts[shard.id])
                        self.backlog.add(shard.id, replica.index, parts[shard.id])
            out = []
            for shard in shards:
                done = answers[shard.id]
                applied = [a for a in done if a[0] == "ok"]
                if not applied:
                    if done:
                        unwrap(done[0])  # the engine's own error, e.g. bad input
                    raise Unavailable(
                        f"Service internal error: no replica of shard {shard.id} "
                        "could apply the write"
                    )
                needed = min(self.write_consistency, len(shard.replicas))
                if len(applied) < needed:
                    raise Unavailable(
                        f"Service internal error: only {len(applied)} replicas of shard "
                        f"{shard.id} applied the write, write_consistency_factor is {needed}"
                    )
                out.append(unwrap(applied[0]))
            return out
        finally:
            for shard in shards:
                shard.lock.release()

    # ---- reads -----------------------------------------------------------------------------

    def read(self, shards: list[Shard], method: str, *args: Any) -> list[Any]:
        """method(*args) on one Active replica of each shard (they take turns), another one
        of the shard when that replica's actor is gone; one answer per shard."""
        ray = ray_module()
        pending = {shard.id: (shard, self._pick(shard, set())) for shard in shards}
        tried: dict[int, set[int]] = {shard.id: set() for shard in shards}
        answers: dict[int, Any] = {}
        refs = {sid: getattr(r.handle, method).remote(*args) for sid, (_, r) in pending.items()}
        while refs:
            retry = {}
            for sid, ref in refs.items():
                shard, replica = pending[sid]
                try:
                    answers[sid] = unwrap(ray.get(ref, timeout=READ_TIMEOUT))
                except Exception as e:
                    if not actor_failed(e):
                        raise
                    self._lost(shard, replica)
                    tried[sid].add(replica.index)
                    other = self._pick(shard, tried[sid])
                    pending[sid] = (shard, other)
                    retry[sid] = getattr(other.handle, method).remote(*args)
            refs = retry
        return [answers[shard.id] for shard in shards]

    def _pick(self, shard: Shard, tried: set[int]) -> Replica:
        active = [r for r in shard.active() if r.index not in tried]
        if not active:
            raise Unavailable(f"Service internal error: no active replica of shard {shard.id}")
        return active[next(shard.turn) % len(active)]

    def _lost(self, shard: Shard, replica: Replica) -> None:
        """A read found the replica's actor gone: no reads go to it until it is back (the
        shard's lock: a write may be sending to it right now)."""
        with shard.lock:
            if replica.state == ACTIVE:
                log.warning("replica %d of shard %d is gone", replica.index, shard.id)
                replica.state = DEAD

    # ---- bringing replicas back ------------------------------------------------------------

    def _watch(self) -> None:
        while not self._closing.wait(WATCH_INTERVAL):
            for shard in list(self.shards):
                for replica in shard.replicas:
                    if replica.state != ACTIVE and not self._closing.is_set():
                        try:
                            self._recover(shard, replica)
                        except Exception as e:  # still down: the next round tries again
                            log.debug("replica %d of shard %d: %s", replica.index, shard.id, e)

    def _recover(self, shard: Shard, replica: Replica) -> None:
        ray = ray_module()
        try:
            ray.get(replica.handle.ready.remote(), timeout=10)
        except ray.exceptions.ActorDiedError:
            # killed for good (not restarting): a new actor of the same name opens the folder
            replica.handle = self.spawn(shard, replica)
            ray.get(replica.handle.ready.remote(), timeout=120)
        # it serves what it logged; now what it missed, in order, and no write in between
        while True:
            with shard.lock:
                backlog, replica.missed = replica.missed, []
                replica.state = PARTIAL
                try:
                    for method, args in backlog:
                        answer = ray.get(
                            getattr(replica.handle, method).remote(*args), timeout=WRITE_TIMEOUT
                        )
                        if answer[0] == "error":  # refused on every replica alike
                            log.info("replayed write refused: %s", answer[1])
                except BaseException:
                    replica.missed = backlog + replica.missed
                    replica.state = DEAD
                    raise
                if not replica.missed:
                    self.backlog.clear(shard.id, replica.index)
                    replica.state = ACTIVE
                    log.warning(
                        "replica %d of shard %d is active again (%d writes caught up)",
                        replica.index,
                        shard.id,
                        len(backlog),
                    )
                    return

    def close(self) -> None:
        self._closing.set()
