"""An optimized segment's payloads in a records file, read in place (on disk, Qdrant's `cold`;
or read ahead into the page cache, `cached`, for `on_disk_payload: false`), under the ones
written since; the same answers as payloads held in RAM."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from vqdb.collection import facets, memory, query, reads, storage
from vqdb.collection import optimizer as optimizer_module
from vqdb.database import Database
from vqdb.errors import StorageError
from vqdb.filters.conditions import MatchAny, MatchValue
from vqdb.follower import Follower
from vqdb.segment import builder, files
from vqdb.segment.payloads import Payloads
from vqdb.segment.segment import Segment
from vqdb.storage.records import Records, write_records

DIM = 8

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(min_size=1), json_values, min_size=1, max_size=5)


def test_records_round_trip_and_refuse_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "r.records"
    write_records(path, [b"ab", b"", b"\x00\xff" * 100, b""], 4)
    records = Records(path)
    assert len(records) == 4
    assert [records.get(i) for i in range(5)] == [b"ab", None, b"\x00\xff" * 100, None, None]
    assert records.present().tolist() == [0, 2]
    assert records.data_bytes == 202

    whole = path.read_bytes()
    (tmp_path / "cut.records").write_bytes(whole[:-1])
    with pytest.raises(StorageError, match="truncated"):
        Records(tmp_path / "cut.records")
    (tmp_path / "bad.records").write_bytes(b"NOTMAGIC" + whole[8:])
    with pytest.raises(StorageError, match="not a records file"):
        Records(tmp_path / "bad.records")
    with pytest.raises(ValueError):  # a count that is not the records'
        write_records(tmp_path / "short.records", [b"a"], 2)
    assert not list(tmp_path.glob("*.tmp"))


@settings(max_examples=60, deadline=None)
@given(
    stored=st.lists(st.none() | payloads, max_size=12),
    ops=st.lists(
        st.tuples(st.sampled_from(["set", "del"]), st.integers(0, 15), payloads), max_size=25
    ),
)
def test_payloads_over_a_file_behave_as_a_dict(
    tmp_path_factory: pytest.TempPathFactory, stored: list[Any], ops: list[Any]
) -> None:
    path = tmp_path_factory.mktemp("p") / "payloads.records"
    write_records(path, [json.dumps(p).encode() if p else b"" for p in stored], len(stored))
    model = {o: p for o, p in enumerate(stored) if p}
    under_test = Payloads(stored=Records(path))
    mark = under_test.mark()
    before = dict(model)
    for op, offset, payload in ops:
        if op == "set":
            under_test[offset] = payload
            model[offset] = payload
        elif offset in model:
            del under_test[offset]
            del model[offset]
        else:
            assert offset not in under_test
            with pytest.raises(KeyError):
                del under_test[offset]
    assert dict(under_test.items()) == model
    assert len(under_test) == len(model)
    assert all((o in under_test) == (o in model) for o in range(17))
    assert all(under_test.get(o) == model.get(o) for o in range(17))
    changed = dict(under_test.changed_since(mark))
    # every offset whose payload differs now was reported written, with its payload now
    assert all(
        changed[o] == model.get(o)
        for o in set(model) | set(before)
        if model.get(o) != before.get(o)
    )
    assert all(model.get(o) == p for o, p in changed.items())
    raw = [under_test.raw(o) for o in range(17)]
    assert [json.loads(r) if r else None for r in raw] == [model.get(o) for o in range(17)]


scalars = st.text() | st.integers(min_value=-(2**70), max_value=2**70) | st.booleans()


@settings(max_examples=200, deadline=None)
@given(wanted=scalars, others=st.lists(json_values, max_size=3), nested=st.booleans())
def test_a_payload_a_match_holds_on_holds_its_needle_in_its_text(
    wanted: Any, others: list[Any], nested: bool
) -> None:
    """What lets a scan skip parsing a stored payload: wherever a match holds, its value's
    JSON is in the payload's compact JSON (the records file's text)."""
    value = [*others, wanted] if nested else wanted
    payload = {"other": others, "k": {"inner": value} if nested else value}
    key = "k.inner" if nested else "k"
    conditions: list[Any] = [MatchValue(key, wanted)]
    if not isinstance(wanted, bool):
        kind = str if isinstance(wanted, str) else int
        conditions.append(MatchAny(key, frozenset([wanted]), kind))
    for c in conditions:
        assert c.test(payload)
        text = to_json(payload)
        assert any(needle in text for needle in c.needles())


def test_a_stored_payload_without_the_needle_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "p.records"
    stored = [{"tier": "t1"}, {"tier": "t3"}, {"name": 't3 "quoted"'}]
    write_records(path, [to_json(p) for p in stored], 3)
    payloads = Payloads({3: {"tier": "t1"}}, Records(path))
    needles = MatchValue("tier", "t3").needles()
    assert [payloads.get_holding(o, needles) for o in range(4)] == [
        None,
        {"tier": "t3"},
        None,  # the text has t3, not "t3"
        {"tier": "t1"},  # held: returned as it is
    ]


def body(on_disk_payload: bool, threshold: int = 1) -> dict[str, Any]:
    return {
        "vectors": {"size": DIM, "distance": "Cosine"},
        "on_disk_payload": on_disk_payload,
        "optimizers_config": {"indexing_threshold": threshold},
    }


def points(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    words = ["red", "green", "blue", "é😀", ""]
    payloads: list[dict[str, Any] | None] = [
        None
        if i % 11 == 0
        else {
            "i": i,
            "big": 2**65 + i,
            "f": float(rng.standard_normal()),
            "colour": words[i % 5],
            "tags": [words[(i + k) % 5] for k in range(i % 3)],
            "nested": {"deep": {"x": i % 4}},
            "quote": ['say "hi"\n', "back\\slash", i % 3],
            "flag": i % 2 == 0,
        }
        for i in range(n)
    ]
    return {"batch": {"ids": list(range(n)), "vectors": x, "payloads": payloads}}


def edit(c: Any) -> None:
    """Writes to the payloads of points of an optimized segment."""
    c.set_payload({"payload": {"colour": "violet", "new": [1, 2]}, "points": [1, 2, 3, 22]})
    c.overwrite_payload({"payload": {"only": True}, "points": [4]})
    c.delete_payload({"keys": ["colour", "nested.deep"], "points": [5, 6]})
    c.clear_payload({"points": [7]})
    c.set_payload({"payload": {"came": "back"}, "points": [11]})  # had none
    c.delete({"points": [8, 9]})


def answers(c: Any) -> list[Any]:
    everything = {"limit": 1000, "with_payload": True}
    filters = [
        {"must": [{"key": "colour", "match": {"value": "violet"}}]},
        {"must": [{"key": "nested.deep.x", "range": {"gte": 2}}]},
        {"must": [{"is_empty": {"key": "colour"}}]},
        {
            "should": [
                {"key": "tags", "match": {"any": ["red"]}},
                {"key": "only", "match": {"value": True}},
            ]
        },
        {"must": [{"key": "quote", "match": {"value": 'say "hi"\n'}}]},
        {"must": [{"key": "quote", "match": {"any": [2, 7]}}]},
        {"must": [{"key": "flag", "match": {"value": False}}]},
        {"must": [{"key": "tags", "match": {"any": ["é😀", "blue"]}}]},
        {"must_not": [{"key": "colour", "match": {"value": "green"}}]},
        {"must": [{"key": "big", "match": {"value": 2**65 + 12}}]},
    ]
    q = np.random.default_rng(3).standard_normal(DIM).tolist()
    return [
        reads.scroll(c, everything),
        *[reads.scroll(c, {**everything, "filter": f}) for f in filters],
        *[reads.count(c, {"filter": f, "exact": True}) for f in filters],
        query.query(c, {"query": q, "limit": 20, "with_payload": True, "params": {"exact": True}}),
        reads.retrieve(c, {"ids": list(range(0, 30)), "with_payload": True}),
    ]


@pytest.fixture(autouse=True)
def quick_optimizer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optimizer_module, "QUIET_SECONDS", 0.01)


def optimized(db: Database, on_disk: bool, n: int, index: str | None = None) -> Any:
    """Collection "a" of `points(n)`, in one optimized segment (`index`: a keyword index)."""
    c = db.create_collection("a", body(on_disk))
    if index is not None:
        c.create_payload_index({"field_name": index, "field_schema": "keyword"})
    c.upsert(points(n))
    settle(c)
    return c


def settle(c: Any) -> None:
    assert c.optimizer.wait_idle(60)
    while any(s.appendable and s.count for s in c.segments):  # pragma: no cover - timing
        time.sleep(0.05)


def test_on_disk_payloads_answer_as_payloads_in_ram(tmp_path: Path) -> None:
    seen: dict[bool, list[Any]] = {}
    for on_disk in (True, False):
        path = tmp_path / str(on_disk)
        with Database(path, optimizer_threads=1) as db:
            c = optimized(db, on_disk, 300, index="colour")
            built = [s for s in c.segments if not s.appendable]
            assert built and all(s.payloads.held_count == 0 for s in built)
            assert all(s.payloads.stored.cached != on_disk for s in built)  # type: ignore[union-attr]
            edit(c)
            first = answers(c)
            counts = [a["count"] for a in first if isinstance(a, dict) and "count" in a]
            assert len(counts) == 10 and all(0 < n < c.points_count for n in counts), counts
            ram = memory.memory(c)["payloads"]["bytes_per_point"]
            assert (ram["ram"] < ram["disk"] / 20) == on_disk, ram
        with Database(path) as db:  # as the files left them
            assert answers(db.collection("a")) == first
        seen[on_disk] = first
    assert seen[True] == seen[False]
    for on_disk in (True, False):  # `cached` is the same file, read ahead
        records = list((tmp_path / str(on_disk)).glob("collections/a/segments/*/payloads.records"))
        assert len(records) == 1


@pytest.mark.parametrize("on_disk", [True, False], ids=["on_disk", "cached"])
def test_a_checkpoint_writes_only_what_changed(tmp_path: Path, on_disk: bool) -> None:
    """After a restart, a payload written to an optimized segment is written with the next
    generation; its records file, graph and vectors are not written again."""
    with Database(tmp_path, optimizer_threads=1) as db:
        optimized(db, on_disk, 300)
    folder = next(p.parent for p in tmp_path.glob("collections/a/segments/*/payloads.records"))
    unchanging = {
        p: p.stat().st_mtime_ns for p in folder.iterdir() if not p.name.split(".")[-2].isdigit()
    }
    assert any("graph" in p.name for p in unchanging)
    time.sleep(0.01)
    with Database(tmp_path) as db:
        c = db.collection("a")
        c.set_payload({"payload": {"x": 1}, "points": [1]})
        storage.checkpoint(c)
        generation = c.generation
    assert {p: p.stat().st_mtime_ns for p in unchanging} == unchanging
    written = json.loads((folder / f"payloads.{generation}.json").read_text())
    journal = written["journal"]
    lines = (folder / journal["file"]).read_bytes()[: journal["count"]].splitlines()
    [[offset, payload]] = [json.loads(line) for line in lines]
    assert offset == 1 and payload["x"] == 1 and payload["i"] == 1 and written["stored"]


def test_payloads_written_during_a_build_are_carried_over(tmp_path: Path) -> None:
    source = Segment.empty("s", {"": {"dim": DIM, "distance": "Cosine"}})
    x = np.random.default_rng(0).standard_normal((20, DIM)).astype(np.float32)
    source.append(list(range(20)), {"": (None, x)}, [{"i": i} for i in range(20)])
    snap = builder.snapshot([source])
    source.set_payload(np.array([3]), {"late": True}, None)  # between snapshot and swap
    source.overwrite_payload(np.array([4]), {})
    source.delete_payload(np.array([5]), ["i"])
    new = builder.build("n", snap, {"": {"dim": DIM, "distance": "Cosine"}}, {})
    files.save(new, tmp_path / "n", 0, full=True)
    assert new.payloads.held_count == 0 and new.payloads.stored is not None
    source.set_payload(np.array([6]), {"later": 1}, None)  # after the build too
    builder.carry_over(new, snap, [source], {"i": "integer"})
    by_id = {new.ids.id_at(o): new.payloads.get(o) for o in range(new.size)}
    want = {i: source.payloads.get(i) for i in range(20)}
    assert by_id == want
    assert want[3] == {"i": 3, "late": True} and want[4] is None and want[5] is None
    assert "i" in new.indexes


def test_a_folder_of_format_1_opens(tmp_path: Path) -> None:
    """Written before records files: every payload in the generation's JSON, no "stored"."""
    with Database(tmp_path, optimizer_threads=1) as db:
        c = optimized(db, False, 100)
        edit(c)
        before = answers(c)
    manifest = tmp_path / "collections/a" / storage.MANIFEST
    m = json.loads(manifest.read_text())
    m["format_version"] = 1
    manifest.write_text(json.dumps(m))
    for p in tmp_path.glob("collections/a/segments/*/payloads.*.json"):
        written = json.loads(p.read_text())
        journal = written.pop("journal")  # format 3 keeps what is held in a journal
        lines = [] if journal is None else (p.parent / journal["file"]).read_bytes().splitlines()
        held = dict(json.loads(line) for line in lines)
        if written.pop("stored"):  # format 1 held every payload of a segment in its JSON
            records = Records(p.parent / files.PAYLOAD_RECORDS)
            whole = Payloads(held, records)
            held = {o: whole[o] for o in whole}
            (p.parent / files.PAYLOAD_RECORDS).unlink()
        written.update(offsets=list(held), payloads=list(held.values()), indexes={})
        p.write_text(json.dumps(written))
    assert not list(tmp_path.glob("collections/a/segments/*/payloads.records"))
    with Database(tmp_path) as db:
        assert answers(db.collection("a")) == before


