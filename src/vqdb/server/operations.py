"""Qdrant's REST operations, one row each: method, path, operationId, body schema, whether it
writes, and the engine call it makes. The app (app.py) turns rows into routes and the OpenAPI
document (openapi.py) describes them; no row holds logic beyond picking its arguments.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from vqdb import engine, full_snapshots, models
from vqdb.collection import facets, groups, info, matrix, query, reads, snapshots
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, NotFound, OutOfRange
from vqdb.server import metrics, uploads, vectors
from vqdb.server.background import Jobs
from vqdb.server.body import HttpError
from vqdb.server.settings import Settings
from vqdb.server.settings import Snapshots as SnapshotSettings
from vqdb.server.telemetry import Telemetry

# a JSON object validated by the engine alone: the legacy search and recommend bodies, which
# Qdrant's 1.19 spec (the one models.py is generated from) no longer describes
JSON_OBJECT = dict
UPLOAD = "multipart/form-data"  # a file in the form's `snapshot` field, read by the operation
ACCEPTED = object()  # what an operation returns when it was started and not waited for (202)

# query parameters, documented per operation (the ones that only matter to a cluster, like
# `ordering` and `consistency`, are accepted and ignored)
WRITE_PARAMS = ("wait", "ordering", "timeout")
READ_PARAMS = ("consistency", "timeout")


@dataclass
class Call:
    """What one request hands its operation: the database, the path parameters, the query
    string and the body (a JSON value, already checked against the operation's schema)."""

    db: Database
    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    request: Request

    @property
    def collection(self) -> Collection:
        return self.db.collection(self.path["collection_name"])

    @property
    def wait(self) -> bool:
        """Qdrant's default is false: acknowledged once in the WAL, before it is fsynced (the
        app has refused any value but true and false)."""
        return self.query.get("wait") == "true"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str  # Qdrant's operationId
    run: Callable[[Call], Any]
    body: Any = None  # a model, a union of models, JSON_OBJECT, or None for no body
    writes: bool = False  # a read-only API key may not call it
    params: tuple[str, ...] = ()
    tag: str = "points"
    raw: bool = False  # run returns a Starlette Response, not a result to wrap
    # a write's answer when `wait=true` and its `timeout` pass before it is applied
    timed_out: Callable[[Call], Any] | None = None
    staging: bool = False  # served only with the `service.staging` setting
    extra: dict[str, Any] = field(default_factory=dict)  # more OpenAPI for this operation

    @property
    def reads_points(self) -> bool:
        """Whether it reads the points of one collection and nothing else: what a reader
        process answers itself (server/readers.py)."""
        return not self.writes and self.tag in ("points", "search")

    # a read's concurrent calls on one collection answered at once (server/coalescer.py): an
    # answer or an exception for each
    together: Callable[[list[Call]], list[Any]] | None = None
    # where the body's dense query vectors sit: read natively, out of the validation
    # (server/vectors.py)
    vectors: vectors.Place | None = None


def _write(method: str) -> Callable[[Call], Any]:
    return lambda c: getattr(c.collection, method)(c.body, wait=c.wait)


def _create_collection(c: Call) -> bool:
    c.db.create_collection(c.path["collection_name"], c.body)
    return True


def _update_collection(c: Call) -> bool:
    c.db.update_collection(c.path["collection_name"], c.body)
    return True


def _update_aliases(c: Call) -> bool:
    c.db.update_aliases(c.body["actions"])
    return True


def _get_point(c: Call) -> dict[str, Any]:
    raw = c.path["id"]  # text: digits name an integer id, anything else a UUID (Qdrant's rule)
    pid = int(raw) if raw.isdigit() else raw
    found = engine.read(reads.retrieve, c.collection, {"ids": [pid], "with_vector": True})
    if not found:
        raise NotFound(f"No point with id {raw} found")
    point: dict[str, Any] = found[0]
    return point


def _recover(c: Call) -> bool:
    body = c.body
    location = body.get("location")
    if not isinstance(location, str):
        raise BadInput("'location' must be a snapshot file path or file:// URL")
    return snapshots.recover(
        c.db,
        c.path["collection_name"],
        location,
        checksum=_checksum(body.get("checksum"), "JSON body"),
        api_key=body.get("api_key"),
        only_under=snapshots.folder_of(c.db),
        downloads=_downloads(_settings(c).snapshots),
    )


def _recover_shard(c: Call) -> bool:
    location = c.body.get("location")
    if not isinstance(location, str):
        raise BadInput("'location' must be a URL or the name of one of the shard's snapshots")
    return snapshots.recover_shard(
        c.db,
        c.path["collection_name"],
        _shard(c),
        location,
        checksum=_checksum(c.body.get("checksum"), "JSON body"),
        api_key=c.body.get("api_key"),
        downloads=_downloads(_settings(c).snapshots),
    )


def _checksum(value: Any, where: str) -> str | None:
    """A sha256 in hex, or None; Qdrant's 422 for anything else."""
    if value is None:
        return None
    problem = snapshots.sha256_problem(value)
    if problem:
        raise OutOfRange(f"Validation error in {where}: [checksum: {problem}]")
    return str(value)


def _shard(c: Call) -> int:
    raw = c.path["shard_id"]
    if not raw.isdigit() or int(raw) >= 1 << 32:  # Qdrant's shard ids are u32
        raise HttpError(
            400, f"Deserialize error in path parameters: can not parse {raw!r} to a u32"
        )
    return int(raw)


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type="application/octet-stream", filename=path.name)


