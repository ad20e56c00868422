"""Sparse vectors at the index layer: parsing and checks, the native inverted index against a
numpy brute force, deletes and re-adds, state round trips."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparse_data import assert_exact, exact_scores, random_sparse

from vqdb import _core
from vqdb.index.sparse_index import SparseIndex, idf_weighted
from vqdb.index.sparse_vectors import SparseVectors

N = 5000


@pytest.fixture(scope="module")
def data() -> SparseVectors:
    return random_sparse(N, seed=1)


def queries(data: SparseVectors, n: int, seed: int = 5) -> list[dict[str, list]]:
    """Queries built from stored rows (so they share terms), with changed weights."""
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.choice(len(data), size=n, replace=False).tolist():
        row = data[i]
        keep = rng.random(row.indices.shape[0]) < 0.5
        keep[0] = True
        values = rng.standard_normal(int(keep.sum())).astype(np.float32)
        out.append({"indices": row.indices[keep].tolist(), "values": values.tolist()})
    return out


def test_parse_sorts_and_checks() -> None:
    batch = SparseVectors.parse(
        [{"indices": [9, 2, 5], "values": [0.75, 0.25, 0.5]}, {"indices": [], "values": []}], "v"
    )
    assert batch[0].tolist() == {"indices": [2, 5, 9], "values": [0.25, 0.5, 0.75]}
    assert batch[1].tolist() == {"indices": [], "values": []}
    assert batch.indices.dtype == np.uint32 and batch.values.dtype == np.float32
    bad = [
        ({"indices": [1, 2], "values": [1.0]}, "same length, got 2 and 1"),
        ({"indices": [3, 1, 3], "values": [1.0, 2.0, 3.0]}, "unique, 3 appears more than once"),
        ({"indices": [-1], "values": [1.0]}, "from 0 to 4294967295, got -1"),
        ({"indices": [2**32], "values": [1.0]}, "from 0 to 4294967295, got 4294967296"),
        ({"indices": [1.5], "values": [1.0]}, "indices must be integers, got 1.5"),
        ({"indices": [1], "values": [float("nan")]}, "values must be finite"),
        ({"indices": [1], "values": [1e39]}, "values must be finite"),  # past float32
        ({"indices": [1], "values": ["x"]}, "values must be numbers"),
        ({"indices": [1]}, "a sparse vector is"),
    ]
    bad.append(({"indices": [1], "values": [[1.0]]}, "values must be numbers"))
    bad.append(({"indices": [[1]], "values": [1.0]}, "indices must be integers"))
    for item, message in bad:
        with pytest.raises(ValueError, match=message):
            SparseVectors.parse([{"indices": [0], "values": [1.0]}, item], "v")
        with pytest.raises(ValueError, match=rf"^q: .*{message}"):  # a query: one vector
            SparseVectors.parse([item], "q")
    with pytest.raises(ValueError, match=r"v\[1\]"):  # names the bad one
        SparseVectors.parse([{"indices": [0], "values": [1.0]}, bad[0][0]], "v")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 40), max_size=12),
    st.lists(
        st.sampled_from([0.5, -2.0, 3.4028235e38, 1e-45, 1e39, float("nan")])
        | st.floats(-9, 9)
        | st.integers(-3, 2**70)
        | st.booleans(),
        max_size=12,
    ),
)
def test_one_vector_parses_as_in_a_batch(indices: list[int], values: list[float]) -> None:
    """A query is parsed on its own paths (native for plain lists, else numpy): the same rows
    or the same refusal as in a batch."""
    values = (values * 2)[: len(indices)] if values else [1.0] * len(indices)
    item = {"indices": indices, "values": values}
    try:
        batch = SparseVectors.parse([item, item], "v")
    except ValueError as e:
        with pytest.raises(ValueError) as one:
            SparseVectors.parse([item], "v")
        assert str(one.value) == str(e).replace("v[0]", "v", 1)
        return
    one = SparseVectors.parse([item], "v")
    assert one[0].tolist() == batch[0].tolist()
    assert one.indptr.tolist() == [0, len(indices)]


def test_take_and_concat(data: SparseVectors) -> None:
    picked = data.take(np.array([7, 3, 7], dtype=np.int64))
    assert [picked[i].tolist() for i in range(3)] == [data[i].tolist() for i in (7, 3, 7)]
    joined = SparseVectors.concat([picked, data[np.arange(10)]])
    assert len(joined) == 13 and joined[12].tolist() == data[9].tolist()
    assert len(SparseVectors.concat([])) == 0


def test_search_is_exact(data: SparseVectors) -> None:
    store = SparseIndex()
    for start in range(0, N, 1000):  # appended in batches, as an appendable segment grows
        store.add(np.arange(start, start + 1000), data[np.arange(start, start + 1000)])
    qs = queries(data, 20)
    ids, scores = store.search(SparseVectors.parse(qs, "q"), 10)  # one native call
    assert ids.shape == (20, 10)
    for q, row_ids, row_scores in zip(qs, ids, scores):
        exact, overlap = exact_scores(data, q)
        truth = {i: exact[i] for i in np.flatnonzero(overlap).tolist()}
        assert_exact(row_ids.tolist(), row_scores.tolist(), truth, 10)


def test_search_is_exact_on_both_paths(data: SparseVectors) -> None:
    """A query with many postings per row is scored densely (every row cleared and scanned),
    one with few through the touched rows only: both exact, with and without a filter."""
    store = SparseIndex()
    store.add(np.arange(N), data)
    df = np.bincount(data.indices)
    rng = np.random.default_rng(11)
    rare = []  # terms held by a few rows each: a few dozen postings, far below N / 4
    for i in rng.choice(N, size=10, replace=False).tolist():
        terms = data[i].indices[df[data[i].indices] <= 3][:8]
        values = rng.standard_normal(terms.shape[0]).astype(np.float32)
        rare.append({"indices": terms.tolist(), "values": values.tolist()})
    assert all(df[q["indices"]].sum() * 4 < N for q in rare)
    common = queries(data, 10, seed=12)
    assert all(df[q["indices"]].sum() * 4 >= N for q in common)
    allowed = np.arange(N) % 4 != 1
    for q in rare + common:
        exact, overlap = exact_scores(data, q)
        for mask in (None, allowed):
            ids, scores = store.search(SparseVectors.parse([q], "q"), 10, allowed_ids=mask)
            keep = overlap & (mask if mask is not None else True)
            truth = {i: exact[i] for i in np.flatnonzero(keep).tolist()}
            found = [i for i in ids[0].tolist() if i >= 0]
            assert_exact(found, scores[0][: len(found)].tolist(), truth, 10)


def test_only_overlapping_points_score(data: SparseVectors) -> None:
    store = SparseIndex()
    store.add(np.arange(N), data)
    rare = int(data.indices.max()) + 1  # a term no point holds
    ids, scores = store.search(SparseVectors.parse([{"indices": [rare], "values": [1.0]}], "q"), 5)
    assert ids.tolist() == [[-1] * 5] and np.isnan(scores).all()
    # a term held by a few points: exactly those come back, even with a zero product
    term = int(np.argmax(np.bincount(data.indices) == 2))
    holders = [i for i in range(N) if term in data[i].indices]
    assert len(holders) == 2
    ids, scores = store.search(SparseVectors.parse([{"indices": [term], "values": [0.0]}], "q"), 5)
    assert sorted(ids[0][:2].tolist()) == holders and ids[0][2:].tolist() == [-1] * 3
    assert scores[0][:2].tolist() == [0.0, 0.0]
    empty = store.search(SparseVectors.parse([{"indices": [], "values": []}], "q"), 3)
    assert empty[0].tolist() == [[-1] * 3]


def test_filters_deletes_and_replaced_vectors(data: SparseVectors) -> None:
    store = SparseIndex()
    store.add(np.arange(N), data)
    rng = np.random.default_rng(3)
    gone = rng.choice(N, size=1500, replace=False)
    store.delete(gone)
    replaced = np.setdiff1d(rng.choice(N, size=300, replace=False), gone)
    store.delete(replaced)
    fresh = random_sparse(replaced.shape[0], seed=9)
    store.add(replaced, fresh)  # new rows for the same ids
    assert len(store) == N - 1500
    current = data.take(np.arange(N))
    live = np.ones(N, dtype=bool)
    live[gone] = False
    allowed = live & (np.arange(N) % 3 == 0)  # a filter
    assert store.live_mask(N + 10)[:N].tolist() == live.tolist()
    assert store.vectors(replaced[:2])[1].tolist() == fresh[1].tolist()
    for q in queries(data, 10, seed=8):
        exact, overlap = exact_scores(current, q)
        exact_fresh, overlap_fresh = exact_scores(fresh, q)
        exact[replaced], overlap[replaced] = exact_fresh, overlap_fresh
        for mask, k in ((None, 10), (allowed, 10), (allowed, 1000)):
            ids, scores = store.search(SparseVectors.parse([q], "q"), k, allowed_ids=mask)
            keep = overlap & live & (mask if mask is not None else True)
            truth = {i: exact[i] for i in np.flatnonzero(keep).tolist()}
            found = [i for i in ids[0].tolist() if i >= 0]
            assert_exact(found, scores[0][: len(found)].tolist(), truth, k)


def test_document_frequency_counts_live_vectors(data: SparseVectors) -> None:
    store = SparseIndex()
    store.add(np.arange(N), data)
    terms = np.array([0, 1, 17, 29_999, 40_000], dtype=np.uint32)
    holds = np.zeros((N, terms.shape[0]), dtype=bool)
    for i in range(N):
        holds[i] = np.isin(terms, data[i].indices)
    assert store.document_frequency(terms).tolist() == holds.sum(axis=0).tolist()
    store.delete(np.arange(0, N, 2))
    assert store.document_frequency(terms).tolist() == holds[1::2].sum(axis=0).tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2**40),
    st.lists(
        st.tuples(
            st.integers(0, 2**40),
            st.floats(-1e6, 1e6, width=32),
        ),
        max_size=40,
    ),
)
def test_idf_weights_are_qdrants_formula(total: int, terms: list[tuple[int, float]]) -> None:
    """Each weight times ln((N - n + 0.5) / (n + 0.5) + 1) in double, rounded to float32 once
    (n past N too: the formula's, as the statistics of a corpus filter may give)."""
    counts = np.array([n for n, _ in terms], dtype=np.uint64)
    values = np.array([v for _, v in terms], dtype=np.float32)
    expected = [
        np.float32(float(v) * math.log((total - n + 0.5) / (n + 0.5) + 1)) for n, v in terms
    ]
    got = idf_weighted(values, counts, total)
    assert got.dtype == np.float32
    assert got.tolist() == [float(x) for x in expected]


def test_state_round_trip(data: SparseVectors) -> None:
    store = SparseIndex()
    store.add(np.arange(100, 100 + N), data)
    store.delete(np.arange(100, 200))
    state = {k: np.array(v) for k, v in store.state(shared=True).items()}
    again = SparseIndex.from_state(store.config(), state)
    assert len(again) == len(store) and again.config() == {"kind": "sparse", "datatype": "float32"}
    q = SparseVectors.parse(queries(data, 5), "q")
    for a, b in zip(store.search(q, 7), again.search(q, 7)):
        np.testing.assert_array_equal(a, b)
    assert again.vectors([300])[0].tolist() == data[200].tolist()
    assert store.memory_usage()["sparse"] > data.indices.nbytes + data.values.nbytes
    for array in state.values():  # as a segment's mapped files are
        array.setflags(write=False)
    in_place = SparseIndex.from_state(store.config(), state, view=True)
    for a, b in zip(store.search(q, 7), in_place.search(q, 7)):
        np.testing.assert_array_equal(a, b)
    terms = np.unique(data.indices[:50])
    np.testing.assert_array_equal(
        in_place.document_frequency(terms), store.document_frequency(terms)
    )
    assert in_place.memory_usage()["sparse"] < 1000  # the rows and postings are the arrays'
    with pytest.raises(Exception, match="takes no rows"):
        in_place.add([99_999], data[[0]])
    # a state saved before the flat postings: built again from the rows
    older = {k: v for k, v in state.items() if not k.startswith("postings.")}
    rebuilt = SparseIndex.from_state(store.config(), older, view=True)
    for a, b in zip(store.search(q, 7), rebuilt.search(q, 7)):
        np.testing.assert_array_equal(a, b)


def test_native_index_checks_its_arguments() -> None:
    native = _core.SparseIndex()
    i64, u32, f32 = np.int64, np.uint32, np.float32
    with pytest.raises(ValueError, match="indices and values differ"):
        native.add(np.array([0, 2], i64), np.array([1, 2], u32), np.array([1], f32))
    with pytest.raises(ValueError, match="past the arrays"):
        native.add(np.array([0, 3], i64), np.array([1, 2], u32), np.array([1, 2], f32))
    native.add(np.array([0, 2], i64), np.array([1, 2], u32), np.array([1, 2], f32))
    with pytest.raises(ValueError, match="NaN"):
        native.search(
            np.array([0, 1], i64), np.array([1], u32), np.array([np.nan], f32), 1, None, 1
        )
    with pytest.raises(ValueError, match="too short"):
        native.search(
            np.array([0, 1], i64),
            np.array([1], u32),
            np.array([1], f32),
            1,
            np.zeros(0, dtype=np.uint64),
            1,
        )


# ---- the pruned search against the unpruned one and a numpy reference -----------------------


def weighted(n: int, kind: str, seed: int) -> SparseVectors:
    """Zipf rows (a few very long posting lists, many short ones) with values of one kind:
    "bm25" (tf-like weights, saturating), "signed" (normal: negative too), "ties" (a few
    exact values, so many rows score the same)."""
    rows = random_sparse(n, vocabulary=3000, nnz=30, seed=seed)
    rng = np.random.default_rng(seed)
    size = rows.values.shape[0]
    if kind == "bm25":
        tf = rng.zipf(2.0, size=size).clip(max=8)
        length = rng.uniform(0.5, 2.0, size=size)
        values = tf * 2.2 / (tf + 1.2 * length)
    elif kind == "signed":
        values = rng.standard_normal(size) * np.where(rng.random(size) < 0.8, 1, -1)
    else:
        values = rng.choice([0.0, 0.5, 1.0, 2.0], size=size)
    return SparseVectors(rows.indptr, rows.indices, values.astype(np.float32))


def weighted_query(data: SparseVectors, kind: str, rng: np.random.Generator) -> tuple:
    """A stored row's terms, a few common ones and one no row holds, in shuffled order (the
    scores sum in query order), with IDF-like weights for "bm25" (long lists weigh little)."""
    df = np.bincount(data.indices, minlength=3000)
    terms = np.unique(np.concatenate([data[int(rng.integers(len(data)))].indices, [0, 1, 2]]))
    terms = np.append(rng.permutation(terms), 3001).astype(np.uint32)
    if kind == "bm25":
        n = len(data)
        seen = df[np.minimum(terms, 2999)] * (terms < 3000)
        values = np.log(1 + (n - seen + 0.5) / (seen + 0.5))
    elif kind == "signed":
        values = rng.standard_normal(terms.shape[0])
    else:
        values = rng.choice([1.0, 2.0], size=terms.shape[0])
    return terms, values.astype(np.float32)


def reference_top(
    data: SparseVectors, terms: np.ndarray, values: np.ndarray, k: int, allowed: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """The best k rows as the index must rank them: float32 products added in query order,
    then score descending, ties to the lower row; only rows sharing a term (and allowed)."""
    row_of = np.repeat(np.arange(len(data)), np.diff(data.indptr))
    score = np.zeros(len(data), dtype=np.float32)
    hit = np.zeros(len(data), dtype=bool)
    for term, value in zip(terms.tolist(), values):
        at = np.flatnonzero(data.indices == term)
        score[row_of[at]] = score[row_of[at]] + value * data.values[at]
        hit[row_of[at]] = True
    rows = np.flatnonzero(hit if allowed is None else hit & allowed)
    best = rows[np.lexsort((rows, -score[rows]))[:k]]
    return best, score[best]


def native_top(
    index: Any, terms: np.ndarray, values: np.ndarray, k: int, bits: Any, prune: bool
) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.array([0, terms.shape[0]], dtype=np.int64)
    ids, scores = index.search(indptr, terms, values, k, bits, 1, prune=prune)
    found = ids[0] >= 0
    assert not np.isnan(scores[0][found]).any() and np.isnan(scores[0][~found]).all()
    return ids[0][found], scores[0][found]


def viewed(index: Any) -> Any:
    """Another native index searching `index`'s rows and flat postings in place, from
    read-only copies (as from a segment's mapped files)."""
    flat = index.postings_state()
    parts = [index.indptr_view, index.indices_view, index.values_view]
    parts += [flat[p] for p in ("terms", "starts", "rows", "weights", "bounds")]
    frozen = [np.array(a) for a in parts]
    for a in frozen:
        a.setflags(write=False)
    again = _core.SparseIndex()
    again.view(*frozen)
    assert again.viewed and (again.size, again.nnz, again.terms) == (
        index.size,
        index.nnz,
        index.terms,
    )
    return again


def check_pruned(
    data: SparseVectors, kind: str, seed: int, ks: list[int], mask: Any, view: bool = False
) -> None:
    index = _core.SparseIndex()
    half = len(data) // 2  # in two adds: the second must update each list's bounds
    index.add(*(np.asarray(a) for a in (data.indptr[: half + 1], data.indices, data.values)))
    tail = data[np.arange(half, len(data))]
    index.add(tail.indptr, tail.indices, tail.values)
    if view:
        index = viewed(index)
    bits = None
    if mask is not None:
        padded = np.zeros(-(-len(data) // 64) * 64, dtype=bool)
        padded[: len(data)] = mask
        bits = np.packbits(padded, bitorder="little").view(np.uint64)
    rng = np.random.default_rng(seed)
    for _ in range(4):
        terms, values = weighted_query(data, kind, rng)
        for k in ks:
            want = reference_top(data, terms, values, k, mask)
            for prune in (True, False):
                ids, scores = native_top(index, terms, values, k, bits, prune)
                np.testing.assert_array_equal(ids, want[0], err_msg=f"{kind} k={k} {prune}")
                np.testing.assert_array_equal(scores, want[1], err_msg=f"{kind} k={k} {prune}")


@pytest.mark.parametrize("view", [False, True])
@pytest.mark.parametrize("kind", ["bm25", "signed", "ties"])
def test_pruned_search_is_exact(kind: str, view: bool) -> None:
    """Queries with many postings (the pruned path) give the unpruned ids and scores, bit for
    bit, with and without a filter, k from 1 to past the matching rows; also searched in place
    in the flat postings (`view`)."""
    n = 4096
    data = weighted(n, kind, seed=21)
    allowed = np.random.default_rng(4).random(n) < 0.7
    for mask in (None, allowed):
        check_pruned(data, kind, seed=22, ks=[1, 10, 50, 300, 5000], mask=mask, view=view)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["bm25", "signed", "ties"]),
    rows=st.integers(64, 2048),
    k=st.sampled_from([1, 2, 7, 25, 100, 1000]),
    filtered=st.booleans(),
)
def test_pruned_search_matches_reference(
    seed: int, kind: str, rows: int, k: int, filtered: bool
) -> None:
    data = weighted(rows, kind, seed)
    mask = np.random.default_rng(seed).random(rows) < 0.5 if filtered else None
    check_pruned(data, kind, seed, [k], mask)
