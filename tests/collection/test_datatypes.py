"""float16 and uint8 originals through the collection layer (Qdrant's `datatype`): what is
stored (float16 rounds to nearest, uint8 truncates and saturates to 0..255), exact scores against
numpy over the converted values (queries converted the same way, as Qdrant does), the graph's
recall, dense vectors and multivectors, appendable and optimized segments, on_disk true and
false, quantization on top, reopening, snapshots, and the bytes per stored vector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import info, query, reads, snapshots
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.index import Index

N = 800
DIM = 24
MDIM = 8
ITEMSIZE = {"float16": 2, "uint8": 1}
MULTI = {"comparator": "max_sim"}


# segments seal after short write pauses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("quick_optimizer")


def convert(x: np.ndarray, datatype: str) -> np.ndarray:
    """What Qdrant stores for float32 input: float16 rounded, or `x as u8` (toward zero, then
    clamped to 0..255)."""
    if datatype == "float16":
        return x.astype(np.float16).astype(np.float32)
    return np.clip(np.trunc(x), 0, 255).astype(np.float32)


def normalized(x: np.ndarray) -> np.ndarray:
    """Unit rows the way the engine normalises (norm in float64, scaled in float32)."""
    norms = np.sqrt((x.astype(np.float64) ** 2).sum(-1, keepdims=True))
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return x * inv.astype(np.float32)


def stored(x: np.ndarray, datatype: str, distance: str) -> np.ndarray:
    """Cosine: float16 rows are normalised then rounded; uint8 rows are kept as given."""
    if distance == "Cosine" and datatype == "float16":
        return convert(normalized(x), datatype)
    return convert(x, datatype)


def score(q: np.ndarray, rows: np.ndarray, datatype: str, distance: str) -> np.ndarray:
    """API scores of one query against stored rows, in float64."""
    q64 = stored(q[None], datatype, distance)[0].astype(np.float64)
    r64 = rows.astype(np.float64)
    if distance == "Euclid":
        return np.sqrt(((r64 - q64) ** 2).sum(-1))
    if distance == "Manhattan":
        return np.abs(r64 - q64).sum(-1)
    dot = r64 @ q64
    if distance == "Cosine" and datatype == "uint8":  # dot / (|q| |x|), 0 for a zero vector
        norms = np.linalg.norm(r64, axis=-1) * np.linalg.norm(q64)
        return np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)
    return dot


def data(datatype: str, n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if datatype == "uint8":  # fractions, negatives and values past 255 are all converted
        return (rng.random((n, dim)) * 300 - 20).astype(np.float32)
    return (rng.standard_normal((n, dim)) * 10).astype(np.float32)


def body(datatype: str, on_disk: bool, indexing_threshold: int, **extra: Any) -> dict[str, Any]:
    common = {"datatype": datatype, "on_disk": on_disk, **extra}
    return {
        "vectors": {
            "cos": {"size": DIM, "distance": "Cosine", **common},
            "l2": {"size": DIM, "distance": "Euclid", **common},
            "m": {"size": MDIM, "distance": "Dot", "multivector_config": MULTI, **common},
        },
        "optimizers_config": {"indexing_threshold": indexing_threshold},
        "hnsw_config": {"m": 16, "ef_construct": 64},
    }


class Model:
    """The raw float32 input per id, and what the collection must have stored."""

    def __init__(self, datatype: str) -> None:
        self.datatype = datatype
        self.dense: dict[str, dict[int, np.ndarray]] = {"cos": {}, "l2": {}}
        self.multi: dict[int, np.ndarray] = {}

    def fill(self, c: Collection, n: int = N, first: int = 0) -> None:
        x, y = data(self.datatype, n, DIM, first), data(self.datatype, n, DIM, first + 1)
        rows = data(self.datatype, 3 * n, MDIM, first + 2)
        for start in range(0, n, 200):
            ids = range(first + start, first + min(n, start + 200))
            points = [
                {
                    "id": i,
                    "vector": {
                        "cos": x[i - first].tolist(),
                        "l2": y[i - first].tolist(),
                        "m": rows[3 * (i - first) : 3 * (i - first) + 1 + i % 3].tolist(),
                    },
                }
                for i in ids
            ]
            c.upsert({"points": points})
        for i in range(first, first + n):
            self.dense["cos"][i] = x[i - first]
            self.dense["l2"][i] = y[i - first]
            self.multi[i] = rows[3 * (i - first) : 3 * (i - first) + 1 + (i % 3)]

    def expected(self, name: str, q: np.ndarray) -> dict[int, float]:
        distance = {"cos": "Cosine", "l2": "Euclid", "m": "Dot"}[name]
        if name == "m":
            qs = stored(q, self.datatype, "Dot").astype(np.float64)
            return {
                i: float((qs @ stored(d, self.datatype, "Dot").astype(np.float64).T).max(1).sum())
                for i, d in self.multi.items()
            }
        ids = sorted(self.dense[name])
        rows = stored(np.stack([self.dense[name][i] for i in ids]), self.datatype, distance)
        return dict(zip(ids, score(q, rows, self.datatype, distance).tolist()))


def check(
    c: Collection, model: Model, params: dict[str, Any] | None = None, floor: float = 0.9
) -> None:
    rng = np.random.default_rng(5)
    hits = 0
    for name in ("cos", "l2", "m"):
        ascending = name == "l2"
        for _ in range(3):
            if name == "m":
                q = data(model.datatype, 2, MDIM, int(rng.integers(1 << 30)))
            else:
                q = data(model.datatype, 1, DIM, int(rng.integers(1 << 30)))[0]
            expected = model.expected(name, q)
            order = sorted(expected, key=lambda i: expected[i] if ascending else -expected[i])
            request: dict[str, Any] = {"query": q.tolist(), "using": name, "limit": 10}
            found = query.query(c, {**request, "params": params or {}})["points"]
            exact = query.query(c, {**request, "params": {"exact": True}})["points"]
            for p in found + exact:  # scores of the stored (converted) values
                assert p["score"] == pytest.approx(expected[p["id"]], rel=1e-5, abs=1e-5)
            best = [expected[i] for i in order[:10]]  # ties: compare scores, not ids
            assert [p["score"] for p in exact] == pytest.approx(best, rel=1e-5, abs=1e-5)
            hits += len({p["id"] for p in found} & set(order[:10]))
    assert hits / (3 * 3 * 10) >= floor


def check_stored(c: Collection, model: Model) -> None:
    ids = list(range(0, N, 97))
    shown = reads.retrieve(c, {"ids": ids, "with_vector": True})
    for p in shown:
        i, vectors = p["id"], p["vector"]
        for name, distance in (("cos", "Cosine"), ("l2", "Euclid")):
            want = stored(model.dense[name][i], model.datatype, distance)
            np.testing.assert_array_equal(np.array(vectors[name], np.float32), want)
        want = stored(model.multi[i], model.datatype, "Dot")
        np.testing.assert_array_equal(np.array(vectors["m"], np.float32), want)


def originals_bytes(c: Collection) -> dict[str, int]:
    """Bytes per stored original of each vector in the built segments, from the sets' own RAM
    (in-memory originals) and checked against the codes' width."""
    out = {}
    for s in c.segments:
        if s.appendable:
            continue
        for name, store in s.vectors.items():
            assert isinstance(store, Index)
            out[name] = store._originals.code_bytes
            if not store.read_only:
                rows = (
                    store._originals.size
                    if name != "m"
                    else store.state()["originals.codes"].shape[0]
                )
                assert store.memory_usage()["originals"] >= rows * out[name]
    return out


