"""Qdrant's formula queries: rescoring the points of a query's prefetches by an expression.

    {"formula": {"sum": ["$score", {"mult": [0.5, "popularity"]}]}, "defaults": {...}}

An expression is a number; a variable (`$score` or `$score[i]`: the point's score in prefetch i,
0 when it was not found there; any other string: the number at that payload key); a condition
(any filter condition: 1 if the point matches, else 0); or an operation: `sum` / `mult` of a
list, `neg`, `abs`, `sqrt`, `exp`, `ln`, `log10`, `div` {left, right, by_zero_default}, `pow`
{base, exponent}, `geo_distance` {origin, to} (meters), `datetime` (a constant) and
`datetime_key` (a payload key), both in seconds, and `exp_decay` / `gauss_decay` / `lin_decay`
{x, target, scale, midpoint}. Evaluation follows Qdrant's rules: in float64, a product stops at
its first zero, a division with a zero numerator is 0, a payload key must hold exactly one
value (or have a default), and a result that is not finite is an error. A key's values are read
as Qdrant reads them: from its payload index where it has one (so only values of the index's
type count), else from the payload, where a null is a value that is not a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vqdb.errors import BadInput
from vqdb.filters import Filter, parse_filter
from vqdb.filters.datetimes import to_micros
from vqdb.filters.geo import EARTH_RADIUS_M, geo_points
from vqdb.filters.index import FieldIndex
from vqdb.filters.paths import parse_path, values_at
from vqdb.segment.ids import PointId


@dataclass
class Point:
    """What an expression sees of one candidate."""

    id: PointId
    payload: Mapping[str, Any] | None
    vectors: Sequence[str]  # the names of the vectors it has (for has_vector conditions)
    scores: Sequence[float | None]  # its score in each prefetch, None where it was not found


Expression = Callable[[Point], float]
_SCORE = re.compile(r"\$score(?:\[(\d+)\])?")
_UNARY: dict[str, Callable[[float], float]] = {
    "neg": lambda x: -x,
    "abs": abs,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "ln": math.log,
    "log10": math.log10,
}
_DECAYS = ("exp_decay", "gauss_decay", "lin_decay")
_F32_MAX = float(np.finfo(np.float32).max)


def compile_formula(
    raw: Any, defaults: Mapping[str, Any] | None, indexes: Mapping[str, FieldIndex] | None = None
) -> Expression:
    """The expression of a FormulaQuery, checked; BadInput names what is wrong. `indexes`: the
    collection's payload indexes by key, which a variable's values are read from (FieldIndex.
    values_of), as Qdrant reads them."""
    if defaults is not None and not isinstance(defaults, Mapping):
        raise BadInput("'defaults' must be an object of variable names to values")
    return _Compiler(dict(defaults or {}), dict(indexes or {})).expression(raw, "formula")


def score(expression: Expression, point: Point) -> float:
    try:
        value = expression(point)
    except OverflowError:  # exp or pow past float64: Qdrant's non-finite error
        raise BadInput("Bad request: The expression produced a non-finite number") from None
    except (ValueError, ZeroDivisionError) as e:
        raise BadInput(f"Bad request: formula: {e}") from None
    value32 = np.float32(value) if abs(value) <= _F32_MAX else np.float32(np.inf)
    if not np.isfinite(value32):  # a score is a float32, as in Qdrant
        raise BadInput(f"Bad request: The expression {value} as f32 produced a non-finite number")
    return float(value32)


class _Compiler:
    def __init__(self, defaults: dict[str, Any], indexes: dict[str, FieldIndex]) -> None:
        self.defaults = defaults
        self.indexes = indexes

    def lookup(self, key: str) -> Callable[[Point], Any]:
        """A point's value at `key` (see _one_value): from the key's index where it has one that
        gives values back, else from the payload, where a null is a value (not a number, not a
        geo point) and not a missing one, as Qdrant reads it."""
        default = self.defaults.get(key)
        index = self.indexes.get(key)

        def value(p: Point) -> Any:
            held = None if index is None else index.values_of(p.payload)
            return _one_value(values_at(p.payload, key) if held is None else held, key, default)

        return value

    def expression(self, raw: Any, where: str) -> Expression:
        if isinstance(raw, bool):
            raise BadInput(f"{where}: expected a number, a variable or an expression")
        if isinstance(raw, (int, float)):
            constant = float(raw)
            return lambda p: constant
        if isinstance(raw, str):
            return self.variable(raw, where)
        if not isinstance(raw, Mapping):
            raise BadInput(f"{where}: expected a number, a variable or an expression")
        if len(raw) == 1:
            ((kind, arg),) = raw.items()
            here = f"{where}.{kind}"
            if kind in ("sum", "mult"):
                if not isinstance(arg, list):
                    raise BadInput(f"{here}: expected a list of expressions")
                parts = [self.expression(a, f"{here}[{i}]") for i, a in enumerate(arg)]
                return _sum(parts) if kind == "sum" else _product(parts)
            if kind in _UNARY:
                inner, op = self.expression(arg, here), _UNARY[kind]
                return lambda p: _finite(op(inner(p)), kind)
            if kind == "div":
                return self.division(arg, here)
            if kind == "pow":
                base = self.expression(_field(arg, "base", here), f"{here}.base")
                power = self.expression(_field(arg, "exponent", here), f"{here}.exponent")
                return lambda p: _finite(math.pow(base(p), power(p)), "pow")
            if kind == "geo_distance":
                return self.geo_distance(arg, here)
            if kind == "datetime":
                seconds = _seconds(arg, here)
                return lambda p: seconds
            if kind == "datetime_key":
                return self.datetime_key(arg, here)
            if kind in _DECAYS:
                return self.decay(kind, arg, here)
        return self.condition(raw, where)

    def variable(self, name: str, where: str) -> Expression:
        if name.startswith("$"):
            found = _SCORE.fullmatch(name)
            if found is None:
                raise BadInput(f"{where}: Invalid reserved variable: {name}")
            i = int(found.group(1) or 0)
            fallback = _number_or(self.defaults.get(f"$score[{i}]", self.defaults.get(name)), 0.0)

            def prefetch_score(p: Point) -> float:
                found = p.scores[i] if i < len(p.scores) else None
                return fallback if found is None else found

            return prefetch_score
        try:
            parse_path(name)
        except ValueError as e:
            raise BadInput(f"{where}: {e}") from None
        lookup = self.lookup(name)

        def payload_number(p: Point) -> float:
            value = lookup(p)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"Expected number value for {name} in the payload and/or in the formula "
                    "defaults. Error: Value is not a number"
                )
            return float(value)

        return payload_number

    def division(self, arg: Any, where: str) -> Expression:
        left = self.expression(_field(arg, "left", where), f"{where}.left")
        right = self.expression(_field(arg, "right", where), f"{where}.right")
        default = arg.get("by_zero_default")

        def divide(p: Point) -> float:
            numerator = left(p)
            if numerator == 0.0:
                return 0.0
            denominator = right(p)
            if denominator == 0.0 and default is not None:
                return float(default)
            if denominator == 0.0:
                raise ValueError(f"The expression {numerator}/{denominator} is not finite")
            return _finite(numerator / denominator, "div")

        return divide

    def geo_distance(self, arg: Any, where: str) -> Expression:
        origin = geo_points([_field(arg, "origin", where)])
        key = _field(arg, "to", where)
        if not origin or not isinstance(key, str):
            raise BadInput(f"{where}: expected {{'origin': {{'lon', 'lat'}}, 'to': payload key}}")
        (lon0, lat0) = origin[0]
        lookup = self.lookup(key)

        def distance(p: Point) -> float:
            points = geo_points([lookup(p)])
            if not points:
                raise ValueError(
                    f"Expected geo point value for {key} in the payload and/or in the formula "
                    "defaults. Error: Value is not a geo point"
                )
            lon, lat = points[0]
            a = (
                math.sin(math.radians(lat - lat0) / 2) ** 2
                + math.cos(math.radians(lat0))
                * math.cos(math.radians(lat))
                * math.sin(math.radians(lon - lon0) / 2) ** 2
            )
            return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))

        return distance

    def datetime_key(self, key: Any, where: str) -> Expression:
        if not isinstance(key, str):
            raise BadInput(f"{where}: expected a payload key")
        lookup = self.lookup(key)

        def seconds(p: Point) -> float:
            return _seconds(lookup(p), key, ValueError)

        return seconds

    def decay(self, kind: str, arg: Any, where: str) -> Expression:
        x = self.expression(_field(arg, "x", where), f"{where}.x")
        target = self.expression(arg.get("target", 0.0), f"{where}.target")
        midpoint = arg.get("midpoint")
        midpoint = 0.5 if midpoint is None else float(midpoint)
        scale = arg.get("scale")
        scale = 1.0 if scale is None else float(scale)
        if kind == "lin_decay" and not 0.0 <= midpoint <= 1.0:
            raise BadInput(
                f"Linear decay midpoint should be in the range [0.0, 1.0], got {midpoint}."
            )
        if kind != "lin_decay" and not 0.0 < midpoint < 1.0:
            raise BadInput(f"Decay midpoint should be in the range (0.0, 1.0), got {midpoint}.")
        if scale <= 0.0:
            raise BadInput(f"Decay scale should be non-zero positive, got {scale}.")
        if kind == "lin_decay":
            lam = (1.0 - midpoint) / scale
            return lambda p: max(0.0, -lam * abs(x(p) - target(p)) + 1.0)
        if kind == "exp_decay":
            lam = math.log(midpoint) / scale
            return lambda p: math.exp(lam * abs(x(p) - target(p)))
        lam = math.log(midpoint) / scale**2
        return lambda p: math.exp(lam * (x(p) - target(p)) ** 2)

    def condition(self, raw: Mapping[str, Any], where: str) -> Expression:
        try:
            condition: Filter | None = parse_filter({"must": [raw]}, where)
        except ValueError as e:
            raise BadInput(str(e)) from None
        if condition is None:
            return lambda p: 1.0
        return lambda p: float(condition.matches(p.payload or {}, p.id, p.vectors))


def _sum(parts: list[Expression]) -> Expression:
    return lambda p: math.fsum(part(p) for part in parts)


def _product(parts: list[Expression]) -> Expression:
    def product(p: Point) -> float:
        total = 1.0
        for part in parts:
            value = part(p)
            if value == 0.0:
                return 0.0
            total *= value
        return total

    return product


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"The expression {what} produced a non-finite number")
    return value


def _field(arg: Any, name: str, where: str) -> Any:
    if not isinstance(arg, Mapping) or name not in arg:
        raise BadInput(f"{where}: '{name}' is required")
    return arg[name]


def _number_or(value: Any, fallback: float) -> float:
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else fallback
    )


def _one_value(values: list[Any], key: str, default: Any) -> Any:
    """The one value found at `key` (an array of one is that value; several are an array),
    else the default."""
    if len(values) == 1:
        return values[0]
    if len(values) > 1:
        return list(values)
    if default is None:
        raise ValueError(
            f"Expected a value for {key} in the payload and/or in the formula defaults. Error: "
            "No value found in a payload nor defaults"
        )
    return default


def _seconds(value: Any, where: str, error: type[Exception] = BadInput) -> float:
    micros = to_micros(value) if isinstance(value, str) else None
    if micros is None:
        raise error(f"{where}: expected a datetime (RFC 3339), got {value!r}")
    return micros / 1_000_000
