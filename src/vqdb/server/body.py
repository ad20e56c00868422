"""Request bodies: read under the size limit, refused past the nesting limit, and parsed against
the operation's schema, big ones in a worker thread and in slices.

- Size: `service.max_request_size_mb` counts the bytes actually read. A chunked body declares
  no length, so the body is streamed and refused (413) as soon as the count passes the limit;
  the app then closes the connection rather than read the rest.
- Depth: JSON nested deeper than MAX_DEPTH (Qdrant's parser, serde_json, fails at the 128th) is
  refused (400) before any parser sees it: Python's json recurses per level and raised
  RecursionError (a 500) at ~1000, and the engine's filter parser recursed past Python's limit
  well before that. One check for every route, once, on the bytes.
- Parsing: a body up to INLINE bytes is parsed on the event loop (its parse takes under a
  millisecond; a hop to a worker thread and back costs ~0.1 ms). A bigger one is parsed in a
  worker thread, but a thread alone does not keep the server answering: json and pydantic hold
  the GIL for a whole call (~6-20 ms per MB here), so the event loop waits as long as one call
  runs. Each big array of a body (an upsert's points or columns, a batch's searches or
  operations) is therefore validated SLICE bytes at a time against its field's type, the GIL
  handed back between slices. What cannot be cut (one huge string, one huge object) is parsed
  in one call.
"""

from __future__ import annotations

import json
import threading
import time
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator, core_schema, from_json, to_jsonable_python
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from vqdb.native import _core
from vqdb.server import vectors

MAX_DEPTH = 127  # arrays and objects inside one another: as deep as serde_json goes (Qdrant's)
INLINE = 64 << 10  # bodies up to this size are parsed on the event loop
SLICE = 1 << 20  # big arrays are validated this many bytes at a time (~6-20 ms of GIL each)
_MAX_MEMBERS = 256  # objects with more members are not searched for big arrays

# Qdrant's request structs that hold their fields in a flattened inner struct, by the OpenAPI
# name: its validator names a field through the inner one (`internal.limit`)
FLATTENED = {
    "QueryRequest": "internal",
    "QueryGroupsRequest": "search_group_request",
    "FacetRequest": "facet_request",
    "ScrollRequest": "scroll_request",
    "SearchRequest": "search_request",
    "SearchGroupsRequest": "search_group_request",
    "PointRequest": "point_request",
    "RecommendRequest": "recommend_request",
    "RecommendGroupsRequest": "recommend_group_request",
    "DiscoverRequest": "discover_request",
    "CountRequest": "count_request",
}

# pydantic error types that mean "out of range" (Qdrant's 422), not "malformed" (400)
_RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "string_too_short",
    "string_too_long",
    "multiple_of",
}
_DUMP: dict[str, Any] = {
    "mode": "json",
    "by_alias": True,
    "exclude_unset": True,
    "exclude_none": True,
}

_QUOTE, _BACKSLASH, _COMMA, _COLON = b'"\\,:'
_OPEN_ARRAY, _CLOSE_ARRAY, _OPEN_OBJECT, _CLOSE_OBJECT = b"[]{}"


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Schema:
    """A body's schema: pydantic's validator for it, rebuilt so that every list, set, tuple and
    dict stops at its first bad item, as serde does (pydantic goes on and reports each one: a
    megabyte of bad items held the GIL ~10 s, mostly building their errors), and pydantic's
    serializer, which drops what the client left out."""

    def __init__(self, declared: Any) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(declared)
        self.validator = _fail_fast(self.adapter.core_schema)
        self.plain = _fail_fast(_plain(self.adapter.core_schema))
        name = getattr(declared, "__name__", "")
        self.flattened = FLATTENED.get(name) or FLATTENED.get(name.removesuffix("Batch"))
        self.batch = name.endswith("Batch")

    def validate(self, raw: bytes, where: tuple[str, ...] = (), at: int = 0) -> Any:
        """`where`, `at`: the path and first index of a slice, for the errors' locations."""
        try:
            return self.validator.validate_json(raw)
        except ValidationError as e:
            raise invalid(e, where, at, self._qdrant_path) from None

    def _qdrant_path(self, loc: tuple[Any, ...]) -> tuple[Any, ...]:
        """Where Qdrant's validator says a field is: past the struct its request flattens
        (`internal.limit` in a QueryRequest; `searches[0].internal.limit` in a batch)."""
        if self.flattened is None:
            return loc
        if not self.batch:
            return (self.flattened, *loc)
        if len(loc) >= 2 and loc[0] == "searches" and isinstance(loc[1], int):
            return (*loc[:2], self.flattened, *loc[2:])
        return loc

    def dump(self, value: Any) -> Any:
        return self.adapter.dump_python(value, **_DUMP)

    def parsed(self, raw: bytes, where: tuple[str, ...] = (), at: int = 0) -> Any:
        """The body as the engine takes it, what `dump(validate(raw))` gives, in one pass:
        validated by the plain-JSON twin of the models (`_plain`). What it refuses goes through
        the models, whose errors name the union branches as Qdrant's words need."""
        try:
            return self.plain.validate_json(raw)
        except ValidationError:
            return self.dump(self.validate(raw, where, at))


