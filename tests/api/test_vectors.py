"""server/vectors.py: dense query vectors read natively out of a body give what the whole
body's parse gives (the same values, as float32, or the same error), and the engine answers
the lifted body as it answers the parsed one."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqdb import models
from vqdb.collection import query
from vqdb.database import Database
from vqdb.native import _core
from vqdb.server import vectors
from vqdb.server.body import HttpError, Schema, parse

QUERY = Schema(models.QueryRequest)
QUERY_BATCH = Schema(models.QueryRequestBatch)
ROUTES = {
    "query": (QUERY, vectors.query_place),
    "query batch": (QUERY_BATCH, vectors.in_batch(vectors.query_place)),
    "search": (None, vectors.search_place),
    "search batch": (None, vectors.in_batch(vectors.search_place)),
}


def test_the_scan_finds_plain_number_arrays_with_their_paths() -> None:
    text = (
        b'{"query": [1, 2.5, -0, -0.0, 3e2], "s": "[1, 2, 3]", "k\\u0041": [1, 2],'
        b' "p": [{"query": [[1, 2], [3, 4]]}], "mixed": [1, "a"], "deep": [[5, 6]]}'
    )
    found = {path: (start, end, list(v)) for path, start, end, v in _core.number_arrays(text, 2)}
    assert set(found) == {
        ("query",),
        ("p", 0, "query", 0),
        ("p", 0, "query", 1),
        ("deep", 0),
    }  # not inside a string, not under an escaped key, not mixed with other values
    start, end, values = found[("query",)]
    assert text[start:end] == b"[1, 2.5, -0, -0.0, 3e2]"
    assert values == [1, 2.5, 0, 0, 300]
    assert np.signbit(_core.number_arrays(text, 2)[0][3][2:4]).tolist() == [False, True]
    assert _core.number_arrays(text, 6) == []


@pytest.mark.parametrize(
    "text",
    [
        b'{"q": [1 2]}',
        b'{"q": [1,,2]}',
        b'{"q": [1,2,]}',
        b'{"q": [,1,2]}',
        b'{"q": [01, 2]}',
        b'{"q": [1., 2]}',
        b'{"q": [.5, 2]}',
        b'{"q": [+1, 2]}',
        b'{"q": [1e, 2]}',
        b'{"q": [1e39, 2]}',  # beyond float32: the engine's check says so
        b'{"q": [NaN, 2]}',
        b'{"q": [1, 2]',
        b'{"q": [1, 2]}}',
        b'{"q": [1, 2], "s": "open}',
    ],
)
def test_what_is_not_a_plain_array_of_numbers_is_not_lifted(text: bytes) -> None:
    assert not [a for a in _core.number_arrays(text, 2) if a[0] == ("q",)]


def test_the_places_of_dense_vectors() -> None:
    place = vectors.query_place
    assert place(("query",)) and place(("query", "nearest"))
    assert place(("prefetch", "query")) and place(("prefetch", 1, "prefetch", 0, "query"))
    assert not place(("query", 0))  # a multivector's row
    assert not place(("query", "recommend", "positive", 0))
    assert not place(("filter", "must", 0, "match", "any"))
    assert not place(("prefetch", 0, "filter", "query"))
    batched = vectors.in_batch(place)
    assert batched(("searches", 3, "query")) and not batched(("query",))
    assert vectors.search_place(("vector", "vector")) and not vectors.search_place(("x",))


numbers = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, width=64),
    st.integers(-(10**6), 10**6),
    st.sampled_from([0, -0.0, 1e-45, 3.4e38, 1e-300, 123456789012345678]),
)
dense = st.lists(numbers, min_size=vectors.MIN_COUNT, max_size=80)
short = st.lists(numbers, min_size=1, max_size=4)
query_value = st.one_of(
    dense,
    short,
    st.fixed_dictionaries({"nearest": dense}),
    st.lists(dense, min_size=1, max_size=2),  # a multivector: rows stay as they are
    st.fixed_dictionaries({"indices": st.just(list(range(40))), "values": dense}),
    st.integers(0, 100),
    st.just("00000000-0000-0000-0000-000000000001"),
    st.fixed_dictionaries({"formula": st.fixed_dictionaries({"sum": dense})}),  # not a vector
)
filters = st.fixed_dictionaries(
    {"must": st.just([{"key": "n", "match": {"any": list(range(40))}}])}
)


def _request(with_prefetch: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, Any] = {
        "limit": st.integers(1, 20),
        "using": st.sampled_from(["", "image"]),
        "filter": filters,
        "with_payload": st.just(["a", "b"]),
        "unknown": dense,  # dropped by the schema, as Qdrant ignores it
    }
    if with_prefetch:
        optional["prefetch"] = st.one_of(
            _request(False), st.lists(_request(False), min_size=1, max_size=2)
        )
    return st.fixed_dictionaries({"query": query_value}, optional=optional)


def _same(lifted: Any, whole: Any, place: Any = None, path: tuple[Any, ...] = ()) -> bool:
    """Equal, where a float32 array stands for the list of numbers it was read from, at a
    dense vector's place only (`place`; None: anywhere)."""
    if isinstance(lifted, np.ndarray):
        return (
            (place is None or place(path))
            and isinstance(whole, list)
            and lifted.dtype == np.float32
            and np.array_equal(lifted, np.asarray(whole, dtype=np.float32))
        )
    if isinstance(lifted, dict):
        return (
            isinstance(whole, dict)
            and lifted.keys() == whole.keys()
            and all(_same(lifted[k], whole[k], place, (*path, k)) for k in lifted)
        )
    if isinstance(lifted, list):
        return (
            isinstance(whole, list)
            and len(lifted) == len(whole)
            and all(_same(a, b, place, (*path, i)) for i, (a, b) in enumerate(zip(lifted, whole)))
        )
    return bool(lifted == whole) and type(lifted) is type(whole)


