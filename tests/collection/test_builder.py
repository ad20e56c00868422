"""The optimizer's build (segment/builder.py): a snapshot that copies nothing under the lock,
the sources' rows read afterwards, and what changed meanwhile carried over at the swap."""

from __future__ import annotations

import random
import uuid

import numpy as np

from vqdb.index.multi_vectors import MultiVectors
from vqdb.index.sparse_vectors import SparseVectors
from vqdb.segment import builder
from vqdb.segment.ids import sort_key
from vqdb.segment.segment import Segment

DIM = 8
ARGS = {
    "": {"dim": DIM, "distance": "Euclid"},
    "m": {"dim": 3, "distance": "Dot", "multivector": True},
    "s": {"kind": "sparse"},
}
BUILT = {
    "": {"dim": DIM, "distance": "Euclid", "hnsw": {"m": 8, "ef_construct": 32}},
    "m": {"dim": 3, "distance": "Dot", "multivector": True},
    "s": {"kind": "sparse"},
}


def filled(rng: np.random.Generator, ids: list[int | str]) -> tuple[Segment, dict]:
    """An appendable segment of `ids` with raw (unnormalised, clustered) dense rows, a
    multivector and a sparse vector each; and what each id holds."""
    segment = Segment.empty(uuid.uuid4().hex[:8], ARGS)
    centres = rng.standard_normal((4, DIM)) * 100
    dense = centres[rng.integers(0, 4, len(ids))] + rng.standard_normal((len(ids), DIM))
    dense = dense.astype(np.float32)
    counts = rng.integers(1, 4, len(ids))
    multi = MultiVectors(
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        rng.standard_normal((int(counts.sum()), 3)).astype(np.float32),
    )
    indptr = np.arange(len(ids) + 1, dtype=np.int64) * 2
    indices = np.stack([np.arange(len(ids)), np.arange(len(ids)) + 5000], 1).ravel()
    sparse = SparseVectors(indptr, indices.astype(np.uint32), rng.random(2 * len(ids), np.float32))
    vectors = {"": (None, dense), "m": (None, multi), "s": (None, sparse)}
    segment.append(ids, vectors, [{"i": str(pid)} for pid in ids])
    held = {pid: plain(segment, o) for o, pid in enumerate(ids)}
    return segment, held


def plain(segment: Segment, offset: int) -> dict[str, list]:
    """The point's vectors as lists (a sparse one as [indices, values])."""
    out: dict[str, list] = {}
    for name, vector in segment.point_vectors(offset, ARGS).items():
        out[name] = (
            [vector.indices.tolist(), vector.values.tolist()] if name == "s" else (vector.tolist())
        )
    return out


def test_points_come_in_id_order_from_every_source() -> None:
    rng = np.random.default_rng(0)
    draw = random.Random(0)  # ids over their whole range: the high bit set too
    mixed: list[int | str] = [str(uuid.UUID(int=draw.getrandbits(128))) for _ in range(20)]
    mixed += [draw.getrandbits(64) for _ in range(30)] + [5, 2**64 - 1]
    order = rng.permutation(len(mixed))
    a, held_a = filled(rng, [mixed[i] for i in order[:25]])
    b, held_b = filled(rng, [mixed[i] for i in order[25:]])
    a.delete(np.array([0, 3]))
    gone = {a.ids.id_at(0), a.ids.id_at(3)}
    snap = builder.snapshot([a, b])
    new = builder.build("n", snap, BUILT, {})
    want = sorted((pid for pid in mixed if pid not in gone), key=sort_key)
    assert [new.ids.id_at(o) for o in range(new.size)] == want
    held = {**held_a, **held_b}
    for offset, pid in enumerate(want):
        assert plain(new, offset) == held[pid]
        assert new.payload(offset) == {"i": str(pid)}


def test_deletes_after_the_snapshot_are_carried_over() -> None:
    """The build reads the sources' rows after the lock is let go: points deleted and vectors
    dropped meanwhile are still read, then gone from the new segment at the swap."""
    rng = np.random.default_rng(1)
    source, held = filled(rng, list(range(200)))
    snap = builder.snapshot([source])
    source.delete(np.arange(0, 200, 3))
    source.delete_vectors(np.array([1, 2]), ["m"])
    new = builder.build("n", snap, BUILT, {})
    builder.carry_over(new, snap, [source], {})
    shown = [new.ids.id_at(o) for o in new.live_offsets().tolist()]
    assert shown == [i for i in range(200) if i % 3]
    for offset in new.live_offsets().tolist():
        pid = new.ids.id_at(offset)
        got = plain(new, offset)
        assert got == {k: v for k, v in held[pid].items() if k != "m" or pid not in (1, 2)}
    query = np.array([held[4][""]], dtype=np.float32)
    hits, _ = new.vectors[""].search(query, 1, {"exact": True})
    assert hits[0][0] == 4  # offset 4 holds id 4: ids 0..199 in order
