"""The WAL on its own: failed appends leave no trace, and opening tells a torn tail (cut off)
from damage in the middle (skipped, with every whole record after it replayed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vqdb.storage.wal import Wal


def payload(i: int) -> bytes:
    return f"record {i} ".encode() * (i % 7 + 1)


def written(path: Path, n: int) -> list[int]:
    """Appends records 0..n-1; returns where each one starts."""
    wal = Wal(path)
    starts = []
    for i in range(n):
        starts.append(wal.size)
        wal.append(payload(i), sync=False)
    wal.close()
    return starts


def replayed(path: Path, next_seq: int = 1) -> list[bytes]:
    wal = Wal(path, next_seq)
    try:
        return [p for _, p in wal.replay()]
    finally:
        wal.close()


def test_torn_tail_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "wal.log"
    starts = written(path, 10)
    size = path.stat().st_size
    for cut in (1, 5, size - starts[-1] - 1):
        with open(path, "r+b") as f:
            f.truncate(size - cut)
        assert replayed(path) == [payload(i) for i in range(9)]
        assert path.stat().st_size == starts[-1]
        assert not list(tmp_path.glob("*.damaged-*"))
        written_again = Wal(path)
        written_again.append(payload(9), sync=True)
        written_again.close()
        assert replayed(path) == [payload(i) for i in range(10)]


@pytest.mark.parametrize("where", ["length", "crc", "sequence", "payload"])
def test_damage_in_the_middle_keeps_the_records_after_it(tmp_path: Path, where: str) -> None:
    path = tmp_path / "wal.log"
    starts = written(path, 20)
    data = bytearray(path.read_bytes())
    at = starts[7] + {"length": 1, "crc": 5, "sequence": 8, "payload": 20}[where]
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))
    expected = [payload(i) for i in range(20) if i != 7]
    assert replayed(path) == expected
    kept = list(tmp_path.glob("wal.log.damaged-*"))
    assert [p.name for p in kept] == ["wal.log.damaged-8"]
    assert kept[0].read_bytes() == bytes(data)
    # the log stays usable: new records go after the last whole one, and come back
    wal = Wal(path)
    assert wal.append(b"after", sync=True) == 21
    wal.close()
    assert replayed(path) == [*expected, b"after"]


def test_damage_spanning_records_and_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "wal.log"
    starts = written(path, 30)
    data = bytearray(path.read_bytes())
    data[starts[3] + 2 : starts[6] + 3] = b"\xff" * (starts[6] + 1 - starts[3])
    path.write_bytes(bytes(data[: starts[29] + 5]))  # and the last record half written
    assert replayed(path) == [payload(i) for i in range(30) if not 3 <= i <= 6 and i != 29]


def test_first_record_damaged(tmp_path: Path) -> None:
    path = tmp_path / "wal.log"
    written(path, 5)
    data = bytearray(path.read_bytes())
    data[12] ^= 1
    path.write_bytes(bytes(data))
    assert replayed(path) == [payload(i) for i in range(1, 5)]


def test_a_failed_append_is_rolled_back(tmp_path: Path) -> None:
    """A real failed write: the kernel refuses to grow the file past RLIMIT_FSIZE (EFBIG), in a
    child process, which then appends again once the limit is lifted and dies without closing
    the log. Every acknowledged record survives, and none of the failed ones appears."""
    path = tmp_path / "wal.log"
    child = textwrap.dedent(
        f"""
        import os, resource, signal
        from pathlib import Path
        from vqdb.storage.wal import Wal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        wal = Wal(Path({str(path)!r}))
        for i in range(5):
            wal.append(b"before %d" % i + b"." * 300, sync=True)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (wal.size + 100, hard))
        failed = 0
        for i in range(5):
            try:
                wal.append(b"refused %d" % i + b"." * 300, sync=True)
            except OSError:
                failed += 1
        assert failed == 5, failed
        assert os.path.getsize({str(path)!r}) == wal.size  # nothing of them is left
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        for i in range(5):
            wal.append(b"after %d" % i, sync=True)
        os._exit(0)  # as if killed: no close
        """
    )
    subprocess.run([sys.executable, "-c", child], check=True, timeout=60)
    found = replayed(path)
    assert [p.split(b".")[0] for p in found] == [b"before %d" % i for i in range(5)] + [
        b"after %d" % i for i in range(5)
    ]
    assert not list(tmp_path.glob("*.damaged-*"))


def test_a_record_in_parts_is_the_record_joined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payload given as parts (a header, arrays' own buffers) is written as the same bytes as
    the joined payload, short writes included, and replays as it, with its records and
    WAL-encoded operations intact."""
    import os

    import numpy as np

    from vqdb.collection import records
    from vqdb.storage import wal as wal_module

    rows = np.arange(24, dtype=np.float32).reshape(4, 6)
    op = {"op": "upsert", "ids": [1, 2, 3, 4], "vectors": {"": rows}}
    parts = records.encode_parts(op)
    joined = records.encode(op)
    assert b"".join(bytes(memoryview(p)) for p in parts) == joined
    real = os.pwritev

    def seven_bytes(fd: int, buffers: list[bytes], offset: int) -> int:
        return real(fd, [b"".join(buffers)[:7]], offset)

    for name, short in (("whole", False), ("short", True)):
        if short:  # pwritev writes 7 bytes only: the rest goes through pwrite
            monkeypatch.setattr(wal_module.os, "pwritev", seven_bytes)
        a, b = Wal(tmp_path / f"{name}.a"), Wal(tmp_path / f"{name}.b")
        for wal, payload_ in ((a, parts), (b, joined)):
            wal.append(b"first", sync=False)
            wal.append(payload_, sync=True)
            wal.close()
        assert (tmp_path / f"{name}.a").read_bytes() == (tmp_path / f"{name}.b").read_bytes()
        replayed_ = replayed(tmp_path / f"{name}.a")
        assert replayed_[0] == b"first"
        back = records.decode(replayed_[1])
        assert back["ids"] == [1, 2, 3, 4]
        np.testing.assert_array_equal(back["vectors"][""], rows)


def test_a_clear_keeps_the_records_beside_the_log_until_the_next(tmp_path: Path) -> None:
    from vqdb.storage.wal import previous, read_from

    path = tmp_path / "wal.log"
    log = Wal(path)
    for i in range(3):
        log.append(f"r{i}".encode(), sync=True)
    log.clear()
    assert [seq for seq, _ in read_from(previous(path), 0)[0]] == [1, 2, 3]
    assert read_from(path, 0) == ([], 0)
    log.append(b"r3", sync=True)
    log.close()
    again = Wal(path, next_seq=4)
    assert list(again.replay(after=3)) == [(4, b"r3")]
    again.clear()
    assert read_from(previous(path), 0)[0] == [(4, b"r3")]  # the span before is gone
    again.close()
    assert not path.with_name("wal.log.new").exists()
