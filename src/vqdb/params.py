"""Index and search parameters, with Qdrant's names, defaults and validation."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# Limits on what a collection may ask for. MAX_DIM is Qdrant's (65536 dimensions); the graph's
# are vqdb's: each point reserves (2m + 1) links of 4 bytes up front, so a huge m fails the
# build with bad_alloc (or exhausts memory) long after the collection was accepted.
MAX_DIM = 65536
MAX_HNSW_M = 2048
MAX_EF_CONSTRUCT = 1 << 20


def from_mapping(cls: type[T], value: T | Mapping[str, Any] | None, what: str) -> T:
    """Builds a params dataclass from a dict, rejecting unknown keys by name."""
    if value is None:
        frozen = cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        return _default(cls) if frozen else cls()  # type: ignore[arg-type]
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object, got {value!r}")
    unknown = sorted(set(value).difference(cls.__dataclass_fields__))  # type: ignore[attr-defined]
    if unknown:
        raise ValueError(f"unknown {what} option(s): {', '.join(unknown)}")
    return cls(**value)


@functools.cache
def _default(cls: type[T]) -> T:
    """The defaults of a frozen params class: one instance for every request that sets none."""
    return cls()


# (the dict as passed, a copy of it, what it parsed to)
_last_parsed: tuple[Mapping[str, Any], Mapping[str, Any], SearchParams] | None = None


def search_params(value: SearchParams | Mapping[str, Any] | None) -> SearchParams:
    """from_mapping for SearchParams, remembering the last dict it parsed: a loop of searches
    passes the same dict every time, and parsing it was ~3 us of a ~15 us one-query call."""
    global _last_parsed
    if value is None or isinstance(value, SearchParams):
        return from_mapping(SearchParams, value, "search params")
    last = _last_parsed
    if last is not None and last[0] is value and last[1] == value:
        return last[2]
    parsed = from_mapping(SearchParams, value, "search params")
    _last_parsed = (value, copy.deepcopy(value), parsed)  # a copy: the caller may mutate theirs
    return parsed


@dataclass(frozen=True)
class HnswConfig:
    """Graph shape: `m` links per node (2m on the base layer), `ef_construct` build beam."""

    m: int = 16
    ef_construct: int = 100

    def __post_init__(self) -> None:
        if not 2 <= int(self.m) <= MAX_HNSW_M:
            raise ValueError(f"hnsw m must be in [2, {MAX_HNSW_M}], got {self.m}")
        if not 4 <= int(self.ef_construct) <= MAX_EF_CONSTRUCT:
            raise ValueError(
                f"hnsw ef_construct must be in [4, {MAX_EF_CONSTRUCT}], got {self.ef_construct}"
            )


@dataclass(frozen=True)
class QuantizationSearchParams:
    """`ignore` searches the originals; `rescore` re-ranks candidates with them; `oversampling`
    fetches floor(oversampling * limit) candidates. None means the collection's default."""

    ignore: bool = False
    rescore: bool | None = None
    oversampling: float | None = None

    def __post_init__(self) -> None:
        if self.oversampling is not None and not float(self.oversampling) >= 1.0:
            raise ValueError(f"oversampling must be at least 1.0, got {self.oversampling}")


@dataclass(frozen=True)
class SearchParams:
    """`hnsw_ef` beam width (default: ef_construct); `exact` scans the originals."""

    hnsw_ef: int | None = None
    exact: bool = False
    quantization: QuantizationSearchParams = field(default_factory=QuantizationSearchParams)

    def __post_init__(self) -> None:
        if self.hnsw_ef is not None and int(self.hnsw_ef) < 1:
            raise ValueError(f"hnsw_ef must be positive, got {self.hnsw_ef}")
        q = from_mapping(QuantizationSearchParams, self.quantization, "quantization search params")
        object.__setattr__(self, "quantization", q)
