"""A query stage's points, best first, kept as arrays.

A point is a segment position (its index in `Collection.segments`, stable under the read lock)
and an offset in that segment. The searches of a stage give numpy arrays; fusion and the
candidates of a rescoring stage work on them as arrays, and a Python tuple (a `Hit`) is made
only for the points a caller reads one by one: a page, a formula, groups.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np
import numpy.typing as npt

from vqdb.native import _core
from vqdb.segment.segment import Segment

Hit = tuple[float, int, Segment, int]  # score, segment position, segment, offset
Scores = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]

_OFFSET_BITS = 40  # a key is position << 40 | offset (cpp/query/merge.h): one int64 per point
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1


class Ranked(Sequence[Hit]):
    """Scores and keys, best first: the keys are what fusion sums by, and a page or a rescoring
    stage splits them back into segment positions and offsets."""

    __slots__ = ("scores", "keys", "segments")

    def __init__(self, scores: Scores, keys: Ints, segments: Sequence[Segment]):
        self.scores, self.keys, self.segments = scores, keys, segments

    @classmethod
    def of(cls, hits: Sequence[Hit], segments: Sequence[Segment]) -> Ranked:
        if isinstance(hits, Ranked):
            return hits
        return cls(
            np.array([h[0] for h in hits], dtype=np.float32),
            np.array([h[1] << _OFFSET_BITS | h[3] for h in hits], dtype=np.int64),
            segments,
        )

    @classmethod
    def merged(
        cls,
        positions: list[int],
        offsets: list[Ints],
        scores: list[Scores],
        queries: int,
        segments: Sequence[Segment],
        ascending: bool,
        threshold: float | None,
        wanted: int,
    ) -> list[Ranked]:
        """Each query's ranked list from the answers of several segments to a batch of
        `queries`: a segment position each, with its offsets and scores, (queries, k) arrays
        padded with offset -1. By score, then segment position, then offset; `wanted` of them.
        One native pass for the whole batch: a query's rows are a slice of it."""
        best, keys, ends = _core.merge(
            positions, offsets, scores, queries, ascending, threshold, wanted
        )
        return cls.split(best, keys, ends, segments)

    @classmethod
    def split(
        cls, scores: Scores, keys: Ints, ends: Ints, segments: Sequence[Segment]
    ) -> list[Ranked]:
        """Each query's list from a batch's laid end to end (ends[q]: where query q's stops)."""
        if ends.shape[0] == 1:
            return [cls(scores, keys, segments)]
        cuts = ends.tolist()
        return [cls(scores[a:b], keys[a:b], segments) for a, b in zip([0, *cuts], cuts)]

    @property
    def where(self) -> Ints:
        """Each point's segment position."""
        where: Ints = self.keys >> _OFFSET_BITS
        return where

    @property
    def offsets(self) -> Ints:
        """Each point's offset in its segment."""
        offsets: Ints = self.keys & _OFFSET_MASK
        return offsets

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @overload
    def __getitem__(self, i: int) -> Hit: ...

    @overload
    def __getitem__(self, i: slice) -> Ranked: ...

    def __getitem__(self, i: int | slice) -> Hit | Ranked:
        if isinstance(i, slice):
            return Ranked(self.scores[i], self.keys[i], self.segments)
        key = int(self.keys[i])
        s = key >> _OFFSET_BITS
        return float(self.scores[i]), s, self.segments[s], key & _OFFSET_MASK

    def located(self) -> list[tuple[Segment, int]]:
        """Each point's segment and offset: what a page shows, without the scores' tuples."""
        segments = self.segments
        return [(segments[k >> _OFFSET_BITS], k & _OFFSET_MASK) for k in self.keys.tolist()]

    def __iter__(self) -> Iterator[Hit]:
        segments = self.segments
        for score, key in zip(self.scores.tolist(), self.keys.tolist()):
            s = key >> _OFFSET_BITS
            yield score, s, segments[s], key & _OFFSET_MASK


def candidates(sources: Sequence[Ranked]) -> dict[int, Ints]:
    """The points of every source, per segment position: sorted offsets, each once."""
    if not sources:
        return {}
    keys = np.unique(np.concatenate([r.keys for r in sources]))  # by position, then offset
    where, offsets = keys >> _OFFSET_BITS, keys & _OFFSET_MASK
    return {int(s): offsets[where == s] for s in np.unique(where)}