async def receive(
    request: Request, limit: int, schema: Schema | None, place: vectors.Place | None = None
) -> Any:
    """The request's JSON body, checked against `schema` (None: any JSON object), its dense
    vectors at `place` read natively (server/vectors.py)."""
    raw = await read(request, limit)
    if len(raw) <= INLINE:
        return parse(raw, schema, place)
    return await run_in_threadpool(parse, raw, schema, place)


async def read(request: Request, limit: int) -> bytes:
    """The body's bytes; 413 once more than `limit` have come, chunked or not."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:  # the ASGI messages themselves: Starlette's stream() is a generator around this
        message = await request.receive()
        if message["type"] == "http.disconnect":  # no one hears the answer; not a server fault
            raise HttpError(400, "Payload error: the client left before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> HttpError:
    return HttpError(413, f"Payload too large: the limit is {limit >> 20} MB")


def parse(raw: bytes, schema: Schema | None, place: vectors.Place | None = None) -> Any:
    """The body as JSON checked against the operation's schema, with the fields a client left
    out (or set to null) absent, so the engine applies Qdrant's defaults (schema None: any JSON
    object, unchecked). Unknown fields are dropped, as Qdrant's server ignores them, except in
    filters and payload selectors, whose models refuse them as Qdrant does."""
    scan = None
    if len(raw) > SLICE or _opening(raw) > MAX_DEPTH:
        scan = _Scan(raw)
        if scan.max_depth > MAX_DEPTH:
            raise HttpError(
                400,
                "Format error in JSON body: recursion limit exceeded: nested deeper than "
                f"{MAX_DEPTH} levels at byte {scan.too_deep_at()}",
            )
    if scan is not None and len(raw) > SLICE:
        big = scan.big_arrays(raw)
        if big:
            value = _sliced(raw, schema, big)
            if value is not _UNCUT:
                return value
    if place is not None and len(raw) <= INLINE:
        value = vectors.lifted(
            raw, place, _object if schema is None else schema.plain.validate_json
        )
        if value is not vectors.CUT:
            return value
    if schema is None:
        return _object(raw)
    return schema.parsed(raw)


def _opening(raw: bytes) -> int:
    """How many `[` and `{` the text holds (strings included): a bound on its depth. Counted
    natively: numpy's pass over an 8 KB query took ~19 us in the server, where each request
    follows a search that leaves the caches cold (2.6 us in a warm loop), bytes.count ~8."""
    return _core.openings(raw)


def _object(raw: bytes) -> dict[str, Any]:
    value = _decode(raw)
    if not isinstance(value, dict):
        raise HttpError(400, "Format error in JSON body: expected a JSON object")
    return value


def _decode(raw: bytes) -> Any:
    """JSON without a schema (the legacy search and recommend bodies), by pydantic-core's
    parser, as the schema's bodies are: a third of json.loads's time for a 768-d query
    (~23 against ~69 us), and its errors in serde_json's words ("expected value at line 1
    column 1"); a lone surrogate escape is refused, as serde_json refuses it."""
    try:
        return from_json(raw)
    except ValueError as e:  # malformed, or bytes that are not UTF-8
        raise HttpError(400, f"Format error in JSON body: {e}") from None
    except RecursionError:  # MAX_DEPTH keeps bodies far from it; never a 500 all the same
        raise HttpError(400, "Format error in JSON body: recursion limit exceeded") from None


