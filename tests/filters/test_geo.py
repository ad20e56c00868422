"""Geo conditions with Qdrant's rules (open box edges, the antimeridian, haversine on the mean
Earth radius, polygons with holes and without their boundary), answered alike by a payload scan
and by a geo index, on random points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from filter_fakes import FakePoints

from vqdb.filters import Filter, build_index, parse_filter


def where(condition: dict[str, Any]) -> Filter:
    f = parse_filter({"must": [{"key": "loc", **condition}]})
    assert f is not None
    return f


def matching(points: FakePoints, f: Filter) -> list[int]:
    return np.flatnonzero(f.mask(points)).tolist()


def at(lon: float, lat: float) -> dict[str, Any]:
    return {"loc": {"lon": lon, "lat": lat}}


def box(left: float, top: float, right: float, bottom: float) -> dict[str, Any]:
    corner = {"top_left": {"lon": left, "lat": top}, "bottom_right": {"lon": right, "lat": bottom}}
    return {"geo_bounding_box": corner}


def ring(*corners: tuple[float, float]) -> dict[str, Any]:
    return {"points": [{"lon": x, "lat": y} for x, y in (*corners, corners[0])]}


SQUARE = ring((0, 0), (10, 0), (10, 10), (0, 10))
HOLE = ring((4, 4), (6, 4), (6, 6), (4, 6))


@pytest.mark.parametrize("indexed", [False, True])
def test_shapes(indexed: bool) -> None:
    payloads = [
        at(5, 5),  # 0: in the square's hole
        at(2, 2),  # 1
        at(10, 5),  # 2: on the square's edge
        {"loc": [{"lon": 179.5, "lat": 1}, {"lon": 50, "lat": 50}]},  # 3: two points
        at(0.5, 0.5),  # 4: 78626.296 m from (0, 0) by Qdrant's haversine
        {"loc": {"lon": "1", "lat": 1}},  # 5: not a geo point
        None,  # 6
    ]
    points = FakePoints(payloads, indexes={"loc": "geo"} if indexed else None)
    assert matching(points, where(box(0, 10, 10, 0))) == [0, 1, 4]  # edges are outside
    assert matching(points, where(box(179, 2, -179, 0))) == [3]  # across the antimeridian
    near = {"geo_radius": {"center": {"lon": 0, "lat": 0}, "radius": 78626.3}}
    assert matching(points, where(near)) == [4]
    near["geo_radius"]["radius"] = 78626.29
    assert matching(points, where(near)) == []
    polygon = {"geo_polygon": {"exterior": SQUARE}}
    assert matching(points, where(polygon)) == [0, 1, 4]
    polygon["geo_polygon"]["interiors"] = [HOLE]
    assert matching(points, where(polygon)) == [1, 4]
    if indexed:
        assert points.reads == []  # the index answered, no payload was read


def test_index_agrees_with_scan() -> None:
    rng = np.random.default_rng(3)
    coords = np.column_stack([rng.uniform(-180, 180, 500), rng.uniform(-90, 90, 500)])
    payloads = [at(float(x), float(y)) for x, y in coords]
    scan, index = FakePoints(payloads), FakePoints(payloads, indexes={"loc": "geo"})
    triangle = {"exterior": ring((-100, -50), (120, -10), (0, 80))}
    for condition in (
        box(-60, 40, 90, -30),
        box(150, 60, -120, -60),
        {"geo_radius": {"center": {"lon": 10, "lat": 20}, "radius": 3_000_000}},
        {"geo_polygon": triangle},
    ):
        found = matching(scan, where(condition))
        assert found and found == matching(index, where(condition))


def test_an_index_settled_then_written_agrees_with_scan() -> None:
    rng = np.random.default_rng(4)
    coords = np.column_stack([rng.uniform(-180, 180, 300), rng.uniform(-90, 90, 300)])
    payloads: list[Any] = [at(float(x), float(y)) for x, y in coords]
    index = FakePoints(payloads, indexes={"loc": "geo"})
    geo = index.indexes["loc"]
    geo.settle()  # columns hold them all
    for offset in range(0, 300, 7):  # moved: dead in the columns, held since
        payloads[offset] = at(float(rng.uniform(-60, 90)), float(rng.uniform(-30, 40)))
        geo.add(offset, payloads[offset])
    for offset in range(3, 300, 11):  # gone
        payloads[offset] = None
        geo.remove(offset)
    index.payloads = payloads
    scan = FakePoints(payloads)
    for step in ("written", "settled", "restored"):
        if step == "restored":  # from its state, as from a segment's files
            facts, arrays = geo.state()
            geo = index.indexes["loc"] = build_index("geo", "loc")
            geo.restore(facts, arrays)
        assert geo.count() == sum(p is not None for p in payloads)
        for condition in (
            box(-60, 40, 90, -30),
            {"geo_radius": {"center": {"lon": 10, "lat": 20}, "radius": 3_000_000}},
        ):
            found = matching(scan, where(condition))
            assert found and found == matching(index, where(condition)), step
        geo.settle()


@pytest.mark.parametrize(
    ("polygon", "message"),
    [
        ({"exterior": {"points": SQUARE["points"][:3]}}, "the size must be at least 4, got 3"),
        ({"exterior": {"points": SQUARE["points"][:4]}}, "first and the last points should be"),
        ({"exterior": ring((0, 0), (200, 0), (0, 1))}, "lon must be in"),
    ],
)
def test_bad_polygons(polygon: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        where({"geo_polygon": polygon})
