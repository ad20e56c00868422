"""Index and search parameters, with Qdrant's names, defaults and validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_mapping(cls: type[T], value: T | Mapping[str, Any] | None, what: str) -> T:
    """Builds a params dataclass from a dict, rejecting unknown keys by name."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object, got {value!r}")
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"unknown {what} option(s): {', '.join(unknown)}")
    return cls(**value)


@dataclass(frozen=True)
class HnswConfig:
    """Graph shape: `m` links per node (2m on the base layer), `ef_construct` build beam."""

    m: int = 16
    ef_construct: int = 100

    def __post_init__(self) -> None:
        if int(self.m) < 2:
            raise ValueError(f"hnsw m must be at least 2, got {self.m}")
        if int(self.ef_construct) < 4:
            raise ValueError(f"hnsw ef_construct must be at least 4, got {self.ef_construct}")


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
