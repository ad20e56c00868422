"""vqdb: a vector database for Python built around vector quantization."""

from vqdb.client import Client
from vqdb.distance import Distance
from vqdb.index import Index
from vqdb.native import _core
from vqdb.params import HnswConfig, QuantizationSearchParams, SearchParams
from vqdb.quantization import (
    BinaryQuantization,
    ProductQuantization,
    ScalarQuantization,
    parse_quantization,
)

__version__ = "0.1.0"

__all__ = [
    "BinaryQuantization",
    "Client",
    "Distance",
    "HnswConfig",
    "Index",
    "ProductQuantization",
    "QuantizationSearchParams",
    "ScalarQuantization",
    "SearchParams",
    "__version__",
    "_core",
    "parse_quantization",
]
