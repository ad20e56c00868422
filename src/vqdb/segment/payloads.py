"""A segment's payloads by offset: held in RAM, or stored in a records file and parsed when
asked for, under the ones held.

An optimized segment keeps the payloads it was built with in a records file
(storage/records.py), read in place (read ahead into the page cache where the collection's
`on_disk_payload` is false, Qdrant's `cached`): RAM holds only what a read is showing or
filtering at the time, and the processes that read one storage folder (vqdb.follower) share
the file's pages. What is set or removed afterwards is held here, over the file (None: the
stored payload is removed), and written with each checkpoint generation until the optimizer
rebuilds the segment. An appendable segment holds them all.

A payload is never changed in place: a write replaces it. So a read-only copy of what is held
(`mark`) tells, later, which offsets were written since (`changed_since`), which is how the
optimizer's new segment catches up with its sources (segment/builder.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from pydantic_core import from_json, to_json

from vqdb.storage.appends import Written
from vqdb.storage.records import Records

Payload = dict[str, Any]
_ABSENT = object()


class Payloads(MutableMapping[int, Payload]):
    def __init__(
        self, held: Mapping[int, Payload | None] | None = None, stored: Records | None = None
    ) -> None:
        self.stored = stored
        self.held: dict[int, Payload | None] = dict(held or {})
        if stored is None:  # nothing for a None to remove
            self.held = {o: p for o, p in self.held.items() if p is not None}
        self._stored_count: int | None = None  # the file's, counted once
        # what a checkpoint still has to write: offsets set or removed since it last wrote
        # them, and the journal it writes them into (segment/files.py; None: none yet)
        self.unsaved: set[int] = set()
        self.journal: Written | None = None

    def get(self, offset: int, default: Payload | None = None) -> Payload | None:  # type: ignore[override]
        held = self.held.get(offset, _ABSENT)
        if held is _ABSENT:
            raw = None if self.stored is None else self.stored.get(offset)
            return default if raw is None else from_json(raw)
        return default if held is None else held  # type: ignore[return-value]

    def get_holding(self, offset: int, needles: tuple[bytes, ...]) -> Payload | None:
        """The payload, or None also where it is stored and its text holds none of `needles`
        (found in the bytes, not parsed: a few hundred nanoseconds against ~1 us)."""
        if offset in self.held or self.stored is None:
            return self.get(offset)
        raw = self.stored.get(offset)
        if raw is None or not (needles[0] in raw or any(n in raw for n in needles[1:])):
            return None
        return from_json(raw)  # type: ignore[no-any-return]

    def __getitem__(self, offset: int) -> Payload:
        payload = self.get(offset)
        if payload is None:
            raise KeyError(offset)
        return payload

    def __contains__(self, offset: object) -> bool:
        if not isinstance(offset, int):
            return False
        held = self.held.get(offset, _ABSENT)
        if held is _ABSENT:
            return self._is_stored(offset)
        return held is not None

    def __setitem__(self, offset: int, payload: Payload) -> None:
        self.held[offset] = payload
        self.unsaved.add(offset)

    def __delitem__(self, offset: int) -> None:
        if offset not in self:
            raise KeyError(offset)
        if self._is_stored(offset):
            self.held[offset] = None
        else:
            del self.held[offset]
        self.unsaved.add(offset)

    def __iter__(self) -> Iterator[int]:
        held = self.held
        if self.stored is not None:
            for offset in self.stored.present().tolist():
                if offset not in held:
                    yield offset
        for offset, payload in held.items():
            if payload is not None:
                yield offset

    def __len__(self) -> int:
        if self._stored_count is None:
            self._stored_count = 0 if self.stored is None else len(self.stored.present())
        over = sum(1 for o in self.held if self._is_stored(o))
        return self._stored_count - over + self.held_count

    @property
    def held_count(self) -> int:
        """Payloads held in RAM."""
        return sum(p is not None for p in self.held.values())

    @property
    def stored_bytes(self) -> int:
        """The records file's payload bytes (0 without one)."""
        return 0 if self.stored is None else self.stored.data_bytes

    def raw(self, offset: int) -> bytes:
        """The payload as compact JSON (b"": none), as a records file keeps it."""
        held = self.held.get(offset, _ABSENT)
        if held is _ABSENT:
            stored = None if self.stored is None else self.stored.get(offset)
            return stored or b""
        return b"" if held is None else to_json(held)

    def mark(self) -> dict[int, Payload | None]:
        """What is held now, to compare with later (`changed_since`)."""
        return dict(self.held)

    def changed_since(self, mark: Mapping[int, Payload | None]) -> list[tuple[int, Any]]:
        """(offset, payload or None) for each offset written since `mark` was taken."""
        held = self.held
        changed = [(o, p) for o, p in held.items() if mark.get(o, _ABSENT) is not p]
        changed += [(o, None) for o in mark if o not in held]
        return changed

    def _is_stored(self, offset: int) -> bool:
        return self.stored is not None and self.stored.has(offset)