def test_a_follower_reads_the_records_file(tmp_path: Path) -> None:
    with Database(tmp_path, optimizer_threads=1) as db:
        c = optimized(db, True, 200)
        follower = Follower(tmp_path)
        edit(c)
        follower.catch_up()
        there = follower.collection("a")
        assert any(s.payloads.stored is not None for s in there.segments)
        assert answers(there) == answers(c)
        follower.close()


INDEXES = {
    "colour": "keyword",
    "tags": "keyword",
    "nested.deep.x": "integer",
    "f": "float",
    "flag": "bool",
    "quote": {"type": "text", "tokenizer": "word"},
}
TEXT_MATCHES = [{"text": "say hi"}, {"text_any": "back nothing"}, {"phrase": "back slash"}]


def indexed_answers(c: Any) -> list[Any]:
    """What the indexes answer alone: text matches (tokens, not substrings), facets and
    order_by."""
    found = [
        reads.count(c, {"filter": {"must": [{"key": "quote", "match": m}]}, "exact": True})
        for m in TEXT_MATCHES
    ]
    ordered = reads.scroll(c, {"limit": 50, "order_by": "f", "with_payload": False})
    return [*found, facets.facet(c, {"key": "colour", "exact": True}), ordered]


@pytest.mark.parametrize("on_disk", [True, False], ids=["on_disk", "cached"])
def test_payload_indexes_are_read_back_from_their_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_disk: bool
) -> None:
    """An optimized segment's payload indexes are written with it (and one made later, at
    the next checkpoint), then read from their files, memory-mapped, by a restart and a
    follower, with what was written since indexed over them: the same answers as the
    indexes built from the payloads, and as no index at all."""
    with Database(tmp_path / "plain", optimizer_threads=1) as db:
        c = optimized(db, on_disk, 300)
        edit(c)
        unindexed = unversioned(answers(c))
    with Database(tmp_path / "x", optimizer_threads=1) as db:
        c = db.create_collection("a", body(on_disk))
        for key, schema in list(INDEXES.items())[:-1]:
            c.create_payload_index({"field_name": key, "field_schema": schema})
        c.upsert(points(300))
        settle(c)
        c.create_payload_index({"field_name": "quote", "field_schema": INDEXES["quote"]})
        edit(c)
        storage.checkpoint(c)
        (built,) = [s for s in c.segments if not s.appendable]
        assert set(built.index_files) == set(INDEXES)
        assert unversioned(answers(c)) == unindexed
        before = indexed_answers(c)
        assert all(a["count"] > 0 for a in before[: len(TEXT_MATCHES)]), before
    built_from_payloads: list[tuple[bool, str]] = []
    create = Segment.create_indexes

    def spy(segment: Segment, schemas: Any) -> None:
        built_from_payloads.extend((segment.appendable, key) for key in schemas)
        create(segment, schemas)

    monkeypatch.setattr(Segment, "create_indexes", spy)
    with Database(tmp_path / "x") as db:
        c = db.collection("a")
        assert unversioned(answers(c)) == unindexed and indexed_answers(c) == before
        (segment,) = [s for s in c.segments if not s.appendable]
        offsets = segment.indexes["colour"]._base.offsets  # type: ignore[attr-defined]
        assert isinstance(offsets.base, np.memmap)  # read in place, in the file
        follower = Follower(tmp_path / "x")
        there = follower.collection("a")
        assert unversioned(answers(there)) == unindexed and indexed_answers(there) == before
        follower.close()
    assert built_from_payloads and all(appendable for appendable, _ in built_from_payloads)


