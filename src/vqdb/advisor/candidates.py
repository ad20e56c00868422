"""The quantizations the advisor measures, in Qdrant's `quantization_config` shape.

One row per method and setting: adding a method (turbo, say) is one more line in CANDIDATES,
as long as `vqdb.parse_quantization` knows its shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vqdb.quantization import BINARY_ENCODINGS, PRODUCT_COMPRESSIONS, QUERY_ENCODINGS

OVERSAMPLING = (1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Candidate:
    label: str  # short and unique: the table's first column and the plots' series name
    method: str  # scalar | binary | product | none (the float32 originals, for reference)
    config: dict[str, Any] | None  # Qdrant's quantization_config; None: no quantization

    def quantization_config(self) -> dict[str, Any] | str:
        """The config as a user sends it: codes kept in RAM (the originals, read only to
        rescore a few candidates, may then live on disk)."""
        if self.config is None:
            return "Disabled"
        ((kind, options),) = self.config.items()
        return {kind: {**options, "always_ram": True}}


def _binary(encoding: str, query: str) -> Candidate:
    bits = {"one_bit": "1", "one_and_half_bits": "1.5", "two_bits": "2"}[encoding]
    options = {"encoding": encoding, "query_encoding": query}
    return Candidate(f"binary {bits}b q={query}", "binary", {"binary": options})


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("scalar int8 q=0.99", "scalar", {"scalar": {"type": "int8", "quantile": 0.99}}),
    *(_binary(e, q) for e in BINARY_ENCODINGS for q in QUERY_ENCODINGS if q != "default"),
    *(
        Candidate(f"product {c}", "product", {"product": {"compression": c}})
        for c in PRODUCT_COMPRESSIONS
    ),
)

# what every candidate is compared with: the originals themselves, searched without codes
REFERENCE = Candidate("float32 (none)", "none", None)
