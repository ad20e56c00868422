"""The distinct values of a payload index (a map index's values, a text index's tokens), each
with a code the index's arrays use.

The values an index held at its last merge are sorted, their code is their rank, and their
bytes lie in two arrays (the values back to back, and their bounds) that an optimized
segment's index files map in place (segment/files.py): a process reading the storage holds
only every SAMPLED-th of them as Python objects, where a list and a dict of them all took ~150
bytes a value in each process (a keyword of ids: one value a point). A value is found by
binary search over its bytes: in that list, then ~6 probes in the arrays (a million values).
Values seen since are held in a dict and coded after them, until `merge` sorts them in; it
also drops the values no point holds any more once they are a quarter of all (a keyword whose
values churn would otherwise grow until the optimizer rebuilt its segment).

A value's bytes: a string's UTF-8 (byte order is code point order, so the strings with a
prefix are one run), an integer's decimal digits, a bool's 0 or 1.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Arrays = dict[str, npt.NDArray[Any]]
# one value in this many kept as bytes in a list, per process (~1.6% of them): a search probes
# ~6 values in the arrays rather than ~20 (a million of them)
SAMPLED = 64


def _text(value: Hashable) -> bytes:
    return str(value).encode("utf-8", "surrogatepass")  # JSON may hold a lone surrogate


def _untext(raw: bytes) -> Hashable:
    return raw.decode("utf-8", "surrogatepass")


_CODECS: dict[type, tuple[Callable[[Hashable], bytes], Callable[[bytes], Hashable]]] = {
    str: (_text, _untext),
    int: (lambda v: b"%d" % v, int),  # type: ignore[str-format]
    bool: (lambda v: b"1" if v else b"0", lambda raw: raw == b"1"),
}


class Vocabulary(Sequence[Hashable]):
    """Values of one type (str, int or bool) <-> codes 0..len - 1."""

    def __init__(self, kind: type) -> None:
        self._encode, self._decode = _CODECS[kind]
        self._since: dict[bytes, int] = {}  # a value seen since the arrays -> its code
        self._since_order: list[bytes] = []
        self._ints: tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]] | None = None  # integers()
        self._take(np.zeros(0, np.uint8), np.zeros(1, np.int64))

    def __len__(self) -> int:
        return self._sorted + len(self._since_order)

    def __getitem__(self, code: int) -> Hashable:  # type: ignore[override]
        if not 0 <= code < len(self):
            raise IndexError(code)
        return self._decode(
            self._key(code) if code < self._sorted else self._since_order[code - self._sorted]
        )

    def __iter__(self) -> Iterator[Hashable]:
        return map(self.__getitem__, range(len(self)))

    def find(self, value: Hashable) -> int | None:
        """The code of `value`, None where it is not here."""
        return self._find(self._encode(value))

    def add(self, value: Hashable) -> int:
        """The code of `value`, given one if new."""
        raw = self._encode(value)
        code = self._since.get(raw)  # first: a bulk of new values finds them here
        if code is None:
            code = self._find(raw) if self._sorted else None
            if code is None:
                code = self._since[raw] = len(self)
                self._since_order.append(raw)
        return code

    def prefixed(self, prefix: str) -> npt.NDArray[np.int64]:
        """The codes of the strings that start with `prefix`."""
        raw = self._encode(prefix)
        # no UTF-8 byte is 0xff: every string with the prefix sorts below prefix + 0xff
        lo, hi = self._rank(raw), self._rank(raw + b"\xff")
        since = [code for key, code in self._since.items() if key.startswith(raw)]
        return np.concatenate([np.arange(lo, hi, dtype=np.int64), np.array(since, np.int64)])

    def merge(self, held: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.int64] | None:
        """Sorts the values seen since in among the others; with `held` (the codes an index
        holds), drops those it does not hold once they are a quarter of all. Returns each old
        code's new one (-1: dropped), or None where nothing was seen since (the codes stay)."""
        remap = self._sort_in()
        if remap is None or held is None:
            return remap
        used = np.zeros(len(self), np.bool_)
        used[remap[held]] = True
        unused = len(self) - int(np.count_nonzero(used))
        if unused * 4 <= len(self):
            return remap
        kept = self._keep(used)
        return np.where(remap >= 0, kept[remap], -1)

    def _keep(self, used: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """Keeps the values marked `used` (nothing pending), in order; each old code's new one
        (-1: dropped)."""
        lengths = np.diff(self._bounds)
        data = self._data[np.repeat(used, lengths)]
        bounds = np.zeros(int(np.count_nonzero(used)) + 1, np.int64)
        np.cumsum(lengths[used], out=bounds[1:])
        self._take(data, bounds)
        return np.where(used, np.cumsum(used) - 1, -1)

    def _sort_in(self) -> npt.NDArray[np.int64] | None:
        if not self._since_order:
            return None
        since = self._since_order
        order = np.array(sorted(range(len(since)), key=since.__getitem__), np.int64)
        new = [since[j] for j in order.tolist()]
        n = self._sorted
        at = (
            np.fromiter(map(self._rank, new), np.int64, len(new))
            if n
            else np.zeros(len(new), np.int64)
        )
        # a sorted value moves up by the new values below it; new value j lands at at[j] + j
        old_to_new = np.arange(n, dtype=np.int64) + np.searchsorted(at, np.arange(n), "right")
        placed = at + np.arange(len(new), dtype=np.int64)
        lengths = np.zeros(n + len(new), np.int64)
        lengths[old_to_new] = np.diff(self._bounds)
        lengths[placed] = np.fromiter(map(len, new), np.int64, len(new))
        bounds = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=bounds[1:])
        # the sorted values' bytes in runs, the new ones between them
        edges = [0, *self._bounds[at].tolist(), len(self._data)]
        pieces = [b""] * (2 * len(new) + 1)
        whole = self._data.tobytes()  # bytes slices: a million memoryviews cost seconds of GC
        pieces[0::2] = [whole[a:b] for a, b in zip(edges, edges[1:])]
        pieces[1::2] = new
        data = np.frombuffer(b"".join(pieces), np.uint8)
        since_to = np.empty(len(new), np.int64)
        since_to[order] = placed
        remap = np.concatenate([old_to_new, since_to])
        self._since, self._since_order = {}, []
        self._take(data, bounds)
        return remap

    def integers(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """An integer vocabulary's values by code as int64, and whether each fits in one (a
        JSON integer may not): the sorted ones read from their digits with numpy, once."""
        if self._ints is None:
            self._ints = _int64s(self._data, self._bounds)
        since = [self._decode(raw) for raw in self._since_order]
        fits = np.fromiter((_I64_MIN <= v <= _I64_MAX for v in since), np.bool_, len(since))  # type: ignore[operator]
        values = np.fromiter((v if ok else 0 for v, ok in zip(since, fits)), np.int64, len(since))
        return np.concatenate([self._ints[0], values]), np.concatenate([self._ints[1], fits])

    def state(self) -> Arrays:
        """The arrays (nothing may be pending: merge first)."""
        assert not self._since_order, "merge before saving"
        return {"values": self._data, "value_bounds": self._bounds}

    def restore(self, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        self._take(arrays["values"], arrays["value_bounds"])

    @classmethod
    def of(cls, kind: type, values: list[Hashable]) -> tuple[Vocabulary, npt.NDArray[np.int64]]:
        """A vocabulary of distinct `values` (their codes: positions in the list), and each
        position's code in it: what an index saved as a list of values is read back as."""
        vocabulary = cls(kind)
        for value in values:
            vocabulary.add(value)
        renumbered = vocabulary.merge()
        return vocabulary, np.zeros(0, np.int64) if renumbered is None else renumbered

    # ---- inside ---------------------------------------------------------------------------

    def _take(self, data: npt.NDArray[np.generic], bounds: npt.NDArray[np.generic]) -> None:
        self._data = np.ascontiguousarray(data, dtype=np.uint8)
        self._bounds = np.ascontiguousarray(bounds, dtype=np.int64)
        self._sorted = len(self._bounds) - 1
        self._ints = None
        self._samples: list[bytes] | None = None  # made at the first search (_rank)
        # plain Python indexing (a numpy scalar per probe costs ~10x)
        self._bytes = self._data.data
        self._starts = self._bounds.data

    def _key(self, code: int) -> bytes:
        return bytes(self._bytes[self._starts[code] : self._starts[code + 1]])

    def _rank(self, raw: bytes) -> int:
        """How many sorted values are below `raw`: the run of SAMPLED values it falls in,
        found in a list of every SAMPLED-th one (bisect, in C), then probed within."""
        lo, hi = 0, self._sorted
        if hi > SAMPLED:
            if self._samples is None:
                self._samples = [self._key(i) for i in range(0, hi, SAMPLED)]
            run = bisect.bisect_right(self._samples, raw)  # samples[run - 1] <= raw
            lo, hi = max(run - 1, 0) * SAMPLED, min(run * SAMPLED, hi)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key(mid) < raw:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _find(self, raw: bytes) -> int | None:
        code = self._since.get(raw)
        if code is None:
            at = self._rank(raw)
            if at < self._sorted and self._key(at) == raw:
                code = at
        return code


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1  # Qdrant's integers
_SURE = 18  # digits that always fit in an int64; longer ones are read one by one


def _int64s(
    data: npt.NDArray[np.uint8], bounds: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Integers written as decimal digits (a leading minus), back to back: their values (0
    where one does not fit in an int64) and which fit."""
    starts, ends = bounds[:-1], bounds[1:]
    negative = np.zeros(len(starts), np.bool_)
    some = ends > starts
    negative[some] = data[starts[some]] == ord("-")
    digits = ends - starts - negative
    values = np.zeros(len(starts), np.int64)
    for place in range(min(_SURE, int(digits.max(initial=0)))):
        at = digits > place
        values[at] += (data[ends[at] - 1 - place].astype(np.int64) - ord("0")) * 10**place
    values[negative] *= -1
    fits = digits <= _SURE
    for i in np.flatnonzero(~fits).tolist():  # 19 digits and more: rare
        value = int(data[starts[i] : ends[i]].tobytes())
        fits[i] = _I64_MIN <= value <= _I64_MAX
        values[i] = value if fits[i] else 0
    return values, fits