def invalid(
    e: ValidationError,
    where: tuple[str, ...] = (),
    at: int = 0,
    qdrant_path: Callable[[tuple[Any, ...]], tuple[Any, ...]] = tuple,
) -> HttpError:
    """Qdrant's 422 for values out of range, in its validator's words, 400 for the rest.
    `where`, `at`: the path and first index of the slice that was validated, so that errors
    name the place in the body."""
    errors = e.errors(include_url=False)
    in_range = _matched_branch(errors)
    if in_range:  # well-formed, out of range
        problems = ", ".join(
            f"{_path((*where, *qdrant_path(_no_branches(_shifted(err['loc'], at)))))}: "
            f"{_range_message(err)}"
            for err in in_range[:5]
        )
        return HttpError(422, f"Validation error in JSON body: [{problems}]")
    return HttpError(400, f"Format error in JSON body: {_described(errors, where, at)}")


def _path(loc: tuple[Any, ...]) -> str:
    """A location as Qdrant's validator writes it: `points[0].vector`."""
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else f"{'.' if out else ''}{step}"
    return out or "body"


def _range_message(error: Any) -> str:
    """Qdrant's validator's words for a bound (`value 0 invalid, must be 1 or larger`);
    pydantic's for the rest."""
    ctx, value = error.get("ctx") or {}, error.get("input")
    if error["type"] == "greater_than_equal":
        return f"value {_number(value)} invalid, must be {_number(ctx['ge'])} or larger"
    if error["type"] == "less_than_equal":
        return f"value {_number(value)} invalid, must be {_number(ctx['le'])} or smaller"
    return str(error["msg"])


def _number(value: Any) -> str:
    """As serde_json writes a number: floats with their decimal point (0.0, -1.0)."""
    return json.dumps(value) if isinstance(value, (int, float)) else str(value)


def _described(errors: Sequence[Any], where: tuple[str, ...], at: int) -> str:
    return ", ".join(
        f"{'.'.join(str(p) for p in (*where, *_shifted(err['loc'], at))) or 'body'}: {err['msg']}"
        for err in errors[:5]
    )


def _out_of_range(error: Any) -> bool:
    return (
        error["type"] in _RANGE_ERRORS
        and not _unsigned_negative(error)
        and not (error.get("input") == 0 and _non_zero(error["loc"]))
    )


def _non_zero(loc: tuple[Any, ...]) -> bool:
    """A field Qdrant types NonZero (the spec says only `minimum: 1`): serde refuses a 0 as
    malformed (400) before any validator runs."""
    names = tuple(p for p in loc if isinstance(p, str) and not _is_model_name(p))
    return names[-2:] == ("slice", "total")


def _matched_branch(errors: Sequence[Any]) -> list[Any]:
    """The errors if all are out of range. Where the body failed every branch of a union
    (pydantic names each branch's model in the location), the errors of a branch that failed
    only on ranges: the body has that branch's shape, as Qdrant's serde would have read it
    before its validator refused a value."""
    if all(_out_of_range(err) for err in errors):
        return list(errors)
    branches: dict[tuple[Any, ...], list[Any]] = {}
    for err in errors:
        loc = err["loc"]
        step = next((i for i, p in enumerate(loc) if _is_model_name(p)), None)
        if step is None:
            return []
        branches.setdefault(loc[: step + 1], []).append(err)
    return next((found for found in branches.values() if all(map(_out_of_range, found))), [])


def _is_model_name(step: Any) -> bool:
    # the models' fields are snake_case, their classes CamelCase
    return isinstance(step, str) and step[:1].isupper()


def _no_branches(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(p for p in loc if not _is_model_name(p))


def _unsigned_negative(error: Any) -> bool:
    """A negative number where the schema's minimum is not: Qdrant's field is unsigned, so
    serde refuses it as malformed (400) before its validator would see a range (422)."""
    bound = (error.get("ctx") or {}).get("ge", (error.get("ctx") or {}).get("gt"))
    value = error.get("input")
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value < 0
        and isinstance(bound, (int, float))
        and bound >= 0
    )


def _shifted(loc: tuple[int | str, ...], at: int) -> tuple[int | str, ...]:
    for i, step in enumerate(loc):
        if isinstance(step, int):
            return (*loc[:i], step + at, *loc[i + 1 :])
    return loc


# ---- big bodies in slices --------------------------------------------------------------------

_UNCUT = object()  # _sliced could not cut the body: parse it whole


@dataclass
class _BigArray:
    """An array reached from the root through object members only, and too big for one call:
    the skeleton keeps its first group of elements, the other groups are parsed one by one."""

    path: tuple[str, ...]
    cut: tuple[int, int]  # bytes left out of the skeleton (after the first group, to the `]`)
    first: int  # elements in the first group
    groups: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, elements)


