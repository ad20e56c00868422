"""Which shard a point lives in: its id's hash among the shards (sharding_method auto), or
among the shards of its shard key (custom). The hash is stable across processes and machines
(never Python's hash(), which is salted per process)."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from vqdb.errors import BadInput
from vqdb.segment.ids import PointId

ShardKey = str | int


def id_hash(pid: PointId) -> int:
    """A u32 of the id: its 8 little-endian bytes for an integer, its 16 bytes for a UUID."""
    if isinstance(pid, int):
        return zlib.crc32(pid.to_bytes(8, "little"))
    return zlib.crc32(uuid.UUID(str(pid)).bytes)


def split(ids: Sequence[PointId], shards: Sequence[int]) -> dict[int, np.ndarray[Any, Any]]:
    """Positions of `ids` per shard of `shards` (the candidates, in their order), by hash."""
    if len(shards) == 1:
        return {shards[0]: np.arange(len(ids), dtype=np.int64)}
    which = np.fromiter((id_hash(pid) % len(shards) for pid in ids), np.int64, len(ids))
    out = {}
    for i, shard in enumerate(shards):
        positions = np.flatnonzero(which == i)
        if positions.shape[0]:
            out[shard] = positions
    return out


def shard_keys(raw: Any) -> list[ShardKey] | None:
    """A request's shard_key selector (one key, a list of keys, or {"fallback", "target"}'s
    target) as a list; None when it names none."""
    if raw is None:
        return None
    if isinstance(raw, dict) and "target" in raw:
        raw = raw["target"]
    keys = raw if isinstance(raw, list) else [raw]
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise BadInput(f"shard_key must be a string or an integer, got {key!r}")
    return list(keys)
