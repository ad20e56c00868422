"""Distributed collections on a Ray cluster of three nodes on this machine (vqdb.cluster): the
same answers as one node, recall through `vqdb serve --ray-address` and qdrant-client, and a
replica killed while a writer and a reader run. Slow (a Ray cluster starts in ~10 s); skipped
without Ray (pip install 'vqdb[cluster]').

Ports: Ray's 6600-6647 (vqdb.cluster.local), the distributed server 6648, the single one 6649.
"""

from __future__ import annotations

import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api.served import Server
from shared_data import load_dataset, recall_at_10

import vqdb

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'vqdb[cluster]'")
qdrant_client = pytest.importorskip("qdrant_client")
models = qdrant_client.models

from vqdb.cluster import routing  # noqa: E402
from vqdb.cluster.local import LocalCluster  # noqa: E402

CLUSTER_PORT, SINGLE_PORT = 6648, 6649


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(nodes=3, cpus=1) as started:
        yield started


def Served(storage: Path, port: int, ray_address: str | None = None) -> Server:  # noqa: N802
    """`vqdb serve` on a fixed port, with or without a Ray address."""
    args = () if ray_address is None else ("--ray-address", ray_address)
    env = {"VQDB__STORAGE__OPTIMIZER_THREADS": "1"}
    return Server(storage, env, port=port, args=args, start_seconds=120)


