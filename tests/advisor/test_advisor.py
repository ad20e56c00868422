"""The quantization advisor in process: its JSON, its recommendation, its errors, the command
line and the embedded client (sizes kept small: a run is a second or two)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import vqdb
from vqdb import advisor, cli
from vqdb.advisor.candidates import CANDIDATES, OVERSAMPLING
from vqdb.errors import BadInput, OutOfRange
from vqdb.params import search_params

pytestmark = pytest.mark.usefixtures("quick_optimizer")


def clustered(n: int = 1500, dim: int = 24, seed: int = 0) -> np.ndarray:
    """Vectors around 30 centres: neighbours that quantization can confuse, as in real data."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((30, dim))
    return (centres[rng.integers(0, 30, n)] + 0.5 * rng.standard_normal((n, dim))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def advice() -> advisor.Advice:
    return advisor.advise(clustered(), "Cosine", target_recall=0.9, n_queries=60, progress=False)


def test_every_candidate_at_every_oversampling(advice: advisor.Advice) -> None:
    found = advice.to_json()
    rows = found["candidates"]
    measured = {(r["label"], r["oversampling"]) for r in rows}
    assert measured >= {(c.label, os) for c in CANDIDATES for os in OVERSAMPLING}
    for row in rows:
        assert {"quantization_config", "oversampling", "recall", "qps", "bytes_per_vector_ram"} <= (
            row.keys()
        )
        low, high = row["recall_interval"]
        assert 0.0 <= low <= row["recall"] <= high <= 1.0
        vqdb.parse_quantization(row["quantization_config"])  # Qdrant's shape, as vqdb takes it
    assert any(r["pareto"] for r in rows)
    assert json.loads(json.dumps(found)) == found  # plain JSON throughout


def test_the_recommendation_is_verified_and_in_qdrants_shapes(advice: advisor.Advice) -> None:
    rec = advice.to_json()["recommendation"]
    assert rec["met"]
    assert vqdb.parse_quantization(rec["quantization_config"]) is not None
    search_params(rec["search_params"])  # Qdrant's SearchParams shape
    assert rec["recall_interval"][0] >= 0.9  # the target holds with confidence
    assert rec["recall_interval"][0] <= rec["estimated_recall"] <= rec["recall_interval"][1]
    assert rec["measured_with"].startswith("hnsw")


def test_least_memory_among_those_that_hold(advice: advisor.Advice) -> None:
    chosen = advice.chosen
    assert chosen is not None
    verified_ok = [r for r in advice.verified if r.recall_interval[0] >= 0.9]
    assert chosen.bytes_per_vector_ram == min(r.bytes_per_vector_ram for r in verified_ok)
    # nothing screened with fewer bytes met the target
    smaller = [
        r
        for r in advice.candidates
        if r.method != "none" and r.bytes_per_vector_codes < chosen.bytes_per_vector_codes
    ]
    assert all(r.recall < 0.9 or r.label in {v.label for v in advice.verified} for r in smaller)


def test_table_and_summary(advice: advisor.Advice) -> None:
    table = advice.table()
    assert table.splitlines()[0].startswith("| | method | oversampling | recall@10")
    assert "| > " in table  # the recommended row is marked
    assert "recommendation (memory, recall@10 >= 0.9)" in advice.summary()


def test_an_unreachable_target_keeps_the_originals() -> None:
    found = advisor.advise(
        clustered(800, 16), "Euclid", target_recall=1.0, n_queries=40, progress=False
    ).to_json()
    rec = found["recommendation"]
    if not rec["met"]:  # some codec may reach 1.0 on easy data; when none does, it says so
        assert rec["quantization_config"] == "Disabled"
        assert "keep the originals" in rec["why"]


def test_speed_objective_and_own_queries() -> None:
    x = clustered(1200, 16)
    queries = clustered(40, 16, seed=1)
    advice = advisor.advise(
        x, "Dot", queries=queries, target_recall=0.8, objective="speed", progress=False
    )
    assert advice.objective == "speed"
    assert advice.sample["held_out"] is False and advice.sample["queries"] == 40


@pytest.mark.parametrize(
    ("vectors", "options", "error", "words"),
    [
        (np.ones(100, np.float32), {}, BadInput, "2-d array"),
        (np.zeros((0, 8), np.float32), {}, BadInput, "no vectors"),
        (np.ones((500, 1), np.float32), {}, BadInput, "1 dimension"),
        (np.ones((50, 8), np.float32), {}, BadInput, "too few"),
        (np.full((500, 8), np.nan, np.float32), {}, BadInput, "NaN"),
        (clustered(500, 8), {"target_recall": 1.5}, OutOfRange, "between 0 and 1"),
        (clustered(500, 8), {"target_recall": 0}, OutOfRange, "between 0 and 1"),
        (clustered(500, 8), {"objective": "cheap"}, OutOfRange, "memory, speed"),
        (clustered(500, 8), {"limit": 0}, OutOfRange, "limit"),
        (clustered(500, 8), {"distance": "Hamming"}, BadInput, "Hamming"),
    ],
)
def test_bad_input(vectors: np.ndarray, options: dict, error: type, words: str) -> None:
    distance = options.pop("distance", "Cosine")
    with pytest.raises(error, match=words):
        advisor.advise(vectors, distance, progress=False, **options)


# ---- the command line -----------------------------------------------------------------------


def test_cli_on_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "base.npy", clustered(1000, 16))
    out = tmp_path / "advice.json"
    argv = ["advise", "--vectors", str(tmp_path / "base.npy"), "--distance", "Euclid"]
    code = cli.main([*argv, "--target-recall", "0.9", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "| method |" in printed and "recommendation" in printed
    found = json.loads(out.read_text())
    assert found["recommendation"]["met"] and found["candidates"]


@pytest.mark.parametrize(
    ("array", "extra", "words"),
    [
        (np.ones(100, np.float32), [], "2-d array"),
        (np.ones((500, 8), np.float32), ["--target-recall", "1.5"], "between 0 and 1"),
        (np.ones((500, 8), np.float32), ["--apply"], "--apply and --collection need --url"),
    ],
)
def test_cli_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], array: np.ndarray, extra: list, words: str
) -> None:
    np.save(tmp_path / "v.npy", array)
    assert cli.main(["advise", "--vectors", str(tmp_path / "v.npy"), *extra]) == 2
    assert words in capsys.readouterr().err


