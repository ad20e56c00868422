"""The public index of this layer: vectors under integer ids, a graph or a plain scan, and an
optional quantized copy searched first and rescored with the originals.

    >>> import numpy as np, vqdb
    >>> index = vqdb.Index(4, "Cosine", quantization={"scalar": {"type": "int8"}})
    >>> index.add([1, 2, 3], np.eye(3, 4, dtype=np.float32))
    >>> params = {"quantization": {"rescore": True}}
    >>> ids, scores = index.search([1, 0.1, 0, 0], limit=2, params=params)
    >>> ids.tolist()
    [1, 2]

Persistence belongs to the layer above: `state()` returns plain numpy arrays and a config dict,
and `Index.from_state` rebuilds an identical index from them without re-encoding or rebuilding.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from vqdb.distance import Distance
from vqdb.index import bitset, ragged
from vqdb.index.live_ids import LiveIds
from vqdb.index.multi_vectors import MultiVectors, is_flat, matrix
from vqdb.native import _core
from vqdb.params import HnswConfig, SearchParams, from_mapping, search_params
from vqdb.quantization import QuantizationConfig, parse_quantization
from vqdb.validation import as_ids, as_vectors

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]

_CHUNK = 10_000  # vectors per native call while a progress bar is shown
_EXACT = SearchParams(exact=True)

# Qdrant's `datatype` of the stored originals -> their numpy element type. float16 rounds to
# nearest; uint8 keeps integers 0..255 (truncated toward zero and saturated, as Qdrant does).
DATATYPES: dict[str, type[np.generic]] = {
    "float32": np.float32,
    "float16": np.float16,
    "uint8": np.uint8,
    "turbo4": np.float32,  # 4-bit codes after a rotation: decoded, they are float32 again
}


class Index:
    """An in-memory vector index.

    dim, distance ("Cosine", "Dot", "Euclid", "Manhattan"); quantization in Qdrant's shape (see
    vqdb.quantization); hnsw: {"m", "ef_construct"} or None for a plain brute-force index;
    threads: cores used to build (0 = all). multivector: every vector is a matrix (a group of
    rows, ColBERT-style) scored by MaxSim; vectors and queries are then MultiVectors batches
    or lists of matrices (see vqdb.index.multi_vectors), and one matrix is one query.
    datatype: how the originals are stored, "float32", "float16" (2 bytes a dimension) or
    "uint8" (1 byte, integers 0..255; Cosine vectors are then kept unnormalised and scored by
    dot / (|q| |x|)). Vectors and queries are float32 and converted as Qdrant converts them;
    quantized copies are trained on the converted values.

    Searches release the GIL and may run from several Python threads at once; `add` and
    `delete` must not overlap them (the collection layer serialises writes).
    """

    def __init__(
        self,
        dim: int,
        distance: Distance | str = Distance.COSINE,
        *,
        quantization: QuantizationConfig | Mapping[str, Any] | str | None = None,
        hnsw: HnswConfig | Mapping[str, Any] | None = HnswConfig(),  # noqa: B008 (frozen)
        threads: int = 0,
        multivector: bool = False,
        datatype: str = "float32",
    ) -> None:
        if int(dim) < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        if datatype not in DATATYPES:
            raise ValueError(f"datatype must be one of {', '.join(DATATYPES)}, got {datatype!r}")
        self.datatype = datatype
        self.dim = int(dim)
        self.distance = Distance.parse(distance)
        self.quantization = parse_quantization(quantization)
        self.hnsw = None if hnsw is None else from_mapping(HnswConfig, hnsw, "hnsw config")
        self.threads = int(threads)
        self.multivector = bool(multivector)
        metric = self.distance.metric
        originals = getattr(_core.VectorSet, datatype)(self.dim, metric)
        self._originals = self._grouped(originals)
        self._quantized = (
            self._grouped(self.quantization.build(self.dim, self.distance, datatype))
            if self.quantization
            else None
        )
        self._graph = _core.Hnsw(self.hnsw.m, self.hnsw.ef_construct) if self.hnsw else None
        self._live = LiveIds()
        self._reader: _core.RowReader | None = None  # reads the originals' file for rescoring
        self._check_cache = False

    def _grouped(self, rows: _core.VectorSet) -> _core.VectorSet:
        """The set itself, or for multivectors a MultiVectorSet of its rows."""
        return _core.MultiVectorSet(rows) if self.multivector else rows

    def __repr__(self) -> str:
        quant = self.quantization.describe() if self.quantization else "none"
        graph = (
            f"hnsw m={self.hnsw.m} ef_construct={self.hnsw.ef_construct}" if self.hnsw else "plain"
        )
        multi = ", multivector" if self.multivector else ""
        if self.datatype != "float32":
            multi += f", datatype={self.datatype}"
        return (
            f"Index(dim={self.dim}, distance={self.distance.value}{multi}, "
            f"quantization={quant}, {graph}, vectors={len(self)})"
        )

    # ---- size and memory ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, point_id: object) -> bool:
        return point_id in self._live

    def memory_usage(self) -> dict[str, int]:
        """Bytes held in RAM by the originals, the quantized copy, the graph, the id map and
        the live bitset (originals searched in place from a file count 0)."""
        return {
            "originals": self._originals.memory_bytes,
            "quantized": self._quantized.memory_bytes if self._quantized else 0,
            "graph": self._graph.memory_bytes if self._graph else 0,
            **self._live.memory_usage(),
        }

    def footprint(self) -> dict[str, tuple[int, int]]:
        """(bytes in RAM, bytes in all) of the originals, the codes and the graph: what the
        dashboard splits into RAM and disk (a part searched in place from a file holds no RAM
        of its own; the page cache is the kernel's)."""
        parts: dict[str, tuple[int, int]] = {}
        for name, vectors in (("originals", self._originals), ("codes", self._quantized)):
            if vectors is None:
                parts[name] = (0, 0)
                continue
            # memory_bytes: what the set holds itself (codes and per-vector side data, or only
            # the side data when the codes are a view of a file)
            viewed = vectors.size * vectors.code_bytes if vectors.read_only else 0
            parts[name] = (vectors.memory_bytes, vectors.memory_bytes + viewed)
        graph = self._graph.memory_bytes if self._graph else 0
        parts["graph"] = (graph, graph)
        return parts

    @property
    def read_only(self) -> bool:
        """Whether the originals are searched in place from a file (see from_state)."""
        return bool(self._originals.read_only)

    def read_originals_through(
        self, reader: _core.RowReader | None, *, check_cache: bool = False
    ) -> None:
        """Rescoring (and `vectors`) read the originals through `reader`, a RowReader of the file
        the originals view, instead of in place: all candidates of a search at once rather than
        a page fault at a time. `check_cache`: a query whose candidates the page cache holds
        (mincore on a few of them) is rescored in place. None: back to reading in place."""
        if reader is not None and (
            self.multivector  # its rows are read in place (MaxSim reads every row of a group)
            or not self.read_only
            or reader.rows != self._originals.size
            or reader.row_bytes != self._originals.code_bytes
        ):
            raise ValueError("the reader must read the file the originals view")
        self._reader, self._check_cache = reader, check_cache

    @property
    def read_path(self) -> str:
        """How rescoring reads the originals: "ram", "mmap" (in place from the memory map),
        "io_uring" or "pread" (gathered by the reader), or "mmap+io_uring" / "mmap+pread"
        (in place when the page cache holds the candidates, else gathered)."""
        if not self.read_only:
            return "ram"
        if self._reader is None:
            return "mmap"
        return ("mmap+" if self._check_cache else "") + self._reader.method

    @property
    def code_bytes(self) -> int:
        """Bytes per vector of what the search walks (the quantized copy when there is one)."""
        return self._walk_set.code_bytes

    @property
    def _build_set(self) -> _core.VectorSet:
        """What the graph is built with: quantized scores where the codec can compare members."""
        walk = self._walk_set
        return walk if walk.scores_members else self._originals

    @property
    def _walk_set(self) -> _core.VectorSet:
        return self._quantized if self._quantized is not None else self._originals

    # ---- writes ------------------------------------------------------------------------------

    def add(self, ids: Any, vectors: Any, *, progress: bool | None = None) -> None:
        """Adds vectors under new ids. The quantizer trains on the first batch it is given."""
        if self.multivector:
            return self._add_groups(ids, vectors)
        x, _ = as_vectors(vectors, self.dim)
        new_ids = self._live.check_new(ids, x.shape[0])
        n = x.shape[0]
        if n == 0:
            return
        if self._quantized is not None and not self._quantized.trained:
            self._quantized.train(self._stored(x))
        if progress is None:
            progress = n >= 100_000 and sys.stderr.isatty()
        first = self._originals.size
        chunk = _CHUNK if progress else n
        with tqdm(total=n, disable=not progress, desc="indexing", unit="vec") as bar:
            for start in range(0, n, chunk):
                part = x[start : start + chunk]
                self._originals.add(part)
                if self._quantized is not None:
                    self._quantized.add(self._stored(part))
                if self._graph is not None:
                    self._graph.add(self._build_set, self.threads)
                bar.update(part.shape[0])
        self._live.appended(new_ids, first)

    def _add_groups(self, ids: Any, vectors: Any) -> None:
        batch = MultiVectors.parse(vectors, self.dim, "vectors")
        new_ids = self._live.check_new(ids, len(batch))
        if len(batch) == 0:
            return
        offsets = batch.offsets - batch.offsets[0]
        rows = np.ascontiguousarray(batch.rows[: int(offsets[-1])])
        stored = self._stored(rows)
        if self._quantized is not None and not self._quantized.trained:
            self._quantized.train(stored)
        first = self._originals.size
        cast(_core.MultiVectorSet, self._originals).add_groups(rows, offsets)
        if self._quantized is not None:
            cast(_core.MultiVectorSet, self._quantized).add_groups(stored, offsets)
        if self._graph is not None:
            self._graph.add(self._build_set, self.threads)
        self._live.appended(new_ids, first)

    def _stored(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Rows as the originals store them (float16-rounded, uint8-truncated), unnormalised:
        what quantized copies are trained on and encode (Qdrant quantizes the stored values)."""
        if self.datatype == "float32":
            return x
        return self._originals.decode(self._originals.encode(x))

    def _decoded(self, codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Stored rows (raw bytes, code_bytes wide) as float32."""
        if self.datatype == "float32":
            return codes.view(np.float32).reshape(-1, self.dim)
        rows = np.ascontiguousarray(codes).reshape(-1, self._originals.code_bytes)
        return self._originals.decode(rows)

    def delete(self, ids: Any) -> None:
        """Marks ids deleted: never returned again, while the graph still routes through them."""
        self._live.delete(ids)

    def vectors(self, ids: Any) -> Any:
        """The stored originals of live ids, as searched (unit length for Cosine, but for uint8,
        which stores vectors as given; float16-rounded or uint8 integer values): a float32
        matrix, or for multivectors a MultiVectors batch."""
        return self.vectors_at(self.rows(ids))

    def rows(self, ids: Any) -> Ids:
        """The rows that hold the vectors of live ids (for `vectors_at`)."""
        return self._live.existing(as_ids(ids))

    def vectors_at(self, offsets: Ids) -> Any:
        """`vectors` of the ids at these rows, whether or not still live: an index that takes
        no more vectors keeps its rows, so they may be read after the lock `rows` was asked
        under is let go (the optimizer's build reads its sources so)."""
        if self.multivector:
            originals = cast(_core.MultiVectorSet, self._originals)
            # the set's offsets start at 0: positions in the batch are positions in the set
            groups, at = ragged.gather(originals.offsets_view.astype(np.int64), offsets)
            return MultiVectors(groups, self._decoded(self._originals.codes_view[at]))
        if self._reader is not None:  # read, so a damaged file is an error, never a SIGBUS
            rows = self._reader.read(offsets.astype(np.uint32))
        else:
            rows = self._originals.codes_view[offsets]
        return self._decoded(rows)

    def live_mask(self, size: int) -> npt.NDArray[np.bool_]:
        """mask[i]: whether id i (for ids below `size`) is live. Filtered searches ask this per
        query, so ids that are their own offsets (how segments use an Index) skip the id map."""
        return self._live.live_mask(size)

    def live_ids(self) -> Ids:
        """Every live id, in the order they were added."""
        return self._live.live_ids()

    # ---- search ------------------------------------------------------------------------------

    def search(
        self,
        queries: Any,
        limit: int = 10,
        params: SearchParams | Mapping[str, Any] | None = None,
        *,
        allowed_ids: Any = None,
        threads: int = 0,
        rescored: int | None = None,
    ) -> tuple[Ids, Scores]:
        """Nearest ids and scores, best first: (limit,) arrays for one query, (n, limit) for a
        batch. `allowed_ids` restricts the search to those ids (or, as a boolean array, to the
        ids i where allowed_ids[i]); rows with fewer matches end in -1 / NaN. `rescored`: the
        best `limit` of the `rescored` points the walk finds, by exact scores, whatever the
        params say of rescoring (a prefetch of that many rescored by a query: query.py).
        `threads` (0: every core): a batch's queries are shared out among them; one query's
        plain scan (no graph, or `exact`) is split among them once it holds 2 MB of codes a
        thread, with the same answer as on one."""
        if len(self) == 0:
            raise ValueError("the index is empty: add vectors before searching")
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        if limit > len(self):
            raise ValueError(f"limit {limit} is larger than the index ({len(self)} vectors)")
        plan = search_params(params)
        groups = None
        if self.multivector:
            q, groups, single = self._query_groups(queries)
        else:
            q, single = as_vectors(queries, self.dim, "queries", finite=False)
        graph, walk, rescore, candidates, ef = self._plan(plan, int(limit), rescored)
        reader = self._reader if rescore is not None else None
        offsets, scores = _core.search(
            graph,
            walk,
            rescore,
            q,
            int(limit),
            candidates,
            ef,
            self._live.allowed(allowed_ids),
            threads,
            reader,
            self._check_cache,
            groups,
        )
        offsets = self._live.to_ids(offsets)
        api_scores = self.distance.to_api(scores)
        return (offsets[0], api_scores[0]) if single else (offsets, api_scores)

    def add_to(
        self,
        leaf: _core.Leaf,
        position: int,
        limit: int,
        params: SearchParams,
        *,
        allowed_ids: Any = None,
        rescored: int | None = None,
    ) -> None:
        """This index's search for `limit` points as `search` plans it, added to a query
        stage's leaf (the segment at `position`; its query is the leaf's own)."""
        graph, walk, rescore, candidates, ef = self._plan(params, limit, rescored)
        leaf.add_dense(
            position,
            graph,
            walk,
            rescore,
            self._reader if rescore is not None else None,
            self._check_cache,
            limit,
            candidates,
            ef,
            self._live.allowed(allowed_ids),
            self._live.row_ids,
        )

    def add_rescoring_to(self, leaf: _core.Leaf, position: int, ids: Any, limit: int) -> None:
        """The best `limit` of `ids` by exact scores (a rescoring stage's candidates), added to
        a query stage's leaf: for one dense query against originals held in memory or mapped,
        the scores of just those rows; otherwise an exact search allowed those ids alone
        (multivectors, originals read through a RowReader)."""
        if self.multivector or self._reader is not None:
            self.add_to(leaf, position, limit, _EXACT, allowed_ids=ids)
            return
        offsets = self._live.offsets(as_ids(ids))
        rows = offsets[offsets >= 0].astype(np.uint32)
        leaf.add_rows(position, self._originals, rows, limit, self._live.row_ids)

    def _query_groups(
        self, queries: Any
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], bool]:
        """Multivector queries: one matrix, or a batch (MultiVectors or a list of matrices)."""
        if isinstance(queries, MultiVectors):
            batch, single = queries, False
        elif (isinstance(queries, np.ndarray) and queries.ndim == 2) or (
            isinstance(queries, Sequence) and len(queries) > 0 and is_flat(queries[0])
        ):
            batch, single = MultiVectors.of([matrix(queries, self.dim, "query")], self.dim), True
        else:
            batch, single = MultiVectors.parse(queries, self.dim, "queries"), False
        batch.check(self.dim, "queries")
        offsets = batch.offsets - batch.offsets[0]
        rows = np.ascontiguousarray(batch.rows[: int(offsets[-1])], dtype=np.float32)
        return rows, offsets, single

    def _plan(
        self, params: SearchParams, limit: int, rescored: int | None = None
    ) -> tuple[_core.Hnsw | None, _core.VectorSet, _core.VectorSet | None, int, int]:
        """Qdrant's semantics: which graph, which scores to walk with, whether to rescore."""
        if params.exact:
            return None, self._originals, None, limit, 0
        ef = params.hnsw_ef or (self.hnsw.ef_construct if self.hnsw else 0)
        walked = limit if rescored is None else max(limit, min(rescored, len(self)))
        # a beam wider than the graph, or more candidates than vectors, finds nothing more
        # (and an unbounded one overflows the kernel's size_t)
        ef = min(ef, max(self._live.rows, walked))
        q = params.quantization
        if self._quantized is None or self.quantization is None or q.ignore:
            return self._graph, self._originals, None, limit, max(ef, walked)
        if rescored is not None:
            return self._graph, self._quantized, self._originals, walked, ef
        rescore = self.quantization.rescore_by_default if q.rescore is None else q.rescore
        wanted = min((q.oversampling or 1.0) * limit, float(len(self)))  # inf included
        candidates = max(limit, math.floor(wanted))
        return self._graph, self._quantized, self._originals if rescore else None, candidates, ef

    # ---- state for the persistence layer -----------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The constructor arguments, as plain data."""
        return index_config(
            self.dim,
            self.distance,
            quantization=self.quantization,
            hnsw=self.hnsw,
            multivector=self.multivector,
            datatype=self.datatype,
        )

    @property
    def alive(self) -> bitset.Bitset:
        """The live-offset bitset: what a checkpoint rewrites, while the rest never changes."""
        return self._live.alive

    def _parts(self) -> list[tuple[str, Any]]:
        parts: list[tuple[str, Any]] = [("originals", self._originals)]
        if self._quantized is not None:
            parts.append(("quantized", self._quantized))
        if self._graph is not None:
            parts.append(("graph", self._graph))
        return parts

    def state(self, *, shared: bool = False) -> dict[str, npt.NDArray[Any]]:
        """Everything needed to rebuild this index, as named numpy arrays. The codes are views
        of the index's own memory, valid until the next `add`: persist them, do not keep them.
        (A view reads these same arrays: `shared` adds nothing.)"""
        arrays = self._live.state()
        for prefix, part in self._parts():
            if isinstance(part, _core.VectorSet):
                arrays.update({f"{prefix}.{k}": v for k, v in part.params().items()})
                arrays[f"{prefix}.codes"] = part.codes_view
            else:
                arrays.update({f"{prefix}.{k}": v for k, v in part.state().items()})
        return arrays

    @classmethod
    def from_state(
        cls,
        config: Mapping[str, Any],
        arrays: Mapping[str, npt.NDArray[Any]],
        threads: int = 0,
        *,
        views: tuple[str, ...] = (),
    ) -> Index:
        """The index `state()` described. The codes of the parts named in `views` ("originals",
        "quantized"), and the level-0 links of the graph if "graph" is named, are searched in
        place from the arrays given (read-only memory maps of segment files, typically)
        instead of copied into RAM; that index can no longer `add`."""
        index = cls(**config, threads=threads)
        for prefix, part in index._parts():
            own = {k[len(prefix) + 1 :]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
            if prefix in views and isinstance(part, _core.Hnsw):
                links = own.pop("links0")
                part.load_state(own)
                part.view_links0(links)
            elif prefix in views:
                codes = own.pop("codes")
                part.load_state(own)
                part.view(codes)
            else:
                part.load_state(own)
        index._live = LiveIds.from_state(arrays)
        return index


def plain_query(raw: Any, dim: int) -> npt.NDArray[np.float32] | None:
    """A dense query given as JSON gives it, a list of `dim` plain floats and ints, each finite
    in float32, read in one native pass; None for anything else (the caller's parse says what
    is wrong, or converts what is not a list)."""
    vector: npt.NDArray[np.float32] | None = _core.plain_dense_vector(raw, dim)
    return vector


def index_config(
    dim: int,
    distance: Distance | str,
    *,
    quantization: QuantizationConfig | Mapping[str, Any] | str | None = None,
    hnsw: HnswConfig | Mapping[str, Any] | None = HnswConfig(),  # noqa: B008 (frozen)
    multivector: bool = False,
    datatype: str = "float32",
) -> dict[str, Any]:
    """What `Index(...).config()` returns for these arguments, without building the index (the
    optimizer compares it with what each segment was built with)."""
    parsed = parse_quantization(quantization)
    quant = None
    if parsed is not None:
        quant = {parsed.kind: {k: v for k, v in asdict(parsed).items() if v is not None}}
    graph = None if hnsw is None else asdict(from_mapping(HnswConfig, hnsw, "hnsw config"))
    config: dict[str, Any] = {
        "dim": int(dim),
        "distance": Distance.parse(distance).value,
        "quantization": quant,
        "hnsw": graph,
    }
    if multivector:  # absent otherwise: configs of plain vectors stay as they were
        config["multivector"] = True
    if datatype != "float32":  # likewise
        config["datatype"] = datatype
    return config
