"""`vqdb serve` under load: requests/s and latency at 1 to 32 connections, driven by wrk.

    python benchmarks/http_bench.py --data ../shared/data/wordnet-mpnet-768 [--n 100000] \
        [--readers 0 2]

Two collections of n points (768-d, derived from the real set, Cosine, HNSW m=16): `float`
(no quantization) and `int8` (scalar, in RAM, rescored), built through the embedded client.
Then, for each:
- engine: `vqdb.collection.query.query` in process, one k=10 query at a time (the call the
  server's route makes), and `query_batch` of 64 queries (one native call over all of them);
- wrk: POST /points/query (one query per request) and /points/query/batch (64 per request)
  at 1, 2, 4, 8 and 32 keep-alive connections for `--seconds` each. wrk is a C load
  generator (Debian's `wrk` package): it leaves the server the cores a Python client would
  eat. It is found on PATH, or installed with apt-get when run as root; the script says which.
- health: GET /readyz answered while 32 connections search (median and max ms; a loop with
  more than a few requests queued hands its reads to the reader pool, server/loops.py).
- `--readers`: the server is run once per value of `service.reader_processes` given, side by
  side (0: one process; N: N reader processes beside the writer, server/readers.py).

HTTP overhead = server p50 at 1 connection minus engine p50; the server's p50 is the median of
three 1-connection runs after the levels above, each paired with a run of the floor. Part of
the overhead is not the server's: the round trip through the kernel's loopback and the
wake-ups of wrk and the server from idle, which on a VM cost more than on bare metal. The
floor measures that part: wrk at 1 connection against a bare uvloop + httptools server (no
app) that answers every request with the collection's own answer to the first query, canned.
Ratios are what to quote: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from datasets import derived, table

CONNECTIONS = (1, 2, 4, 8, 32)
BATCH = 64
ROUNDS = 3  # interleaved pairs of 1-connection runs, vqdb and the floor
CONFIGS = {
    "float": None,
    "int8": {"scalar": {"type": "int8", "always_ram": True}},
}


def build(path: Path, name: str, x: np.ndarray, quantization: Any) -> float:
    import vqdb
    from vqdb import models

    start = time.perf_counter()
    with vqdb.Client(path=path) as client:
        client.create_collection(
            name,
            vectors_config=models.VectorParams(size=x.shape[1], distance=models.Distance.COSINE),
            quantization_config=quantization,
        )
        client.upload_collection(name, vectors=x, ids=range(len(x)), wait=True)
        while client.get_collection(name).status != models.CollectionStatus.GREEN:
            time.sleep(0.2)
    return time.perf_counter() - start


def engine(path: Path, name: str, bodies: list[dict[str, Any]]) -> dict[str, float]:
    """p50 of one query at a time, QPS of one at a time and of batches of 64, in process."""
    from vqdb.collection import query
    from vqdb.database import Database

    with Database(path) as db:
        c = db.collection(name)
        for body in bodies[:20]:  # warm-up
            query.query(c, body)
        times = []
        for body in bodies:
            start = time.perf_counter()
            query.query(c, body)
            times.append(time.perf_counter() - start)
        batches = [bodies[i : i + BATCH] for i in range(0, len(bodies) - BATCH + 1, BATCH)]
        start = time.perf_counter()
        for batch in batches:
            query.query_batch(c, {"searches": batch})
        batch_qps = len(batches) * BATCH / (time.perf_counter() - start)
    return {"p50": statistics.median(times), "qps": len(times) / sum(times), "batch": batch_qps}


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        print(f"wrk: {found}")
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk: not on PATH; installing Debian's wrk package with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)")
    return found


def lua_script(folder: Path, path: str, payloads: list[bytes]) -> Path:
    """A wrk script that POSTs the payloads in turn."""
    script = folder / f"{abs(hash(path))}.lua"
    bodies = ",\n".join("[==[" + p.decode() + "]==]" for p in payloads)
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local bodies = {{\n{bodies}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        f'  return wrk.format(nil, "{path}", nil, bodies[i])\n'
        "end\n"
    )
    return script


def wrk(binary: str, port: int, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    threads = min(connections, 2)
    done = subprocess.run(
        [binary, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
        + ["-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"req/s": rate, "p50": _latency(out, "50%"), "p99": _latency(out, "99%")}


def _latency(out: str, label: str) -> float:
    """wrk's latency in ms (it prints us, ms or s)."""
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


