"""A payload index's distinct values as sorted arrays (filters/vocabulary.py): against a dict,
across merges and restores from read-only arrays; and index files written before, with values
as a JSON list, read back."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqdb.filters import build_index, parse_filter
from vqdb.filters import vocabulary as vocabulary_module
from vqdb.filters.index import MapIndex
from vqdb.filters.vocabulary import Vocabulary

# prefixes of one another, multi-byte characters, a lone surrogate (JSON can hold one)
STRINGS = st.text(alphabet="ab\u00e9\u00ff\U0001f600\ud800 ", max_size=4)
EDGES = [2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**18, -(10**18), 10**18 - 1, 0]
INTS = st.integers(-(2**70), 2**70) | st.integers(-3, 3) | st.sampled_from(EDGES)
KINDS = {str: STRINGS, int: INTS, bool: st.booleans()}


def frozen_copy(vocabulary: Vocabulary, kind: type) -> Vocabulary:
    """Made again from its arrays, read-only as memory maps are."""
    arrays = {k: a.copy() for k, a in vocabulary.state().items()}
    for a in arrays.values():
        a.setflags(write=False)
    again = Vocabulary(kind)
    again.restore(arrays)
    return again


@pytest.mark.parametrize("sampled", [vocabulary_module.SAMPLED, 2])
@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_codes_stay_true_to_values_across_merges(
    kind: type, sampled: int, data: st.DataObject
) -> None:
    """sampled 2: a search starts in the list of every other value (at 64, only past 64)."""
    with mock.patch.object(vocabulary_module, "SAMPLED", sampled):
        _codes_stay_true(kind, data)


def _codes_stay_true(kind: type, data: st.DataObject) -> None:
    ops = data.draw(
        st.lists(KINDS[kind] | st.sampled_from(["merge", "prune", "restore"]), max_size=40)
    )
    vocabulary = Vocabulary(kind)
    codes: dict[Any, int] = {}  # the model: value -> code
    for op in ops:
        if op == "merge":
            renumbered = vocabulary.merge()
            if renumbered is not None:
                codes = {v: int(renumbered[c]) for v, c in codes.items()}
            assert vocabulary.merge() is None  # nothing since
            ranked = list(vocabulary)
            assert ranked == sorted(ranked, key=lambda v: str(int(v)) if kind is not str else v)
        elif op == "prune":  # a merge told which values an index holds: the others may go
            held = [c for c in codes.values() if data.draw(st.booleans())]
            renumbered = vocabulary.merge(np.array(held, np.int64))
            if renumbered is not None:
                gone = [v for v, c in codes.items() if renumbered[c] < 0]
                assert all(codes[v] not in held for v in gone)
                if gone:  # then every value not held went, being more than a quarter
                    assert len(codes) - len(held) == len(gone) > len(codes) / 4
                codes = {v: int(renumbered[c]) for v, c in codes.items() if renumbered[c] >= 0}
        elif op == "restore":
            renumbered = vocabulary.merge()
            if renumbered is not None:
                codes = {v: int(renumbered[c]) for v, c in codes.items()}
            vocabulary = frozen_copy(vocabulary, kind)
        else:
            code = vocabulary.add(op)
            assert codes.setdefault(op, code) == code
        assert len(vocabulary) == len(codes)
        assert sorted(codes.values()) == list(range(len(codes)))
        for value, code in codes.items():
            assert vocabulary.find(value) == code and vocabulary[code] == value
            assert type(vocabulary[code]) is kind
    if kind is int:  # what order_by reads: the 64-bit ones
        ints, fits = vocabulary.integers()
        for value, code in codes.items():
            assert bool(fits[code]) == (-(2**63) <= value < 2**63), value
            assert int(ints[code]) == (value if fits[code] else 0)
    absent = data.draw(KINDS[kind])
    assert vocabulary.find(absent) == codes.get(absent)
    if kind is str:
        prefix = data.draw(STRINGS)
        want = sorted(c for v, c in codes.items() if v.startswith(prefix))
        assert sorted(vocabulary.prefixed(prefix).tolist()) == want


def test_a_list_of_values_reads_back_with_each_position_coded() -> None:
    values = ["pear", "apple", "fig", ""]
    vocabulary, renumbered = Vocabulary.of(str, values)
    assert list(vocabulary) == ["", "apple", "fig", "pear"]
    assert [vocabulary[c] for c in renumbered.tolist()] == values


@pytest.mark.parametrize(
    ("schema", "values", "queries"),
    [
        (
            "keyword",
            ["zeta", "alpha", "al", "é", "beta"],
            [{"value": "al"}, {"any": ["é", "zeta"]}, {"except": ["alpha"]}, {"prefix": "al"}],
        ),
        ("integer", [7, -2, 2**65, 0], [{"value": 2**65}, {"any": [-2, 7]}, {"except": [0]}]),
        (
            {"type": "text"},
            ["dog fox", "fox", "quick dog"],
            [{"text": "fox"}, {"phrase": "dog fox"}],
        ),
    ],
)
def test_an_index_written_with_its_values_as_a_list_reads_back(
    schema: Any, values: list[Any], queries: list[dict[str, Any]]
) -> None:
    """Session 23 wrote a map index's values (a text index's tokens) as a JSON list in the
    order first seen, its codes positions in it: such files still serve, renumbered."""
    index = build_index(schema, "k")
    for offset, value in enumerate(values):
        index.add(offset, {"k": value})
    index.settle()
    _, arrays = index.state()
    # the old layout: the values in reverse (not sorted), the codes pointing into that list
    prefix = "lookup." if schema == "integer" else ""
    vocabulary = Vocabulary(int if schema == "integer" else str)
    vocabulary.restore({k[len(prefix) :]: a for k, a in arrays.items() if k.startswith(prefix)})
    old = list(vocabulary)[::-1]
    legacy = {k: a for k, a in arrays.items() if k[len(prefix) :] not in vocabulary.state()}
    for part in (prefix + "codes", "doc_codes"):
        if part in legacy:
            legacy[part] = (len(old) - 1 - legacy[part]).astype(legacy[part].dtype)
    facts = {("tokens" if isinstance(schema, dict) else "values"): old}
    again = build_index(schema, "k")
    again.restore(json.loads(json.dumps(facts)), legacy)
    for query in queries:
        condition = parse_filter({"must": {"key": "k", "match": query}}).must[0]
        got, want = again.mask(condition, 8), index.mask(condition, 8)
        assert got is not None and want is not None
        assert got.tolist() == want.tolist() and want.any(), query
    if isinstance(index, MapIndex) and isinstance(again, MapIndex):
        assert list(again.postings()[0]) == list(index.postings()[0])
    assert np.array_equal(again.state()[1][prefix + "codes"], arrays[prefix + "codes"])


@pytest.mark.parametrize("schema", ["keyword", "integer", {"type": "text"}])
def test_values_no_point_holds_are_dropped(schema: Any) -> None:
    """A field whose values churn: each settle sorts the new values in and drops those no
    point holds once they are a quarter of all, so the index stays the size of what it holds
    (it grew until the optimizer rebuilt the segment), and answers as before."""
    index = build_index(schema, "k")
    text = isinstance(schema, dict)

    def value(i: int) -> Any:
        return f"w{i} common" if text else (f"v{i}" if schema == "keyword" else i)

    for round_ in range(50):
        for offset in range(20):
            index.add(offset, {"k": value(round_ * 20 + offset)})
        index.settle()
    held = index.postings()[0] if isinstance(index, MapIndex) else None
    if schema == "integer":
        held = index._lookup.postings()[0]  # type: ignore[attr-defined]
    count = len(index._tokens) if text else len(held)  # type: ignore[attr-defined, arg-type]
    assert count <= 2 * 20 + 1  # what 20 points hold (and "common"), not 1000 values
    last = 49 * 20
    for offset in range(20):
        now, before = value(last + offset), value(last - 20 + offset)
        if text:
            now, before = now.split()[0], before.split()[0]
        for v, want in ((now, [offset]), (before, []), ("common", list(range(20)))):
            if v == "common" and not text:
                continue
            match = {"text": v} if text else {"value": v}
            condition = parse_filter({"must": {"key": "k", "match": match}}).must[0]
            got = index.mask(condition, 20)
            assert got is not None and np.flatnonzero(got).tolist() == want, (v, want)