class _SentOnce(FileResponse):
    """A snapshot taken only to be sent: its scratch folder goes once it is sent, or once the
    client has gone (a background task would not run after a disconnect)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await run_in_threadpool(shutil.rmtree, Path(self.path).parent, ignore_errors=True)


def _sent_once(path: Path) -> FileResponse:
    return _SentOnce(path, media_type="application/octet-stream", filename=path.name)


def _partial_create(c: Call) -> Response:
    """Qdrant's partial snapshot for a replica whose manifest is the body: 304 when it has
    everything already, else the whole shard (vqdb sends every file; see snapshots.py)."""
    name, shard = c.path["collection_name"], _shard(c)
    if c.body == snapshots.partial_manifest(c.db, name, shard):
        return Response(status_code=304)
    return _sent_once(snapshots.take_to_send(c.db, name, shard))


def _jobs(c: Call) -> Jobs:
    jobs: Jobs = c.request.app.state.jobs  # set by create_app
    return jobs


def _accepting(run: Callable[[Call], Any]) -> Callable[[Call], Any]:
    """Qdrant's snapshot operations wait by default; with wait=false they start in the
    background and answer 202 at once."""

    def call(c: Call) -> Any:
        if c.query.get("wait") != "false":
            return run(c)
        _jobs(c).start(c.request.url.path, run, c)
        return ACCEPTED

    return call


def _upload(
    recover: Callable[[Call, Path], Any], before: Callable[[Call], Any] = lambda c: None
) -> Callable[[Call], Awaitable[Any]]:
    """A multipart form with the archive in its `snapshot` field, as qdrant's upload sends it:
    streamed into a scratch folder beside the storage (a crash leaves one that the next start
    removes) up to `snapshots.max_upload_size_mb` (413 past it), then recovered by
    `recover(call, file)`. A malformed `checksum` is refused before anything is read, and so
    is whatever `before(call)` refuses (a shard that does not exist)."""

    async def run(c: Call) -> Any:
        _checksum(c.query.get("checksum"), "query parameters")
        before(c)
        limit = _settings(c).snapshots.max_upload_size_mb << 20
        root = snapshots.folder_of(c.db).parent
        scratch = Path(tempfile.mkdtemp(dir=root, prefix=".recover-up-"))
        saved = scratch / "upload.snapshot"

        def finish() -> Any:
            try:
                return recover(c, saved)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

        try:
            setting = "snapshots.max_upload_size_mb"
            if not await uploads.receive_file(c.request, "snapshot", saved, limit, setting):
                raise BadInput(
                    "expected a multipart form with the snapshot in its 'snapshot' field"
                )
        except BaseException:
            await run_in_threadpool(shutil.rmtree, scratch, ignore_errors=True)
            raise
        if c.query.get("wait") == "false":
            _jobs(c).start(c.request.url.path, finish)
            return ACCEPTED
        return await run_in_threadpool(finish)

    return run


def _recover_upload(c: Call, saved: Path) -> bool:
    return snapshots.recover(
        c.db,
        c.path["collection_name"],
        saved,
        checksum=c.query.get("checksum"),
        label="(uploaded)",
    )


def _shard_folder(c: Call) -> Path:
    return snapshots.folder_for(c.db, c.path["collection_name"], _shard(c))


def _recover_shard_upload(c: Call, saved: Path) -> bool:
    return snapshots.recover_shard(
        c.db, c.path["collection_name"], _shard(c), saved, checksum=c.query.get("checksum")
    )


def _settings(c: Call) -> Settings:
    settings: Settings = c.request.app.state.settings  # set by create_app
    return settings


def _downloads(config: SnapshotSettings) -> snapshots.Downloads:
    return snapshots.Downloads(
        max_bytes=config.max_download_size_mb << 20,
        timeout=config.download_timeout_sec,
        schemes=config.download_schemes,
        hosts=config.download_hosts,
    )


def _telemetry(c: Call) -> dict[str, Any]:
    level = int(c.query.get("details_level", "0"))
    return _telemetry_of(c).data(level, c.query.get("per_collection") == "true")


def _metrics(c: Call) -> PlainTextResponse:
    text = metrics.text(_telemetry_of(c), per_collection=c.query.get("per_collection") == "true")
    return PlainTextResponse(text, media_type=metrics.CONTENT_TYPE)


def _telemetry_of(c: Call) -> Telemetry:
    telemetry: Telemetry = c.request.app.state.telemetry  # set by create_app
    return telemetry


def _standalone(c: Call) -> None:
    """Cluster operations of a node that is not in a cluster: 405, as Qdrant's standalone."""
    raise HttpError(405, "This node is running in standalone mode")


