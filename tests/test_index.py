"""The Index API: search pipeline semantics, deletes, filters, state, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vqdb
from vqdb.index.vector_index import plain_query

QUANTIZATIONS = [
    None,
    {"scalar": {"type": "int8", "quantile": 0.99}},
    {"binary": {"encoding": "one_bit"}},
    {"binary": {"encoding": "two_bits", "query_encoding": "scalar8bits"}},
    {"product": {"compression": "x8"}},
]
DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]


def data(n: int = 1500, dim: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def exact(base: np.ndarray, q: np.ndarray, distance: str, k: int) -> np.ndarray:
    if distance == "Cosine":
        b = base / np.linalg.norm(base, axis=1, keepdims=True)
        scores = b @ (q / np.linalg.norm(q))
    elif distance == "Dot":
        scores = base @ q
    elif distance == "Euclid":
        scores = -((base - q) ** 2).sum(1)
    else:
        scores = -np.abs(base - q).sum(1)
    return np.argsort(-scores, kind="stable")[:k]


def build(quantization=None, distance="Cosine", hnsw=True, n=1500, dim=32):
    base = data(n, dim)
    index = vqdb.Index(dim, distance, quantization=quantization, hnsw={} if hnsw else None)
    index.add(np.arange(n) + 1000, base)
    return index, base


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("hnsw", [True, False])
def test_float_search_finds_exact_neighbours(distance: str, hnsw: bool) -> None:
    index, base = build(distance=distance, hnsw=hnsw)
    queries = data(50, 32, seed=1)
    ids, scores = index.search(queries, limit=10, params={"hnsw_ef": 64})
    assert ids.shape == scores.shape == (50, 10)
    hits = [len(set(ids[i] - 1000) & set(exact(base, queries[i], distance, 10))) for i in range(50)]
    assert np.mean(hits) / 10 >= (0.97 if hnsw else 1.0)
    # API scores: similarities descending, distances ascending.
    order = np.diff(scores, axis=1)
    assert (order >= -1e-5).all() if distance in ("Euclid", "Manhattan") else (order <= 1e-5).all()


def test_euclid_scores_are_distances() -> None:
    index, base = build(distance="Euclid", hnsw=False)
    ids, scores = index.search(base[7], limit=3)
    assert ids[0] == 1007 and scores[0] == pytest.approx(0.0, abs=1e-3)
    np.testing.assert_allclose(scores[1], np.linalg.norm(base[ids[1] - 1000] - base[7]), rtol=1e-4)


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
@pytest.mark.parametrize("distance", DISTANCES)
def test_rescoring_reads_the_originals(quantization, distance: str) -> None:
    """Zero the originals after indexing: rescored scores must all be exactly 0 (or the
    distance to zero), proving rescoring reads them and not the codes."""
    index, base = build(quantization, distance, n=600)
    zeros = np.zeros_like(base)
    index._originals.set(np.arange(len(base), dtype=np.uint32), zeros)
    q = data(5, 32, seed=3)
    params = {"quantization": {"rescore": True, "oversampling": 2.0}, "exact": False}
    _, scores = index.search(q, limit=5, params=params)
    if distance in ("Euclid", "Manhattan"):
        norms = np.linalg.norm(q, axis=1) if distance == "Euclid" else np.abs(q).sum(1)
        np.testing.assert_allclose(scores, np.repeat(norms[:, None], 5, axis=1), rtol=1e-5)
    else:
        assert (scores == 0).all()


def test_search_defaults_follow_qdrant() -> None:
    binary, _ = build({"binary": {}}, n=600)
    scalar, _ = build({"scalar": {}}, n=600)
    q = data(1, 32, seed=5)[0]
    for index, rescored_by_default in ((binary, True), (scalar, False)):
        default = index.search(q, 5)[1]
        rescored = index.search(q, 5, {"quantization": {"rescore": True}})[1]
        raw = index.search(q, 5, {"quantization": {"rescore": False}})[1]
        np.testing.assert_array_equal(default, rescored if rescored_by_default else raw)


def test_unbounded_beam_and_oversampling_search_everything() -> None:
    """hnsw_ef past 2^64 (or any beam wider than the graph) and an infinite oversampling
    (JSON's 1e400) are clamped to the index size, not passed on to overflow the kernel."""
    index, base = build({"scalar": {}}, n=600)
    q = data(1, 32, seed=5)[0]
    everything = {"hnsw_ef": 600, "quantization": {"rescore": True, "oversampling": 60.0}}
    expected = index.search(q, 10, everything)
    for params in (
        {"hnsw_ef": 2**70, "quantization": {"rescore": True, "oversampling": 60.0}},
        {"hnsw_ef": 600, "quantization": {"rescore": True, "oversampling": float("inf")}},
        {"hnsw_ef": 2**64, "quantization": {"rescore": True, "oversampling": 1e300}},
    ):
        found = index.search(q, 10, params)
        np.testing.assert_array_equal(found[0], expected[0])


def test_oversampling_improves_recall_with_rescore() -> None:
    index, base = build({"binary": {"encoding": "one_bit"}}, n=3000, dim=64)
    q = data(100, 64, seed=9)
    truth = [exact(base, x, "Cosine", 10) for x in q]

    def recall(os: float) -> float:
        params = {"hnsw_ef": 400, "quantization": {"rescore": True, "oversampling": os}}
        ids, _ = index.search(q, 10, params)
        return float(np.mean([len(set(i - 1000) & set(t)) for i, t in zip(ids, truth)])) / 10

    # Random Gaussian data is the worst case for sign bits: recall climbs only with more
    # candidates, which is exactly what oversampling + rescoring buys.
    curve = [recall(os) for os in (1, 4, 16, 32)]
    assert curve == sorted(curve) and curve[0] < 0.3 and curve[-1] > 0.7


def test_ignore_and_exact_use_originals() -> None:
    index, base = build({"product": {"compression": "x64"}}, n=2000)
    q = data(30, 32, seed=4)
    truth = np.array([exact(base, x, "Cosine", 10) for x in q]) + 1000
    exact_ids, _ = index.search(q, 10, {"exact": True})
    np.testing.assert_array_equal(exact_ids, truth)
    ignored, _ = index.search(q, 10, {"hnsw_ef": 200, "quantization": {"ignore": True}})
    assert np.mean([len(set(a) & set(b)) for a, b in zip(ignored, truth)]) / 10 > 0.95


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_deleted_ids_never_come_back(quantization) -> None:
    index, base = build(quantization, n=800)
    gone = np.arange(1000, 1800, 3)
    index.delete(gone)
    assert len(index) == 800 - len(gone)
    ids, _ = index.search(base[::7], 20, {"quantization": {"oversampling": 2.0}})
    assert not np.isin(ids, gone).any()
    exact_ids, _ = index.search(base[::7], 20, {"exact": True})
    assert not np.isin(exact_ids, gone).any()
    assert 1000 not in index and 1001 in index


def test_allowed_ids_restrict_results() -> None:
    index, base = build(n=1000)
    allowed = np.arange(1000, 2000, 10)
    ids, scores = index.search(base[:20], 10, allowed_ids=allowed)
    assert np.isin(ids, allowed).all()
    few, few_scores = index.search(base[0], 10, allowed_ids=[1000, 1001, 5])
    assert set(few[:2]) == {1000, 1001} and (few[2:] == -1).all() and np.isnan(few_scores[2:]).all()


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_state_round_trip_gives_identical_results(quantization) -> None:
    index, base = build(quantization, n=700)
    index.delete([1003, 1004])
    clone = vqdb.Index.from_state(index.config(), index.state())
    q = data(20, 32, seed=8)
    for params in ({}, {"exact": True}, {"quantization": {"rescore": True, "oversampling": 3}}):
        a, sa = index.search(q, 10, params)
        b, sb = clone.search(q, 10, params)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(sa, sb)
    assert len(clone) == len(index)


def test_incremental_adds_extend_the_graph() -> None:
    base = data(1200)
    index = vqdb.Index(32, "Cosine", quantization={"scalar": {}})
    for start in range(0, 1200, 300):
        index.add(np.arange(start, start + 300), base[start : start + 300])
    # Oversampled so int8 error cannot put a neighbour above the point itself.
    params = {"quantization": {"rescore": True, "oversampling": 8}}
    ids, _ = index.search(base[1100:1120], 1, params)
    np.testing.assert_array_equal(ids[:, 0], np.arange(1100, 1120))


def test_single_query_shapes_and_memory_report() -> None:
    index, base = build({"binary": {}}, n=300)
    ids, scores = index.search(base[0].tolist(), limit=3)
    assert ids.shape == (3,) and ids.dtype == np.int64 and scores.dtype == np.float32
    memory = index.memory_usage()
    assert memory["quantized"] == 300 * 8 and memory["graph"] > 0
    assert index.code_bytes == 8  # 32 dims -> one 64-bit word
    assert repr(index) == (
        "Index(dim=32, distance=Cosine, quantization=binary one_bit query=default, "
        "hnsw m=16 ef_construct=100, vectors=300)"
    )


class TestBadInput:
    def setup_method(self) -> None:
        self.index, self.base = build({"scalar": {}}, n=200)

    def teardown_method(self) -> None:
        del self.index, self.base  # pytest keeps test instances until the session ends

    def test_wrong_dimension(self) -> None:
        with pytest.raises(ValueError, match="expected dim: 32, got 31"):
            self.index.search(np.zeros(31, np.float32))
        with pytest.raises(ValueError, match="expected dim: 32, got 3"):
            self.index.add([1], np.zeros((1, 3)))

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_nan_and_inf(self, bad: float) -> None:
        v = np.ones(32, np.float32)
        v[5] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            self.index.search(v)
        with pytest.raises(ValueError, match="NaN or infinity"):
            self.index.add([5000], v[None])
        assert len(self.index) == 200  # nothing written

    def test_nan_row_is_named(self) -> None:
        batch = np.ones((3, 32), np.float32)
        batch[2, 0] = np.nan
        for params in ({}, {"exact": True}):
            with pytest.raises(ValueError, match=r"NaN or infinity \(row 2\)"):
                self.index.search(batch, params=params)

    def test_params_dict_changed_between_calls(self) -> None:
        # Index.search remembers the last dict it parsed; a mutated dict must be parsed anew.
        params: dict = {"hnsw_ef": 16}
        self.index.search(self.base[0], 5, params)
        params["exact"] = True
        exact = self.index.search(self.base[0], 5, params)
        np.testing.assert_array_equal(
            exact[0], self.index.search(self.base[0], 5, {"exact": True})[0]
        )
        params["hnsw_ef"] = 0
        with pytest.raises(ValueError, match="hnsw_ef must be positive"):
            self.index.search(self.base[0], 5, params)

    def test_empty_index(self) -> None:
        with pytest.raises(ValueError, match="empty"):
            vqdb.Index(4).search(np.ones(4))

    def test_limit(self) -> None:
        with pytest.raises(ValueError, match="larger than the index"):
            self.index.search(self.base[0], limit=201)
        for bad in (0, -1, 2.5, True):
            with pytest.raises(ValueError, match="limit"):
                self.index.search(self.base[0], limit=bad)

    def test_unknown_options(self) -> None:
        with pytest.raises(ValueError, match="unknown search params option.*hnsw_eff"):
            self.index.search(self.base[0], params={"hnsw_eff": 10})
        with pytest.raises(ValueError, match="unknown quantization search params option"):
            self.index.search(self.base[0], params={"quantization": {"oversample": 2}})
        with pytest.raises(ValueError, match="oversampling"):
            self.index.search(self.base[0], params={"quantization": {"oversampling": 0.5}})
        with pytest.raises(ValueError, match="unknown distance"):
            vqdb.Index(4, "Hamming")
        with pytest.raises(ValueError, match="unknown binary encoding"):
            vqdb.Index(4, quantization={"binary": {"encoding": "three_bits"}})
        with pytest.raises(ValueError, match="unknown product compression"):
            vqdb.Index(4, quantization={"product": {"compression": "x3"}})
        with pytest.raises(ValueError, match="unknown quantization method"):
            vqdb.Index(4, quantization={"lattice": {}})
        with pytest.raises(ValueError, match="unknown scalar quantization option"):
            vqdb.Index(4, quantization={"scalar": {"bits": 4}})
        with pytest.raises(ValueError, match="unknown hnsw config option"):
            vqdb.Index(4, hnsw={"M": 8})

    def test_ids(self) -> None:
        with pytest.raises(ValueError, match="already in the index"):
            self.index.add([1000], self.base[:1])
        with pytest.raises(ValueError, match="unique"):
            self.index.add([7, 7], self.base[:2])
        with pytest.raises(ValueError, match="2 ids for 1 vectors"):
            self.index.add([8, 9], self.base[:1])
        with pytest.raises(ValueError, match="non-negative"):
            self.index.add([-1], self.base[:1])
        with pytest.raises(ValueError, match="integers"):
            self.index.add(["a"], self.base[:1])
        with pytest.raises(ValueError, match="not in the index"):
            self.index.delete([123456])
        assert len(self.index) == 200

    def test_not_numeric(self) -> None:
        with pytest.raises(ValueError, match="numeric"):
            self.index.search(["x"] * 32)
        with pytest.raises(ValueError, match="2-d"):
            self.index.search(np.zeros((2, 2, 32)))


@pytest.mark.parametrize("quantization", [None, {"scalar": {}}, {"binary": {}}])
def test_parallel_build_reaches_every_node(quantization) -> None:
    """Every node is reachable from the entry point on the base layer after a two-thread,
    incremental build (a race in link writing once left ~0.3% of nodes unreachable)."""
    base = data(1200)
    for _ in range(3):
        index = vqdb.Index(32, "Cosine", quantization=quantization, threads=2)
        for start in range(0, 1200, 300):
            index.add(np.arange(start, start + 300), base[start : start + 300])
        state = index._graph.state()
        links, entry = state["links0"], int(state["meta"][2])
        seen = np.zeros(len(links), dtype=bool)
        seen[entry] = True
        frontier = [entry]
        while frontier:
            nxt = np.concatenate([links[u, 1 : 1 + links[u, 0]] for u in frontier])
            nxt = np.unique(nxt[~seen[nxt]])
            seen[nxt] = True
            frontier = nxt.tolist()
        assert seen.all(), f"{(~seen).sum()} nodes unreachable"


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("quantization", [None, {"binary": {}}])
def test_link_lists_stay_sound(distance: str, quantization) -> None:
    """Pruning with slack and the in-place admission of back-links leave every level-0 list
    within 2m links, free of duplicates and self-links, across incremental parallel adds."""
    base = data(2000)
    index = vqdb.Index(32, distance, quantization=quantization, threads=2)
    for start in range(0, 2000, 500):
        index.add(np.arange(start, start + 500), base[start : start + 500])
    links = index._graph.state()["links0"]
    counts = links[:, 0]
    assert counts.max() <= 32 and counts.min() >= 1
    for node, row in enumerate(links):
        members = row[1 : 1 + row[0]]
        assert len(np.unique(members)) == len(members), f"node {node} links a node twice"
        assert node not in members, f"node {node} links itself"


@pytest.mark.parametrize("graph", [False, True])
def test_state_views_search_in_place(tmp_path: Path, graph: bool) -> None:
    """from_state(views=...) searches memory-mapped codes (and walks the graph's memory-mapped
    level 0) and gives the same answers."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2000, 32)).astype(np.float32)
    index = vqdb.Index(32, "Cosine", quantization={"scalar": {"type": "int8"}})
    index.add(np.arange(0, 4000, 2), base)
    index.delete([0, 2, 4])
    for name, array in index.state().items():
        np.save(tmp_path / f"{name}.npy", array)
    arrays = {p.name[:-4]: np.load(p, mmap_mode="r") for p in tmp_path.glob("*.npy")}
    views = ("originals", "quantized", "graph") if graph else ("originals", "quantized")
    clone = vqdb.Index.from_state(index.config(), arrays, views=views)
    assert clone.memory_usage()["originals"] == 0 and len(clone) == len(index)
    graph_bytes = (clone.memory_usage()["graph"], index.memory_usage()["graph"])
    assert (graph_bytes[0] < graph_bytes[1] / 2) == graph  # level 0 is most of a graph
    again = vqdb.Index.from_state(clone.config(), clone.state())  # a viewed graph's state
    for params in ({}, {"exact": True}, {"quantization": {"rescore": True}}):
        want = index.search(base[:50], 10, params)
        for other in (clone, again):
            got = other.search(base[:50], 10, params)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    with pytest.raises(RuntimeError, match="read-only"):
        clone.add([1], base[:1])


def test_ids_in_any_order_and_readded() -> None:
    index = vqdb.Index(4, "Dot", hnsw=None)
    x = np.eye(4, dtype=np.float32)
    index.add([30, 10, 20], x[:3])
    assert 10 in index and 11 not in index and len(index) == 3
    index.delete([10])
    assert 10 not in index
    index.add([10], x[3:])
    ids, _ = index.search(x[3], 1)
    assert ids.tolist() == [10]
    with pytest.raises(ValueError, match="already"):
        index.add([10], x[3:])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([0.5, -2.0, 3.4028235e38, 3.4028236e38, 1e-45, 1e39, float("nan")])
        | st.floats(-9, 9)
        | st.integers(-(2**70), 2**70)
        | st.booleans()
        | st.just([1.0]),
        max_size=6,
    ),
    st.integers(0, 6),
)
def test_plain_query_reads_what_numpy_would(raw: list, dim: int) -> None:
    """The native parse of a JSON query takes exactly the lists of `dim` plain numbers that
    numpy reads as finite float32, to the same bits; it declines the rest (bools and nested
    lists included, which the caller's numpy parse then converts or refuses)."""
    assert plain_query(None, dim) is None and plain_query(tuple(raw), dim) is None
    got = plain_query(raw, dim)
    plain = all(type(x) in (int, float) for x in raw)
    try:
        with np.errstate(over="ignore"):
            expected = np.asarray(raw, dtype=np.float32)
        accepted = plain and expected.shape == (dim,) and bool(np.isfinite(expected).all())
    except (TypeError, ValueError, OverflowError):
        accepted = False
    if not accepted:
        assert got is None
        return
    assert got is not None and got.dtype == np.float32
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("quantization", [None, {"scalar": {}}])
@pytest.mark.parametrize("distance", ["Dot", "Euclid"])
def test_a_lone_query_scan_split_over_threads_finds_what_one_thread_finds(
    quantization, distance: str
) -> None:
    """A single query's plain scan big enough to split (2 MB of codes a thread) is scanned in
    ranges on several threads: the merged top k is the one scan's, ties (duplicate rows)
    going to the lower id, with a broad filter and a selective one."""
    rng = np.random.default_rng(5)
    n, dim = 24_000, 384  # 9 MB of int8 codes, 36 of float32: 4 and 18 ranges at most
    base = rng.standard_normal((n, dim)).astype(np.float32)
    base[rng.choice(n, 3000, replace=False)] = base[7]  # many rows tie with row 7
    index = vqdb.Index(dim, distance, quantization=quantization, hnsw=None)
    index.add(np.arange(n), base)
    queries = np.vstack([base[7] + 0.01, rng.standard_normal((5, dim)).astype(np.float32)])
    broad = rng.random(n) < 0.7
    narrow = rng.random(n) < 0.05
    for allowed in (None, broad, narrow):
        for query in queries:
            want_ids, want_scores = index.search(query, 50, allowed_ids=allowed, threads=1)
            for threads in (2, 5, 64):
                ids, scores = index.search(query, 50, allowed_ids=allowed, threads=threads)
                np.testing.assert_array_equal(ids, want_ids)
                np.testing.assert_array_equal(scores, want_scores)
    tied, _ = index.search(base[7], 20, threads=5)
    if distance == "Euclid":  # every tie scores 0: the lowest ids win
        ties = np.sort(np.flatnonzero((base == base[7]).all(axis=1)))
        np.testing.assert_array_equal(tied, ties[:20])


@pytest.mark.parametrize("quantization", [None, {"scalar": {}}])
def test_a_set_grown_a_batch_at_a_time_holds_what_one_made_at_once_holds(quantization) -> None:
    """Codes grown a batch at a time (past 4 MB they live in a mapping that mremap extends or
    moves, several times here) are those of one add of every row, and search alike."""
    rng = np.random.default_rng(11)
    n, dim = 21_000, 256  # 21 MB of float32 originals: five doublings past the first 4 MB
    x = rng.standard_normal((n, dim)).astype(np.float32)
    grown = vqdb.Index(dim, "Cosine", quantization=quantization, hnsw=None)
    grown.add(np.arange(2000), x[:2000])  # the quantizer trains on the first batch
    for start in range(2000, n, 300):
        grown.add(np.arange(start, min(n, start + 300)), x[start : start + 300])
    whole = vqdb.Index(dim, "Cosine", quantization=quantization, hnsw=None)
    whole.add(np.arange(2000), x[:2000])
    whole.add(np.arange(2000, n), x[2000:])
    for name in ("_originals", "_quantized"):
        if getattr(whole, name) is None:
            continue
        a, b = getattr(grown, name).state(), getattr(whole, name).state()
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
    for q in x[rng.choice(n, 5)]:
        ids, scores = grown.search(q, 10)
        want_ids, want_scores = whole.search(q, 10)
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_array_equal(scores, want_scores)
