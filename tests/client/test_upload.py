"""upload_collection and upload_points: every input shape, ids, chunks, the progress bar."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from client_data import DIM, ids, payload, vector, vectors

import vqdb
from vqdb import models
from vqdb.client import upload


@pytest.fixture
def c(client: vqdb.Client) -> vqdb.Client:
    client.create_collection("c", vectors_config={"size": DIM, "distance": "Dot"})
    client.create_collection(
        "n",
        vectors_config={"a": {"size": DIM, "distance": "Dot"}, "b": {"size": 4, "distance": "Dot"}},
    )
    return client


def all_ids(client: vqdb.Client, name: str) -> list[object]:
    return ids(client.scroll(name, limit=10_000)[0])


def test_shapes_of_vectors(c: vqdb.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload, "MIN_CHUNK", 8)  # many chunks from small inputs
    x = vectors(50)
    c.upload_collection("c", x, ids=np.arange(50), payload=({"i": i} for i in range(50)))
    got = c.retrieve("c", [0, 49], with_vectors=True)
    assert np.allclose(vector(got[1]), x[49]) and payload(got[1]) == {"i": 49}

    c.upload_collection("c", (row.tolist() for row in x[:20]), ids=range(100, 120), batch_size=3)
    c.upload_collection("c", list(x[:5]), ids=iter(range(200, 205)))
    assert c.count("c").count == 75

    b = vectors(30, dim=4, seed=1)
    c.upload_collection("n", {"a": x[:30], "b": b}, ids=range(30))
    c.upload_collection("n", [{"b": row.tolist()} for row in b[:10]], ids=range(30, 40))
    got = c.retrieve("n", [3, 35], with_vectors=True)
    assert set(vector(got[0])) == {"a", "b"} and set(vector(got[1])) == {"b"}
    assert np.allclose(vector(got[0])["b"], b[3])

    points = (models.PointStruct(id=i, vector=x[i].tolist(), payload={"p": i}) for i in range(9))
    c.upload_points("c", points, batch_size=2, wait=True)
    assert payload(c.retrieve("c", [8])[0]) == {"p": 8}


def test_ids_default_to_uuids_and_zip_to_the_shortest(c: vqdb.Client) -> None:
    c.upload_collection("c", vectors(10))
    found = all_ids(c, "c")
    assert len(found) == 10 and all(uuid.UUID(str(i)).version == 4 for i in found)

    c.upload_collection("n", {"a": vectors(10), "b": vectors(10, dim=4)}, ids=[1, 2, 3])
    assert all_ids(c, "n") == [1, 2, 3]
    c.upload_collection("n", {"a": vectors(10)}, ids=range(10, 20), payload=[{"x": 1}] * 4)
    assert all_ids(c, "n") == [1, 2, 3, 10, 11, 12, 13]


def test_repeated_ids_keep_the_last(c: vqdb.Client) -> None:
    x = vectors(4)
    c.upload_collection("c", x, ids=[7, 7, 8, 7], payload=[{"n": i} for i in range(4)])
    assert c.count("c").count == 2
    assert payload(c.retrieve("c", [7])[0]) == {"n": 3}


def test_progress_bar_only_when_asked(c: vqdb.Client, capsys: pytest.CaptureFixture[str]) -> None:
    x = vectors(upload.PROGRESS_FROM)
    c.upload_collection("c", x, ids=range(len(x)))  # large, but stderr is not a terminal
    assert capsys.readouterr().err == ""
    c.upload_collection("c", x[:10], ids=range(10), progress=True)
    assert "10/10" in capsys.readouterr().err
    c.upload_points("c", [models.PointStruct(id=1, vector=x[0].tolist())], progress=True)
    assert "1/1" in capsys.readouterr().err


def test_snapshots(tmp_path: Path) -> None:
    with vqdb.Client(":memory:") as memory:
        memory.create_collection("c", vectors_config={"size": 4, "distance": "Dot"})
        with pytest.raises(ValueError, match="need a storage folder"):
            memory.create_snapshot("c")
    with vqdb.Client(path=tmp_path / "db") as client:
        client.create_collection("c", vectors_config={"size": 4, "distance": "Dot"})
        client.upload_collection("c", vectors(20, dim=4), ids=range(20), wait=True)
        snapshot = client.create_snapshot("c")
        assert isinstance(snapshot, models.SnapshotDescription) and snapshot.size > 0
        assert [s.name for s in client.list_snapshots("c")] == [snapshot.name]
        client.delete("c", list(range(10)))
        location = tmp_path / "db" / "snapshots" / "c" / snapshot.name
        assert client.recover_snapshot("c", str(location), checksum=snapshot.checksum)
        assert client.count("c").count == 20
        assert client.recover_snapshot("copy", location.as_uri())
        assert client.count("copy").count == 20
        with pytest.raises(ValueError, match="checksum"):
            client.recover_snapshot("c", str(location), checksum="0" * 64)
        assert client.delete_snapshot("c", snapshot.name) is True
        assert client.list_snapshots("c") == []
    with vqdb.Client(path=tmp_path / "db") as client:
        assert client.count("copy").count == 20


def test_shard_and_full_snapshots(tmp_path: Path) -> None:
    with vqdb.Client(path=tmp_path / "db") as client:
        client.create_collection("c", vectors_config={"size": 4, "distance": "Dot"})
        client.upload_collection("c", vectors(20, dim=4), ids=range(20), wait=True)
        shard = client.create_shard_snapshot("c", 0)
        assert [s.name for s in client.list_shard_snapshots("c", 0)] == [shard.name]
        assert client.list_snapshots("c") == []
        client.delete("c", list(range(10)))
        assert client.recover_shard_snapshot("c", 0, shard.name, checksum=shard.checksum)
        assert client.count("c").count == 20
        with pytest.raises(ValueError, match="shard 1 not found"):
            client.create_shard_snapshot("c", 1)
        with pytest.raises(ValueError, match="scheme are not supported"):
            client.recover_shard_snapshot("c", 0, "file:///etc/passwd")
        assert client.delete_shard_snapshot("c", 0, shard.name) is True
        assert client.list_shard_snapshots("c", 0) == []
        full = client.create_full_snapshot()
        assert full.name.startswith("full-snapshot-") and full.size > shard.size
        assert [s.name for s in client.list_full_snapshots()] == [full.name]
        assert client.delete_full_snapshot(full.name) is True
        assert client.list_full_snapshots() == []


def test_recreate_collection_is_deprecated(client: vqdb.Client) -> None:
    client.create_collection("c", vectors_config={"size": 4, "distance": "Dot"})
    client.upsert("c", [{"id": 1, "vector": [1.0, 0, 0, 0]}])
    with pytest.warns(DeprecationWarning, match="recreate_collection"):
        assert client.recreate_collection("c", {"size": 2, "distance": "Dot"})
    assert client.count("c").count == 0
    assert client.get_collection("c").config.params.model_dump()["vectors"]["size"] == 2