def _outcome(raw: bytes, schema: Schema | None, place: Any) -> Any:
    try:
        return parse(raw, schema, place)
    except HttpError as e:
        return (e.status, str(e))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=_request(), batch=st.booleans(), mangle=st.sampled_from(["", ",", " 1", "]"]))
def test_lifted_bodies_parse_as_whole_ones(
    request: dict[str, Any], batch: bool, mangle: str
) -> None:
    """The same value (vectors as float32 arrays) or the same error, with or without the
    lift, for query bodies with prefetches, filters, sparse and multivector queries, unknown
    fields, and text broken inside a vector."""
    name = "query batch" if batch else "query"
    schema, place = ROUTES[name]
    raw = json.dumps({"searches": [request, request]} if batch else request).encode()
    if mangle:  # break the text inside the first vector that has one
        cut = raw.find(b", ", raw.find(b"["))
        raw = raw[:cut] + mangle.encode() + raw[cut:]
    lifted = _outcome(raw, schema, place)
    whole = _outcome(raw, schema, None)
    assert _same(lifted, whole, place), (lifted, whole)


@settings(max_examples=60, deadline=None)
@given(vector=dense, named=st.booleans(), batch=st.booleans())
def test_legacy_search_bodies_parse_as_whole_ones(
    vector: list[Any], named: bool, batch: bool
) -> None:
    search = {"vector": {"name": "image", "vector": vector} if named else vector, "limit": 3}
    name = "search batch" if batch else "search"
    schema, place = ROUTES[name]
    raw = json.dumps({"searches": [search]} if batch else search).encode()
    lifted = parse(raw, schema, place)
    assert _same(lifted, parse(raw, schema), place)
    inner = lifted["searches"][0] if batch else lifted
    found = inner["vector"]["vector"] if named else inner["vector"]
    assert isinstance(found, np.ndarray)  # it was lifted


@pytest.fixture(scope="module")
def db() -> Any:
    database = Database(None)
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((4, 48)) * 20
    x = centres[rng.integers(0, 4, 400)] + rng.standard_normal((400, 48))  # raw, clustered
    c = database.create_collection(
        "c",
        {
            "vectors": {
                "": {"size": 48, "distance": "Euclid"},
                "image": {"size": 48, "distance": "Cosine"},
                "rows": {
                    "size": 48,
                    "distance": "Dot",
                    "multivector_config": {"comparator": "max_sim"},
                },
            },
            "quantization_config": {"scalar": {"type": "int8"}},
        },
    )
    c.upsert(
        {
            "points": [
                {
                    "id": i,
                    "vector": {"": x[i].tolist(), "image": x[-i].tolist(), "rows": [x[i].tolist()]},
                    "payload": {"n": i % 50},
                }
                for i in range(400)
            ]
        }
    )
    yield database
    database.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10**6))
def test_the_engine_answers_a_lifted_body_as_a_parsed_one(db: Database, seed: int) -> None:
    rng = np.random.default_rng(seed)
    v = (rng.standard_normal(48) * 20).round(4).tolist()
    using = ["", "image", "rows"][seed % 3]
    body = {
        "query": v if seed % 4 else {"nearest": v},
        "using": using,
        "limit": 5,
        "prefetch": [{"query": v, "using": "image", "limit": 20}] if seed % 5 == 0 else [],
        "filter": {"must": [{"key": "n", "match": {"any": list(range(0, 50, 2))}}]},
    }
    if not body["prefetch"]:
        del body["prefetch"]
    raw = json.dumps(body).encode()
    c = db.collection("c")
    lifted = parse(raw, QUERY, vectors.query_place)
    assert isinstance(lifted["query"] if seed % 4 else lifted["query"]["nearest"], np.ndarray)
    assert query.query(c, lifted, db.collection) == query.query(c, parse(raw, QUERY), db.collection)


