"""Key paths: parsing, reading (Qdrant's leaf-array rule), set_payload and delete_payload."""

from __future__ import annotations

import copy

import pytest

from vqdb.filters import delete_at, parse_path, pick, raw_values, set_at, values_at

DOC = {
    "a": {"b": [{"c": 1}, {"c": 2}, {"d": {"e": 3}}]},
    "f": 3,
    "g": ["g0", "g1", "g2"],
    "arr": [{"x": [1, 2, 3]}, {"x": 4}, {"y": 5}],
    "n": None,
    "dotted.key": {"z": 9},
}


@pytest.mark.parametrize(
    ("key", "steps"),
    [
        ("a", ("a",)),
        ("a.b", ("a", "b")),
        ("a[]", ("a", None)),
        ("a[0].b", ("a", 0, "b")),
        ("foo[1][50].bar-baz[]", ("foo", 1, 50, "bar-baz", None)),
        ('"dotted.key".z', ("dotted.key", "z")),
        ('a."x[.]y"', ("a", "x[.]y")),
        ("ключ.名前", ("ключ", "名前")),
    ],
)
def test_parse_path(key: str, steps: tuple[object, ...]) -> None:
    assert parse_path(key) == steps


@pytest.mark.parametrize("key", ["", ".a", "a.", "a..b", "a[x]", "a[", "a b", 'a."b', "a[-1]"])
def test_parse_path_rejects(key: str) -> None:
    with pytest.raises(ValueError, match="bad key"):
        parse_path(key)


@pytest.mark.parametrize(
    ("key", "raw", "flat"),
    [
        ("f", [3], [3]),
        ("g", [["g0", "g1", "g2"]], ["g0", "g1", "g2"]),
        ("g[]", ["g0", "g1", "g2"], ["g0", "g1", "g2"]),
        ("g[2]", ["g2"], ["g2"]),
        ("g[3]", [], []),
        ("a.b[].c", [1, 2], [1, 2]),
        ("a.b[1].c", [2], [2]),
        ("a.b[].d.e", [3], [3]),
        ("a.b.c", [], []),  # keys do not step through arrays: a.b[].c does
        ("arr[].x", [[1, 2, 3], 4], [1, 2, 3, 4]),
        ("arr[].x[]", [1, 2, 3], [1, 2, 3]),
        ("n", [None], [None]),
        ("missing", [], []),
        ("f.deeper", [], []),
        ('"dotted.key".z', [9], [9]),
    ],
)
def test_read(key: str, raw: list[object], flat: list[object]) -> None:
    assert raw_values(DOC, key) == raw
    assert values_at(DOC, key) == flat


def test_read_nothing() -> None:
    assert values_at(None, "a") == []
    assert raw_values({}, "a.b") == []


def test_nested_arrays_open_one_level() -> None:
    assert values_at({"a": [[1, 2], 3]}, "a") == [[1, 2], 3]
    assert values_at({"a": [[1, 2], 3]}, "a[]") == [1, 2, 3]


@pytest.mark.parametrize(
    ("before", "key", "values", "after"),
    [
        ({"a": 1}, None, {"b": 2}, {"a": 1, "b": 2}),
        ({"a": 1, "b": 2}, None, {"b": None}, {"a": 1}),  # null removes, as Qdrant merges
        ({"a": {"b": 1, "c": 2}}, "a", {"b": 5}, {"a": {"b": 5, "c": 2}}),
        ({}, "k1.k2", {"c": 1}, {"k1": {"k2": {"c": 1}}}),
        ({"a": 10}, "a.b.c", {"x": 1}, {"a": {"b": {"c": {"x": 1}}}}),
        # an index past the end sets nothing (Qdrant's value_set never grows an array)
        ({}, "k[3]", {"c": 1}, {"k": []}),
        ({"a": [{"b": 1}]}, "a[1]", {"d": 4}, {"a": [{"b": 1}]}),
        ({"a": []}, "a.b[0]", {}, {"a": {"b": []}}),
        ({"a": [[{"a": "w"}]]}, "a[0][0]", {"b": "q"}, {"a": [[{"a": "w", "b": "q"}]]}),
        ({"a": [{"c": 1}, {"c": 2}]}, "a[1]", {"c": 5}, {"a": [{"c": 1}, {"c": 5}]}),
        ({"a": [{"c": 1}, 7]}, "a[]", {"d": 0}, {"a": [{"c": 1, "d": 0}, {"d": 0}]}),
        ({}, "k1.k2[].k3", {"c": 1}, {"k1": {"k2": []}}),
        (None, None, {"a": [1]}, {"a": [1]}),
    ],
)
def test_set_at(
    before: dict[str, object] | None,
    key: str | None,
    values: dict[str, object],
    after: dict[str, object],
) -> None:
    original = copy.deepcopy(before)
    assert set_at(before, key, values) == after
    assert before == original  # the input is never modified


def test_set_at_copies_values() -> None:
    values = {"l": [1]}
    result = set_at({}, None, values)
    result["l"].append(2)
    assert values == {"l": [1]}


DELETE_DOC = {
    "a": 1,
    "b": {"c": 123, "e": {"f": [1, 2, 3], "g": 7, "i": [{"j": 1, "k": 2}, {"j": 3, "k": 4}]}},
}


@pytest.mark.parametrize(
    ("key", "check"),
    [
        ("a", lambda d: "a" not in d and "b" in d),
        ("b.c", lambda d: d["b"].keys() == {"e"}),
        ("b.e.f[1]", lambda d: d["b"]["e"]["f"] == [1, 3]),
        ("b.e.f[9]", lambda d: d["b"]["e"]["f"] == [1, 2, 3]),
        ("b.e.i[0].j", lambda d: d["b"]["e"]["i"] == [{"k": 2}, {"j": 3, "k": 4}]),
        ("b.e.i[].k", lambda d: d["b"]["e"]["i"] == [{"j": 1}, {"j": 3}]),
        ("b.e.i[]", lambda d: d["b"]["e"]["i"] == []),
        ("b.e", lambda d: d["b"] == {"c": 123}),
        ("zzz", lambda d: d == DELETE_DOC),
        ("a.b", lambda d: d == DELETE_DOC),
    ],
)
def test_delete_at(key: str, check: object) -> None:
    original = copy.deepcopy(DELETE_DOC)
    result = delete_at(DELETE_DOC, key)
    assert check(result)  # type: ignore[operator]
    assert original == DELETE_DOC


def test_pick_keeps_only_the_included_paths() -> None:
    """with_payload.include with nested paths, as Qdrant's payload selector cuts them."""
    payload = {
        "country": {
            "name": "Germany",
            "capital": "Berlin",
            "cities": [{"name": "Berlin", "pop": 3.7}, {"name": "Munich", "pop": 1.5}],
        },
        "other": 1,
    }
    assert pick(payload, ["country.name", "country.capital"]) == {
        "country": {"name": "Germany", "capital": "Berlin"}
    }
    assert pick(payload, ["country.cities[].name"]) == {
        "country": {"cities": [{"name": "Berlin"}, {"name": "Munich"}]}
    }
    assert pick(payload, ["country.cities[].name", "country.cities[].pop", "other"]) == {
        "country": {"cities": payload["country"]["cities"]},
        "other": 1,
    }
    assert pick(payload, ["country.cities[1]", "missing.key"]) == {
        "country": {"cities": [{"name": "Munich", "pop": 1.5}]}
    }
    assert pick(payload, []) == {}