@pytest.fixture(params=["float16", "uint8"])
def datatype(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "storage")
    yield database
    database.close()


@pytest.mark.parametrize("on_disk", [False, True], ids=["ram", "on_disk"])
@pytest.mark.parametrize("indexed", [False, True], ids=["appendable", "optimized"])
def test_stored_values_scores_and_recall(
    db: Database, datatype: str, on_disk: bool, indexed: bool
) -> None:
    c = db.create_collection("c", body(datatype, on_disk, 1 if indexed else 0))
    echoed = info.info(c)["config"]["params"]["vectors"]
    assert {v["datatype"] for v in echoed.values()} == {datatype}
    model = Model(datatype)
    model.fill(c)
    if indexed:
        assert c.optimizer.wait_idle(120)
        assert not any(s.appendable and s.count for s in c.segments)
        width = originals_bytes(c)
        assert width == {
            "cos": DIM * ITEMSIZE[datatype],
            "l2": DIM * ITEMSIZE[datatype],
            "m": MDIM * ITEMSIZE[datatype],
        }
        for s in c.segments:
            for store in s.vectors.values():
                assert store.read_only == (on_disk and not s.appendable)
    check_stored(c, model)
    check(c, model)


def test_files_hold_narrow_rows(tmp_path: Path, datatype: str) -> None:
    with Database(tmp_path / "storage") as db:
        c = db.create_collection("c", body(datatype, True, 1))
        model = Model(datatype)
        model.fill(c)
        assert c.optimizer.wait_idle(120)
    files = sorted((tmp_path / "storage").rglob("vector.*.originals.codes*.npy"))
    assert files
    widths = set()
    for f in files:
        array = np.load(f, mmap_mode="r")
        widths.add(array.shape[1])
        assert f.stat().st_size - array.nbytes < 4096  # the .npy header, nothing more
    itemsize = ITEMSIZE[datatype]
    assert widths <= {DIM * itemsize, MDIM * itemsize}
    assert DIM * itemsize in widths


