"""What `vqdb serve` adds to a search: the HTTP layer's latency over the engine's own time, and
requests per second with 1, 4 and 16 concurrent clients.

    python benchmarks/http_bench.py --data ../shared/data/wordnet-mpnet-768 [--n 100000]

A collection of n points (768-d, derived from the real set, HNSW m=16, no quantization) is built
through the embedded client, then searched three ways with the same k=10 queries:
- engine: `vqdb.collection.query.query` in process, the call the server's route makes;
- HTTP: POST /points/query to `vqdb serve` over one keep-alive connection (stdlib http.client,
  the leanest client, so the difference is the server's), and through httpx and qdrant-client;
- concurrent: 1, 4 and 16 threads, each with its own connection.
The client runs on the same 2 cores as the server, so the concurrent rows measure both.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from datasets import derived, table

COLLECTION = "bench"


def build(path: Path, x: np.ndarray) -> float:
    import vqdb
    from vqdb import models

    start = time.perf_counter()
    with vqdb.Client(path=path) as client:
        client.create_collection(
            COLLECTION,
            vectors_config=models.VectorParams(size=x.shape[1], distance=models.Distance.COSINE),
        )
        client.upload_collection(COLLECTION, vectors=x, ids=range(len(x)), wait=True)
        while client.get_collection(COLLECTION).status != models.CollectionStatus.GREEN:
            time.sleep(0.2)
    return time.perf_counter() - start


def engine_times(path: Path, bodies: list[dict[str, Any]]) -> list[float]:
    from vqdb.collection import query
    from vqdb.database import Database

    with Database(path) as db:
        c = db.collection(COLLECTION)
        for body in bodies[:20]:  # warm-up
            query.query(c, body)
        times = []
        for body in bodies:
            start = time.perf_counter()
            query.query(c, body)
            times.append(time.perf_counter() - start)
    return times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(path: Path, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "vqdb", "serve", "--storage", str(path)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("vqdb serve did not start")


def http_times(port: int, payloads: list[bytes]) -> tuple[list[float], list[float]]:
    """Round trips over one keep-alive connection, and the server's own `time` per answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"}
    path = f"/collections/{COLLECTION}/points/query"
    times, server = [], []
    for i, payload in enumerate([*payloads[:20], *payloads]):
        start = time.perf_counter()
        connection.request("POST", path, payload, headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(body.decode())
        if i >= 20:
            times.append(elapsed)
            server.append(json.loads(body)["time"])
    connection.close()
    return times, server


def httpx_times(port: int, payloads: list[bytes]) -> list[float]:
    import httpx

    times = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for i, payload in enumerate([*payloads[:20], *payloads]):
            start = time.perf_counter()
            client.post(
                f"/collections/{COLLECTION}/points/query",
                content=payload,
                headers={"Content-Type": "application/json"},
            ).raise_for_status()
            if i >= 20:
                times.append(time.perf_counter() - start)
    return times


def qdrant_client_times(port: int, queries: np.ndarray) -> list[float]:
    from qdrant_client import QdrantClient

    client = QdrantClient(url=f"http://127.0.0.1:{port}")
    times = []
    for i, q in enumerate([*queries[:20], *queries]):
        start = time.perf_counter()
        client.query_points(COLLECTION, query=q.tolist(), limit=10)
        if i >= 20:
            times.append(time.perf_counter() - start)
    client.close()
    return times


def concurrent(port: int, payloads: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads, each with its own connection, for `seconds`."""
    headers = {"Content-Type": "application/json"}
    path = f"/collections/{COLLECTION}/points/query"
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.perf_counter() + seconds

    def work(me: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        i = me
        while time.perf_counter() < stop:
            start = time.perf_counter()
            connection.request("POST", path, payloads[i % len(payloads)], headers)
            connection.getresponse().read()
            latencies[me].append(time.perf_counter() - start)
            i += clients
        connection.close()

    threads = [threading.Thread(target=work, args=(me,)) for me in range(clients)]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - begin
    every = sorted(t for mine in latencies for t in mine)
    return {
        "clients": clients,
        "requests": len(every),
        "req/s": round(len(every) / wall),
        "p50 ms": round(1000 * every[len(every) // 2], 3),
        "p99 ms": round(1000 * every[int(len(every) * 0.99)], 3),
    }


def summary(label: str, times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "path": label,
        "p50 ms": round(1000 * statistics.median(ordered), 3),
        "p99 ms": round(1000 * ordered[int(len(ordered) * 0.99)], 3),
        "QPS (1 client)": round(len(times) / sum(times)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per concurrency level")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    base = np.load(args.data / "base.npy").astype(np.float32)
    queries = np.load(args.data / "queries.npy").astype(np.float32)
    x = derived(base, args.n, base.shape[1])
    queries = np.resize(queries, (args.queries, queries.shape[1]))
    bodies = [{"query": q.tolist(), "limit": 10} for q in queries]
    payloads = [json.dumps(b).encode() for b in bodies]

    path = Path(tempfile.mkdtemp(prefix="http-bench-"))
    try:
        built = build(path, x)
        print(f"{args.n} x {x.shape[1]} indexed in {built:.0f} s; {len(bodies)} queries, k=10\n")
        engine = engine_times(path, bodies)
        args.port = args.port or free_port()
        process = serve(path, args.port)
        try:
            over_http, server_side = http_times(args.port, payloads)
            through_httpx = httpx_times(args.port, payloads)
            through_qdrant_client = qdrant_client_times(args.port, queries)
            rows = [
                summary("engine (query.query, in process)", engine),
                summary("server handler (envelope 'time')", server_side),
                summary("HTTP, http.client keep-alive", over_http),
                summary("HTTP, httpx", through_httpx),
                summary("HTTP, qdrant-client 'query_points'", through_qdrant_client),
            ]
            table(rows)
            overhead = statistics.median(over_http) - statistics.median(engine)
            print(f"HTTP overhead at p50 (http.client - engine): {1000 * overhead:.3f} ms\n")
            levels = [concurrent(args.port, payloads, n, args.seconds) for n in (1, 4, 16)]
            table(levels)
        finally:
            process.terminate()
            process.wait(60)
        if args.json:
            args.json.write_text(
                json.dumps({"latency": rows, "overhead_ms": 1000 * overhead, "concurrency": levels})
            )
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