def _distributed(c: Call) -> Any:
    """The collection, which must be distributed (shard keys live in its shards)."""
    collection = c.collection
    if engine.local(collection):
        raise BadInput("Bad request: Shard key is only supported with custom sharding")
    return collection


# the answer of a write that was still waiting for the collection when its timeout passed
WAIT_TIMEOUT = {"operation_id": None, "status": "wait_timeout"}


def _collections(c: Call) -> dict[str, Any]:
    return {"collections": [{"name": name} for name in c.db.collection_names()]}


def _optimizations(c: Call) -> dict[str, Any]:
    """`with`: a comma-separated list of queued, completed, idle_segments (spaces allowed)."""
    extras = {part.strip() for part in c.query.get("with", "").split(",") if part.strip()}
    unknown = extras - {"queued", "completed", "idle_segments"}
    if unknown:
        raise BadInput(f"unknown 'with' value(s): {', '.join(sorted(unknown))}")
    limit = int(c.query.get("completed_limit", 16))
    collection = engine.local_only(c.collection, "the optimizations")
    progress: dict[str, Any] = collection.optimizer.progress(extras, limit)
    return progress


def _batch(c: Call) -> list[dict[str, Any]]:
    operations = c.body.get("operations")
    if not isinstance(operations, list):
        raise BadInput("'operations' must be a list")
    return c.collection.batch(operations, wait=c.wait)


def _read(
    suffix: str,
    name: str,
    run: Callable[..., Any],
    body: Any,
    tag: str = "search",
    lookup: bool = False,
    each: Callable[..., list[Any]] | None = None,
    place: vectors.Place | None = None,
) -> Operation:
    """A POST under /points that reads: the engine call takes the collection and the body, and
    with `lookup` the database's collections by name (for `lookup_from`); `each` answers
    several bodies at once (query.query_each)."""
    return Operation(
        "POST",
        POINTS + suffix,
        name,
        (lambda c: engine.read(run, c.collection, c.body, c.db.collection))
        if lookup
        else (lambda c: engine.read(run, c.collection, c.body)),
        body=body,
        params=READ_PARAMS,
        tag=tag,
        together=None if each is None else _together(each, run, lookup),
        vectors=place,
    )


def _together(
    each: Callable[..., list[Any]], run: Callable[..., Any], lookup: bool
) -> Callable[[list[Call]], list[Any]]:
    def together(calls: list[Call]) -> list[Any]:
        first = calls[0]  # all of one collection (the coalescer's key)
        others = first.db.collection if lookup else None
        return engine.read_each(each, run, first.collection, [c.body for c in calls], others)

    return together


