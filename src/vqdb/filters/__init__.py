"""Qdrant filters for vqdb: filter JSON -> AST -> bool masks over a segment's offsets.

- parse.py: JSON (or pydantic model_dump()) -> immutable Filter, ValueError naming the place.
- conditions.py: the AST and what each condition means for one payload (the scan path).
- evaluate.py: Filter.mask(points): indexes first, scans only what is still undecided.
- index.py, text.py: payload indexes answering conditions as numpy masks.
- paths.py: key paths ("a.b", "a[].b", "a[0]") to read, set and delete payload values.
- coverage.py: which payload indexes a filter's conditions need; its size (for strict mode).
"""

from vqdb.filters.conditions import Condition, Filter
from vqdb.filters.datetimes import parse_datetime
from vqdb.filters.index import FieldIndex, build_index
from vqdb.filters.parse import parse_filter
from vqdb.filters.paths import delete_at, parse_path, pick, raw_values, set_at, values_at
from vqdb.filters.points import Points

__all__ = [
    "Condition",
    "FieldIndex",
    "Filter",
    "Points",
    "build_index",
    "delete_at",
    "parse_datetime",
    "parse_filter",
    "parse_path",
    "pick",
    "raw_values",
    "set_at",
    "values_at",
]
