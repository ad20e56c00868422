"""Applying a recommendation to a live collection, and following the rebuild it starts.

Applying is Qdrant's own update (PATCH /collections/{name} with a quantization_config): the
collection keeps answering with its old segments while the optimizer rebuilds each from the
untouched originals. Search params are per request in Qdrant, so they cannot be applied: the
caller sends the recommended ones with its queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput


def apply(db: Database, collection_name: str, recommendation: Mapping[str, Any]) -> None:
    """Switches the collection's quantization to the recommendation's: the collection-wide
    one for the unnamed vector, the vector's own for a named one (`vector_name`)."""
    if not isinstance(recommendation, Mapping) or "quantization_config" not in recommendation:
        raise BadInput("a recommendation needs its 'quantization_config'")
    config = recommendation["quantization_config"]
    name = recommendation.get("vector_name") or ""
    if not isinstance(name, str):
        raise BadInput("'vector_name' must be a string")
    diff = (
        {"vectors": {name: {"quantization_config": config}}}
        if name
        else {"quantization_config": config}
    )
    db.update_collection(collection_name, diff)


def progress(c: Collection) -> dict[str, Any]:
    """How far the rebuild after a config change is: points in segments that no rebuild waits
    for (built with the present config, or appendable: those hold no codes, and are indexed
    with the present config when sealed) over all points; `done` once the optimizer has
    nothing left to do."""
    optimizer = c.optimizer
    with c.lock.read():
        total = c.points_count
        current = sum(
            s.count for s in c.segments if s.appendable or optimizer is None or optimizer.current(s)
        )
    busy = optimizer is not None and (optimizer.busy or optimizer.pending())
    return {
        "points": total,
        "rebuilt_points": current,
        "fraction": 1.0 if total == 0 else round(current / total, 4),
        "done": not busy,
        "error": None if optimizer is None else optimizer.error,
    }