def _write_points(method: str, suffix: str, name: str, engine_method: str, body: Any) -> Operation:
    """A write under /points: Collection.<engine_method>(body, wait=...)."""
    return Operation(
        method,
        POINTS + suffix,
        name,
        _write(engine_method),
        body=body,
        writes=True,
        params=WRITE_PARAMS,
        timed_out=lambda c: WAIT_TIMEOUT,
    )


SELECTOR = models.PointIdsList | models.FilterSelector
MATRIX = models.SearchMatrixRequest
COLLECTION = "/collections/{collection_name}"
POINTS = COLLECTION + "/points"
SNAPSHOTS = COLLECTION + "/snapshots"
SHARD = COLLECTION + "/shards/{shard_id}"
SHARD_SNAPSHOTS = SHARD + "/snapshots"
FILE_RESPONSE = {
    "responses": {
        "200": {"description": "the snapshot file", "content": {"application/octet-stream": {}}}
    }
}

SERVICE_PARAMS = ("per_collection", "timeout")
CLUSTER_KEY = "/cluster/metadata/keys/{key}"

OPERATIONS: list[Operation] = [
    # ---- service -------------------------------------------------------------------------
    Operation(
        "GET",
        "/telemetry",
        "telemetry",
        _telemetry,
        params=(*SERVICE_PARAMS, "details_level"),
        tag="service",
    ),
    Operation(
        "GET", "/metrics", "metrics", _metrics, params=SERVICE_PARAMS, tag="service", raw=True
    ),
    # vqdb finds no issues to report (Qdrant's are hints such as a filter on an unindexed field)
    Operation("GET", "/issues", "get_issues", lambda c: {"issues": []}, tag="beta"),
    Operation("DELETE", "/issues", "clear_issues", lambda c: True, writes=True, tag="beta"),
    # ---- cluster: a standalone node's ----------------------------------------------------
    Operation("GET", "/cluster", "cluster_status", lambda c: {"status": "disabled"}, tag="cluster"),
    Operation(
        "POST", "/cluster/recover", "recover_current_peer", _standalone, writes=True, tag="cluster"
    ),
    Operation(
        "DELETE",
        "/cluster/peer/{peer_id}",
        "remove_peer",
        _standalone,
        writes=True,
        params=("timeout", "force"),
        tag="cluster",
    ),
    Operation(
        "GET", "/cluster/metadata/keys", "get_cluster_metadata_keys", _standalone, tag="cluster"
    ),
    Operation("GET", CLUSTER_KEY, "get_cluster_metadata_key", _standalone, tag="cluster"),
    Operation(
        "PUT",
        CLUSTER_KEY,
        "update_cluster_metadata_key",
        _standalone,
        writes=True,
        params=("wait",),
        tag="cluster",
    ),
    Operation(
        "DELETE",
        CLUSTER_KEY,
        "delete_cluster_metadata_key",
        _standalone,
        writes=True,
        params=("wait",),
        tag="cluster",
    ),
    # ---- collections ---------------------------------------------------------------------
    Operation("GET", "/collections", "get_collections", _collections, tag="collections"),
    Operation(
        "GET",
        COLLECTION,
        "get_collection",
        lambda c: engine.call(info.info, c.collection, "info"),
        tag="collections",
    ),
    Operation(
        "GET",
        COLLECTION + "/optimizations",
        "get_optimizations",
        _optimizations,
        params=("with", "completed_limit"),
        tag="collections",
    ),
    Operation(
        "PUT",
        COLLECTION,
        "create_collection",
        _create_collection,
        body=models.CreateCollection,
        writes=True,
        params=("timeout",),
        tag="collections",
    ),
    Operation(
        "PATCH",
        COLLECTION,
        "update_collection",
        _update_collection,
        body=models.UpdateCollection,
        writes=True,
        params=("timeout",),
        tag="collections",
    ),
    Operation(
        "PUT",
        COLLECTION + "/vectors/{vector_name}",
        "create_vector_name",
        lambda c: c.db.create_vector(c.path["collection_name"], c.path["vector_name"], c.body),
        body=models.VectorNameConfig,
        writes=True,
        params=WRITE_PARAMS,
        tag="collections",
    ),
    Operation(
        "DELETE",
        COLLECTION + "/vectors/{vector_name}",
        "delete_vector_name",
        lambda c: c.db.delete_vector(c.path["collection_name"], c.path["vector_name"]),
        writes=True,
        params=WRITE_PARAMS,
        tag="collections",
    ),
    Operation(
        "DELETE",
        COLLECTION,
        "delete_collection",
        lambda c: c.db.delete_collection(c.path["collection_name"]),
        writes=True,
        params=("timeout",),
        tag="collections",
    ),
    Operation(
        "GET",
        COLLECTION + "/exists",
        "collection_exists",
        lambda c: {"exists": c.db.exists(c.path["collection_name"])},
        tag="collections",
    ),
    Operation(
        "POST",
        "/collections/aliases",
        "update_aliases",
        _update_aliases,
        body=models.ChangeAliasesOperation,
        writes=True,
        params=("timeout",),
        tag="aliases",
    ),
    Operation(
        "GET",
        COLLECTION + "/aliases",
        "get_collection_aliases",
        lambda c: {"aliases": c.db.aliases(c.path["collection_name"])},
        tag="aliases",
    ),
    Operation(
        "GET",
        "/aliases",
        "get_collections_aliases",
        lambda c: {"aliases": c.db.aliases()},
        tag="aliases",
    ),
    Operation(
        "PUT",
        COLLECTION + "/index",
        "create_field_index",
        _write("create_payload_index"),
        body=models.CreateFieldIndex,
        writes=True,
        params=WRITE_PARAMS,
        tag="indexes",
        timed_out=lambda c: WAIT_TIMEOUT,
    ),
    Operation(
        "DELETE",
        COLLECTION + "/index/{field_name}",
        "delete_field_index",
        lambda c: c.collection.delete_payload_index(c.path["field_name"], wait=c.wait),
        writes=True,
        params=WRITE_PARAMS,
        tag="indexes",
        timed_out=lambda c: WAIT_TIMEOUT,
    ),
    # ---- a collection's shards (distributed collections: vqdb.cluster) ----------------------
    Operation(
        "GET",
        COLLECTION + "/cluster",
        "collection_cluster_info",
        lambda c: engine.call(info.cluster_info, c.collection, "cluster_info"),
        tag="distributed",
    ),
    Operation(
        "GET",
        COLLECTION + "/shards",
        "list_shard_keys",
        lambda c: engine.call(lambda _: {"shard_keys": None}, c.collection, "shard_keys"),
        tag="distributed",
    ),
    Operation(
        "PUT",
        COLLECTION + "/shards",
        "create_shard_key",
        lambda c: _distributed(c).create_shard_key(c.body),
        body=models.CreateShardingKey,
        writes=True,
        params=("timeout",),
        tag="distributed",
    ),
    Operation(
        "POST",
        COLLECTION + "/shards/delete",
        "delete_shard_key",
        lambda c: _distributed(c).delete_shard_key(c.body),
        body=models.DropShardingKey,
        writes=True,
        params=("timeout",),
        tag="distributed",
    ),
    # ---- points --------------------------------------------------------------------------
    Operation(
        "GET",
        POINTS + "/{id}",
        "get_point",
        _get_point,
        params=("consistency",),
    ),
    _read("", "get_points", reads.retrieve, models.PointRequest, tag="points"),
    _write_points("PUT", "", "upsert_points", "upsert", models.PointsBatch | models.PointsList),
    _write_points("POST", "/delete", "delete_points", "delete", SELECTOR),
    _write_points("PUT", "/vectors", "update_vectors", "update_vectors", models.UpdateVectors),
    _write_points(
        "POST", "/vectors/delete", "delete_vectors", "delete_vectors", models.DeleteVectors
    ),
    _write_points("POST", "/payload", "set_payload", "set_payload", models.SetPayload),
    _write_points("PUT", "/payload", "overwrite_payload", "overwrite_payload", models.SetPayload),
    _write_points(
        "POST", "/payload/delete", "delete_payload", "delete_payload", models.DeletePayload
    ),
    _write_points("POST", "/payload/clear", "clear_payload", "clear_payload", SELECTOR),
    Operation(
        "POST",
        POINTS + "/batch",
        "batch_update",
        _batch,
        body=models.UpdateOperations,
        writes=True,
        params=WRITE_PARAMS,
        timed_out=lambda c: [WAIT_TIMEOUT] * len(c.body["operations"]),
    ),
    _read("/scroll", "scroll_points", reads.scroll, models.ScrollRequest, tag="points"),
    _read("/count", "count_points", reads.count, models.CountRequest, tag="points"),
    Operation(
        "POST",
        COLLECTION + "/facet",
        "facet",
        lambda c: engine.read(facets.facet, c.collection, c.body),
        body=models.FacetRequest,
        params=READ_PARAMS,
    ),
    # ---- search --------------------------------------------------------------------------
    _read(
        "/query",
        "query_points",
        query.query,
        models.QueryRequest,
        lookup=True,
        each=query.query_each,
        place=vectors.query_place,
    ),
    _read(
        "/query/batch",
        "query_batch_points",
        query.query_batch,
        models.QueryRequestBatch,
        lookup=True,
        place=vectors.in_batch(vectors.query_place),
    ),
    _read(
        "/search",
        "search_points",
        query.search,
        JSON_OBJECT,
        each=query.search_each,
        place=vectors.search_place,
    ),
    _read(
        "/search/batch",
        "search_batch_points",
        query.search_batch,
        JSON_OBJECT,
        place=vectors.in_batch(vectors.search_place),
    ),
    _read("/recommend", "recommend_points", query.recommend, JSON_OBJECT, lookup=True),
    _read(
        "/recommend/batch",
        "recommend_batch_points",
        query.recommend_batch,
        JSON_OBJECT,
        lookup=True,
    ),
    _read("/search/matrix/pairs", "search_matrix_pairs", matrix.pairs, MATRIX),
    _read("/search/matrix/offsets", "search_matrix_offsets", matrix.offsets, MATRIX),
    _read(
        "/query/groups",
        "query_points_groups",
        groups.query_groups,
        models.QueryGroupsRequest,
        lookup=True,
    ),
    _read("/search/groups", "search_point_groups", groups.search_groups, JSON_OBJECT, lookup=True),
    _read(
        "/recommend/groups",
        "recommend_point_groups",
        groups.recommend_groups,
        JSON_OBJECT,
        lookup=True,
    ),
    # ---- staging: Qdrant's test operations, off unless asked for -------------------------
    Operation(
        "POST",
        COLLECTION + "/debug",
        "staging_operation",
        _write("delay"),
        body=JSON_OBJECT,
        writes=True,
        params=WRITE_PARAMS,
        timed_out=lambda c: WAIT_TIMEOUT,
        staging=True,
    ),
    # ---- snapshots -----------------------------------------------------------------------
    Operation(
        "POST",
        SNAPSHOTS,
        "create_snapshot",
        _accepting(lambda c: snapshots.create(c.db, c.path["collection_name"])),
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    Operation(
        "GET",
        SNAPSHOTS,
        "list_snapshots",
        lambda c: snapshots.list_snapshots(c.db, c.path["collection_name"]),
        tag="snapshots",
    ),
    Operation(
        "DELETE",
        SNAPSHOTS + "/{snapshot_name}",
        "delete_snapshot",
        _accepting(
            lambda c: snapshots.delete(c.db, c.path["collection_name"], c.path["snapshot_name"])
        ),
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    Operation(
        "GET",
        SNAPSHOTS + "/{snapshot_name}",
        "get_snapshot",
        lambda c: _file(
            snapshots.path_of(c.db, c.path["collection_name"], c.path["snapshot_name"])
        ),
        raw=True,
        tag="snapshots",
        extra=FILE_RESPONSE,
    ),
    Operation(
        "POST",
        SNAPSHOTS + "/upload",
        "recover_from_uploaded_snapshot",
        _upload(_recover_upload),
        body=UPLOAD,
        writes=True,
        params=("wait", "priority", "checksum"),
        tag="snapshots",
    ),
    Operation(
        "PUT",
        SNAPSHOTS + "/recover",
        "recover_from_snapshot",
        _accepting(_recover),
        body=models.SnapshotRecover,
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    # ---- full storage snapshots ------------------------------------------------------------
    Operation(
        "GET",
        "/snapshots",
        "list_full_snapshots",
        lambda c: full_snapshots.list_snapshots(c.db),
        tag="snapshots",
    ),
    Operation(
        "POST",
        "/snapshots",
        "create_full_snapshot",
        _accepting(lambda c: full_snapshots.create(c.db)),
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    Operation(
        "DELETE",
        "/snapshots/{snapshot_name}",
        "delete_full_snapshot",
        _accepting(lambda c: full_snapshots.delete(c.db, c.path["snapshot_name"])),
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    Operation(
        "GET",
        "/snapshots/{snapshot_name}",
        "get_full_snapshot",
        lambda c: _file(full_snapshots.path_of(c.db, c.path["snapshot_name"])),
        raw=True,
        tag="snapshots",
        extra=FILE_RESPONSE,
    ),
    # ---- shard snapshots (vqdb's one shard, 0) ---------------------------------------------
    Operation(
        "GET",
        SHARD_SNAPSHOTS,
        "list_shard_snapshots",
        lambda c: snapshots.list_snapshots(c.db, c.path["collection_name"], shard=_shard(c)),
        tag="snapshots",
    ),
    Operation(
        "POST",
        SHARD_SNAPSHOTS,
        "create_shard_snapshot",
        _accepting(lambda c: snapshots.create(c.db, c.path["collection_name"], shard=_shard(c))),
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    Operation(
        "DELETE",
        SHARD_SNAPSHOTS + "/{snapshot_name}",
        "delete_shard_snapshot",
        _accepting(
            lambda c: snapshots.delete(
                c.db, c.path["collection_name"], c.path["snapshot_name"], shard=_shard(c)
            )
        ),
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    Operation(
        "GET",
        SHARD_SNAPSHOTS + "/{snapshot_name}",
        "get_shard_snapshot",
        lambda c: _file(
            snapshots.path_of(
                c.db, c.path["collection_name"], c.path["snapshot_name"], shard=_shard(c)
            )
        ),
        raw=True,
        tag="snapshots",
        extra=FILE_RESPONSE,
    ),
    Operation(
        "POST",
        SHARD_SNAPSHOTS + "/upload",
        "recover_shard_from_uploaded_snapshot",
        _upload(_recover_shard_upload, before=_shard_folder),
        body=UPLOAD,
        writes=True,
        params=("wait", "priority", "checksum"),
        tag="snapshots",
    ),
    Operation(
        "PUT",
        SHARD_SNAPSHOTS + "/recover",
        "recover_shard_from_snapshot",
        _accepting(_recover_shard),
        body=models.ShardSnapshotRecover,
        writes=True,
        params=("wait",),
        tag="snapshots",
    ),
    Operation(
        "GET",
        SHARD + "/snapshot",
        "stream_shard_snapshot",
        lambda c: _sent_once(snapshots.take_to_send(c.db, c.path["collection_name"], _shard(c))),
        writes=True,  # Qdrant asks for write access: it takes a snapshot
        raw=True,
        tag="snapshots",
        extra=FILE_RESPONSE,
    ),
    # Qdrant's partial snapshots, which its replicas exchange (not in its OpenAPI document)
    Operation(
        "GET",
        SHARD + "/snapshot/partial/manifest",
        "get_partial_snapshot_manifest",
        lambda c: snapshots.partial_manifest(c.db, c.path["collection_name"], _shard(c)),
        tag="snapshots",
    ),
    Operation(
        "POST",
        SHARD + "/snapshot/partial/create",
        "create_partial_snapshot",
        _partial_create,
        body=JSON_OBJECT,
        writes=True,
        raw=True,
        tag="snapshots",
        extra=FILE_RESPONSE,
    ),
    Operation(
        "POST",
        SHARD + "/snapshot/partial/recover",
        "recover_partial_snapshot",
        _upload(_recover_shard_upload, before=_shard_folder),
        body=UPLOAD,
        writes=True,
        params=("wait", "priority", "checksum"),
        tag="snapshots",
    ),
]