tokens = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # shortest round-trip
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.17e}"),
    st.integers(-(10**30), 10**30).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-(10**20), 10**20), st.integers(-330, 310)),
    st.builds(
        lambda i, f: f"{i}.{f}",
        st.integers(-999, 999),
        st.from_regex(r"[0-9]{1,25}", fullmatch=True),
    ),
    st.sampled_from(["-0", "-0.0", "0e5", "2.2250738585072014e-308", "4.9e-324", "1e-400"]),
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(lambda f: repr(float(f))),
    # 16-19 digits at or beside the midpoint of two neighbouring float32s, where reading the
    # decimal only nearly (the fast path for a float32 printed as a double) would round wrong
    st.builds(
        lambda f, digits, side: _beside_midpoint(f, digits, side),
        st.floats(min_value=1e-30, max_value=1e30),
        st.integers(16, 19),
        st.sampled_from([-1, 0, 1]),
    ),
)


def _beside_midpoint(f: float, digits: int, side: int) -> str:
    low = np.float32(f)
    high = np.nextafter(low, np.float32(np.inf))
    middle = (float(low) + float(high)) / 2  # exact in float64
    text = f"{middle:.{digits - 1}e}"
    if side:  # one unit of the last printed digit away
        mantissa, exponent = text.split("e")
        last = int(mantissa[-1]) + side
        if 0 <= last <= 9:
            text = f"{mantissa[:-1]}{last}e{exponent}"
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(tokens, min_size=1, max_size=40))
def test_numbers_read_as_python_reads_them_then_narrowed(texts: list[str]) -> None:
    """Each number as json.loads reads it (the nearest double; an integer without a sign on
    zero), then made float32: the same bits, or the array is left to the validator where a
    number is not finite in float32."""
    raw = ("[" + ", ".join(texts) + "]").encode()
    with np.errstate(over="ignore"):  # beyond float32 is infinity, as in the engine's cast
        expected = np.asarray(json.loads(raw), dtype=np.float64).astype(np.float32)
    found = _core.number_arrays(raw, 1)
    if not np.isfinite(expected).all():
        assert found == []
        return
    assert len(found) == 1
    assert found[0][3].view(np.uint32).tolist() == expected.view(np.uint32).tolist()


def test_a_skeleton_validated_before_gives_a_value_of_its_own() -> None:
    """The validated skeleton is remembered: each body still gets its own value (changing one
    changes no other), its own vector, and a refused one is refused again."""
    vector = [float(i) / 100 for i in range(64)]
    text = json.dumps(
        {"query": vector, "limit": 3, "filter": {"must": [{"key": "a", "match": {"value": 1}}]}}
    )
    first = parse(text.encode(), QUERY, vectors.query_place)
    first["filter"]["must"].append("changed")
    first["limit"] = 99
    second = parse(text.encode(), QUERY, vectors.query_place)
    assert second["limit"] == 3 and second["filter"]["must"] == [
        {"key": "a", "match": {"value": 1}}
    ]
    other = [v + 1 for v in vector]
    third = parse(
        json.dumps({"query": other, "limit": 3, "filter": second["filter"]}).encode(),
        QUERY,
        vectors.query_place,
    )
    assert np.array_equal(third["query"], np.float32(other)) and not np.array_equal(
        second["query"], third["query"]
    )
    bad = json.dumps({"query": vector, "limit": "many"}).encode()
    for _ in range(2):
        with pytest.raises(HttpError):
            parse(bad, QUERY, vectors.query_place)


def test_numbers_beside_float32_midpoints_narrow_as_python_narrows_them() -> None:
    """Decimals of 16-19 digits at the midpoint of two neighbouring float32s (a float32 printed
    as a double is nearly always 16-17 digits): the fast read of such numbers must fall back
    where it cannot tell which way the nearest double narrows. Without that, ~0.6% of these
    come out one float32 off."""
    rng = np.random.default_rng(1)
    f = (rng.standard_normal(20_000) * 10.0 ** rng.integers(-20, 20, 20_000)).astype(np.float32)
    f = f[np.isfinite(f) & (f != 0)]
    middle = (f.astype(np.float64) + np.nextafter(f, np.float32(np.inf)).astype(np.float64)) / 2
    digits = rng.integers(16, 20, len(middle))
    texts = [f"{m:.{d - 1}e}" for m, d in zip(middle.tolist(), digits.tolist())]
    texts += [repr(float(x)) for x in f[:2000]]
    raw = ("[" + ",".join(texts) + "]").encode()
    expected = np.asarray(json.loads(raw), dtype=np.float64).astype(np.float32)
    (found,) = _core.number_arrays(raw, 1)
    np.testing.assert_array_equal(found[3].view(np.uint32), expected.view(np.uint32))
