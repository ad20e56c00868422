"""Qdrant's server-side BM25 (vqdb.bm25): murmur3 on its published test vectors, the weights by
Qdrant's formula, the same vectors as qdrant-edge's Bm25 (where the bench extra installed it),
and Documents in upserts and queries of a collection, on both doors' engine."""

from __future__ import annotations

import math
from typing import Any

import pytest

from vqdb import bm25
from vqdb.collection import query, reads
from vqdb.database import Database
from vqdb.errors import BadInput

# murmur3_32's test vectors (the algorithm's published table: data, seed, hash)
MURMUR3 = [
    (b"", 0, 0),
    (b"", 1, 0x514E28B7),
    (b"test", 0, 0xBA6BD213),
    (b"abc", 0, 0xB3DD93FA),
    (b"aaaa", 0x9747B28C, 0x5A97808A),
    (b"Hello, world!", 0x9747B28C, 0x24884CBA),
    (b"The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
]
TEXTS = [
    "I must not fear. Fear is the mind-killer.",
    "All animals are equal, but some animals are more equal than others.",
    "It's a truth universally acknowledged that a zombie in possession of brains must be in "
    "want of more brains.",
    "History is merely a list of surprises... It can only prepare us to be surprised yet again.",
    "Running runners ran quickly; the runner's RUNS were generously generalized!",
    "Ünïcödé façade naïve café 東京 2024 x_y snake_case CamelCase",
    "The a an and or but",
    "",
]


def document(text: str, **options: Any) -> dict[str, Any]:
    return {"text": text, "model": "qdrant/bm25", **({"options": options} if options else {})}


@pytest.mark.parametrize(("data", "seed", "expected"), MURMUR3)
def test_murmur3_32_gives_the_published_hashes(data: bytes, seed: int, expected: int) -> None:
    assert bm25.murmur3_32(data, seed) == expected


def test_a_token_id_is_the_hash_read_signed_and_made_positive() -> None:
    h = bm25.murmur3_32(b"fear")
    signed = h - 2**32 if h >= 2**31 else h
    assert bm25.token_id("fear") == abs(signed)
    ids = [bm25.token_id(t) for t in ("fear", "mind", "killer", "univers", "東京")]
    assert all(0 <= i <= 2**31 for i in ids) and len(set(ids)) == len(ids)


def test_tokens_drop_stopwords_and_are_stemmed_with_qdrants_english() -> None:
    assert bm25._tokens("I must not fear. Fear is the mind-killer.") == [
        "must",
        "fear",
        "fear",
        "mind",
        "killer",
    ]
    # Snowball 2's English, as Qdrant's rust-stemmers (Snowball 3 gives "universal")
    assert bm25._tokens("universally generalized running") == ["univers", "general", "run"]
    assert bm25._tokens("The a an and or but") == []


@pytest.mark.parametrize("params", [{}, {"k": 2.0, "b": 0.3, "avg_len": 4}])
def test_document_weights_follow_the_bm25_formula(params: dict[str, float]) -> None:
    k, b, avg = params.get("k", 1.2), params.get("b", 0.75), params.get("avg_len", 256.0)
    vector = bm25.sparse(
        document("I must not fear. Fear is the mind-killer.", **params), query=False, where="v"
    )
    size = 5  # must, fear, fear, mind, killer
    expected = {
        bm25.token_id(t): n * (k + 1) / (n + k * (1 - b + b * size / avg))
        for t, n in {"must": 1, "fear": 2, "mind": 1, "killer": 1}.items()
    }
    assert vector["indices"] == sorted(expected)
    assert all(math.isclose(v, expected[i]) for i, v in zip(vector["indices"], vector["values"]))


def test_a_query_weighs_each_distinct_token_one() -> None:
    vector = bm25.sparse(document("fear FEAR fears mind"), query=True, where="q")
    assert vector["indices"] == sorted({bm25.token_id("fear"), bm25.token_id("mind")})
    assert vector["values"] == [1.0, 1.0]
    assert bm25.sparse(document("the a an"), query=True, where="q") == {"indices": [], "values": []}


def test_the_same_vectors_as_qdrant_edge() -> None:
    edge = pytest.importorskip("qdrant_edge", reason="qdrant-edge-py: the `bench` extra")
    model = edge.Bm25()
    words = " ".join(TEXTS).split()
    texts = TEXTS + [" ".join(words[i : i + 3 + i % 17]) for i in range(0, len(words), 2)]
    for text in texts:
        theirs = model.embed_document(text)
        ours = bm25.sparse(document(text), query=False, where="")
        assert list(theirs.indices) == ours["indices"], text
        assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(theirs.values, ours["values"]))
        theirs = model.embed_query(text)
        ours = bm25.sparse(document(text), query=True, where="")
        assert (list(theirs.indices), list(theirs.values)) == (ours["indices"], ours["values"])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"text": "x", "model": "sentence-transformers/all-MiniLM-L6-v2"}, "inference service"),
        ({"text": 3, "model": "bm25"}, "Only text input"),
        (document("x", language="german"), "options.language: only 'english'"),
        (document("x", stemmer={"type": "none"}), "options.stemmer: not supported"),
        (document("x", k=-1), "k1 must be finite"),
        (document("x", b=2), "b must be finite and in"),
        (document("x", avg_len=0), "avg_doc_len must be > 0"),
        (document("x", k="big"), "options.k: expected a number"),
    ],
)
def test_what_it_cannot_do_is_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        bm25.sparse(doc, query=False, where="points[0].vector.text")


def test_documents_in_upserts_and_queries(db: Database) -> None:
    c = db.create_collection(
        "c",
        {
            "vectors": {"dense": {"size": 2, "distance": "Dot"}},
            "sparse_vectors": {"text": {"modifier": "idf"}},
        },
    )
    c.upsert(
        {
            "points": [
                {"id": i, "vector": {"text": document(t), "dense": [1.0, float(i)]}}
                for i, t in enumerate(TEXTS[:5])
            ]
        }
    )
    c.upsert({"batch": {"ids": [9], "vectors": {"text": [document("Fear of the fearless")]}}})

    def hits(q: Any, **body: Any) -> list[Any]:
        found = query.query(c, {"query": q, "using": "text", "limit": 5, **body})["points"]
        return [p["id"] for p in found]

    assert set(hits(document("I should not fear"))) == {0, 9}
    assert hits(document("It's universally acknowledged")) == [2]
    assert hits({"nearest": document("equal animals")}) == [1]
    prefetch = {"prefetch": [{"query": document("runner"), "using": "text"}], "using": None}
    assert hits({"fusion": "rrf"}, **prefetch) == [4]
    stored = reads.retrieve(c, {"ids": [0], "with_vector": ["text"]})[0]["vector"]["text"]
    assert stored["indices"] == bm25.sparse(document(TEXTS[0]), query=False, where="")["indices"]

    with pytest.raises(BadInput, match="is dense: a document needs an inference service"):
        c.upsert({"points": [{"id": 20, "vector": {"dense": document("x")}}]})
    with pytest.raises(BadInput, match="is a dense vector: a document needs"):
        query.query(c, {"query": document("x"), "using": "dense"})
    with pytest.raises(BadInput, match="inference service"):
        query.query(c, {"query": {"text": "x", "model": "openai/x"}, "using": "text"})
