"""The `vqdb` command.

vqdb --version
vqdb serve [--storage ./storage] [--host 127.0.0.1] [--port 6333] [--config FILE]
           [--ray-address auto|host:port|ray://host:port]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


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
        "--ray-address",
        help="join this Ray cluster (auto, host:port or ray://host:port): collections are "
        "distributed over its nodes (needs vqdb[cluster])",
    )
    args = parser.parse_args(argv)

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
                "cluster.ray_address": args.ray_address,
            },
        )
        server.serve(settings)
    except (ValueError, RuntimeError) as e:  # bad settings, a storage folder another process
        # holds, or a Ray cluster that is not there (--ray-address)
        print(f"vqdb: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
