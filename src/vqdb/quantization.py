"""Quantization configs in Qdrant's shapes, and the codecs they build.

{"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}}
{"binary": {"encoding": "one_bit", "query_encoding": "scalar8bits", "always_ram": true}}
{"product": {"compression": "x16", "always_ram": true}}
{"turbo": {"bits": "bits4", "always_ram": true}}
"Disabled" or None: no quantization
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from vqdb.distance import Distance
from vqdb.native import _core
from vqdb.params import from_mapping

BINARY_ENCODINGS = ("one_bit", "one_and_half_bits", "two_bits")
QUERY_ENCODINGS = ("default", "binary", "scalar4bits", "scalar8bits")
TURBO_BITS = ("bits1", "bits1_5", "bits2", "bits4")
PRODUCT_COMPRESSIONS = {"x4": 1, "x8": 2, "x16": 4, "x32": 8, "x64": 16}  # -> dims per sub-vector


@dataclass(frozen=True)
class ScalarQuantization:
    """int8 codes over the [lo, hi] range that keeps `quantile` of the values."""

    type: str = "int8"
    quantile: float | None = None
    always_ram: bool | None = None

    kind: ClassVar[str] = "scalar"
    rescore_by_default: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.type != "int8":
            raise ValueError(f"scalar quantization type must be 'int8', got {self.type!r}")
        if self.quantile is not None and not 0.5 <= float(self.quantile) <= 1.0:
            raise ValueError(f"quantile must be in [0.5, 1.0], got {self.quantile}")

    def build(self, dim: int, distance: Distance, datatype: str = "float32") -> _core.VectorSet:
        quantile = 1.0 if self.quantile is None else float(self.quantile)
        return _core.VectorSet.scalar(dim, distance.metric, quantile)

    def describe(self) -> str:
        return "scalar int8" + (f" q={self.quantile}" if self.quantile is not None else "")


@dataclass(frozen=True)
class BinaryQuantization:
    """Sign bits (1, 1.5 or 2 per dimension), scored by XOR + popcount or by 4/8-bit queries."""

    encoding: str = "one_bit"
    query_encoding: str = "default"
    always_ram: bool | None = None

    kind: ClassVar[str] = "binary"
    rescore_by_default: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.encoding not in BINARY_ENCODINGS:
            expected = ", ".join(BINARY_ENCODINGS)
            raise ValueError(f"unknown binary encoding {self.encoding!r} (expected {expected})")
        if self.query_encoding not in QUERY_ENCODINGS:
            raise ValueError(
                f"unknown binary query_encoding {self.query_encoding!r} "
                f"(expected {', '.join(QUERY_ENCODINGS)})"
            )

    def build(self, dim: int, distance: Distance, datatype: str = "float32") -> _core.VectorSet:
        """`datatype` of the originals the codes are made from: uint8 ones (0..255) are
        centred at 127 rather than normalised, as Qdrant does, or nearly every bit would be 1."""
        query = "binary" if self.query_encoding == "default" else self.query_encoding
        center = 127.0 if datatype == "uint8" else 0.0
        return _core.VectorSet.binary(dim, distance.metric, self.encoding, query, center)

    def describe(self) -> str:
        return f"binary {self.encoding} query={self.query_encoding}"


@dataclass(frozen=True)
class ProductQuantization:
    """256 centroids per sub-vector, one byte each: `compression` = float32 bytes / code bytes."""

    compression: str = "x16"
    always_ram: bool | None = None

    kind: ClassVar[str] = "product"
    rescore_by_default: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.compression not in PRODUCT_COMPRESSIONS:
            raise ValueError(
                f"unknown product compression {self.compression!r} "
                f"(expected {', '.join(PRODUCT_COMPRESSIONS)})"
            )

    def build(self, dim: int, distance: Distance, datatype: str = "float32") -> _core.VectorSet:
        sub_dim = PRODUCT_COMPRESSIONS[self.compression]
        return _core.VectorSet.product(dim, distance.metric, sub_dim)

    def describe(self) -> str:
        return f"product {self.compression}"


@dataclass(frozen=True)
class TurboQuantization:
    """TurboQuant: a randomized Hadamard rotation, per-coordinate grids fitted to the rotated
    data and a per-vector correction (RaBitQ's estimator); 1, 1.5, 2 or 4 bits a dimension.
    Left unset, `bits` is Qdrant's default, bits4."""

    bits: str | None = None
    always_ram: bool | None = None

    kind: ClassVar[str] = "turbo"

    @property
    def rescore_by_default(self) -> bool:
        """Qdrant's rule: 4-bit codes rank well alone; fewer bits are meant to be rescored."""
        return self.bit_size != "bits4"

    def __post_init__(self) -> None:
        if self.bits is not None and self.bits not in TURBO_BITS:
            raise ValueError(f"unknown turbo bits {self.bits!r} (expected {', '.join(TURBO_BITS)})")

    @property
    def bit_size(self) -> str:
        return self.bits or "bits4"

    def build(self, dim: int, distance: Distance, datatype: str = "float32") -> _core.VectorSet:
        if dim < 2:
            raise ValueError("turbo quantization needs vectors of at least 2 dimensions")
        return _core.VectorSet.turbo(dim, distance.metric, self.bit_size)

    def describe(self) -> str:
        return f"turbo {self.bit_size}"


QuantizationConfig = (
    ScalarQuantization | BinaryQuantization | ProductQuantization | TurboQuantization
)
_KINDS: dict[str, type[Any]] = {
    "scalar": ScalarQuantization,
    "binary": BinaryQuantization,
    "product": ProductQuantization,
    "turbo": TurboQuantization,
}


def parse_quantization(config: Any) -> QuantizationConfig | None:
    """A Qdrant-shaped quantization config (dict, dataclass, "Disabled" or None) to a dataclass."""
    if config is None or config == "Disabled":
        return None
    if isinstance(
        config, (ScalarQuantization, BinaryQuantization, ProductQuantization, TurboQuantization)
    ):
        return config
    if not isinstance(config, Mapping) or len(config) != 1:
        raise ValueError(
            "quantization config must be one of {'scalar': {...}}, {'binary': {...}}, "
            f"{{'product': {{...}}}}, {{'turbo': {{...}}}} or 'Disabled', got {config!r}"
        )
    ((kind, options),) = config.items()
    if kind not in _KINDS:
        expected = ", ".join(_KINDS)
        raise ValueError(f"unknown quantization method {kind!r} (expected {expected})")
    result: QuantizationConfig = from_mapping(_KINDS[kind], options, f"{kind} quantization")
    return result
