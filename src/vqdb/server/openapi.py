"""GET /openapi.json: the operations vqdb serves, with request bodies described by the same
pydantic models (generated from Qdrant's spec) that check them."""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vqdb.errors import invalid
from vqdb.server.operations import JSON_OBJECT, UPLOAD, Operation

_REF = "#/components/schemas/{model}"

_PARAMS: dict[str, dict[str, Any]] = {
    "wait": {"type": "boolean"},
    "timeout": {"type": "integer", "minimum": 1},
    "ordering": {"type": "string", "enum": ["weak", "medium", "strong"]},
    "consistency": {
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "enum": ["majority", "quorum", "all"]},
        ]
    },
    "priority": {"type": "string", "enum": ["no_sync", "snapshot", "replica"]},
    "checksum": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},  # else 422 (operations.py)
    "details_level": {"type": "integer", "minimum": 0},
    "per_collection": {"type": "boolean"},
    "force": {"type": "boolean"},
    "with": {"type": "string"},
    "completed_limit": {"type": "integer", "minimum": 0},
}


def query_problem(name: str, raw: str) -> str | None:
    """Why a query parameter's text does not match its schema in _PARAMS, or None if it does
    (Qdrant refuses `wait=0.5` or `timeout=-1` with a 400 rather than guessing; a number under
    the minimum, `timeout=0`, is its validator's 422: raised as OutOfRange)."""
    schema = _PARAMS.get(name)
    if schema is None or _matches(raw, schema):
        return None
    if schema.get("type") == "integer" and re.fullmatch(r"[0-9]{1,19}", raw):  # well-formed
        minimum = schema["minimum"]
        raise invalid(name, f"value {raw} invalid, must be {minimum} or larger", "query parameters")
    return f"Query deserialize error: {name}={raw!r} is not {_describe(schema)}"


def _matches(raw: str, schema: dict[str, Any]) -> bool:
    if "anyOf" in schema:
        return any(_matches(raw, option) for option in schema["anyOf"])
    if "enum" in schema:
        return raw in schema["enum"]
    kind = schema.get("type")
    if kind == "boolean":
        return raw in ("true", "false")
    if kind == "integer":
        return re.fullmatch(r"[0-9]{1,19}", raw) is not None and int(raw) >= schema["minimum"]
    return kind == "string"


def _describe(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_describe(option) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(schema["enum"])
    if schema.get("type") == "integer":
        return f"an integer >= {schema['minimum']}"
    return "true or false" if schema.get("type") == "boolean" else "a string"


_PATH_PARAMS: dict[str, dict[str, Any]] = {
    "id": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "format": "uuid"}]},
    "shard_id": {"type": "integer", "minimum": 0, "maximum": (1 << 32) - 1},
}

_ERROR = {
    "type": "object",
    "properties": {
        "status": {"type": "object", "properties": {"error": {"type": "string"}}},
        "time": {"type": "number"},
    },
}


def document(operations: Sequence[Operation], version: str) -> dict[str, Any]:
    models = sorted({m for op in operations for m in _models(op.body)}, key=lambda m: m.__name__)
    refs, schemas = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    for name in ("healthz", "livez", "readyz"):
        paths[f"/{name}"] = {"get": _plain(name, "text/plain")}
    paths["/"] = {"get": _plain("root", "application/json")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vqdb",
            "description": "Qdrant's REST API, served by vqdb",
            "version": version,
        },
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }


def _models(body: Any) -> list[type[BaseModel]]:
    if isinstance(body, type) and issubclass(body, BaseModel):
        return [body]
    return [m for m in typing.get_args(body) if isinstance(m, type) and issubclass(m, BaseModel)]


def _operation(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMS.get(name, {"type": "string"}),
        }
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": _PARAMS[name]}
        for name in op.params
    ]
    described: dict[str, Any] = {
        "operationId": op.name,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": {
            "200": {"description": "successful operation"},
            "4XX": {
                "description": "error",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if op.body is UPLOAD:
        form = {
            "type": "object",
            "properties": {"snapshot": {"type": "string", "format": "binary"}},
        }
        described["requestBody"] = {"content": {"multipart/form-data": {"schema": form}}}
    elif op.body is JSON_OBJECT:
        described["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    elif op.body is not None:
        members = [refs[(m, "validation")] for m in _models(op.body)]
        schema = members[0] if len(members) == 1 else {"anyOf": members}
        described["requestBody"] = {"content": {"application/json": {"schema": schema}}}
    if "requestBody" in described:  # an empty body is a 400, as in Qdrant (its spec says optional)
        described["requestBody"]["required"] = True
    for key, value in op.extra.items():  # merged: a row's own 200 keeps the shared 4XX
        merged = {**described[key], **value} if isinstance(described.get(key), dict) else value
        described[key] = merged
    return described


def _plain(name: str, media_type: str) -> dict[str, Any]:
    return {
        "operationId": name,
        "tags": ["service"],
        "responses": {"200": {"description": name, "content": {media_type: {}}}},
    }
