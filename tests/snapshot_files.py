"""What the snapshot tests of both layers look at (tests/collection/test_snapshots.py through
the collection layer, tests/api/test_snapshot_limits.py through a real server): a snapshot's
files, and a folder outside the storage that crafted snapshots aim at and must leave as it was."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from vqdb.collection.snapshots import CHECKSUMS


def snapshot_files(snapshot: Path | bytes) -> dict[str, bytes]:
    """The regular files of a snapshot (a file, or its bytes) but its checksum list."""
    source = io.BytesIO(snapshot) if isinstance(snapshot, bytes) else snapshot.open("rb")
    with source, tarfile.open(fileobj=source) as tar:
        found = {}
        for member in tar.getmembers():
            data = tar.extractfile(member) if member.isfile() else None
            if data is not None and member.name != CHECKSUMS:
                found[member.name] = data.read()
    return found


def tree(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under `folder`: bytes, modification time and inode (so a file rewritten in
    place, or replaced by an equal one, shows), and the folders as empty entries."""
    return {
        str(p.relative_to(folder)): (
            p.read_bytes() if p.is_file() else b"",
            p.stat().st_mtime_ns,
            p.stat().st_ino,
        )
        for p in sorted(folder.rglob("*"))
    }


def plant_foreign_segment(sentinel: Path, own: dict[str, bytes]) -> Path:
    """A segment's files (`own`, by archive name) copied into sentinel/foreign, beside
    sentinel/secret.txt, as the hardening probe set them up outside the storage (the server
    read its points, wrote new generations into it and deleted the old ones). Returns the
    foreign folder."""
    foreign = sentinel / "foreign"
    foreign.mkdir(parents=True)
    for name, data in own.items():
        (foreign / name.rsplit("/", 1)[1]).write_bytes(data)
    (sentinel / "secret.txt").write_bytes(b"not yours")
    return foreign
