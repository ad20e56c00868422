"""Payload key paths as Qdrant spells them: `a.b`, `a[].b`, `a[0]`, `"dotted.key".c`.

A path is a tuple of steps: a key (str), an array index (int), or None for `[]` (every
element). Reading follows Qdrant's JSON path rules: keys step into objects only (no implicit
walk through arrays; write `a[].b` for that), and the value found at the end is kept whole.
Conditions then look one level inside a leaf array, so `tags: ["a", "b"]` matches "a".

Writes (`set_at`, `delete_at`) never touch their input: they return an updated deep copy,
because the caller's payload may be shared with a reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from vqdb.native import _core

Step = str | int | None
Path = tuple[Step, ...]

# Qdrant's unquoted key characters: letters, digits, '_' and '-'.
_RAW_RUN = re.compile(r"(?:\w|-)+", re.UNICODE)


@lru_cache(maxsize=4096)
def parse_path(key: str) -> Path:
    """Splits a key path into steps; ValueError names the key when it is not a valid path."""
    if not isinstance(key, str):
        raise ValueError(f"a key must be a string, got {key!r}")
    steps: list[Step] = []
    i, n = 0, len(key)
    while i < n or not steps:
        if not steps or key[i] == ".":
            i += 1 if steps else 0
            if i < n and key[i] == '"':
                end = key.find('"', i + 1)
                if end < 0:
                    raise ValueError(f"bad key {key!r}: unterminated quote")
                steps.append(key[i + 1 : end])
                i = end + 1
                continue
            m = _RAW_RUN.match(key, i)
            if m is None:
                raise ValueError(f"bad key {key!r}: expected a name at position {i}")
            steps.append(m.group())
            i = m.end()
        elif key[i] == "[":
            end = key.find("]", i)
            inner = key[i + 1 : end] if end > 0 else "?"
            if inner == "":
                steps.append(None)
            elif inner.isascii() and inner.isdigit():
                steps.append(int(inner))
            else:
                raise ValueError(f"bad key {key!r}: expected [] or [index] at position {i}")
            i = end + 1
        else:
            raise ValueError(f"bad key {key!r}: unexpected {key[i]!r} at position {i}")
    return tuple(steps)


def raw_values(payload: Mapping[str, Any] | None, key: str) -> list[Any]:
    """The values a path reaches, leaf arrays kept whole (what is_empty / values_count see)."""
    out: list[Any] = []
    if payload is not None:
        _collect(payload, parse_path(key), 0, out)
    return out


def values_at(payload: Mapping[str, Any] | None, key: str) -> list[Any]:
    """The values a condition tests: raw values with leaf arrays opened one level."""
    out: list[Any] = []
    for value in raw_values(payload, key):
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out


def _collect(value: Any, path: Path, i: int, out: list[Any]) -> None:
    if i == len(path):
        out.append(value)
        return
    step = path[i]
    if isinstance(step, str):
        if isinstance(value, Mapping) and step in value:
            _collect(value[step], path, i + 1, out)
    elif isinstance(value, list):
        if step is None:
            for element in value:
                _collect(element, path, i + 1, out)
        elif step < len(value):
            _collect(value[step], path, i + 1, out)


def set_at(
    payload: Mapping[str, Any] | None, key: str | None, values: Mapping[str, Any]
) -> dict[str, Any]:
    """set_payload: merges `values` into the object(s) at `key` (the top level when None).

    Missing keys are created as objects and a scalar in the way is replaced, as Qdrant does;
    an index past the end of an array sets nothing (a non-array there becomes []). A null in
    `values` removes that key (Qdrant's merge).
    """
    result: dict[str, Any] = _core.json_copy(dict(payload or {}))
    path: Path = parse_path(key) if key is not None else ()
    _set(result, path, values)
    return result


def _set(dest: Any, path: Path, values: Mapping[str, Any]) -> Any:
    """Returns what should now sit where `dest` was (dest itself, updated, when possible)."""
    if not path:
        obj = dest if isinstance(dest, dict) else {}
        for k, v in values.items():
            if v is None:
                obj.pop(k, None)
            else:
                obj[k] = _core.json_copy(v)
        return obj
    step, rest = path[0], path[1:]
    if isinstance(step, str):
        obj = dest if isinstance(dest, dict) else {}
        obj[step] = _set(obj.get(step), rest, values)
        return obj
    if step is None:
        if not isinstance(dest, list):
            return []  # nothing to project onto; Qdrant leaves an empty array
        for i, element in enumerate(dest):
            dest[i] = _set(element, rest, values)
        return dest
    array = dest if isinstance(dest, list) else []
    if step < len(array):  # Qdrant never grows an array: a missing element is left alone
        array[step] = _set(array[step], rest, values)
    return array


def delete_at(payload: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    """delete_payload for one key path: `a.b` drops b inside a, `a[].b` drops b from every
    element of a, `a[1]` removes that element, `a[]` empties the array."""
    result: dict[str, Any] = _core.json_copy(dict(payload or {}))
    _delete(result, parse_path(key))
    return result


def _delete(value: Any, path: Path) -> None:
    step, rest = path[0], path[1:]
    if not rest:
        if isinstance(step, str):
            if isinstance(value, dict):
                value.pop(step, None)
        elif isinstance(value, list):
            if step is None:
                value.clear()
            elif step < len(value):
                del value[step]
        return
    if isinstance(step, str):
        if isinstance(value, dict) and step in value:
            _delete(value[step], rest)
    elif isinstance(value, list):
        children = value if step is None else value[step : step + 1]
        for child in children:
            _delete(child, rest)


_MISSING = object()


def pick(payload: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
    """The payload cut down to the given key paths (with_payload.include), nested as found:
    `country.name` keeps {"country": {"name": ...}}, `a[].b` keeps b of every element of a."""
    picked: dict[str, Any] = {}
    for key in keys:
        found = _pick(payload, parse_path(key))
        if found is not _MISSING:
            picked = _merge(picked, found)
    return picked


def _pick(value: Any, path: Path) -> Any:
    if not path:
        return _core.json_copy(value)
    step, rest = path[0], path[1:]
    if isinstance(step, str):
        if not isinstance(value, Mapping) or step not in value:
            return _MISSING
        inner = _pick(value[step], rest)
        return _MISSING if inner is _MISSING else {step: inner}
    if not isinstance(value, list):
        return _MISSING
    children = value if step is None else value[step : step + 1]
    kept = [found for found in (_pick(child, rest) for child in children) if found is not _MISSING]
    return kept


def _merge(a: Any, b: Any) -> Any:
    """Two picks of one payload, merged (objects key by key, arrays element by element)."""
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = _merge(merged[key], value) if key in merged else value
        return merged
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [_merge(x, y) for x, y in zip(a, b)]
    return b
