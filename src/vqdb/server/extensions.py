"""vqdb's own routes, under /vqdb/ so that no Qdrant path ever collides with them: the
quantization advisor, applying its recommendation, and what a collection's vectors cost.
Served beside Qdrant's (same API keys, same envelope) but kept out of /openapi.json, which
describes Qdrant's API.

    GET  /vqdb/collections/{name}               {"memory": ..., "rebuild": ...}
    POST /vqdb/collections/{name}/advise        {"target_recall": 0.95, "objective": "memory"}
    POST /vqdb/collections/{name}/advice/apply  a recommendation (its quantization_config)
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from vqdb import advisor, engine
from vqdb.advisor import rebuild
from vqdb.collection import memory
from vqdb.errors import BadInput
from vqdb.server.operations import JSON_OBJECT, Call, Operation

PREFIX = "/vqdb/collections/{collection_name}"
_ADVISE_OPTIONS = {"target_recall", "objective", "limit", "vector_name", "queries"}


def _state(c: Call) -> dict[str, Any]:
    collection = engine.local_only(c.collection, "the memory and rebuild state")
    return {"memory": memory.memory(collection), "rebuild": rebuild.progress(collection)}


async def _advise(c: Call) -> dict[str, Any]:
    body = c.body or {}
    unknown = sorted(set(body) - _ADVISE_OPTIONS)
    if unknown:
        raise BadInput(f"unknown advise option(s): {', '.join(unknown)}")
    options = dict(body)
    name = options.pop("vector_name", "")
    collection = engine.local_only(c.collection, "advice")
    # minutes of numpy and native work: off the event loop, so other requests go on
    advice = await run_in_threadpool(
        lambda: advisor.advise_collection(collection, name, progress=False, **options)
    )
    return {**advice.to_json(), "table": advice.table(), "summary": advice.summary()}


def _apply(c: Call) -> dict[str, Any]:
    engine.local_only(c.collection, "applying advice")
    rebuild.apply(c.db, c.path["collection_name"], c.body)
    return rebuild.progress(c.collection)


EXTENSIONS: list[Operation] = [
    Operation("GET", PREFIX, "vqdb_collection", _state, tag="vqdb"),
    Operation("POST", f"{PREFIX}/advise", "vqdb_advise", _advise, body=JSON_OBJECT, tag="vqdb"),
    Operation(
        "POST",
        f"{PREFIX}/advice/apply",
        "vqdb_apply_advice",
        _apply,
        body=JSON_OBJECT,
        writes=True,
        tag="vqdb",
    ),
]
