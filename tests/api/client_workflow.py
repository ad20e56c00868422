"""qdrant-client's common workflow against a running `vqdb serve`, with every warning an error.

Runs with whichever qdrant-client is installed, so one file checks 1.20 (the test dependency)
and 1.18 (from a venv of its own):

    vqdb serve --storage /tmp/s --port 6333 &
    python tests/api/client_workflow.py http://127.0.0.1:6333 [DATASET_DIR]

It returns (prints) what it found, for tests/api/test_api_workflow.py to compare with the embedded
client and exact search.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models
from tqdm import tqdm

QUANTIZATIONS: dict[str, Any] = {
    "float32": None,
    "scalar": models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, quantile=0.99, always_ram=True
        )
    ),
    "binary": models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True)),
    "binary-2bit": models.BinaryQuantization(
        binary=models.BinaryQuantizationConfig(
            encoding=models.BinaryQuantizationEncoding.TWO_BITS,
            query_encoding=models.BinaryQuantizationQueryEncoding.SCALAR8BITS,
        )
    ),
    "product": models.ProductQuantization(
        product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X16)
    ),
}


def vectors(data: Path | None, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Real embeddings when the shared data is at hand, else seeded random ones."""
    if data is not None and (data / "base.npy").exists():
        base = np.load(data / "base.npy", mmap_mode="r")[:n].astype(np.float32)
        queries = np.load(data / "queries.npy")[:20].astype(np.float32)
        return base, queries
    # Like embeddings: unit length (a Cosine collection stores its vectors normalised), and
    # of low intrinsic dimension. Plain Gaussian noise has no neighbours a 1-bit code can find
    # (recall@10 ~0.3 at oversampling 4), which the floors would rightly fail.
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((16, 256), dtype=np.float32)
    rows = rng.standard_normal((n + 20, 16), dtype=np.float32) @ mixing
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows[:n], rows[n:]


def wait_green(client: Any, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _value(client.get_collection(name).status) != "green":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} is not green after {timeout} s")
        time.sleep(0.1)


def _value(enum: Any) -> Any:
    return getattr(enum, "value", enum)  # vqdb.models and qdrant_client.models are two enums


def run(url: str, data: Path | None = None, prefix: str = "wf") -> dict[str, Any]:
    """The workflow through qdrant-client; snapshots are recovered from the download URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = QdrantClient(url=url, timeout=120)
        return workflow(
            client,
            lambda name, snapshot: f"{url}/collections/{name}/snapshots/{snapshot}",
            data,
            prefix,
        )


def workflow(
    client: Any, snapshot_location: Callable[[str, str], str], data: Path | None, prefix: str
) -> dict[str, Any]:
    """The steps, through any client with qdrant-client's methods (vqdb.Client has them)."""
    base, queries = vectors(data)
    n, dim = base.shape
    payloads = [{"group": f"g{i % 4}", "rank": i} for i in range(n)]
    found: dict[str, Any] = {"queries": queries.tolist(), "n": n, "modes": {}}

    for mode, quantization in QUANTIZATIONS.items():
        name = f"{prefix}-{mode}"
        if client.collection_exists(name):
            client.delete_collection(name)
        client.create_collection(
            name,
            vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
            quantization_config=quantization,
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100),
            hnsw_config=models.HnswConfigDiff(m=16, ef_construct=100),
        )
        points = (
            models.PointStruct(id=i, vector=base[i].tolist(), payload=payloads[i]) for i in range(n)
        )
        bar = tqdm(points, total=n, desc=f"upload {mode}", disable=None)
        client.upload_points(name, points=bar, batch_size=256, wait=True)
        client.create_payload_index(name, "group", models.PayloadSchemaType.KEYWORD, wait=True)
        wait_green(client, name)
        params = models.SearchParams(
            hnsw_ef=128,
            quantization=models.QuantizationSearchParams(rescore=True, oversampling=4.0)
            if quantization is not None
            else None,
        )
        group = models.Filter(
            must=[models.FieldCondition(key="group", match=models.MatchValue(value="g1"))]
        )
        answers = []
        for q in queries:
            hits = client.query_points(name, query=q.tolist(), limit=10, search_params=params)
            filtered = client.query_points(
                name, query=q.tolist(), limit=10, query_filter=group, search_params=params
            )
            exact = client.query_points(
                name, query=q.tolist(), limit=10, search_params=models.SearchParams(exact=True)
            )
            answers.append(
                {
                    "ids": [p.id for p in hits.points],
                    "filtered": [p.id for p in filtered.points],
                    "filtered_groups": sorted({p.payload["group"] for p in filtered.points}),
                    "exact": [p.id for p in exact.points],
                    "exact_scores": [p.score for p in exact.points],
                }
            )
        batch = client.query_batch_points(
            name,
            [models.QueryRequest(query=q.tolist(), limit=10, params=params) for q in queries[:3]],
        )
        info = client.get_collection(name)
        found["modes"][mode] = {
            "answers": answers,
            "batch": [[p.id for p in r.points] for r in batch],
            "points_count": info.points_count,
            "indexed": info.indexed_vectors_count,
            "quantization": None
            if info.config.quantization_config is None
            else info.config.quantization_config.model_dump(exclude_none=True, mode="json"),
        }
        if mode != "binary":
            client.delete_collection(name)

    name = f"{prefix}-binary"
    found["points"] = _points(client, name, base)
    found["switch"] = _switch(client, name, queries)
    found["snapshots"] = _snapshots(client, snapshot_location, name)
    client.delete_collection(name)
    found["deleted"] = not client.collection_exists(name)
    return found


