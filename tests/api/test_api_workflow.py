"""qdrant-client's common workflow against `vqdb serve`, checked against exact search and
against the same workflow through the embedded vqdb.Client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from client_workflow import run, vectors, workflow
from served import Server
from shared_data import DATA_ROOT

import vqdb

DATASET = DATA_ROOT / "python-docs-minilm-384"
# recall@10 of the graph + quantization against exact search, on 20 real queries, well below
# what each mode reaches at oversampling 4 (0.945-1.0): a broken walk, codec or rescore fails,
# noise does not
FLOORS = {"float32": 0.95, "scalar": 0.95, "binary": 0.85, "binary-2bit": 0.9, "product": 0.9}


@pytest.fixture(scope="module")
def over_http(server: Server) -> dict[str, Any]:
    return run(server.url, DATASET if DATASET.exists() else None, prefix="http")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("embedded")
    with vqdb.Client(path=path) as client:
        return workflow(
            client,
            lambda name, snapshot: str(path / "snapshots" / name / snapshot),
            DATASET if DATASET.exists() else None,
            prefix="embedded",
        )


def exact_top10(data: Path | None) -> np.ndarray:
    base, queries = vectors(data)
    base = base / np.linalg.norm(base, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :10]


@pytest.mark.parametrize("mode", list(FLOORS))
def test_search_matches_exact_search(over_http: dict[str, Any], mode: str) -> None:
    found = over_http["modes"][mode]
    truth = exact_top10(DATASET if DATASET.exists() else None)
    assert found["points_count"] == found["indexed"] == over_http["n"]
    for answer, true_ids in zip(found["answers"], truth):
        assert answer["exact"] == true_ids.tolist()
        assert answer["filtered_groups"] in ([], ["g1"])
        assert len(answer["filtered"]) == 10
    recall = np.mean(
        [len(set(a["ids"]) & set(t.tolist())) / 10 for a, t in zip(found["answers"], truth)]
    )
    assert recall >= FLOORS[mode], f"{mode}: recall@10 {recall:.3f}"
    assert found["batch"] == [a["ids"] for a in found["answers"][:3]]


def test_http_answers_as_embedded_does(over_http: dict[str, Any], embedded: dict[str, Any]) -> None:
    for mode in FLOORS:
        http_mode, local_mode = over_http["modes"][mode], embedded["modes"][mode]
        assert http_mode["quantization"] == local_mode["quantization"]
        for a, b in zip(http_mode["answers"], local_mode["answers"]):
            assert a["exact"] == b["exact"]
            np.testing.assert_allclose(a["exact_scores"], b["exact_scores"], rtol=1e-6)
    assert over_http["points"] == embedded["points"]
    assert over_http["switch"] == embedded["switch"]


def test_point_operations(over_http: dict[str, Any]) -> None:
    points = over_http["points"]
    assert points["scroll"] == [1, 5, 9, 13, 17, 21, 25]
    assert points["next"] == 29
    assert points["count_g1"] == over_http["n"] // 4
    assert points["payloads"] == {
        "1": {"group": "g1", "tag": "x"},
        "2": {"group": "g2", "rank": 2, "tag": "x"},
        "4": {"only": True},
        "5": {},
    }
    assert points["vector_6_is_7"]
    # 8 and 9 deleted by id, then the g1 points by filter: 9 was gone already, and 5 lost its
    # group with its payload
    assert points["count_after_delete"] == over_http["n"] - 2 - (over_http["n"] // 4 - 2)
    assert points["batch_payload"] == {"b": 2}


def test_quantization_switch_and_snapshots(over_http: dict[str, Any]) -> None:
    assert over_http["switch"] == {
        "scalar": {"scalar": {"type": "int8"}},
        "hits_while_scalar": 5,
        "after_disable": None,
    }
    snap = over_http["snapshots"]
    assert snap["listed"] and snap["deleted"] and snap["listed_after_delete"] == []
    assert snap["count_after_delete"] == snap["count_before"] - 2
    assert snap["count_recovered"] == snap["count_before"]
    assert over_http["deleted"]
