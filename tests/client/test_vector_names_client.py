"""qdrant-client's create_vector_name / delete_vector_name on the embedded client."""

from __future__ import annotations

import vqdb
from vqdb import models


def test_create_and_delete_named_vectors(client: vqdb.Client) -> None:
    client.create_collection("v", {"a": models.VectorParams(size=2, distance=models.Distance.DOT)})
    client.upsert("v", [models.PointStruct(id=1, vector={"a": [1.0, 0.0]}, payload={"k": 1})])
    dense = models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=3, distance=models.Distance.COSINE)
    )
    done = client.create_vector_name("v", "b", dense)
    assert done.status == models.UpdateStatus.COMPLETED
    client.create_vector_name("v", "s", {"sparse": {"modifier": "idf"}})
    params = client.get_collection("v").config.params
    assert params.vectors["b"].size == 3 and params.sparse_vectors["s"].modifier == "idf"
    client.update_vectors("v", [models.PointVectors(id=1, vector={"b": [0.0, 0.0, 1.0]})])
    client.delete_vector_name("v", "a")
    (point,) = client.retrieve("v", [1], with_vectors=True)
    assert point.vector == {"b": [0.0, 0.0, 1.0]} and point.payload == {"k": 1}
