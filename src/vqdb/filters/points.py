"""What a segment exposes to a filter: payloads by offset, ids, vector presence, indexes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vqdb.filters.index import FieldIndex
from vqdb.filters.slices import IdColumns


class Points(Protocol):
    """A set of points addressed by offsets 0 .. size-1 (deleted ones included: the caller
    masks them out). Read-only properties, so plain attributes satisfy the protocol too."""

    @property
    def size(self) -> int: ...

    @property
    def indexes(self) -> Mapping[str, FieldIndex]:
        """Payload indexes by key path; a condition on exactly that key may use it."""
        ...

    def payload(self, offset: int, needles: tuple[bytes, ...] = ()) -> Mapping[str, Any] | None:
        """The point's payload; None when it has none. With `needles`, None also where the
        payload is stored as compact JSON that holds none of them (a condition that needs one
        of them cannot hold: the payload need not be parsed); returning it is right too."""
        ...

    def offsets_of(self, ids: Sequence[int | str]) -> npt.NDArray[np.int64]:
        """Offsets of those ids present here (UUIDs come canonical: lowercase, hyphenated)."""
        ...

    def vector_mask(self, name: str) -> npt.NDArray[np.bool_]:
        """Which offsets have the named vector ("" is the unnamed default vector)."""
        ...

    def id_columns(self) -> IdColumns:
        """Every offset's id: integer ids and their offsets, UUIDs (16 bytes) and theirs."""
        ...
