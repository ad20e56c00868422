"""Qdrant's server-side BM25: a Document (`{"text", "model": "qdrant/bm25", "options"}`) given
where a sparse vector goes becomes that sparse vector, in an upsert (term-frequency weights)
or a query (each distinct token weighted 1.0), as Qdrant v1.19.0 makes it (`lib/bm25`,
`src/common/inference/bm25_inference.rs`):

- tokens: the text index's word tokenizer (runs of letters and digits), lowercased, English
  stopwords dropped, each stemmed by Snowball's English stemmer (snowballstemmer 2.x: the
  algorithm Qdrant's rust-stemmers runs; Snowball 3 changed English, "universally" ->
  "universal" where Qdrant gives "univers");
- a token's index: murmur3's 32-bit hash of its UTF-8 bytes (seed 0), read as a signed
  integer, its absolute value;
- a document token's weight: tf (k + 1) / (tf + k (1 - b + b len / avg_len)), len the
  document's token count; k 1.2, b 0.75 and avg_len 256 unless the options say otherwise.

The same texts give the same vectors as Qdrant's (tests/test_bm25.py checks them against
qdrant-edge's Bm25 where it is installed), so a collection can mix vectors made here, by
Qdrant and by qdrant-client's local BM25. Other models need an inference service, which vqdb
does not have: refused. The IDF half of BM25 is the sparse vector's `modifier: idf`.
"""

from __future__ import annotations

import functools
import math
import struct
from collections import Counter
from collections.abc import Mapping
from typing import Any

import snowballstemmer

from vqdb.errors import BadInput
from vqdb.filters.stopwords import stopwords
from vqdb.filters.text import WORD

MODELS = ("qdrant/bm25", "bm25")  # Qdrant's names for its local model, in any case
# the options this implementation applies, with the values it supports where they are fixed
_FIXED = {"tokenizer": "word", "language": "english", "lowercase": True}
_PARAMS = {"k": 1.2, "b": 0.75, "avg_len": 256.0}


def is_document(value: Any) -> bool:
    """Whether a vector input is a Document ({"text", "model"}, Qdrant's inference input)."""
    return isinstance(value, Mapping) and "text" in value and "model" in value


def sparse(document: Mapping[str, Any], *, query: bool, where: str) -> dict[str, list[Any]]:
    """The sparse vector ({"indices", "values"}) of a Document, as a query or as a point's."""
    model, text = document.get("model"), document.get("text")
    if not isinstance(model, str) or str(model).lower() not in MODELS:
        raise BadInput(
            f"{where}: model {model!r} needs an inference service, which vqdb does not have; "
            "its local model is 'qdrant/bm25'"
        )
    if not isinstance(text, str):
        raise BadInput(f"{where}: Only text input is supported for {model}.")
    k, b, avg_len = _params(document.get("options"), where)
    counts = Counter(_tokens(text))
    if query:
        indices = sorted({token_id(t) for t in counts})
        return {"indices": indices, "values": [1.0] * len(indices)}
    size = sum(counts.values())
    weights = {
        token_id(t): n * (k + 1) / (n + k * (1 - b + b * size / avg_len)) for t, n in counts.items()
    }
    indices = sorted(weights)
    return {"indices": indices, "values": [weights[i] for i in indices]}


def _params(options: Any, where: str) -> tuple[float, float, float]:
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise BadInput(f"{where}.options: expected an object")
    for key, value in options.items():
        if key in _FIXED and value not in (None, _FIXED[key]):
            raise BadInput(f"{where}.options.{key}: only {_FIXED[key]!r} is supported")
        if key not in _FIXED and key not in _PARAMS:
            raise BadInput(f"{where}.options.{key}: not supported by vqdb's BM25")
    k, b, avg_len = (options.get(name, default) for name, default in _PARAMS.items())
    for name, value in (("k", k), ("b", b), ("avg_len", avg_len)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"{where}.options.{name}: expected a number")
    if not (math.isfinite(k) and k >= 0):
        raise BadInput(f"{where}.options.k: BM25 k1 must be finite and >= 0, got {k}")
    if not 0 <= b <= 1:  # NaN too
        raise BadInput(f"{where}.options.b: BM25 b must be finite and in [0.0, 1.0], got {b}")
    if not (math.isfinite(avg_len) and avg_len > 0):
        raise BadInput(f"{where}.options.avg_len: BM25 avg_doc_len must be > 0, got {avg_len}")
    return float(k), float(b), float(avg_len)


def _tokens(text: str) -> list[str]:
    dropped = _english_stopwords()
    stem = _stemmer().stemWord
    return [stem(w) for w in (w.lower() for w in WORD.findall(text)) if w not in dropped]


@functools.cache
def _english_stopwords() -> frozenset[str]:
    return stopwords("english", lowercase=True)


@functools.cache
def _stemmer() -> Any:
    return snowballstemmer.stemmer("english")


def token_id(token: str) -> int:
    """|murmur3_32(token)| read as a signed 32-bit integer: Qdrant's BM25 index of a token."""
    h = murmur3_32(token.encode())
    return abs(h - (1 << 32) if h >= 1 << 31 else h)


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3's x86 32-bit hash (Austin Appleby's public-domain algorithm)."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF

    def mixed(k: int) -> int:
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        return (k * c2) & mask

    h = seed
    whole = len(data) // 4 * 4
    for (k,) in struct.iter_unpack("<I", data[:whole]):
        h ^= mixed(k)
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    tail = data[whole:]
    if tail:
        h ^= mixed(int.from_bytes(tail, "little"))
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    return h ^ (h >> 16)
