"""The `vqdb` command.

vqdb --version
vqdb serve [--storage ./storage] [--host 127.0.0.1] [--port 6333] [--config FILE]
           [--reader-processes N|auto] [--ray-address auto|host:port|ray://host:port]
vqdb advise --vectors base.npy [--queries q.npy] --distance Cosine --target-recall 0.95
            [--objective memory|speed] [--limit 10] [--json out.json]
vqdb advise --url http://localhost:6333 --collection NAME [--apply] ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    from vqdb import __version__

    parser = argparse.ArgumentParser(prog="vqdb", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"vqdb {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve Qdrant's HTTP API (qdrant-client works against it unchanged)",
        description="Serves Qdrant's REST API. Settings come from --config (YAML), then "
        "VQDB__SECTION__KEY environment variables (e.g. VQDB__SERVICE__API_KEY), then flags.",
    )
    serve.add_argument("--storage", type=Path, help="storage folder (default ./storage)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 6333)")
    serve.add_argument("--config", type=Path, help="a YAML settings file")
    serve.add_argument("--log-level", help="DEBUG, INFO (default), WARNING or ERROR")
    serve.add_argument(
        "--reader-processes",
        metavar="N",
        help="N more processes answer the searches, on more cores than one interpreter uses; "
        "auto: one per core (service.reader_processes; default 0)",
    )
    serve.add_argument(
        "--ray-address",
        help="join this Ray cluster (auto, host:port or ray://host:port): collections are "
        "distributed over its nodes (needs vqdb[cluster])",
    )
    _advise_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "advise":
        return _advise(args)

    from vqdb import server

    try:
        settings = server.load(
            args.config,
            os.environ,
            {
                "storage.storage_path": args.storage,
                "service.host": args.host,
                "service.http_port": args.port,
                "log_level": args.log_level,
                "service.reader_processes": args.reader_processes,
                "cluster.ray_address": args.ray_address,
            },
        )
        server.serve(settings)
    except (ValueError, RuntimeError) as e:  # bad settings, a storage folder another process
        # holds, or a Ray cluster that is not there (--ray-address)
        print(f"vqdb: {e}", file=sys.stderr)
        return 2
    return 0


def _advise_parser(commands: Any) -> None:
    advise = commands.add_parser(
        "advise",
        help="measure every quantization on your vectors and recommend one",
        description="Measures scalar, binary and product quantization at oversampling 1-8 on "
        "a sample of the vectors (held-out queries, exact top-k) and recommends the config "
        "that reaches the target recall at the least memory (or the most speed). Exit status: "
        "0 with a recommendation, 1 when no quantization reaches the target, 2 on bad input.",
    )
    source = advise.add_mutually_exclusive_group(required=True)
    source.add_argument("--vectors", type=Path, help="a .npy file of vectors (n, dim)")
    source.add_argument("--url", help="a vqdb server, e.g. http://localhost:6333")
    advise.add_argument("--collection", help="the collection to advise on (with --url)")
    advise.add_argument("--vector-name", default="", help="a named vector (with --url)")
    advise.add_argument("--api-key", default=os.environ.get("VQDB_API_KEY"))
    advise.add_argument("--queries", type=Path, help="your own queries (.npy); else held out")
    advise.add_argument("--distance", default="Cosine", help="Cosine, Dot, Euclid, Manhattan")
    advise.add_argument("--target-recall", type=float, default=0.95)
    advise.add_argument("--objective", default="memory", choices=("memory", "speed"))
    advise.add_argument("--limit", type=int, default=10, help="k of recall@k (default 10)")
    advise.add_argument("--json", type=Path, help="write the whole advice here")
    advise.add_argument("--apply", action="store_true", help="switch the collection to it")


def _advise(args: argparse.Namespace) -> int:
    import numpy as np

    from vqdb import advisor
    from vqdb.advisor import remote

    options = {
        "target_recall": args.target_recall,
        "objective": args.objective,
        "limit": args.limit,
    }
    try:
        if args.vectors is not None:
            if args.apply or args.collection:
                raise ValueError("--apply and --collection need --url (a served collection)")
            queries = None if args.queries is None else np.load(args.queries)
            advice = advisor.advise(
                np.load(args.vectors), args.distance, queries=queries, **options
            )
            found, table, summary = advice.to_json(), advice.table(), advice.summary()
        else:
            if not args.collection:
                raise ValueError("--url needs --collection NAME")
            if args.queries is not None:
                options["queries"] = np.load(args.queries).tolist()
            path = f"/vqdb/collections/{args.collection}/advise"
            body = {**options, "vector_name": args.vector_name}
            print(f"advising on {args.collection} at {args.url} ...", file=sys.stderr)
            found = remote.call(args.url, path, body, args.api_key)
            table, summary = found["table"], found["summary"]
            if args.apply and found["recommendation"]["met"]:
                apply_path = f"/vqdb/collections/{args.collection}/advice/apply"
                remote.call(args.url, apply_path, found["recommendation"], args.api_key)
                summary += "\napplied: the collection is rebuilding with it in the background"
    except (ValueError, OSError) as e:
        print(f"vqdb advise: {e}", file=sys.stderr)
        return 2
    print(table)
    print()
    print(summary)
    for note in found.get("notes", []):
        print(f"note: {note}")
    if args.json is not None:
        args.json.write_text(json.dumps(found, indent=1))
    return 0 if found["recommendation"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