def test_an_index_made_again_otherwise_is_built_again(tmp_path: Path) -> None:
    """Files written for another schema of the key are not read back, and go with the last
    generation that listed them."""
    with Database(tmp_path, optimizer_threads=1) as db:
        c = optimized(db, True, 200, index="colour")
        c.delete_payload_index("colour")
        c.create_payload_index(
            {"field_name": "colour", "field_schema": {"type": "text", "lowercase": False}}
        )
        storage.checkpoint(c)
        want = reads.count(
            c, {"filter": {"must": [{"key": "colour", "match": {"text": "red"}}]}, "exact": True}
        )
        (segment,) = [s for s in c.segments if not s.appendable]
        written = set(segment.index_files.values())
        assert len(written) == 1
        left = {p.name[: -len(".json")] for p in segment_folder(tmp_path).glob("index.*.json")}
        assert left == written  # the keyword index's files are gone
    with Database(tmp_path) as db:
        c = db.collection("a")
        (segment,) = [s for s in c.segments if not s.appendable]
        assert set(segment.index_files.values()) == written
        got = reads.count(
            c, {"filter": {"must": [{"key": "colour", "match": {"text": "red"}}]}, "exact": True}
        )
        assert got == want and want["count"] > 0


def test_a_damaged_index_file_is_built_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Database(tmp_path, optimizer_threads=1) as db:
        c = optimized(db, True, 200, index="colour")
        edit(c)
        before = answers(c)
    folder = segment_folder(tmp_path)
    (offsets,) = folder.glob("index.*.offsets.npy")
    offsets.write_bytes(offsets.read_bytes()[:-9])
    with Database(tmp_path) as db:
        c = db.collection("a")
        assert answers(c) == before
        (segment,) = [s for s in c.segments if not s.appendable]
        assert "colour" in segment.indexes and not segment.index_files
    assert "building the index of 'colour' again" in caplog.text


def unversioned(found: Any) -> Any:
    """Answers without point versions (which count the index operations too)."""
    if isinstance(found, dict):
        return {k: unversioned(v) for k, v in found.items() if k != "version"}
    if isinstance(found, list):
        return [unversioned(v) for v in found]
    return found


def segment_folder(storage_path: Path) -> Path:
    return next(p.parent for p in storage_path.glob("collections/a/segments/*/payloads.records"))
