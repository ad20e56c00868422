"""Full-text index: word tokens -> offsets, for match text / text_any / phrase.

With a text index Qdrant matches tokens, not substrings: `text` needs every query token among
the point's tokens, `text_any` one of them, `phrase` all of them consecutively within one
string. Tokens are runs of letters and digits (or whitespace-separated words with
`tokenizer: whitespace`), lowercased unless `lowercase: false`, without the stopwords
(`stopwords: "english"` or `{"languages": [...], "custom": [...]}`, see stopwords.py; lowercased
with the tokens, so case-sensitive when lowercasing is off), and min/max_token_len drop short
or long ones. With `tokenizer: prefix` a document's words are
indexed by every prefix (of min_token_len (1) to max_token_len characters) and a query word is
matched whole against them, with no stopwords removed from the query, so "robo" finds "robot".
Stemmers, stopword lists of languages other than English and ascii folding are echoed back
but not applied. A query with no tokens matches nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from vqdb.filters.conditions import Condition, Mask, MatchText
from vqdb.filters.index import Arrays, Layered, Payload, Postings, State, offsets_mask
from vqdb.filters.paths import values_at
from vqdb.filters.stopwords import stopwords
from vqdb.filters.vocabulary import Vocabulary

WORD = re.compile(r"[^\W_]+")  # the word tokenizer: runs of letters and digits


class TextIndex(Layered):
    """Tokens -> offsets, laid out as MapIndex's values are: each distinct token a code, the
    (code, offset) pairs in arrays sorted by code, and each point's strings as runs of codes in
    one array (`_Docs`, for phrases). What is written since is held in Python over them (a
    changed point's entries in the arrays marked dead) and merged into them by `settle`, which
    a segment calls once it has built its indexes: tokenising and merging are Python work,
    left out of the writes. Sets and tuples of every point's tokens took ~2.7 KB a point for
    texts of 34 words."""

    def __init__(self, key: str, params: Mapping[str, Any] | None) -> None:
        super().__init__(key, "text", params)
        p = params or {}
        self._whitespace = p.get("tokenizer") == "whitespace"
        self._prefix = p.get("tokenizer") == "prefix"
        self._lowercase = p.get("lowercase", True) is not False
        self._min_len: int = p.get("min_token_len") or 0
        self._max_len: int | None = p.get("max_token_len")
        self._stopwords = stopwords(p.get("stopwords"), self._lowercase)
        self._tokens = Vocabulary(str)
        self._base = Postings.empty()
        self._base_docs = _Docs.empty()
        self._postings: dict[int, set[int]] = {}  # code -> offsets held since the base
        # held: offset -> each of its strings as codes

    def tokens(self, text: str, query: bool = True) -> tuple[str, ...]:
        """The tokens of a query (`query`) or of a document's string."""
        words = text.split() if self._whitespace else WORD.findall(text)
        if self._lowercase:
            words = [w.lower() for w in words]
        if self._prefix and query:  # whole words, stopwords kept: a prefix is typed so far
            return tuple(words)
        words = [w for w in words if w not in self._stopwords]
        if self._prefix:
            least, most = max(self._min_len, 1), self._max_len
            return tuple(
                w[:n] for w in words for n in range(least, min(len(w), most or len(w)) + 1)
            )
        top = self._max_len
        return tuple(w for w in words if len(w) >= self._min_len and (top is None or len(w) <= top))

    def add(self, offset: int, payload: Payload) -> None:
        self.remove(offset)
        strings = [v for v in values_at(payload, self.key) if isinstance(v, str)]
        if not strings:
            return
        docs = [tuple(map(self._tokens.add, self.tokens(v, False))) for v in strings]
        for code in set(itertools.chain.from_iterable(docs)):
            self._postings.setdefault(code, set()).add(offset)
        self._held[offset] = docs  # merged by settle only: not during writes
        self._changed()

    def _let_go(self, offset: int, held: list[tuple[int, ...]]) -> None:
        for code in set(itertools.chain.from_iterable(held)):
            posting = self._postings[code]
            posting.discard(offset)
            if not posting:
                del self._postings[code]

    def mask(self, condition: Condition, size: int) -> Mask | None:
        if not isinstance(condition, MatchText):
            return None
        query = self.tokens(condition.text)
        if not query:
            return np.zeros(size, dtype=np.bool_)
        codes = [self._tokens.find(token) for token in query]
        known = {c for c in codes if c is not None}
        if condition.mode == "text_any":
            found = [self._holding(c) for c in known]
            return offsets_mask(np.concatenate(found) if found else np.zeros(0, np.int64), size)
        if len(known) < len(set(query)):  # a token no point has
            return np.zeros(size, dtype=np.bool_)
        if condition.mode == "phrase":
            return self._phrase(tuple(c for c in codes if c is not None), size)
        out = np.ones(size, dtype=np.bool_)
        for code in known:
            out &= offsets_mask(self._holding(code), size)
        return out

    # ---- inside ---------------------------------------------------------------------------

    def _holding(self, code: int) -> npt.NDArray[np.int64]:
        """The offsets holding the token, ascending, each once."""
        found = self._base.of_code(code)
        found = self._live(found)
        since = self._postings.get(code)
        if since:
            found = np.union1d(found, np.fromiter(since, np.int64, len(since)))
        return found

    def _phrase(self, run: tuple[int, ...], size: int) -> Mask:
        """The points with `run` in one of their strings: found in the arrays in one pass per
        token (where each token of it sits at its place), and in the strings held since."""
        docs = self._base_docs
        n = len(docs.codes) - len(run) + 1
        at = np.ones(max(n, 0), dtype=np.bool_)
        for j, code in enumerate(run):
            at &= docs.codes[j : j + n] == code
        starts = np.flatnonzero(at)
        strings = np.searchsorted(docs.runs, starts, "right") - 1
        whole = starts + len(run) <= docs.runs[strings + 1]  # not across two strings
        points = np.searchsorted(docs.by_point, strings[whole], "right") - 1
        out = offsets_mask(self._live(points), size)
        for offset, held in self._held.items():
            if offset < size and any(_has_run(string, run) for string in held):
                out[offset] = True
        return out

    def settle(self) -> None:
        super().settle()
        self._sort_tokens()

    def _merge(self) -> None:
        """One base of every point's tokens; nothing since."""
        size = max(len(self._dead), max(self._held, default=-1) + 1)
        every = [self._live_strings(offset) for offset in range(size)]
        self._base_docs = _Docs.of(every)
        distinct = [set(itertools.chain.from_iterable(strings)) for strings in every]
        sizes = np.fromiter(map(len, distinct), np.int64, size)
        offsets = np.repeat(np.arange(size, dtype=np.int64), sizes)
        total = int(sizes.sum())
        codes = np.fromiter(itertools.chain.from_iterable(distinct), np.int64, total)
        self._base = Postings.of(codes, offsets, len(self._tokens))
        self._postings = {}
        self._merged(np.flatnonzero(np.diff(self._base_docs.by_point)))  # points with strings

    def _sort_tokens(self) -> None:
        """Sorts the tokens seen since in among the others, dropping those no point holds any
        more where they are many (nothing held: merged before)."""
        base, docs = self._base, self._base_docs
        renumbered = self._tokens.merge(base.codes)
        if renumbered is not None:
            self._base = Postings.of(renumbered[base.codes], base.offsets, len(self._tokens))
            self._base_docs = docs._replace(codes=renumbered[docs.codes].astype(np.int32))
            self._changed()

    def _state(self) -> State:
        self._sort_tokens()
        base, docs = self._base, self._base_docs
        arrays: Arrays = {"codes": base.codes, "offsets": base.offsets, "starts": base.starts}
        arrays.update(doc_codes=docs.codes, runs=docs.runs, by_point=docs.by_point)
        return {}, {**arrays, **self._tokens.state()}

    def restore(self, facts: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        codes, docs = (
            arrays["codes"],
            _Docs(arrays["doc_codes"], arrays["runs"], arrays["by_point"]),
        )
        if "tokens" in facts:  # written before tokens were arrays: a list, coded in order
            self._tokens, renumbered = Vocabulary.of(str, facts["tokens"])
            docs = docs._replace(codes=renumbered[docs.codes].astype(np.int32))
            self._base = Postings.of(renumbered[codes], arrays["offsets"], len(self._tokens))
        else:
            self._tokens.restore(arrays)
            self._base = Postings(codes, arrays["offsets"], arrays["starts"])
        self._base_docs = docs
        self._merged(np.flatnonzero(np.diff(self._base_docs.by_point)))

    def _live_strings(self, offset: int) -> list[tuple[int, ...]]:
        held: list[tuple[int, ...]] | None = self._held.get(offset)
        if held is not None:
            return held
        if offset < len(self._dead) and self._in_base[offset] and not self._dead[offset]:
            return self._base_docs.strings(offset)
        return []


class _Docs(NamedTuple):
    """Each point's strings as runs of token codes: point o's strings are the runs
    by_point[o] .. by_point[o + 1] - 1, run r the codes[runs[r]:runs[r + 1]]."""

    codes: npt.NDArray[np.int32]
    runs: npt.NDArray[np.int64]
    by_point: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> _Docs:
        return cls(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(1, np.int64))

    @classmethod
    def of(cls, every: list[list[tuple[int, ...]]]) -> _Docs:
        strings = [s for strings in every for s in strings]
        lengths = np.fromiter(map(len, strings), np.int64, len(strings))
        counts = np.fromiter(map(len, every), np.int64, len(every))
        runs = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        by_point = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        codes = np.fromiter(itertools.chain.from_iterable(strings), np.int32, int(runs[-1]))
        return cls(codes, runs, by_point)

    def strings(self, offset: int) -> list[tuple[int, ...]]:
        runs, first, last = self.runs, int(self.by_point[offset]), int(self.by_point[offset + 1])
        return [tuple(self.codes[runs[r] : runs[r + 1]].tolist()) for r in range(first, last)]


def _has_run(doc: tuple[int, ...], run: tuple[int, ...]) -> bool:
    n = len(run)
    return any(doc[i : i + n] == run for i in range(len(doc) - n + 1))