@pytest.mark.parametrize(
    ("quantization", "floor"),
    [
        ({"scalar": {"type": "int8", "always_ram": True}}, 0.9),
        # two bits per dimension of 8-d and 24-d random rows walk a poor graph (as float32
        # ones do); rescoring still makes every score exact
        ({"binary": {"always_ram": True, "encoding": "two_bits"}}, 0.4),
        ({"product": {"compression": "x4"}}, 0.6),
    ],
    ids=["scalar", "binary", "product"],
)
def test_quantized_copies_rescore_by_the_stored_originals(
    db: Database, datatype: str, quantization: dict[str, Any], floor: float
) -> None:
    c = db.create_collection("c", body(datatype, True, 1, quantization_config=quantization))
    model = Model(datatype)
    model.fill(c, n=600)
    assert c.optimizer.wait_idle(120)
    params = {"quantization": {"rescore": True, "oversampling": 4.0}, "hnsw_ef": 128}
    check(c, model, params, floor)


def test_reopen_and_snapshot(tmp_path: Path, datatype: str) -> None:
    db = Database(tmp_path / "storage")
    c = db.create_collection("c", body(datatype, True, 1))
    model = Model(datatype)
    model.fill(c, n=500)
    assert c.optimizer.wait_idle(120)
    model.fill(c, n=50, first=5000)  # stays in the appendable segment and the WAL
    q = data(datatype, 1, DIM, 3)[0]

    def answers(coll: Collection) -> list[Any]:
        got = [
            query.query(coll, {"query": q.tolist(), "using": n, "limit": 10}) for n in ("cos", "l2")
        ]
        return [got, reads.scroll(coll, {"limit": 1000, "with_vector": True})]

    before = answers(c)
    db.close()
    with Database(tmp_path / "storage") as again:
        assert answers(again.collection("c")) == before
        taken = snapshots.create(again, "c")
        assert snapshots.recover(again, "copy", snapshots.path_of(again, "c", taken["name"]))
        copy = again.collection("copy")
        assert answers(copy) == before
        check_stored(copy, model)
        check(copy, model)


def test_config_echo_and_refusals() -> None:
    with Database(None) as db:
        plain = {"size": 4, "distance": "Dot", "datatype": "uint8"}
        c = db.create_collection("u", {"vectors": plain})
        assert info.info(c)["config"]["params"]["vectors"] == plain
        # Qdrant's VectorParamsDiff has no datatype: it is ignored, as an unknown field
        c = db.update_collection("u", {"vectors": {"": {"datatype": "float16"}}}) or c
        assert info.info(db.collection("u"))["config"]["params"]["vectors"] == plain
        with pytest.raises(ValueError, match="datatype"):
            db.create_collection("x", {"vectors": {**plain, "datatype": "int4"}})
        for dt in ("float16", "uint8"):
            sparse = {"sparse_vectors": {"s": {"index": {"datatype": dt}}}}
            with pytest.raises(ValueError, match=f"'{dt}' is not supported: .*sparse"):
                db.create_collection("x", sparse)
        sparse = {"sparse_vectors": {"s": {"index": {"datatype": "float32"}}}}
        assert db.create_collection("s", sparse)


def test_binary_codes_of_uint8_are_centred() -> None:
    # Qdrant takes binary codes of uint8 originals from x - 127: the signs of bytes would be
    # all ones, and a walk over them would rank at random
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2000, 64)).astype(np.float32)
    index = Index(64, "Dot", datatype="uint8", quantization={"binary": {}}, hnsw=None)
    index.add(np.arange(2000), x)
    bits = np.unpackbits(index.state()["quantized.codes"])
    assert 0.45 < bits.mean() < 0.55
    hits = 0
    for q in rng.integers(0, 256, (10, 64)).astype(np.float32):
        truth = np.argsort(-(x.astype(np.float64) @ (q - 127)))  # what the codes rank by
        params = {"quantization": {"rescore": False}}
        found, _ = index.search(q, 10, params)
        hits += len(set(found.tolist()) & set(truth[:50].tolist()))
    assert hits / 100 >= 0.5


@pytest.mark.parametrize("read_path", ["io_uring", "pread"])
def test_rescoring_reads_narrow_rows_through_the_row_reader(
    tmp_path: Path, datatype: str, read_path: str
) -> None:
    # the reader reads fixed-stride rows: dim * 2 or dim bytes here, from the file's header
    quantization = {"scalar": {"type": "int8", "always_ram": True}}
    with Database(tmp_path / "storage") as db:
        c = db.create_collection("c", body(datatype, True, 1, quantization_config=quantization))
        model = Model(datatype)
        model.fill(c, n=400)
        assert c.optimizer.wait_idle(120)
    with Database(tmp_path / "storage", async_scorer=read_path) as db:
        c = db.collection("c")
        paths = {s.vectors["l2"].read_path for s in c.segments if not s.appendable}
        assert paths and paths <= {"io_uring", "pread"}
        check_stored(c, model)
        check(c, model, {"quantization": {"rescore": True, "oversampling": 4.0}})
