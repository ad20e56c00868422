"""Qdrant's geo conditions: a payload value `{"lon": .., "lat": ..}` (or an array of them)
inside a bounding box, a circle or a polygon, with Qdrant's rules: box edges are excluded and
a box whose left edge is east of its right edge crosses the antimeridian; circles measure
haversine distance on a sphere of the mean Earth radius; a polygon holds its inside, minus its
holes, not its boundary. Each shape tests whole arrays of points at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.filters.paths import values_at

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Point = tuple[float, float]  # (lon, lat)

EARTH_RADIUS_M = 6371008.8  # the mean radius: what Qdrant's haversine (the geo crate's) uses


@dataclass(frozen=True, slots=True)
class BoundingBox:
    top_left: Point
    bottom_right: Point

    def contains(self, lon: Array, lat: Array) -> Mask:
        (left, top), (right, bottom) = self.top_left, self.bottom_right
        across = left > right  # the box crosses the antimeridian
        inside: Mask = ((lon > left) | (lon < right)) if across else (left < lon) & (lon < right)
        inside &= (bottom < lat) & (lat < top)
        return inside


@dataclass(frozen=True, slots=True)
class Radius:
    center: Point
    meters: float

    def contains(self, lon: Array, lat: Array) -> Mask:
        lon0, lat0 = map(math.radians, self.center)
        phi, lam = np.radians(lat), np.radians(lon)
        a = (
            np.sin((phi - lat0) / 2) ** 2
            + math.cos(lat0) * np.cos(phi) * np.sin((lam - lon0) / 2) ** 2
        )
        distance = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        inside: Mask = distance < self.meters
        return inside


@dataclass(frozen=True, slots=True)
class Polygon:
    exterior: tuple[Point, ...]
    interiors: tuple[tuple[Point, ...], ...] = ()

    def contains(self, lon: Array, lat: Array) -> Mask:
        inside = _within(self.exterior, lon, lat)
        for hole in self.interiors:
            inside &= ~_within(hole, lon, lat) & ~_on_boundary(hole, lon, lat)
        inside &= ~_on_boundary(self.exterior, lon, lat)
        return inside


Shape = BoundingBox | Radius | Polygon


def _within(ring: Sequence[Point], lon: Array, lat: Array) -> Mask:
    """Even-odd rule: a ray to the east crosses the closed ring an odd number of times."""
    inside = np.zeros(lon.shape, dtype=np.bool_)
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if y1 == y2:
            continue
        straddles = (y1 > lat) != (y2 > lat)
        crossing = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
        inside ^= straddles & (lon < crossing)
    return inside


def _on_boundary(ring: Sequence[Point], lon: Array, lat: Array) -> Mask:
    on = np.zeros(lon.shape, dtype=np.bool_)
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        cross = (x2 - x1) * (lat - y1) - (y2 - y1) * (lon - x1)
        between = (np.minimum(x1, x2) <= lon) & (lon <= max(x1, x2))
        between &= (min(y1, y2) <= lat) & (lat <= max(y1, y2))
        on |= (np.abs(cross) <= 1e-12) & between
    return on


def geo_points(values: Iterable[Any]) -> list[Point]:
    """The geo points among payload values ({"lon", "lat"} objects of numbers); others are
    not points and match no shape."""
    points = []
    for v in values:
        if isinstance(v, dict) and _number(v.get("lon")) and _number(v.get("lat")):
            points.append((float(v["lon"]), float(v["lat"])))
    return points


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True, slots=True)
class Geo:
    """A geo condition on the values at `key`: true if one of its points is in `shape`."""

    key: str
    shape: Shape

    def test(self, payload: Any) -> bool:
        points = geo_points(values_at(payload, self.key))
        if not points:
            return False
        lon, lat = np.array(points, dtype=np.float64).T
        return bool(self.shape.contains(lon, lat).any())


def parse_shape(kind: str, value: Any, where: str) -> Shape:
    """geo_bounding_box / geo_radius / geo_polygon JSON; ValueError names what is wrong."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {value!r}")
    if kind == "geo_bounding_box":
        return BoundingBox(
            _point(value.get("top_left"), f"{where}.top_left"),
            _point(value.get("bottom_right"), f"{where}.bottom_right"),
        )
    if kind == "geo_radius":
        meters = value.get("radius")
        if not isinstance(meters, (int, float)) or isinstance(meters, bool):
            raise ValueError(f"{where}.radius: expected a number of meters, got {meters!r}")
        return Radius(_point(value.get("center"), f"{where}.center"), float(meters))
    interiors = value.get("interiors") or []
    if not isinstance(interiors, list):
        raise ValueError(f"{where}.interiors: expected a list of line strings")
    return Polygon(
        _ring(value.get("exterior"), f"{where}.exterior"),
        tuple(_ring(r, f"{where}.interiors[{i}]") for i, r in enumerate(interiors)),
    )


def _point(value: Any, where: str) -> Point:
    if not geo_points([value]):
        raise ValueError(f"{where}: expected {{'lon': ..., 'lat': ...}}, got {value!r}")
    lon, lat = float(value["lon"]), float(value["lat"])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"{where}: lon must be in [-180, 180] and lat in [-90, 90]")
    return lon, lat


def _ring(value: Any, where: str) -> tuple[Point, ...]:
    """A closed line string of at least 4 points (Qdrant's polygon rules and words)."""
    points = value.get("points") if isinstance(value, dict) else None
    if not isinstance(points, list):
        raise ValueError(f"{where}: expected {{'points': [...]}}")
    ring = tuple(_point(p, f"{where}.points[{i}]") for i, p in enumerate(points))
    if len(ring) <= 3:
        raise ValueError(f"polygon invalid, the size must be at least 4, got {len(ring)}")
    (x0, y0), (x1, y1) = ring[0], ring[-1]
    if abs(x0 - x1) > np.finfo(np.float64).eps or abs(y0 - y1) > np.finfo(np.float64).eps:
        raise ValueError(
            "polygon invalid, the first and the last points should be the same to form a "
            "closed line"
        )
    return ring
