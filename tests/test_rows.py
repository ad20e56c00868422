"""The native row reader: io_uring, the pread pool and the memory map read the same bytes, a
refused io_uring falls back (and says so), a damaged file is an error naming it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

import vqdb
from vqdb import _core
from vqdb.errors import StorageError
from vqdb.storage import rows as rows_module
from vqdb.storage.files import read_array, write_array
from vqdb.storage.rows import RowFile, read_path

METHODS = ["io_uring", "pread"]


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_module, "_warned", set())


def stored(tmp_path: Path, n: int, dim: int, seed: int = 0) -> tuple[Path, np.ndarray]:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    path = tmp_path / f"rows-{n}x{dim}.npy"
    write_array(path, x)
    return path, x


@pytest.mark.parametrize(("n", "dim"), [(1, 1), (1000, 37), (300, 1536)])
def test_paths_read_identical_bytes(tmp_path: Path, n: int, dim: int) -> None:
    path, x = stored(tmp_path, n, dim)
    mapped = read_array(path, mmap=True)
    files = {m: RowFile(path, m) for m in METHODS}  # type: ignore[arg-type]
    assert {m: f.method for m, f in files.items()} == {m: m for m in METHODS}
    rng = np.random.default_rng(1)
    id_sets = [
        np.array([n - 1]),  # the last row of the file
        np.array([n - 1, 0, n - 1, n // 2, 0]),  # any order, repeats
        rng.integers(0, n, 700),  # more than a ring holds at once
        np.zeros(0, dtype=np.int64),
    ]
    for ids in id_sets:
        expected = np.ascontiguousarray(mapped[ids]).view(np.uint8).reshape(len(ids), dim * 4)
        np.testing.assert_array_equal(expected.view(np.float32), x[ids])
        for method, f in files.items():
            got = f.read(ids)
            assert got.shape == expected.shape and got.dtype == np.uint8, method
            assert got.tobytes() == expected.tobytes(), method


def test_reader_checks_row_numbers(tmp_path: Path) -> None:
    path, _ = stored(tmp_path, 10, 4)
    with pytest.raises(ValueError, match="row 10 is out of range"):
        RowFile(path, "io_uring").read(np.array([3, 10]))


def test_refused_io_uring_falls_back_to_pread_and_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path, x = stored(tmp_path, 50, 8)
    monkeypatch.setenv("VQDB_IO_URING", "off")  # io_uring_setup fails as under seccomp
    with caplog.at_level(logging.WARNING, logger="vqdb"):
        f = RowFile(path, "io_uring")
    assert f.method == "pread" and "Operation not permitted" in f.reader.fallback
    assert any(
        "io_uring unavailable" in r.message and str(path) in r.message for r in caplog.records
    )
    np.testing.assert_array_equal(f.read(np.array([49, 0])).view(np.float32), x[[49, 0]])


def test_truncated_or_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path, _ = stored(tmp_path, 100, 16)
    full = path.stat().st_size
    os.truncate(path, full - 1)
    for method in METHODS:
        with pytest.raises(StorageError, match=f"{path}: truncated"):
            RowFile(path, method)  # type: ignore[arg-type]
    with pytest.raises(StorageError, match=str(path)):  # numpy refuses the map too
        read_array(path, mmap=True)
    with pytest.raises(StorageError, match=str(tmp_path / "absent.npy")):
        RowFile(tmp_path / "absent.npy", "io_uring")
    assert issubclass(StorageError, OSError)


@pytest.mark.parametrize("method", METHODS)
def test_file_truncated_after_open_is_an_error_not_a_crash(tmp_path: Path, method: str) -> None:
    path, x = stored(tmp_path, 100, 16)
    f = RowFile(path, method)  # type: ignore[arg-type]
    os.truncate(path, f.offset + 50 * f.row_bytes)  # rows 50.. are gone
    np.testing.assert_array_equal(f.read(np.array([10, 49])).view(np.float32), x[[10, 49]])
    with pytest.raises(StorageError, match=f"{path}: read of 64 bytes at offset .*end of file"):
        f.read(np.array([3, 99, 4]))


def test_read_path_option() -> None:
    assert (read_path(False), read_path(True), read_path("pread")) == ("mmap", "auto", "pread")
    with pytest.raises(ValueError, match="async_scorer"):
        read_path("uring")


@pytest.mark.parametrize("distance", ["Cosine", "Euclid", "Manhattan"])
def test_index_search_identical_across_read_paths(tmp_path: Path, distance: str) -> None:
    """Rescoring from gathered rows gives the very scores of rescoring in place."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2000, 45)).astype(np.float32)
    built = vqdb.Index(45, distance, quantization={"binary": {}})
    built.add(np.arange(2000), x)
    path = tmp_path / "originals.npy"
    arrays = built.state()
    write_array(path, arrays["originals.codes"])
    arrays = {**arrays, "originals.codes": read_array(path, mmap=True)}
    queries = rng.standard_normal((7, 45)).astype(np.float32)
    params = {"quantization": {"rescore": True, "oversampling": 3.0}}
    expected = built.search(queries, 10, params)
    for method, check_cache in [("io_uring", False), ("pread", False), ("io_uring", True)]:
        index = vqdb.Index.from_state(built.config(), arrays, views=("originals",))
        assert index.read_path == "mmap"
        index.read_originals_through(RowFile(path, method).reader, check_cache=check_cache)  # type: ignore[arg-type]
        assert index.read_path == ("mmap+" if check_cache else "") + method
        for threads in (1, 2):
            ids, scores = index.search(queries, 10, params, threads=threads)
            np.testing.assert_array_equal(ids, expected[0])
            assert scores.tobytes() == expected[1].tobytes()
        one = index.search(queries[0], 10, params)
        np.testing.assert_array_equal(one[0], expected[0][0])
        np.testing.assert_array_equal(index.vectors([5, 1999]), built.vectors([5, 1999]))


def test_resident_reports_the_page_cache(tmp_path: Path) -> None:
    path, _ = stored(tmp_path, 64, 1024)
    mapped = read_array(path, mmap=True).view(np.uint8).reshape(64, -1)
    np.asarray(mapped[3]).sum()  # touched: in the page cache
    assert _core.resident(mapped, np.array([3], dtype=np.uint32))[0]