def _sliced(raw: bytes, schema: Schema | None, big: list[_BigArray]) -> Any:
    """The body parsed as its skeleton (the body without most of its big arrays' elements),
    then each big array's other elements a group at a time, validated against the type of
    the field that holds them; _UNCUT if a field's type cannot be told."""
    skeleton = bytearray()
    end = 0
    for array in sorted(big, key=lambda a: a.cut):
        skeleton += raw[end : array.cut[0]]
        end = array.cut[1]
    skeleton += raw[end:]
    if schema is None:
        value: Any = _object(bytes(skeleton))
        parsers: list[Schema | None] = [None] * len(big)
    else:
        parsed = schema.validate(bytes(skeleton))
        types_ = [_field_type(parsed, array.path) for array in big]
        if any(t is _UNCUT for t in types_):
            return _UNCUT
        value = schema.dump(parsed)
        parsers = [_schema(t) for t in types_]
    targets = [_at(value, array.path) for array in big]
    if not all(isinstance(t, list) for t in targets):
        return _UNCUT
    for array, target, parser in zip(big, targets, parsers):
        at = array.first
        for start, stop, count in array.groups:
            time.sleep(0)  # hands the GIL over: the event loop answers between groups
            piece = b"[" + raw[start:stop] + b"]"
            if parser is None:
                target.extend(_decode(piece))
            else:
                target.extend(parser.parsed(piece, array.path, at))
            at += count
    return value


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _field_type(parsed: Any, path: tuple[str, ...]) -> Any:
    """The declared type of the value at `path` of a validated body (model fields by their JSON
    names, dict keys by the dict's value type); _UNCUT where it cannot be told."""
    node, declared = parsed, _UNCUT
    for key in path:
        if isinstance(node, BaseModel):
            name = next(
                (n for n, f in type(node).model_fields.items() if (f.alias or n) == key), None
            )
            if name is None:
                return _UNCUT
            declared, node = type(node).model_fields[name].annotation, getattr(node, name)
        elif isinstance(node, dict) and key in node:
            declared, node = _dict_values(declared), node[key]
        else:
            return _UNCUT
        if declared is _UNCUT:
            return _UNCUT
    return declared


def _dict_values(declared: Any) -> Any:
    """V of dict[str, V], or of the one dict type in a union; _UNCUT otherwise."""
    if declared is _UNCUT:
        return _UNCUT
    members = typing.get_args(declared) if _is_union(declared) else (declared,)
    dicts = [m for m in members if typing.get_origin(m) is dict]
    if len(dicts) != 1:
        return _UNCUT
    args = typing.get_args(dicts[0])
    return args[1] if len(args) == 2 else Any


def _is_union(declared: Any) -> bool:
    return typing.get_origin(declared) in (typing.Union, types.UnionType)


_SCHEMAS: dict[Any, Schema] = {}


def _schema(declared: Any) -> Schema:
    try:
        return _SCHEMAS[declared]
    except KeyError:
        made = _SCHEMAS[declared] = Schema(declared)
        return made
    except TypeError:  # an unhashable annotation
        return Schema(declared)


_SEQUENCES = {"list", "set", "frozenset", "tuple", "dict"}
_CLASSES = {"model", "dataclass", "typed-dict"}  # the schemas pydantic-core may take prebuilt
_BUILDING = threading.Lock()