def _points(client: Any, name: str, base: np.ndarray) -> dict[str, Any]:
    """scroll, count, retrieve, payload operations, vector updates, deletes, a batch."""
    g1 = models.Filter(
        must=[models.FieldCondition(key="group", match=models.MatchValue(value="g1"))]
    )
    page, next_offset = client.scroll(name, limit=7, scroll_filter=g1, with_payload=True)
    out: dict[str, Any] = {
        "scroll": [p.id for p in page],
        "next": next_offset,
        "count_g1": client.count(name, count_filter=g1, exact=True).count,
    }
    client.set_payload(name, {"tag": "x"}, points=[1, 2, 3], wait=True)
    client.overwrite_payload(name, {"only": True}, points=[4], wait=True)
    client.delete_payload(name, ["rank"], points=[1], wait=True)
    client.clear_payload(name, points_selector=models.PointIdsList(points=[5]), wait=True)
    records = client.retrieve(name, [1, 2, 4, 5, 10**9], with_vectors=True)
    out["payloads"] = {str(r.id): r.payload for r in records}
    out["vector_1"] = records[0].vector
    client.update_vectors(name, [models.PointVectors(id=6, vector=base[7].tolist())], wait=True)
    out["vector_6_is_7"] = bool(
        np.allclose(client.retrieve(name, [6], with_vectors=True)[0].vector, base[7], atol=1e-6)
    )
    client.delete(name, points_selector=models.PointIdsList(points=[8, 9]), wait=True)
    client.delete(name, points_selector=models.FilterSelector(filter=g1), wait=True)
    out["count_after_delete"] = client.count(name).count
    client.batch_update_points(
        name,
        [
            models.UpsertOperation(
                upsert=models.PointsList(
                    points=[models.PointStruct(id=8, vector=base[8].tolist(), payload={"b": 1})]
                )
            ),
            models.SetPayloadOperation(set_payload=models.SetPayload(payload={"b": 2}, points=[8])),
        ],
        wait=True,
    )
    out["batch_payload"] = client.retrieve(name, [8])[0].payload
    return out


def _switch(client: Any, name: str, queries: np.ndarray) -> dict[str, Any]:
    """update_collection to scalar, then off: the config echoes it and queries keep working."""
    client.update_collection(
        name,
        quantization_config=models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8)
        ),
    )
    wait_green(client, name)
    scalar = client.get_collection(name).config.quantization_config
    hits = client.query_points(name, query=queries[0].tolist(), limit=5).points
    client.update_collection(name, quantization_config=models.Disabled.DISABLED)
    wait_green(client, name)
    return {
        "scalar": scalar.model_dump(exclude_none=True, mode="json") if scalar else None,
        "hits_while_scalar": len(hits),
        "after_disable": client.get_collection(name).config.quantization_config,
    }


def _snapshots(
    client: Any, snapshot_location: Callable[[str, str], str], name: str
) -> dict[str, Any]:
    """Snapshot, lose two points, recover from the server's own download URL (as Qdrant's
    docs do it), then delete the snapshot."""
    before = client.count(name).count
    snapshot = client.create_snapshot(name, wait=True)
    assert snapshot is not None
    listed = [s.name for s in client.list_snapshots(name)]
    client.delete(name, points_selector=models.PointIdsList(points=[10, 11]), wait=True)
    after_delete = client.count(name).count
    client.recover_snapshot(name, snapshot_location(name, snapshot.name), wait=True)
    return {
        "name": snapshot.name,
        "listed": snapshot.name in listed,
        "count_before": before,
        "count_after_delete": after_delete,
        "count_recovered": client.count(name).count,
        "deleted": client.delete_snapshot(name, snapshot.name, wait=True),
        "listed_after_delete": [s.name for s in client.list_snapshots(name)],
    }


if __name__ == "__main__":
    result = run(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    result.pop("queries")
    print(json.dumps(result, indent=1, default=str))
