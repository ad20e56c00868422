"""A fake segment for filter tests: payloads in a list, indexes built on demand."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.filters import FieldIndex, build_index
from vqdb.filters.slices import IdColumns


class FakePoints:
    """Offsets are list positions; ids are given (default: the offset); counts payload reads."""

    def __init__(
        self,
        payloads: Sequence[Mapping[str, Any] | None],
        indexes: Mapping[str, str | Mapping[str, Any]] | None = None,
        ids: Sequence[int | str] | None = None,
        vectors: Sequence[set[str]] | None = None,
    ) -> None:
        self.payloads = list(payloads)
        self.size = len(self.payloads)
        self.ids = [canonical(i) for i in ids] if ids is not None else list(range(self.size))
        self.vectors = list(vectors) if vectors is not None else [{""}] * self.size
        self.reads: list[int] = []
        self.indexes: dict[str, FieldIndex] = {}
        for key, schema in (indexes or {}).items():
            index = build_index(schema, key)
            for offset, payload in enumerate(self.payloads):
                index.add(offset, payload)
            self.indexes[key] = index

    def payload(self, offset: int, needles: tuple[bytes, ...] = ()) -> Mapping[str, Any] | None:
        self.reads.append(offset)
        return self.payloads[offset]

    def offsets_of(self, ids: Sequence[int | str]) -> npt.NDArray[np.int64]:
        wanted = set(ids)
        return np.array([o for o, i in enumerate(self.ids) if i in wanted], dtype=np.int64)

    def vector_mask(self, name: str) -> npt.NDArray[np.bool_]:
        return np.array([name in v for v in self.vectors], dtype=np.bool_)

    def id_columns(self) -> IdColumns:
        nums = [(o, i) for o, i in enumerate(self.ids) if isinstance(i, int)]
        uuids = [(o, uuid.UUID(i).bytes) for o, i in enumerate(self.ids) if isinstance(i, str)]
        return (
            np.array([i for _, i in nums], dtype=np.uint64),
            np.array([o for o, _ in nums], dtype=np.int64),
            np.array([b for _, b in uuids], dtype="S16"),
            np.array([o for o, _ in uuids], dtype=np.int64),
        )


def canonical(point_id: int | str) -> int | str:
    return point_id if isinstance(point_id, int) else str(uuid.UUID(point_id))