def test_cli_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["advise", "--url", "http://127.0.0.1:9", "--collection", "c"]
    assert cli.main(argv) == 2
    assert "vqdb advise: http://127.0.0.1:9" in capsys.readouterr().err


# ---- the embedded client --------------------------------------------------------------------


def _filled(client: vqdb.Client, n: int = 1500) -> None:
    client.create_collection(
        "c",
        vectors_config={"size": 16, "distance": "Cosine"},
        optimizers_config={"indexing_threshold": 1},  # index (and quantize) even this few
    )
    client.upload_collection("c", vectors=clustered(n, 16), ids=range(n), wait=True)
    _wait_done(client)


def _wait_done(client: vqdb.Client) -> None:
    deadline = time.monotonic() + 60
    while not client.advice_progress("c")["done"]:
        assert time.monotonic() < deadline, "the optimizer never finished"
        time.sleep(0.02)


def test_client_advise_and_apply() -> None:
    with vqdb.Client(":memory:") as client:
        _filled(client)
        found = client.advise("c", target_recall=0.9, apply=True, progress=False)
        rec = found["recommendation"]
        assert rec["met"]
        applied = client.get_collection("c").config.quantization_config
        assert applied is not None
        assert vqdb.parse_quantization(applied.model_dump(exclude_none=True)) == (
            vqdb.parse_quantization(rec["quantization_config"])
        )
        _wait_done(client)
        progress = client.advice_progress("c")
        assert progress["fraction"] == 1.0 and progress["rebuilt_points"] == 1500
        memory = client.collection_telemetry("c")["memory"]
        parts = memory["vectors"][""]["bytes_per_vector"]
        assert set(parts) == {"codes", "graph", "originals"}
        assert 0 < parts["codes"]["ram"] < parts["originals"]["ram"]
        assert parts["graph"]["ram"] > 0


def test_client_advise_errors() -> None:
    with vqdb.Client(":memory:") as client:
        client.create_collection("c", vectors_config={"size": 16, "distance": "Cosine"})
        with pytest.raises(BadInput, match="no vectors to advise on"):
            client.advise("c", progress=False)
        with pytest.raises(ValueError, match="no dense vector 'other'"):
            client.advise("c", vector_name="other", progress=False)
        with pytest.raises(OutOfRange, match="between 0 and 1"):
            client.advise("c", target_recall=1.5, progress=False)


def test_a_named_vector_gets_its_own_quantization() -> None:
    with vqdb.Client(":memory:") as client:
        client.create_collection(
            "c",
            vectors_config={"text": {"size": 16, "distance": "Cosine"}},
            optimizers_config={"indexing_threshold": 1},
        )
        x = clustered(1200, 16)
        client.upload_collection("c", vectors={"text": x}, ids=range(1200), wait=True)
        found = client.advise("c", vector_name="text", target_recall=0.9, apply=True)
        rec = found["recommendation"]
        assert rec["vector_name"] == "text"
        config = client.get_collection("c").config
        assert config.quantization_config is None  # the collection-wide one is untouched
        own = config.params.vectors["text"].quantization_config
        assert vqdb.parse_quantization(own.model_dump(exclude_none=True)) == (
            vqdb.parse_quantization(rec["quantization_config"])
        )
