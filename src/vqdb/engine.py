"""Where a read meets a collection: a local Collection runs the read function itself
(query.query, reads.scroll, ...); a distributed one (vqdb.cluster.sharded) is asked to answer
the same call from its shards. The server's routes and the embedded client read through here,
so neither needs to know which kind a collection is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vqdb.collection.collection import Collection
from vqdb.errors import BadInput


def read(run: Callable[..., Any], collection: Any, body: Any, others: Any = None) -> Any:
    """run(collection, body), or run(collection, body, others) when `others` (the function
    that finds collections by name, for lookup_from and with_lookup) is given."""
    if isinstance(collection, Collection):
        return run(collection, body) if others is None else run(collection, body, others)
    return collection.read(run, body, others)


def read_each(
    each: Callable[..., list[Any]],
    run: Callable[..., Any],
    collection: Any,
    bodies: list[Any],
    others: Any = None,
) -> list[Any]:
    """Independent reads of one collection at once, each with its answer or its exception:
    each(collection, bodies, others) on a local collection, run on each body by itself on a
    distributed one."""
    if isinstance(collection, Collection):
        return each(collection, bodies, others)
    answers: list[Any] = []
    for body in bodies:
        try:
            answers.append(read(run, collection, body, others))
        except Exception as e:  # this read's own failure, answered to it alone
            answers.append(e)
    return answers


def call(run: Callable[[Collection], Any], collection: Any, name: str) -> Any:
    """run(collection) on a local collection, else the distributed one's method `name` (info)."""
    if isinstance(collection, Collection):
        return run(collection)
    return getattr(collection, name)()


def local(collection: Any) -> bool:
    return isinstance(collection, Collection)


def local_only(collection: Any, what: str) -> Collection:
    """The collection, which must be local: `what` reads its segments or optimizer directly,
    which a distributed collection keeps in its replicas."""
    if not isinstance(collection, Collection):
        raise BadInput(f"Bad request: {what} of a distributed collection is not supported yet")
    return collection
