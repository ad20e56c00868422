"""float32 values leave by their shortest decimal, as Qdrant (Rust's f32 Display) writes them."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import vqdb
from vqdb.floats import decimal_floats


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), max_size=50))
@example([63083590.0, 1e-45, -3.4028235e38, 0.1, -0.0])  # integers past 2**24 among them
def test_the_shortest_decimal_that_reads_back_as_the_same_float32(values: list[float]) -> None:
    exact = np.array(values, dtype=np.float32)
    shown = decimal_floats(exact)
    assert np.array_equal(shown.astype(np.float32), exact)
    for value, double in zip(exact.tolist(), shown.tolist()):
        # numpy's Dragon4 gives the shortest digits too, the closest where several are
        shortest = np.format_float_scientific(np.float32(value), unique=True, trim="-")
        assert double == float(shortest)


def test_shapes_and_stored_vectors() -> None:
    assert decimal_floats(np.array([[0.1, 0.2], [0.3, -7.25]], np.float32)).tolist() == [
        [0.1, 0.2],
        [0.3, -7.25],
    ]
    special = decimal_floats(np.array([np.inf, -np.inf, np.nan], np.float32)).tolist()
    assert special[:2] == [np.inf, -np.inf] and np.isnan(special[2])
    client = vqdb.Client(":memory:")
    client.create_collection("c", vectors_config={"size": 3, "distance": "Dot"})
    client.upsert("c", [{"id": 1, "vector": [0.15, 0.31, 0.76]}])
    assert client.retrieve("c", [1], with_vectors=True)[0].vector == [0.15, 0.31, 0.76]
    hit = client.query_points("c", query=[1.0, 0.0, 0.0]).points[0]
    assert hit.score == 0.15
