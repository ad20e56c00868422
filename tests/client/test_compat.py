"""Drop-in use: qdrant-client's model objects, vqdb.models objects and plain dicts give the same
results, and results are vqdb.models objects that qdrant-client's models accept."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import numpy as np
import pytest
from client_data import DIM, N, ids, payload, payloads, vectors
from qdrant_client import models as qm
from qdrant_client.http import models as rest  # qm.QueryResponse is fastembed's, not the API's

import vqdb
from vqdb import models


@pytest.fixture
def filled(client: vqdb.Client) -> vqdb.Client:
    client.create_collection(
        "c", vectors_config=qm.VectorParams(size=DIM, distance=qm.Distance.COSINE)
    )
    client.upload_collection("c", vectors(), payload=payloads(), ids=range(N))
    return client


def queries(family: Any) -> list[dict[str, Any]]:
    """The same calls, spelled with one family of models (or None: plain dicts)."""
    q = vectors(1, seed=7)[0].tolist()
    if family is None:
        flt: Any = {"must": [{"key": "k", "match": {"except": [1, 2]}}]}
        params: Any = {"exact": True}
        return [
            {"query": q, "query_filter": flt, "search_params": params, "limit": 7},
            {"query": {"nearest": q}, "search_params": params, "with_payload": ["name"]},
            {"query": {"recommend": {"positive": [4], "negative": [5]}}, "limit": 3},
        ]
    match = family.MatchExcept(**{"except": [1, 2]})
    flt = family.Filter(must=[family.FieldCondition(key="k", match=match)])
    params = family.SearchParams(exact=True)
    recommend = family.RecommendQuery(recommend=family.RecommendInput(positive=[4], negative=[5]))
    return [
        {"query": q, "query_filter": flt, "search_params": params, "limit": 7},
        {
            "query": family.NearestQuery(nearest=q),
            "search_params": params,
            "with_payload": ["name"],
        },
        {"query": recommend, "limit": 3},
    ]


def test_models_of_either_family_and_dicts_agree(filled: vqdb.Client) -> None:
    answers = []
    for family in (None, models, qm):
        found = [filled.query_points("c", **kwargs) for kwargs in queries(family)]
        answers.append([r.model_dump(mode="json") for r in found])
    assert answers[0] == answers[1] == answers[2]
    first = answers[0][0]["points"]
    assert len(first) == 7 and all(p["payload"]["k"] not in (1, 2) for p in first)
    assert all(set(p["payload"]) == {"name"} for p in answers[0][1]["points"])

    # writes and selectors too
    filled.upsert("c", qm.Batch(ids=[1000], vectors=[[0.5] * DIM], payloads=[{"k": 42}]))
    filled.upsert("c", [qm.PointStruct(id=1001, vector=[0.25] * DIM, payload={"k": 42})])
    filled.upsert("c", models.Batch(ids=[1002], vectors=[[1.0] * DIM]))
    flt = qm.Filter(must=[qm.FieldCondition(key="k", match=qm.MatchValue(value=42))])
    assert filled.count("c", count_filter=flt).count == 2
    filled.update_vectors("c", [qm.PointVectors(id=1002, vector=[2.0] * DIM)])
    filled.delete("c", qm.FilterSelector(filter=flt))
    filled.delete("c", flt)  # a bare Filter is a selector as well
    filled.delete("c", qm.PointIdsList(points=[1002]))
    assert filled.count("c").count == N
    filled.create_payload_index("c", "k", field_schema=qm.PayloadSchemaType.INTEGER)
    assert filled.get_collection("c").payload_schema["k"].points == N


def test_results_are_vqdb_models_that_qdrant_client_accepts(filled: vqdb.Client) -> None:
    q = vectors(1, seed=8)[0]
    found = filled.query_points("c", q, limit=3, with_vectors=True)
    assert isinstance(found, models.QueryResponse)
    assert isinstance(found.points[0], models.ScoredPoint)
    assert rest.QueryResponse.model_validate(found.model_dump()).points[0].score == pytest.approx(
        found.points[0].score
    )
    records, next_offset = filled.scroll("c", limit=2)
    assert all(isinstance(r, models.Record) for r in records) and next_offset == 2
    checks = [
        (records[0], rest.Record),
        (filled.count("c"), rest.CountResult),
        (filled.get_collection("c"), rest.CollectionInfo),
        (filled.get_collections(), rest.CollectionsResponse),
        (filled.set_payload("c", {"a": 1}, [0]), rest.UpdateResult),
        (
            filled.query_batch_points("c", [models.QueryRequest(query=q.tolist())])[0],
            rest.QueryResponse,
        ),
    ]
    for value, theirs in checks:
        assert type(value).__name__ == theirs.__name__
        assert type(value).__module__ == "vqdb.models"
        theirs.model_validate(value.model_dump(mode="json"))
        theirs.model_validate(value.model_dump())


def test_batch_update_points_with_qdrant_models(filled: vqdb.Client) -> None:
    operations = [
        qm.UpsertOperation(
            upsert=qm.PointsList(points=[qm.PointStruct(id=5000, vector=[1.0] * DIM)])
        ),
        qm.SetPayloadOperation(set_payload=qm.SetPayload(payload={"new": 1}, points=[5000])),
        qm.DeleteOperation(delete=qm.PointIdsList(points=[0])),
        {"delete_payload": {"keys": ["name"], "points": [1]}},
    ]
    done = filled.batch_update_points("c", operations)
    assert len(done) == 4 and all(isinstance(d, models.UpdateResult) for d in done)
    assert payload(filled.retrieve("c", [5000])[0]) == {"new": 1}
    assert ids(filled.retrieve("c", [0, 1])) == [1]
    assert payload(filled.retrieve("c", [1])[0]) == {"k": 1}


def test_uuid_ids_round_trip(client: vqdb.Client) -> None:
    client.create_collection("u", vectors_config={"size": 4, "distance": "Dot"})
    a, b = uuid.uuid4(), str(uuid.uuid4())
    client.upsert("u", [{"id": a, "vector": [1.0, 0, 0, 0]}, {"id": b, "vector": [0, 1.0, 0, 0]}])
    assert sorted(ids(client.retrieve("u", [a, b]))) == sorted([str(a), b])
    hit = client.query_points("u", np.array([0, 1.0, 0, 0]), limit=1).points[0]
    assert rest.ScoredPoint.model_validate(hit.model_dump(mode="json")).id == b


def test_fields_read_like_qdrant_clients(filled: vqdb.Client) -> None:
    record = filled.retrieve("c", [5], with_vectors=True)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert record.id == 5
        assert record.payload["k"] == 5
        assert len(record.vector) == DIM


def test_enums_are_str_enums_like_qdrant_clients(filled: vqdb.Client) -> None:
    """A wait-for-green loop written for qdrant-client ends, whichever family it compares to."""
    status = filled.get_collection("c").status
    assert status == models.CollectionStatus.GREEN == qm.CollectionStatus.GREEN == "green"
    assert str(status) == f"{status}" == "green"
    for ours in (models.Distance, models.PayloadSchemaType, models.CompressionRatio):
        theirs = getattr(qm, ours.__name__)
        for member in ours:
            assert member == theirs[member.name] == member.value
            assert str(member) == member.value


def test_results_own_their_payloads(client: vqdb.Client) -> None:
    """Changing what a read returned, deep inside a payload, leaves the database as it was
    (qdrant-client's local mode copies too): every read that shows payloads."""
    client.create_collection("p", vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.create_collection("l", vectors_config=models.VectorParams(size=2, distance="Dot"))
    stored = {"tags": ["a"], "nested": {"x": 1, "list": [{"y": 2}]}, "group": 7}
    for name in ("p", "l"):
        client.upsert(name, [models.PointStruct(id=7, vector=[1.0, 0.0], payload=stored)])

    def spoil(payload: dict[str, Any] | None) -> None:
        assert payload is not None
        payload["tags"].append("changed")
        payload["nested"]["x"] = 99
        payload["nested"]["list"][0]["y"] = 99
        payload["new"] = True

    spoil(client.query_points("p", query=[1.0, 0.0]).points[0].payload)
    batch = [models.QueryRequest(query=[1.0, 0.0], with_payload=True)]
    spoil(client.query_batch_points("p", batch)[0].points[0].payload)
    spoil(client.retrieve("p", [7])[0].payload)
    spoil(client.scroll("p")[0][0].payload)
    groups = client.query_points_groups("p", "group", query=[1.0, 0.0], with_lookup="l").groups
    spoil(groups[0].hits[0].payload)
    assert groups[0].lookup is not None
    spoil(groups[0].lookup.payload)
    for name in ("p", "l"):
        assert client.retrieve(name, [7])[0].payload == stored