# A server with no app, for the floor: it parses each request (httptools, as vqdb's protocol
# does) and writes a canned answer (argv[2]) in one write.
CANNED_SERVER = """
import asyncio, sys, httptools, uvloop
answer = open(sys.argv[2], "rb").read()
head = b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: %d\\r\\n\\r\\n"
response = head % len(answer) + answer
class Canned(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
    def data_received(self, data):
        self.parser.feed_data(data)
    def on_message_complete(self):
        self.transport.write(response)
async def main():
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", int(sys.argv[1]))
    print("serving", flush=True)
    await server.serve_forever()
uvloop.run(main())
"""


@contextlib.contextmanager
def canned_server(folder: Path, answer: bytes) -> Iterator[int]:
    """CANNED_SERVER on a port of its own, answering `answer`; its port."""
    port = free_port()
    canned = folder / "canned.json"
    canned.write_bytes(answer)
    command = [sys.executable, "-c", CANNED_SERVER, str(port), str(canned)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == "serving"
            yield port
        finally:
            process.terminate()


def one_connection(
    binary: str, port: int, folder: Path, name: str, singles: list[bytes], seconds: int
) -> tuple[list[float], list[float]]:
    """p50s (ms) at 1 connection of vqdb and of the floor, in ROUNDS interleaved pairs: one
    run of each moves by ~0.05 ms with what else the machine does."""
    route = f"/collections/{name}/points/query"
    script = lua_script(folder, route, singles)
    answer = post(port, route, singles[0])
    served, floors = [], []
    with canned_server(folder, answer) as canned:
        for _ in range(ROUNDS):
            served.append(wrk(binary, port, script, 1, seconds)["p50"])
            floors.append(wrk(binary, canned, script, 1, seconds)["p50"])
    return served, floors


def health_under_load(port: int, busy: threading.Event, times: list[float]) -> None:
    """/readyz round trips (ms) into `times` while `busy` is set."""
    while busy.is_set():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start = time.perf_counter()
        connection.request("GET", "/readyz")
        connection.getresponse().read()
        times.append(1e3 * (time.perf_counter() - start))
        connection.close()
        time.sleep(0.05)


def post(port: int, path: str, body: bytes) -> bytes:
    """The server's answer (its body) to one POST."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    answer = connection.getresponse().read()
    connection.close()
    return answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(path: Path, port: int, readers: int, log: Path) -> subprocess.Popen[str]:
    """Started, with its `readers` reader processes serving (each logs so once it is)."""
    command = [sys.executable, "-m", "vqdb", "serve", "--storage", str(path)]
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--log-level", "INFO"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "VQDB__SERVICE__READER_PROCESSES": str(readers)},
            text=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/readyz")
            serving = log.read_text().count("is serving")
            if connection.getresponse().status == 200 and serving >= readers:
                return process
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"vqdb serve did not start:\n{log.read_text()}")


def load(
    binary: str,
    port: int,
    folder: Path,
    name: str,
    singles: list[bytes],
    batches: list[bytes],
    readers: int,
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    levels: list[dict[str, Any]],
) -> None:
    """wrk at each level of connections, single queries and batches, and /readyz at the top."""
    route = f"/collections/{name}/points/query"
    single = lua_script(folder, route, singles)
    batch = lua_script(folder, route + "/batch", batches)
    wrk(binary, port, single, 8, 2)  # warm-up: each process maps the pages it reads
    for c in CONNECTIONS:
        busy = threading.Event()
        health: list[float] = []
        if c == max(CONNECTIONS):
            busy.set()
            probe = threading.Thread(target=health_under_load, args=(port, busy, health))
            probe.start()
        one = wrk(binary, port, single, c, args.seconds)
        busy.clear()
        if health:
            probe.join()
        many = wrk(binary, port, batch, c, args.seconds)
        levels.append({"collection": name, "readers": readers, "connections": c, "query": one})
        levels[-1]["batch"] = many
        rows.append(
            {
                "collection": name,
                "readers": readers,
                "conns": c,
                "query req/s": f"{one['req/s']:.0f}",
                "p50 ms": f"{one['p50']:.2f}",
                "p99 ms": f"{one['p99']:.2f}",
                "batch req/s": f"{many['req/s']:.1f}",
                "batch QPS": f"{BATCH * many['req/s']:.0f}",
                "batch p50 ms": f"{many['p50']:.1f}",
                "/readyz ms": (
                    f"{statistics.median(health):.1f} / {max(health):.1f}" if health else ""
                ),
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1024)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run (>= 1)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--readers", type=int, nargs="+", default=[0], metavar="N")
    args = parser.parse_args()
    binary = find_wrk()

    base = np.load(args.data / "base.npy").astype(np.float32)
    queries = np.load(args.data / "queries.npy").astype(np.float32)
    x = derived(base, args.n, base.shape[1])
    queries = np.resize(queries, (args.queries, queries.shape[1]))
    bodies = [{"query": [round(float(v), 7) for v in q], "limit": 10} for q in queries]
    singles = [json.dumps(b).encode() for b in bodies]
    batches = [
        json.dumps({"searches": bodies[i : i + BATCH]}).encode()
        for i in range(0, len(bodies) - BATCH + 1, BATCH)
    ]

    folder = Path(tempfile.mkdtemp(prefix="http-bench-"))
    path = folder / "storage"
    results: dict[str, Any] = {"cores": os.cpu_count()}
    try:
        for name, quantization in CONFIGS.items():
            built = build(path, name, x, quantization)
            print(f"{name}: {args.n} x {x.shape[1]} indexed in {built:.0f} s")
        inside = {name: engine(path, name, bodies) for name in CONFIGS}
        rows: list[dict[str, Any]] = []
        levels: list[dict[str, Any]] = []
        ones: dict[tuple[str, int], tuple[list[float], list[float]]] = {}
        for readers in args.readers:
            port = free_port()
            process = serve(path, port, readers, folder / f"serve-{readers}.log")
            try:
                for name in CONFIGS:
                    load(binary, port, folder, name, singles, batches, readers, args, rows, levels)
                    ones[name, readers] = one_connection(
                        binary, port, folder, name, singles, args.seconds
                    )
            finally:
                process.terminate()
                process.wait(60)
        table(rows)
        summary = []
        for (name, measured), readers in itertools.product(inside.items(), args.readers):
            mine = [lv for lv in levels if lv["collection"] == name and lv["readers"] == readers]
            at = {lv["connections"]: lv["query"] for lv in mine}
            served, floors = (statistics.median(p50s) for p50s in ones[name, readers])
            overhead = served - 1e3 * measured["p50"]
            summary.append(
                {
                    "collection": name,
                    "readers": readers,
                    "engine p50 ms": f"{1e3 * measured['p50']:.3f}",
                    "server p50 ms (1 conn)": f"{served:.3f}",
                    "HTTP overhead ms": f"{overhead:.3f}",
                    "loopback floor ms": f"{floors:.3f}",
                    "overhead above floor ms": f"{overhead - floors:.3f}",
                    "req/s 8 / 1 conn": f"{at[8]['req/s'] / at[1]['req/s']:.2f}",
                    "p99 at 8 / p50 at 1": f"{at[8]['p99'] / at[1]['p50']:.2f}",
                    "engine batch / single QPS": f"{measured['batch'] / measured['qps']:.2f}",
                }
            )
        table(summary)
        one = {
            f"{name} {readers}": {"served": p[0], "floor": p[1]}
            for (name, readers), p in ones.items()
        }
        results.update(levels=levels, engine=inside, one_connection=one, summary=summary)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
