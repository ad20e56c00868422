"""`vqdb serve`: Qdrant's REST API over a Database, so qdrant-client works unchanged.

vqdb serve --storage ./storage --port 6333

from qdrant_client import QdrantClient
client = QdrantClient(url="http://localhost:6333")
"""

from __future__ import annotations

import logging
import os

from vqdb.database import Database
from vqdb.server.app import API_VERSION, create_app
from vqdb.server.settings import Settings, load

__all__ = ["API_VERSION", "Settings", "create_app", "load", "serve"]

log = logging.getLogger("vqdb.server")


def serve(settings: Settings) -> None:
    """Serves until SIGINT or SIGTERM, then finishes the requests in flight, checkpoints every
    collection and closes their WALs."""
    import uvicorn

    from vqdb.server.loops import Server

    level = {"TRACE": "DEBUG", "WARN": "WARNING"}.get(settings.log_level, settings.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = settings.service
    storage = settings.storage
    db = Database(
        storage.storage_path,
        optimizer_threads=storage.optimizer_threads,
        async_scorer=storage.async_scorer,
        ray_address=settings.cluster.ray_address,
    )
    try:
        log.info(
            "vqdb serving Qdrant's API %s on http://%s:%d (storage %s, %d collections)",
            API_VERSION,
            service.host,
            service.http_port,
            storage.storage_path.resolve(),
            len(db.collection_names()),
        )
        cores = os.cpu_count() or 1
        if not service.reader_processes and cores >= 4:
            log.info(
                "searches are served by one process (one interpreter's worth of Python at a "
                "time); service.reader_processes: N adds N processes for them (%d cores)",
                cores,
            )
        app = create_app(db, settings, close_on_shutdown=True)
        config = uvicorn.Config(
            app,
            host=service.host,
            port=service.http_port,
            log_level=level.lower(),
            access_log=level == "DEBUG",
            lifespan="on",
            # X-Forwarded-For would only change the address in the access log (Qdrant reads
            # none), and its middleware sits on every request
            proxy_headers=False,
            server_header=False,  # Qdrant's responses name no server; one header less to send
        )
        readers = None
        count = cores if service.reader_processes == "auto" else service.reader_processes
        if count and settings.cluster.ray_address is not None:
            log.warning("reader processes follow a local storage only: none with a Ray cluster")
        elif count:
            from vqdb.server.readers import Readers

            readers = Readers(count, settings.model_dump_json(), app.state.responses)
        Server(config, loops=service.max_workers or os.cpu_count() or 1, readers=readers).run()
    finally:
        db.close()  # if uvicorn failed to start (closing twice is harmless)