def _fail_fast(core_schema: Any) -> SchemaValidator:
    """A validator of `core_schema` with `fail_fast` on every list, set, tuple and dict. The
    validators of the models inside are built from the schema too: pydantic-core reuses a
    complete model's own validator (`__pydantic_validator__`, without fail_fast) unless the
    class reads as incomplete, which the models do while this validator is built."""
    models: set[type] = set()

    def rebuilt(node: Any) -> Any:
        if isinstance(node, list):
            return [rebuilt(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: v if k == "metadata" else rebuilt(v) for k, v in node.items()}
        kind = out.get("type")
        if not isinstance(kind, str):  # a field named "type"
            return out
        if kind in _SEQUENCES:
            out["fail_fast"] = True
        elif kind in _CLASSES and isinstance(out.get("cls"), type):
            models.add(out["cls"])
        return out

    schema = rebuilt(core_schema)
    missing = object()
    with _BUILDING:
        saved = {m: m.__dict__.get("__pydantic_complete__", missing) for m in models}
        try:
            for model in saved:
                type.__setattr__(model, "__pydantic_complete__", False)
            return SchemaValidator(schema)
        finally:
            for model, was in saved.items():
                if was is missing:
                    type.__delattr__(model, "__pydantic_complete__")
                else:
                    type.__setattr__(model, "__pydantic_complete__", was)


_AS_JSON = {"enum", "datetime", "date", "time", "timedelta", "uuid", "decimal", "url"}


def _plain(schema: Any) -> Any:
    """`schema` rebuilt to give what the models' JSON dump gives (by alias, without unset or
    null fields) straight from validation: each model a typed dict of its fields by their JSON
    names, defaults dropped (a field left out stays out), its null fields dropped after; each
    root model its root; an enum, a date or a URL its JSON value. The field schemas, and so the
    checks, are the models' own; tests/api/test_body.py compares the two on every operation."""
    if isinstance(schema, list):
        return [_plain(node) for node in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind in _AS_JSON or "serialization" in schema:
        return core_schema.no_info_after_validator_function(to_jsonable_python, schema)
    if kind == "union" and _models_beside_objects(schema["choices"]):
        # a typed dict and a dict would tie where the models' union picks the dict: the
        # models pick, and the one picked is dumped as the models' dump would
        return core_schema.no_info_after_validator_function(_dumped, schema)
    if kind == "model" and schema.get("root_model"):
        root, ref = _plain(schema["schema"]), schema.get("ref")
        return {**root, "ref": ref} if ref else root
    if kind == "model":
        inner, ref = schema["schema"], schema.get("ref")
        fields = {}
        for name, declared in inner["fields"].items():
            value, required = declared["schema"], True
            if value.get("type") == "default":
                value, required = value["schema"], False
            alias = declared.get("validation_alias")
            fields[declared.get("serialization_alias") or name] = core_schema.typed_dict_field(
                _plain(value),
                required=required,
                validation_alias=alias if isinstance(alias, list) else None,
            )
        extra = (schema.get("config") or {}).get("extra_fields_behavior", "ignore")
        typed = core_schema.typed_dict_schema(fields, extra_behavior=extra)
        return core_schema.no_info_after_validator_function(_without_nulls, typed, ref=ref)
    return {k: v if k == "metadata" else _plain(v) for k, v in schema.items()}


def _models_beside_objects(choices: list[Any]) -> bool:
    kinds = {(c[0] if isinstance(c, tuple) else c).get("type") for c in choices}
    return bool(kinds & {"model", "definition-ref"}) and bool(kinds & {"dict", "any"})


def _dumped(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(**_DUMP)
    return to_jsonable_python(value)


def _without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class _Scan:
    """The structure of a JSON text, found with numpy (whose loops release the GIL): the
    positions of the brackets, commas and colons outside strings, and the nesting depth after
    each. Nothing is decoded; a malformed text is left for the parser to describe."""

    def __init__(self, raw: bytes) -> None:
        b = np.frombuffer(raw, np.uint8)
        quotes = _where(b == _QUOTE)
        after = quotes[quotes > 0]
        after = after[b[after - 1] == _BACKSLASH]
        if after.size:
            quotes = np.setdiff1d(quotes, after[_escaped(b, after)], assume_unique=True)
        found = []
        for start in range(0, len(b), _BLOCK):  # a block at a time: positions as int32
            block = b[start : start + _BLOCK]
            marks = (block == _OPEN_ARRAY) | (block == _OPEN_OBJECT) | (block == _CLOSE_ARRAY)
            marks |= (block == _CLOSE_OBJECT) | (block == _COMMA) | (block == _COLON)
            at = _where(marks) + np.int32(start)
            # outside strings: an even number of (unescaped) quotes before
            found.append(at[np.searchsorted(quotes, at) % 2 == 0])
        pos = np.concatenate(found) if found else np.zeros(0, np.int32)
        kind = b[pos]
        step = (kind == _OPEN_ARRAY).astype(np.int8) + (kind == _OPEN_OBJECT)
        step -= (kind == _CLOSE_ARRAY).astype(np.int8) + (kind == _CLOSE_OBJECT)
        self.pos: npt.NDArray[np.int32] = pos
        self.kind: npt.NDArray[np.uint8] = kind
        self.depth: npt.NDArray[np.int32] = np.cumsum(step, dtype=np.int32)
        self.max_depth = int(self.depth.max()) if self.depth.size else 0

    def too_deep_at(self) -> int:
        return int(self.pos[int(np.argmax(self.depth > MAX_DEPTH))])

    def big_arrays(self, raw: bytes) -> list[_BigArray]:
        """The arrays of more than SLICE bytes reachable from a root object through members,
        none if the text is not one well-formed object (the parser will say what is wrong)."""
        depth, kind = self.depth, self.kind
        if not depth.size or kind[0] != _OPEN_OBJECT or kind[-1] != _CLOSE_OBJECT:
            return []
        if depth[-1] != 0 or int(depth.min()) != 0 or np.count_nonzero(depth == 0) != 1:
            return []
        if raw[: self.pos[0]].strip() or raw[self.pos[-1] + 1 :].strip():
            return []
        found: list[_BigArray] = []
        self._members(raw, 0, len(depth) - 1, (), found)
        return found

    def _members(
        self, raw: bytes, i: int, j: int, path: tuple[str, ...], found: list[_BigArray]
    ) -> None:
        """The members of the object from marks i to j (its braces) that hold big arrays."""
        depth, kind, pos = self.depth, self.kind, self.pos
        level = int(depth[i])
        inside = slice(i + 1, j)
        here = np.flatnonzero(
            (depth[inside] == level) & ((kind[inside] == _COMMA) | (kind[inside] == _COLON))
        )
        here += i + 1
        colons = here[kind[here] == _COLON]
        bounds = np.concatenate(([i], here[kind[here] == _COMMA], [j]))
        if len(colons) != len(bounds) - 1 or len(colons) > _MAX_MEMBERS:
            return
        keys = []
        for start, colon in zip(bounds[:-1], colons):
            key = _key(raw[pos[start] + 1 : pos[colon]])
            if key is None:
                return
            keys.append(key)
        if len(set(keys)) != len(keys):  # the last one counts: cutting the first would not do
            return
        for key, colon, stop in zip(keys, colons, bounds[1:]):
            if pos[stop] - pos[colon] <= SLICE:
                continue
            first, last = colon + 1, stop - 1  # a container's brackets, if the value is one
            if first >= stop or depth[last] != level:
                continue
            if kind[first] == _OPEN_OBJECT and kind[last] == _CLOSE_OBJECT:
                self._members(raw, first, last, (*path, key), found)
            elif kind[first] == _OPEN_ARRAY and kind[last] == _CLOSE_ARRAY:
                array = self._elements(first, last, (*path, key))
                if array is not None:
                    found.append(array)

    def _elements(self, i: int, j: int, path: tuple[str, ...]) -> _BigArray | None:
        """The array from marks i to j (its brackets) cut into groups of about SLICE bytes,
        each ending at one of its own commas."""
        depth, kind, pos = self.depth, self.kind, self.pos
        inside = slice(i + 1, j)
        commas = pos[_where((depth[inside] == depth[i]) & (kind[inside] == _COMMA)) + (i + 1)]
        start, stop = int(pos[i]) + 1, int(pos[j])
        # the last comma before each multiple of SLICE from the start ends a group
        ends = np.searchsorted(commas, np.arange(start + SLICE, stop, SLICE)) - 1
        ends = np.unique(ends[ends >= 0])
        if not ends.size:
            return None
        edges = [int(e) for e in commas[ends]]
        counts = [int(c) for c in np.diff(ends, append=len(commas))]  # elements after each edge
        array = _BigArray(path, (edges[0], stop), int(ends[0]) + 1)
        for edge, end, count in zip(edges, [*edges[1:], stop], counts):
            array.groups.append((edge + 1, end, count))
        return array


_BLOCK = 8 << 20


def _where(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """np.flatnonzero as int32 (bodies are far below 2 GB): half the memory."""
    found: npt.NDArray[np.int32] = np.flatnonzero(mask).astype(np.int32)
    return found


def _escaped(b: npt.NDArray[np.uint8], quotes: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """Which of these quotes (each right after a backslash) are escaped: an odd run of
    backslashes before them."""
    slashes = _where(b == _BACKSLASH)
    starts = np.ones(slashes.size, bool)
    starts[1:] = np.diff(slashes) != 1
    run_start = np.maximum.accumulate(np.where(starts, slashes, 0))
    run = quotes - run_start[np.searchsorted(slashes, quotes - 1)]
    escaped: npt.NDArray[np.bool_] = run % 2 == 1
    return escaped


def _key(raw: bytes) -> str | None:
    try:
        key = json.loads(raw)
    except ValueError:
        return None
    return key if isinstance(key, str) else None
