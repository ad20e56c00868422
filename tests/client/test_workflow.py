"""One workflow through vqdb.Client, in memory and on disk, for every quantization kind; results
are checked against exact search in numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from client_data import (
    DIM,
    N,
    cosine_top,
    ids,
    payload,
    payloads,
    vector,
    vectors,
    wait_green,
)

import vqdb
from vqdb import models
from vqdb.errors import BadInput

QUANTIZATIONS: dict[str, Any] = {
    "none": None,
    "scalar": models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99)
    ),
    "binary": models.BinaryQuantization(binary=models.BinaryQuantizationConfig()),
    "binary_2bit": {"binary": {"encoding": "two_bits", "query_encoding": "scalar8bits"}},
    "product": {"product": {"compression": "x4"}},
}
RESCORE = models.SearchParams(
    quantization=models.QuantizationSearchParams(rescore=True, oversampling=2.0)
)
EXACT = models.SearchParams(exact=True)


def k_is(value: int) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="k", match=models.MatchValue(value=value))]
    )


def create(client: vqdb.Client, quantization: Any) -> np.ndarray:
    client.create_collection(
        "c",
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        quantization_config=quantization,
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),  # index it all
    )
    x = vectors()
    client.upload_collection("c", x, payload=payloads(), ids=range(N), wait=True)
    wait_green(client, "c")
    return x


@pytest.mark.parametrize("kind", list(QUANTIZATIONS))
def test_search_through_quantization(client: vqdb.Client, kind: str) -> None:
    x = create(client, QUANTIZATIONS[kind])
    assert client.get_collection("c").points_count == N
    for q in vectors(5, seed=1):
        found = client.query_points("c", q, limit=10, search_params=EXACT).points
        expected, scores = cosine_top(x, q, 10)
        assert ids(found) == expected
        assert np.allclose([p.score for p in found], scores, atol=1e-4)

        # quantized walk, rescored with the originals: exact scores, good recall
        allowed = np.arange(N) % 10 == 3
        found = client.query_points("c", q, query_filter=k_is(3), search_params=RESCORE).points
        expected, _ = cosine_top(x, q, 10, allowed)
        assert all(payload(p)["k"] == 3 for p in found) and len(found) == 10
        _, exact_scores = cosine_top(x, q, N)
        by_row = dict(zip(cosine_top(x, q, N)[0], exact_scores))
        assert np.allclose([p.score for p in found], [by_row[i] for i in ids(found)], atol=1e-4)
        assert len(set(ids(found)) & set(expected)) >= 7


def test_scroll_count_and_payload_ops(client: vqdb.Client) -> None:
    create(client, QUANTIZATIONS["scalar"])
    seen: list[Any] = []
    offset: Any = None
    while True:
        page, offset = client.scroll("c", limit=37, offset=offset, with_payload=False)
        seen += ids(page)
        if offset is None:
            break
    assert seen == list(range(N))  # every point once, in id order
    assert client.count("c", count_filter=k_is(3)).count == N // 10

    client.delete("c", points_selector=[0, 1])
    client.delete("c", points_selector=models.FilterSelector(filter=k_is(9)))
    assert client.count("c").count == N - 2 - N // 10
    assert client.retrieve("c", [0, 1, 9]) == []

    client.set_payload("c", {"extra": True}, points=[2, 3])
    client.set_payload("c", {"deep": 1}, points=[2], key="nested")
    client.overwrite_payload("c", {"only": 1}, points=models.PointIdsList(points=[4]))
    client.delete_payload("c", ["name"], points=[3])
    client.clear_payload("c", points_selector=[5])
    got = {r.model_dump()["id"]: payload(r) for r in client.retrieve("c", [2, 3, 4, 5])}
    assert got[2] == {"k": 2, "name": "p2", "extra": True, "nested": {"deep": 1}}
    assert got[3] == {"k": 3, "extra": True}
    assert got[4] == {"only": 1} and got[5] == {}
    assert client.count("c", count_filter=k_is(3)).count == N // 10


def test_update_collection_switches_quantization(client: vqdb.Client) -> None:
    x = create(client, QUANTIZATIONS["scalar"])
    assert client.update_collection("c", quantization_config=QUANTIZATIONS["binary"]) is True
    wait_green(client, "c")
    config = client.get_collection("c").config.model_dump(mode="json", exclude_unset=True)
    assert config["quantization_config"] == {"binary": {}}
    q = vectors(1, seed=2)[0]
    found = client.query_points("c", q, limit=5, search_params=EXACT).points
    assert ids(found) == cosine_top(x, q, 5)[0]

    client.update_collection("c", quantization_config=models.Disabled.DISABLED)
    wait_green(client, "c")
    assert client.get_collection("c").config.quantization_config is None
    found = client.query_points("c", q, limit=5, search_params=RESCORE).points
    assert len(set(ids(found)) & set(cosine_top(x, q, 5)[0])) >= 4


def test_retrieve_with_vectors_and_payload_index(client: vqdb.Client) -> None:
    x = create(client, None)
    records = client.retrieve("c", [7, 3, 999], with_vectors=True, with_payload=["name"])
    assert ids(records) == [7, 3]
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)  # Cosine vectors are stored normalized
    assert np.allclose(vector(records[0]), unit[7], atol=1e-6)
    assert payload(records[1]) == {"name": "p3"}

    done = client.create_payload_index("c", "k", field_schema=models.PayloadSchemaType.INTEGER)
    assert done.status == models.UpdateStatus.COMPLETED
    schema = client.get_collection("c").payload_schema
    assert schema["k"].data_type.value == "integer" and schema["k"].points == N
    assert client.count("c", count_filter=k_is(4)).count == N // 10
    client.delete_payload_index("c", "k")
    assert "k" not in client.get_collection("c").payload_schema


def test_named_vectors_recommend_and_batches(client: vqdb.Client) -> None:
    client.create_collection(
        "n",
        vectors_config={
            "text": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
            "image": models.VectorParams(size=8, distance=models.Distance.EUCLID),
        },
    )
    text, image = vectors(), vectors(dim=8, seed=3)
    client.upload_collection("n", {"text": text, "image": image}, ids=range(N), wait=True)
    q = vectors(1, seed=4)[0]
    found = client.query_points("n", q, using="text", limit=5, search_params=EXACT).points
    assert ids(found) == cosine_top(text, q, 5)[0]
    found = client.query_points("n", image[0], using="image", limit=3, search_params=EXACT).points
    distances = np.linalg.norm(image - image[0], axis=1)
    assert ids(found) == np.argsort(distances, kind="stable")[:3].tolist()
    assert np.allclose([p.score for p in found], np.sort(distances)[:3], atol=1e-4)

    # a point id as the query: its vector, and the point itself is left out
    found = client.query_points("n", 10, using="text", limit=3, search_params=EXACT).points
    assert ids(found) == [i for i in cosine_top(text, text[10], 4)[0] if i != 10][:3]

    recommend = models.RecommendQuery(
        recommend=models.RecommendInput(positive=[1, 2], negative=[3])
    )
    found = client.query_points("n", recommend, using="text", limit=5, search_params=EXACT)
    unit = text / np.linalg.norm(text, axis=1, keepdims=True)
    mean = unit[[1, 2]].mean(axis=0)
    target = mean + (mean - unit[3])
    expected = [i for i in cosine_top(text, target, 8)[0] if i not in (1, 2, 3)][:5]
    assert ids(found.points) == expected

    requests = [
        models.QueryRequest(query=q.tolist(), using="text", limit=4, params=EXACT),
        {"query": image[5], "using": "image", "limit": 2, "params": {"exact": True}},
    ]
    first, second = client.query_batch_points("n", requests)
    assert ids(first.points) == cosine_top(text, q, 4)[0]
    assert ids(second.points)[0] == 5


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    with vqdb.Client(path=tmp_path) as client:
        x = create(client, QUANTIZATIONS["product"])
        client.create_payload_index("c", "k", "integer")
        client.set_payload("c", {"late": 1}, points=[0])
        client.delete("c", [5])
        client.create_collection("empty", vectors_config={"size": 3, "distance": "Dot"})
    with vqdb.Client(path=tmp_path) as client:
        names = [c.name for c in client.get_collections().collections]
        assert names == ["c", "empty"]
        assert client.count("c").count == N - 1
        assert payload(client.retrieve("c", [0])[0]) == {"k": 0, "name": "p0", "late": 1}
        assert "k" in client.get_collection("c").payload_schema
        config = client.get_collection("c").config.model_dump(mode="json", exclude_unset=True)
        assert config["quantization_config"] == {"product": {"compression": "x4"}}
        q = vectors(1, seed=5)[0]
        found = client.query_points("c", q, limit=5, search_params=EXACT).points
        assert ids(found) == [i for i in cosine_top(x, q, 6)[0] if i != 5][:5]


def test_aliases(client: vqdb.Client) -> None:
    client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
    client.upsert("c", [{"id": 1, "vector": [1.0, 0.0]}])
    client.update_collection_aliases(
        [
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name="c", alias_name="a")
            )
        ]
    )
    assert client.count("a").count == 1
    assert client.collection_exists("a")
    client.update_collection_aliases(
        [{"rename_alias": {"old_alias_name": "a", "new_alias_name": "b"}}]
    )
    assert [a.alias_name for a in client.get_collection_aliases("c").aliases] == ["b"]
    with pytest.raises(BadInput, match="Alias with the same name `b` already exists"):
        client.create_collection("b", vectors_config={"size": 2, "distance": "Dot"})  # as Qdrant
    client.delete_collection("c")
    assert client.get_aliases().aliases == []


def test_aliases_survive_a_restart(tmp_path: Path) -> None:
    with vqdb.Client(path=tmp_path) as client:
        client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
        client.update_collection_aliases(
            [{"create_alias": {"collection_name": "c", "alias_name": "a"}}]
        )
    with vqdb.Client(path=tmp_path) as client:
        assert client.get_aliases().aliases[0].model_dump() == {
            "alias_name": "a",
            "collection_name": "c",
        }