@pytest.fixture(scope="module")
def servers(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    distributed = Served(tmp_path_factory.mktemp("distributed"), CLUSTER_PORT, cluster.address)
    try:
        single = Served(tmp_path_factory.mktemp("single"), SINGLE_PORT)
    except BaseException:
        distributed.stop()
        raise
    yield (
        qdrant_client.QdrantClient(url=distributed.url, timeout=300),
        qdrant_client.QdrantClient(url=single.url, timeout=300),
    )
    print(distributed.stop())  # what the router logged (replicas lost and back), with -s
    single.stop()


# ---- the same answers as one node -----------------------------------------------------------


def _same(a: Any, b: Any) -> None:
    """Two lists of points: the same ids in the same order, the same scores and payloads."""
    assert [p.id for p in a] == [p.id for p in b]
    np.testing.assert_allclose(
        [getattr(p, "score", 0) for p in a], [getattr(p, "score", 0) for p in b], rtol=1e-5
    )
    assert [p.payload for p in a] == [p.payload for p in b]


def test_answers_match_a_single_node(cluster: LocalCluster, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((600, 8)).astype(np.float32)
    points = [
        models.PointStruct(id=i, vector=x[i].tolist(), payload={"g": i % 5, "n": i})
        for i in range(600)
    ]
    local = vqdb.Client(":memory:")
    spread = vqdb.Client(path=tmp_path, ray_address=cluster.address)
    try:
        for client, extra in ((local, {}), (spread, {"shard_number": 3, "replication_factor": 2})):
            client.create_collection(
                "c", vectors_config=models.VectorParams(size=8, distance="Euclid"), **extra
            )
            client.create_payload_index("c", "g", "integer")
            client.create_payload_index("c", "n", "integer")
            client.upsert("c", points)
            client.delete("c", models.PointIdsList(points=[5, 6, 7]))
            client.set_payload("c", {"tag": "x"}, points=[1, 2, 3])
        exact = models.SearchParams(exact=True)
        g2 = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=2))])

        def both(method: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            return getattr(local, method)(*args, **kwargs), getattr(spread, method)(*args, **kwargs)

        for a, b in [
            both("query_points", "c", x[10].tolist(), limit=7, offset=3, search_params=exact),
            both("query_points", "c", 10, limit=5, search_params=exact, query_filter=g2),
            both(
                "query_points",
                "c",
                models.RecommendQuery(
                    recommend=models.RecommendInput(positive=[1, 2], negative=[3])
                ),
                limit=6,
                search_params=exact,
            ),
            both(
                "query_points",
                "c",
                prefetch=[
                    models.Prefetch(query=x[1].tolist(), limit=20, params=exact),
                    models.Prefetch(query=x[2].tolist(), limit=20, params=exact),
                ],
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                limit=10,
                with_payload=True,
            ),
            both(
                "query_points",
                "c",
                models.OrderByQuery(order_by=models.OrderBy(key="n", direction="desc")),
                limit=8,
                with_payload=True,
            ),
        ]:
            _same(a.points, b.points)
        requests = [
            models.QueryRequest(query=x[i].tolist(), limit=4, offset=i % 3, params=exact)
            for i in range(5)
        ] + [models.QueryRequest(query=8, limit=3, params=exact)]
        for a_batch, b_batch in zip(*both("query_batch_points", "c", requests), strict=True):
            _same(a_batch.points, b_batch.points)
        for offset in (None, 50, 599):
            a_page, a_next = local.scroll("c", limit=40, offset=offset, with_payload=True)
            b_page, b_next = spread.scroll("c", limit=40, offset=offset, with_payload=True)
            _same(a_page, b_page)
            assert a_next == b_next
        assert local.count("c", g2) == spread.count("c", g2)
        assert local.facet("c", "g") == spread.facet("c", "g")
        a_pairs, b_pairs = both("search_matrix_pairs", "c", sample=1000, limit=3, query_filter=g2)
        assert len(a_pairs.pairs) == 3 * local.count("c", g2).count
        assert [(p.a, p.b) for p in a_pairs.pairs] == [(p.a, p.b) for p in b_pairs.pairs]
        np.testing.assert_allclose(
            [p.score for p in a_pairs.pairs], [p.score for p in b_pairs.pairs], rtol=1e-5
        )
        a_offsets, b_offsets = both("search_matrix_offsets", "c", sample=1000, limit=2)
        assert a_offsets.ids == b_offsets.ids
        assert a_offsets.offsets_col == b_offsets.offsets_col
        a, b = both(
            "query_points_groups",
            "c",
            group_by="g",
            query=x[4].tolist(),
            limit=3,
            group_size=4,
            search_params=exact,
        )
        assert [(g.id, [h.id for h in g.hits]) for g in a.groups] == [
            (g.id, [h.id for h in g.hits]) for g in b.groups
        ]
        assert spread.get_collection("c").points_count == 597
        assert local.collection_cluster_info("c").local_shards[0].points_count == 597
        spread_info = spread.collection_cluster_info("c")
        assert spread_info.shard_count == 3 and len(spread_info.remote_shards) == 6
        assert {r.state for r in spread_info.remote_shards} == {models.ReplicaState.ACTIVE}
        one = spread.create_shard_snapshot("c", 2)
        assert [d.name for d in spread.list_shard_snapshots("c", 2)] == [one.name]
        gathered = spread.create_snapshot("c")
        with tarfile.open(tmp_path / "snapshots" / "c" / gathered.name) as tar:
            names = tar.getnames()
        assert "cluster.json" in names
        assert {n.split("/")[1] for n in names if n.endswith(".snapshot")} == {"0", "1", "2"}
    finally:
        spread.delete_collection("c")
        spread.close()
        local.close()


def test_reopened_by_a_new_router(cluster: LocalCluster, tmp_path: Path) -> None:
    """A client (or server) closed and opened again on its storage finds the replicas by
    name, still holding every point."""
    first = vqdb.Client(path=tmp_path, ray_address=cluster.address)
    first.create_collection(
        "kept", vectors_config=models.VectorParams(size=2, distance="Dot"), shard_number=2
    )
    first.upsert("kept", [models.PointStruct(id=i, vector=[1.0, i]) for i in range(20)])
    first.close()
    again = vqdb.Client(path=tmp_path, ray_address=cluster.address)
    try:
        assert again.count("kept").count == 20
        assert again.get_collection("kept").config.params.shard_number == 2
    finally:
        again.delete_collection("kept")
        again.close()
    assert not ray.util.list_named_actors() or all(
        not name.startswith("vqdb/kept/") for name in ray.util.list_named_actors()
    )


def test_writes_a_dead_replica_missed_outlive_the_router(
    cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica killed for good misses a write; the router closes before bringing it back;
    the next router finds the debt on disk, makes the replica again and pays it."""
    from vqdb.cluster import shards

    monkeypatch.setattr(shards, "WATCH_INTERVAL", 3600.0)  # this router never brings it back
    first = vqdb.Client(path=tmp_path, ray_address=cluster.address)
    first.create_collection(
        "owed",
        vectors_config=models.VectorParams(size=2, distance="Dot"),
        shard_number=2,
        replication_factor=2,
    )
    first.upsert("owed", [models.PointStruct(id=i, vector=[1.0, i]) for i in range(20)])
    if not ray.is_initialized():
        ray.init(address=cluster.address, namespace="vqdb", log_to_driver=False)
    ray.kill(ray.get_actor("vqdb/owed/0/0", namespace="vqdb"), no_restart=True)
    time.sleep(1)
    first.upsert("owed", [models.PointStruct(id=i, vector=[2.0, i]) for i in range(20, 60)])
    assert {r.state for r in first.collection_cluster_info("owed").remote_shards} == {
        models.ReplicaState.ACTIVE,
        models.ReplicaState.DEAD,
    }
    first.close()
    monkeypatch.setattr(shards, "WATCH_INTERVAL", 0.2)
    again = vqdb.Client(path=tmp_path, ray_address=cluster.address)
    try:
        deadline = time.monotonic() + 120
        while {r.state for r in again.collection_cluster_info("owed").remote_shards} != {
            models.ReplicaState.ACTIVE
        }:
            assert time.monotonic() < deadline, "the replica did not come back"
            time.sleep(0.2)
        shard0 = [i for i in routing.split(list(range(60)), [0, 1]).get(0, [])]
        revived = ray.get_actor("vqdb/owed/0/0", namespace="vqdb")
        kind, counted = ray.get(revived.read.remote("count", {"exact": True}))
        assert (kind, counted) == ("ok", {"count": len(shard0)})
        assert not list((tmp_path / "cluster" / "owed" / "missed").glob("*.missed"))
    finally:
        again.delete_collection("owed")
        again.close()


# ---- recall through vqdb serve ----------------------------------------------------------------

QUANTIZATION = {
    "float": None,
    "binary": models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True)),
}


def _upload(client: Any, name: str, base: np.ndarray, quantization: Any, **extra: Any) -> None:
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=base.shape[1], distance="Cosine"),
        quantization_config=quantization,
        **extra,
    )
    payloads = ({"row": i, "parity": i % 2} for i in range(len(base)))
    client.upload_collection(
        name, base, ids=range(len(base)), payload=payloads, batch_size=1000, wait=True
    )
    deadline = time.monotonic() + 900
    while client.get_collection(name).status != models.CollectionStatus.GREEN:
        assert time.monotonic() < deadline, "indexes not built in 15 minutes"
        time.sleep(1)


def _recall(client: Any, name: str, queries: np.ndarray, gt: np.ndarray, rescore: bool) -> float:
    params = models.SearchParams(
        hnsw_ef=64,
        quantization=models.QuantizationSearchParams(rescore=True, oversampling=4.0)
        if rescore
        else None,
    )
    requests = [models.QueryRequest(query=q.tolist(), limit=10, params=params) for q in queries]
    found = []
    for start in range(0, len(requests), 50):
        answers = client.query_batch_points(name, requests[start : start + 50])
        found += [[p.id for p in a.points] for a in answers]
    return recall_at_10(np.array(found), gt)


@pytest.mark.parametrize("kind", ["float", "binary"])
def test_recall_of_4_shards_x_2_replicas(servers: Any, kind: str) -> None:
    distributed, single = servers
    base, queries, gt, _ = load_dataset("wordnet-mpnet-768", queries=300)
    name = f"wordnet-{kind}"
    _upload(distributed, name, base, QUANTIZATION[kind], shard_number=4, replication_factor=2)
    _upload(single, name, base, QUANTIZATION[kind])
    try:
        cluster_info = distributed.collection_cluster_info(name)
        assert cluster_info.shard_count == 4 and len(cluster_info.remote_shards) == 8
        peers: dict[int, set[int]] = {}
        for replica in cluster_info.remote_shards:  # three nodes: a shard's two on two of them
            peers.setdefault(replica.shard_id, set()).add(replica.peer_id)
        assert all(len(of_shard) == 2 for of_shard in peers.values())
        assert distributed.count(name).count == len(base)
        hits = distributed.query_points(name, base[7].tolist(), limit=1, with_payload=True)
        assert hits.points[0].payload == {"row": 7, "parity": 1}
        ours = _recall(distributed, name, queries, gt, kind == "binary")
        theirs = _recall(single, name, queries, gt, kind == "binary")
        print(f"recall@10 {kind}: 4x2 shards {ours:.4f}, single node {theirs:.4f}")
        assert abs(ours - theirs) <= 0.005 or ours > theirs
    finally:
        distributed.delete_collection(name)
        single.delete_collection(name)


def test_custom_sharding_by_shard_key(servers: Any) -> None:
    client, _ = servers
    name = "by-key"
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=2, distance="Dot"),
        sharding_method=models.ShardingMethod.CUSTOM,
        shard_number=2,
    )
    try:
        with pytest.raises(Exception, match="Shard key not specified"):
            client.upsert(name, [models.PointStruct(id=1, vector=[1.0, 0.0])])
        client.create_shard_key(name, "eu")
        client.create_shard_key(name, "us", shards_number=1)
        client.upsert(
            name,
            [models.PointStruct(id=i, vector=[1.0, i]) for i in range(10)],
            shard_key_selector="eu",
        )
        client.upsert(
            name,
            [models.PointStruct(id=i, vector=[1.0, i]) for i in range(10, 13)],
            shard_key_selector="us",
        )
        info = client.collection_cluster_info(name)
        assert info.shard_count == 3
        assert {r.shard_key for r in info.remote_shards} == {"eu", "us"}
        assert client.count(name).count == 13
        found = client.query_points(name, [0.0, 1.0], limit=20, shard_key_selector="us")
        assert [p.id for p in found.points] == [12, 11, 10]
        assert {p.shard_key for p in found.points} == {"us"}
        found = client.query_points(name, [0.0, 1.0], limit=2)
        assert [p.id for p in found.points] == [12, 11]
        client.delete(name, models.PointIdsList(points=[0, 1, 12]))  # keys unknown: all shards
        assert client.count(name).count == 10
        client.delete_shard_key(name, "us")
        assert client.count(name).count == 8
        assert client.get_collection(name).config.params.sharding_method == "custom"
    finally:
        client.delete_collection(name)


# ---- failover ---------------------------------------------------------------------------------


@pytest.mark.parametrize("for_good", [False, True], ids=["restarted", "killed-for-good"])
def test_killed_replica_loses_nothing(servers: Any, cluster: LocalCluster, for_good: bool) -> None:
    """ray.kill of a replica: Ray restarts it (no_restart=False), or it is gone for good (Ray's
    default) and the router makes it again under its name; either way it catches up."""
    client, _ = servers
    base, queries, _, _ = load_dataset("wordnet-mpnet-768", queries=50)
    base = base[:6000]
    name = f"failover-{for_good}"
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=768, distance="Cosine"),
        shard_number=4,
        replication_factor=2,
    )
    client.upload_collection(name, base[:2000], ids=range(2000), wait=True)
    acknowledged: list[int] = []
    failed_searches: list[BaseException] = []
    searches = [0]
    stop = threading.Event()

    def write() -> None:
        for start in range(2000, len(base), 50):
            if stop.is_set():
                return
            ids = list(range(start, start + 50))
            client.upsert(
                name, models.Batch(ids=ids, vectors=base[start : start + 50].tolist()), wait=True
            )
            acknowledged.extend(ids)

    def read() -> None:
        while not stop.is_set():
            try:
                client.query_points(name, queries[searches[0] % 50].tolist(), limit=10)
                searches[0] += 1
            except Exception as e:  # counted: the test wants none
                failed_searches.append(e)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    try:
        while len(acknowledged) < 1000:
            time.sleep(0.05)
        if not ray.is_initialized():
            ray.init(address=cluster.address, namespace="vqdb", log_to_driver=False)
        victim = ray.get_actor(f"vqdb/{name}/0/0", namespace="vqdb")
        life, _, _ = ray.get(victim.ready.remote())
        ray.kill(victim, no_restart=for_good)
        time.sleep(3)
    finally:
        threads[0].join(timeout=600)
        stop.set()
        threads[1].join(timeout=60)
    assert failed_searches == []
    assert searches[0] > 0
    deadline = time.monotonic() + 300
    while True:
        states = {(r.shard_id, r.state) for r in client.collection_cluster_info(name).remote_shards}
        if all(state == models.ReplicaState.ACTIVE for _, state in states):
            break
        assert time.monotonic() < deadline, f"replicas not active again: {states}"
        time.sleep(0.5)
    everything = list(range(2000)) + acknowledged
    victim = ray.get_actor(f"vqdb/{name}/0/0", namespace="vqdb")  # maybe a new actor
    assert ray.get(victim.ready.remote())[0] != life  # a new process: it was restarted
    assert client.count(name, exact=True).count == len(everything)
    assert len(client.retrieve(name, everything, with_payload=False)) == len(everything)
    shard0 = [everything[i] for i in routing.split(everything, [0, 1, 2, 3]).get(0, [])]
    for replica in (0, 1):  # the restarted replica has every point of its shard, as its twin
        actor = ray.get_actor(f"vqdb/{name}/0/{replica}", namespace="vqdb")
        kind, found = ray.get(actor.read.remote("retrieve", {"ids": shard0, "with_payload": False}))
        assert kind == "ok" and len(found) == len(shard0)
        kind, counted = ray.get(actor.read.remote("count", {"exact": True}))
        assert counted == {"count": len(shard0)}
    client.delete_collection(name)
