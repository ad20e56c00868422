"""Dense query vectors in request bodies, read natively before the body is validated.

A 768-d query is ~9 KB of JSON, and nearly all of the body's parse: pydantic-core made a
Python float of each number (~23 us warm, ~50 us with the caches a search leaves), and the
engine then read them back into a float32 array. Instead, `_core.number_arrays` finds the
arrays of plain numbers in the bytes, with their paths, and parses them straight to float32
(~10 us for 768 numbers); those at a dense vector's place (`Place`, per operation) are cut
out of the body, each left as a one-number placeholder, the rest is validated as before, and
the arrays are put back where their placeholders came out. The engine takes an array wherever
it takes a list of numbers (the embedded client hands it numpy arrays too).

What the scan does not lift (anything not a well-formed array of plain numbers, each finite
in float32; keys with escapes; arrays under MIN_COUNT numbers) stays in the body for the
validator and the engine's own checks, so the answers and errors are the same as without
the lift; a skeleton that does not validate, or whose placeholder the validator changed, is
parsed again whole, so errors are reported on the body as it came.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vqdb.native import _core

# numbers: below this, an array costs more to lift than to parse (and test vectors, mostly
# shorter, keep the validator's path covered)
MIN_COUNT = 32
PLACEHOLDER = b"[0.5]"

Path = tuple[str | int, ...]
Place = Callable[[Path], bool]  # whether a path of a body is a dense vector's place
CUT = object()  # no lift: parse the body whole


def lifted(raw: bytes, place: Place, validate: Callable[[bytes], Any]) -> Any:
    """The body validated with its dense vectors (at `place`) lifted out and put back as
    float32 arrays; CUT where nothing was lifted or the skeleton does not hold together."""
    arrays = [a for a in _core.number_arrays(raw, MIN_COUNT) if place(a[0])]
    if not arrays:
        return CUT
    skeleton = bytearray()
    end = 0
    for _, start, stop, _ in arrays:  # in the order of the text, none inside another
        skeleton += raw[end:start]
        skeleton += PLACEHOLDER
        end = stop
    skeleton += raw[end:]
    try:
        value = _validated(bytes(skeleton), validate)
    except Exception:  # the whole body's parse says what is wrong, in its own words
        return CUT
    for path, _, _, vector in arrays:
        if not _put(value, path, vector):
            return CUT
    return value


# skeletons validated before, by validator: a search's skeleton is the same text request after
# request (`{"query": [0.5], "limit": 10}`), and validating it with the caches a search
# leaves took ~10 us of a request, where a native copy of the value takes ~1. Validation is a
# function of the text alone; the copy is the request's own, free to change.
_VALIDATED: dict[tuple[Any, bytes], Any] = {}
REMEMBERED = 1024
REMEMBERED_BYTES = 2048  # a longer skeleton (a filter, a payload) is seldom sent again


def _validated(skeleton: bytes, validate: Callable[[bytes], Any]) -> Any:
    if len(skeleton) > REMEMBERED_BYTES:
        return validate(skeleton)
    key = (validate, skeleton)
    value = _VALIDATED.get(key)
    if value is None:
        value = validate(skeleton)  # what it refuses is not remembered: it raises again
        if len(_VALIDATED) >= REMEMBERED:
            _VALIDATED.clear()
        _VALIDATED[key] = value
    return _core.json_copy(value)


def _put(value: Any, path: Path, vector: Any) -> bool:
    """Puts `vector` where its placeholder is; True also where the validator dropped the place
    (an unknown field), False where the placeholder is not as it went in."""
    *outer, last = path
    for step in outer:
        value = _step(value, step)
        if value is None:
            return True
    held = _step(value, last)
    if held is None:
        return True
    if held != [0.5]:
        return False
    value[last] = vector
    return True


def _step(value: Any, step: str | int) -> Any:
    if isinstance(step, str):
        return value.get(step) if isinstance(value, dict) else None
    return value[step] if isinstance(value, list) and step < len(value) else None


def query_place(path: Path) -> bool:
    """A QueryRequest's dense query: `query`, or `query.nearest`, in the request itself or in
    its prefetches at any depth (`prefetch` is one object or a list)."""
    if path[-1:] == ("nearest",):
        path = path[:-1]
    if path[-1:] != ("query",):
        return False
    i, outer = 0, path[:-1]
    while i < len(outer):
        if outer[i] != "prefetch":
            return False
        i += 2 if i + 1 < len(outer) and isinstance(outer[i + 1], int) else 1
    return True


def search_place(path: Path) -> bool:
    """A legacy search's vector: `vector`, or a named one's `vector.vector`."""
    return path in (("vector",), ("vector", "vector"))


def in_batch(place: Place) -> Place:
    """The same place in each of a batch's `searches`."""

    def batched(path: Path) -> bool:
        return (
            len(path) > 2
            and path[0] == "searches"
            and isinstance(path[1], int)
            and (place(path[2:]))
        )

    return batched
