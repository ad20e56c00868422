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
from typing import Any

import numpy as np

from vqdb.filters.conditions import Condition, Mask, MatchText
from vqdb.filters.index import FieldIndex, Payload, offsets_mask
from vqdb.filters.paths import values_at
from vqdb.filters.stopwords import stopwords

_WORD = re.compile(r"[^\W_]+")


class TextIndex(FieldIndex):
    def __init__(self, key: str, params: Mapping[str, Any] | None) -> None:
        super().__init__(key, "text", params)
        p = params or {}
        self._whitespace = p.get("tokenizer") == "whitespace"
        self._prefix = p.get("tokenizer") == "prefix"
        self._lowercase = p.get("lowercase", True) is not False
        self._min_len: int = p.get("min_token_len") or 0
        self._max_len: int | None = p.get("max_token_len")
        self._stopwords = stopwords(p.get("stopwords"), self._lowercase)
        self._postings: dict[str, set[int]] = {}
        self._docs: dict[int, list[tuple[str, ...]]] = {}  # offset -> tokens of each string

    def tokens(self, text: str, query: bool = True) -> tuple[str, ...]:
        """The tokens of a query (`query`) or of a document's string."""
        words = text.split() if self._whitespace else _WORD.findall(text)
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
        docs = [self.tokens(v, False) for v in values_at(payload, self.key) if isinstance(v, str)]
        if not docs:
            return
        self._docs[offset] = docs
        for token in set(itertools.chain.from_iterable(docs)):
            self._postings.setdefault(token, set()).add(offset)

    def remove(self, offset: int) -> None:
        for token in set(itertools.chain.from_iterable(self._docs.pop(offset, ()))):
            posting = self._postings[token]
            posting.discard(offset)
            if not posting:
                del self._postings[token]

    def count(self) -> int:
        return len(self._docs)

    def mask(self, condition: Condition, size: int) -> Mask | None:
        if not isinstance(condition, MatchText):
            return None
        query = self.tokens(condition.text)
        if not query:
            return np.zeros(size, dtype=np.bool_)
        found = [self._postings.get(token, set()) for token in set(query)]
        if condition.mode == "text_any":
            return offsets_mask(set().union(*found), size)
        hits = set.intersection(*found)
        if condition.mode == "phrase":
            hits = {o for o in hits if any(_has_run(doc, query) for doc in self._docs[o])}
        return offsets_mask(hits, size)


def _has_run(doc: tuple[str, ...], run: tuple[str, ...]) -> bool:
    n = len(run)
    return any(doc[i : i + n] == run for i in range(len(doc) - n + 1))
