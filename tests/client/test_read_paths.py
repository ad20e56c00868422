"""Rescoring on-disk originals through each read path (async_scorer): the same results through
the Client, the path shown by collection_telemetry, and damaged files as errors naming them."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vqdb
from vqdb import models
from vqdb.errors import StorageError
from vqdb.storage import rows as rows_module

DIM = 48
N = 1500
OPTIONS: list[bool | str] = [False, True, "mmap", "auto", "io_uring", "pread"]
SHOWN = {
    False: "mmap",
    True: "mmap+io_uring",
    "mmap": "mmap",
    "auto": "mmap+io_uring",
    "io_uring": "io_uring",
    "pread": "pread",
}


def build(path: Path, async_scorer: bool | str = False) -> tuple[vqdb.Client, np.ndarray]:
    """An indexed collection with on-disk originals and binary codes in RAM (wait for green)."""
    x = np.random.default_rng(0).standard_normal((N, DIM)).astype(np.float32)
    client = vqdb.Client(path=path, async_scorer=async_scorer)
    client.create_collection(
        "c",
        vectors_config={
            "": models.VectorParams(size=DIM, distance=models.Distance.COSINE, on_disk=True),
            "dot": models.VectorParams(size=DIM, distance=models.Distance.DOT, on_disk=True),
        },
        quantization_config=models.BinaryQuantization(
            binary=models.BinaryQuantizationConfig(always_ram=True)
        ),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=10),
    )
    client.upload_collection(
        "c",
        vectors={"": x, "dot": x[::-1].copy()},
        ids=range(N),
        payload=[{"k": i % 3} for i in range(N)],
        wait=True,
    )
    assert client._collection("c").optimizer.wait_idle(60)
    return client, x


def originals(path: Path) -> list[Path]:
    return sorted(path.glob("collections/c/segments/*/vector.*.originals.codes.npy"))


def read_paths(client: vqdb.Client) -> set[str]:
    telemetry = client.collection_telemetry("c")
    return {
        v["read_path"]
        for s in telemetry["segments"]
        if not s["appendable"]
        for v in s["vectors"].values()
    }


def answers(client: vqdb.Client, x: np.ndarray) -> list[Any]:
    params = models.SearchParams(
        hnsw_ef=64, quantization=models.QuantizationSearchParams(rescore=True, oversampling=4.0)
    )
    requests = [
        models.QueryRequest(query=x[i].tolist(), using=using, limit=10, params=params)
        for i in range(0, 40, 3)
        for using in ("", "dot")
    ]
    requests.append(
        models.QueryRequest(
            query=x[7].tolist(),
            limit=5,
            params=params,
            filter=models.Filter(must=[models.FieldCondition(key="k", match={"value": 1})]),
        )
    )
    batch = client.query_batch_points("c", requests)
    one = client.query_points("c", query=x[11], limit=10, search_params=params).points
    found = [[(p.id, p.score) for p in r.points] for r in batch] + [[(p.id, p.score) for p in one]]
    vectors = client.retrieve("c", [0, N - 1, 5], with_vectors=True)
    return found + [[(r.id, np.asarray(r.vector[""]).tobytes()) for r in vectors]]


def test_search_identical_across_read_paths(tmp_path: Path) -> None:
    client, x = build(tmp_path / "db", async_scorer=True)
    assert read_paths(client) == {"mmap+io_uring"}  # segments the optimizer built, too
    assert client.collection_telemetry("c")["async_scorer"] == "auto"
    client.close()
    expected = None
    for option in OPTIONS:
        with vqdb.Client(path=tmp_path / "db", async_scorer=option) as client:
            assert read_paths(client) == {SHOWN[option]}
            for f in originals(tmp_path / "db"):  # the auto path must read some rows, too
                with open(f, "rb") as file:
                    os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            got = answers(client, x)
        if expected is None:
            expected = got
        assert got == expected, option  # same ids, bit-identical scores and vectors


def test_refused_io_uring_falls_back_through_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client, x = build(tmp_path / "db")
    expected = answers(client, x)
    client.close()
    monkeypatch.setattr(rows_module, "_warned", set())
    monkeypatch.setenv("VQDB_IO_URING", "off")
    with caplog.at_level(logging.WARNING, logger="vqdb"):
        client = vqdb.Client(path=tmp_path / "db", async_scorer=True)
    with client:
        assert read_paths(client) == {"mmap+pread"}
        assert answers(client, x) == expected
    assert any("io_uring unavailable" in r.message for r in caplog.records)


@pytest.mark.parametrize("option", [False, True, "io_uring"])
def test_truncated_or_missing_originals_fail_open_naming_the_file(
    tmp_path: Path, option: bool | str
) -> None:
    client, _ = build(tmp_path / "db")
    client.close()
    first, second = originals(tmp_path / "db")
    os.truncate(first, first.stat().st_size - 100)
    with pytest.raises(StorageError, match=str(first)):
        vqdb.Client(path=tmp_path / "db", async_scorer=option)
    first.unlink()
    with pytest.raises(StorageError, match=f"{first}: missing"):
        vqdb.Client(path=tmp_path / "db", async_scorer=option)
    assert second.exists()


@pytest.mark.parametrize("option", ["io_uring", "pread"])
def test_originals_truncated_while_open_are_an_error_not_a_crash(
    tmp_path: Path, option: str
) -> None:
    """The reader paths never read rescoring rows (or retrieved vectors) through the map: a file
    cut short under them is a short read, reported with the file's name, never a SIGBUS."""
    client, x = build(tmp_path / "db", async_scorer=option)
    for f in originals(tmp_path / "db"):
        os.truncate(f, 128)  # the .npy header only
    params = models.SearchParams(quantization=models.QuantizationSearchParams(oversampling=2.0))
    with pytest.raises(StorageError, match="originals.codes.npy: read of"):
        client.query_points("c", query=x[0], limit=5, search_params=params)
    with pytest.raises(StorageError, match="originals.codes.npy"):
        client.retrieve("c", [3], with_vectors=True)
    client.close()


def test_random_sample(client: vqdb.Client) -> None:
    # points over two segments (an optimized one, then appended ones), all reachable
    client.create_collection("r", vectors_config={"a": {"size": 2, "distance": "Dot"}})
    points = [{"id": i, "vector": {"a": [i, 1.0]}, "payload": {"i": i}} for i in range(30)]
    client.upsert("r", points[:20])
    client.upsert("r", points[20:])
    sample = models.SampleQuery(sample=models.Sample.RANDOM)
    found = client.query_points("r", sample, limit=100, offset=10).points  # offset ignored
    assert sorted(int(p.id) for p in found) == list(range(30))
    assert {p.score for p in found} == {1.0}
    few = client.query_points("r", sample, limit=5, with_payload=True).points
    assert len({p.id for p in few}) == 5 and all(p.payload == {"i": p.id} for p in few)
    odd = {"must": {"key": "i", "range": {"gte": 25}}}
    found = client.query_points("r", sample, limit=100, query_filter=odd).points
    assert sorted(int(p.id) for p in found) == [25, 26, 27, 28, 29]
    with pytest.raises(ValueError):
        client.query_points("r", {"sample": "sorted"})
