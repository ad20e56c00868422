"""
vqdb native core: SIMD kernels, quantizers, HNSW, the sparse index and the search pipeline
"""

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import numpy
import numpy.typing
from numpy.typing import NDArray


def simd_level() -> str:
    """The instruction set the kernels use now: 'serial', 'avx2' or 'avx512'."""

def max_simd_level() -> str:
    """The best instruction set this CPU supports."""

def set_simd_level(name: str) -> None:
    """
    Force a level at or below max_simd_level() (for tests and comparisons).
    """

def dot_f32(a: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

def l2_f32(a: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

def l1_f32(a: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

def dot4_f32(q: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], rows: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]:
    """Four rows at a time."""

def l24_f32(q: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], rows: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]:
    """Four rows at a time."""

def dot_u8(a: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int32]: ...

def dot4_u8(q: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], rows: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int32]:
    """Four rows at a time."""

def dot4_s8u8(q: Annotated[NDArray[numpy.int8], dict(shape=(None,), order='C', device='cpu', writable=False)], rows: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int32]:
    """Signed int8 query against four uint8 code rows at a time."""

def dot_s8u8(q: Annotated[NDArray[numpy.int8], dict(shape=(None,), order='C', device='cpu', writable=False)], rows: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int32]:
    """Signed int8 query against each uint8 code row."""

def l2_u8(a: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int32]: ...

def l1_u8(a: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int32]: ...

def hamming_b1(a: Annotated[NDArray[numpy.uint64], dict(shape=(None, None), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.uint64], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.uint32]: ...

def hamming_b1_rows(query: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], rows: Annotated[NDArray[numpy.uint64], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.uint32]:
    """out[i] = popcount(query ^ rows[i])"""

def andpop_b1(planes: Annotated[NDArray[numpy.uint64], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint64], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.uint32]:
    """out[i] = sum over p of 2^p * popcount(planes[p] & x[i])"""

def turbo_planes(query: Annotated[NDArray[numpy.uint64], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint64], dict(shape=(None, None), order='C', device='cpu', writable=False)], n_planes: int, words1: int | None = None) -> NDArray[numpy.int64]:
    """
    out[i] = sum_j q_j k_j: q the signed 8-bit query in planes, k_j row i's n_planes-bit codes (planes after the first cut to words1 words, default all)
    """

def turbo_pair(a: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], n_planes: int) -> tuple[int, int, int]:
    """(sum k_a k_b, sum k_a, sum k_b) of two codes' bit planes"""

def turbo_pair15(a: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], mask1: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> tuple[int, int, int, int]:
    """
    bits1_5 codes: (sum k_a k_b, sum k_a + k_b) over mask1's coordinates, then over the rest
    """

def turbo_nibbles(query: Annotated[NDArray[numpy.int8], dict(shape=(None,), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int32]:
    """
    out[i] = sum_j q[j] (x[i, j] & 15) + q[bytes + j] (x[i, j] >> 4), bytes = x.shape[1]
    """

def turbo_nibble_pair(a: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], b: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> tuple[int, int, int]:
    """(sum k_a k_b, sum k_a, sum k_b) over two codes' nibbles"""

def adc_pq_u8(table: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.uint32]:
    """out[i] = sum over m of table[m, codes[i, m]]"""

def dot_f16(q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint16], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]:
    """float32 rows against float16 rows (their bits as uint16)."""

def l2_f16(q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint16], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

def l1_f16(q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint16], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

def dot_u8f32(q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]:
    """float32 rows against uint8 rows (values 0..255)."""

def l2_u8f32(q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

def l1_u8f32(q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

def cos_u8f32(q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]:
    """dot(q[i], x[i]) / |x[i]| (0 for a zero row)."""

def pq_assign(x: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], centroids_t: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> tuple[NDArray[numpy.uint8], NDArray[numpy.float32]]: ...

class VectorSet:
    """Stored vectors with a codec that scores queries against them."""

    @staticmethod
    def float32(dim: int, metric: str) -> VectorSet: ...

    @staticmethod
    def float16(dim: int, metric: str) -> VectorSet:
        """Originals as float16 (2 bytes a dimension), rounded to nearest even."""

    @staticmethod
    def uint8(dim: int, metric: str) -> VectorSet:
        """
        Originals as uint8 (1 byte a dimension): truncated and saturated to 0..255.
        """

    @staticmethod
    def scalar(dim: int, metric: str, quantile: float = 1.0) -> VectorSet: ...

    @staticmethod
    def binary(dim: int, metric: str, encoding: str = 'one_bit', query_encoding: str = 'binary', center: float = 0.0) -> VectorSet:
        """
        Sign bits; `center` is subtracted from rows and queries instead of the cosine
        normalisation (127 over uint8 originals, as Qdrant does).
        """

    @staticmethod
    def turbo(dim: int, metric: str, bits: str = 'bits4') -> VectorSet:
        """
        TurboQuant codes: rotation, per-coordinate grids, RaBitQ-corrected scores.
        """

    @staticmethod
    def turbo4(dim: int, metric: str) -> VectorSet:
        """
        Originals as Qdrant's turbo4 datatype: 4 bits a dimension after a rotation, untrained.
        """

    @staticmethod
    def product(dim: int, metric: str, sub_dim: int, sample: int = 16384, iterations: int = 12, seed: int = 42, threads: int = 0) -> VectorSet: ...

    @property
    def dim(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def code_bytes(self) -> int: ...

    @property
    def trained(self) -> bool: ...

    @property
    def scores_members(self) -> bool: ...

    def score_pair(self, a: int, b: int) -> float:
        """Stored member a against stored member b: the graph build's score."""

    @property
    def memory_bytes(self) -> int: ...

    def __len__(self) -> int: ...

    def train(self, x: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> None: ...

    def add(self, x: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> int:
        """Encode and append rows; returns the offset of the first."""

    def set(self, ids: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], x: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> None:
        """Re-encode rows in place."""

    def encode(self, x: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.uint8]:
        """Codes of rows taken as they are (no cosine normalisation)."""

    def decode(self, codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]: ...

    def codes(self, ids: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> NDArray[numpy.uint8]:
        """Stored codes of the given offsets."""

    def score(self, query: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], ids: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]:
        """Scores (higher is better) of one query against stored offsets."""

    def view(self, codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> None:
        """
        Search `codes` in place (e.g. a read-only np.memmap of a segment file) instead of a
        copy. The set keeps the buffer alive and is read-only from then on. Load the codec
        parameters first: load_state() of a state without "codes".
        """

    @property
    def codes_view(self) -> Annotated[NDArray[numpy.uint8], dict(shape=(None, None), writable=False)]:
        """All stored codes without a copy (read-only; valid until the next add)."""

    @property
    def read_only(self) -> bool: ...

    def state(self) -> dict: ...

    def params(self) -> dict:
        """The codec parameters: state() without the codes."""

    def load_state(self, arrays: Mapping[str, Annotated[NDArray, dict(order='C', device='cpu', writable=False)]]) -> None: ...

class Hnsw:
    """HNSW graph over the members of a VectorSet."""

    def __init__(self, m: int = 16, ef_construct: int = 100, seed: int = 100) -> None: ...

    @property
    def size(self) -> int: ...

    @property
    def m(self) -> int: ...

    @property
    def ef_construct(self) -> int: ...

    @property
    def memory_bytes(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, set: VectorSet, threads: int = 0) -> None:
        """Insert the members of `set` the graph does not hold yet."""

    def state(self) -> dict: ...

    def load_state(self, arrays: Mapping[str, Annotated[NDArray, dict(order='C', device='cpu', writable=False)]]) -> None: ...

    def view_links0(self, links: Annotated[NDArray[numpy.uint32], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> None:
        """
        Walk level 0's links in place (a read-only np.memmap of a segment file: state()'s
        "links0") instead of a copy. The graph keeps the buffer alive and takes no new
        nodes from then on. Load the rest first: load_state() of a state without "links0".
        """

class StorageError(OSError):
    pass

class RowReader:
    """
    Reads fixed-stride rows of an open file by row number, many at once: through io_uring,
    or a pool of threads calling pread where io_uring is unavailable or refused.
    """

    def __init__(self, fd: int, offset: int, row_bytes: int, rows: int, method: str = 'io_uring', name: str = '') -> None:
        """
        Keeps a duplicate of `fd`; rows are `row_bytes` wide from `offset` on; `name` (the
        file's path) appears in errors.
        """

    @property
    def method(self) -> str:
        """
        The method in use: 'io_uring', or 'pread' when that was asked or io_uring was refused.
        """

    @property
    def fallback(self) -> str:
        """Why io_uring was asked for and not used ('' otherwise)."""

    @property
    def rows(self) -> int: ...

    @property
    def row_bytes(self) -> int: ...

    def read(self, ids: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> NDArray[numpy.uint8]:
        """
        Rows ids[i] as a (len(ids), row_bytes) uint8 array; any order, repeats allowed.
        """

def resident(rows: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], ids: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> NDArray[numpy.bool_]:
    """
    Whether each row ids[i] of `rows` (a file memory map) is in the page cache (mincore).
    """

def search(graph: Hnsw | None, walk: VectorSet, rescore: VectorSet | None, queries: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], limit: int, candidates: int, ef: int, allowed: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None, threads: int = 1, reader: RowReader | None = None, check_cache: bool = False, query_offsets: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None = None) -> tuple[NDArray[numpy.int64], NDArray[numpy.float32]]:
    """
    Top `limit` offsets and scores (higher is better) per query; -1 / NaN pad missing rows.
    With a `reader` (of the rescoring set's file) the candidates' originals are read through
    it, all of a batch at once; with `check_cache` a query whose candidates the page cache
    holds (a sample of them, by mincore) is rescored in place instead. Multivector sets take
    `query_offsets`: query q is rows queries[query_offsets[q]:query_offsets[q + 1]].
    """

def plain_sparse_vector(indices: object, values: object) -> tuple[NDArray[numpy.uint32], NDArray[numpy.float32]] | None:
    """
    (indices as uint32, values as float32) sorted by index, from two lists of plain ints
    and floats that make a valid sparse vector (u32 indices, each once; finite float32
    values); None for anything else, which the caller's own parse then explains.
    """

class SparseIndex:
    """
    An inverted index over sparse vectors (rows appended at offsets 0, 1, ...), searched by
    an exact dot product. It keeps the rows in CSR form too: the arrays to persist.
    """

    def __init__(self) -> None: ...

    @property
    def size(self) -> int:
        """Rows added."""

    @property
    def nnz(self) -> int:
        """Stored (index, value) pairs."""

    @property
    def terms(self) -> int:
        """Distinct indices (posting lists)."""

    @property
    def memory_bytes(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, indptr: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], indices: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], values: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """Append len(indptr) - 1 rows in CSR form (unique indices within a row)."""

    def load(self, indptr: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], indices: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], values: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        Replace everything with these CSR rows (as the *_view properties gave them).
        """

    def postings_state(self) -> dict:
        """
        The postings laid out flat, for view(): terms ascending, each term's rows at
        rows[starts[t]:starts[t + 1]] with their weights, its largest and smallest weight
        at bounds[2t], bounds[2t + 1].
        """

    def view(self, indptr: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], indices: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], values: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], terms: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], starts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], rows: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], weights: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], bounds: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> None:
        """
        Search these CSR rows and their postings (postings_state()'s) in place, e.g.
        read-only np.memmaps of a segment's files, instead of copies. The index keeps the
        buffers alive and takes no rows from then on.
        """

    @property
    def viewed(self) -> bool: ...

    @property
    def indptr_view(self) -> Annotated[NDArray[numpy.int64], dict(shape=(None,), writable=False)]:
        """
        Row starts, size + 1 entries (read-only, no copy; valid until the next add).
        """

    @property
    def indices_view(self) -> Annotated[NDArray[numpy.uint32], dict(shape=(None,), writable=False)]:
        """
        Every row's indices, one after another (read-only, no copy; valid until the next add).
        """

    @property
    def values_view(self) -> Annotated[NDArray[numpy.float32], dict(shape=(None,), writable=False)]:
        """
        Every row's values, one after another (read-only, no copy; valid until the next add).
        """

    def document_frequency(self, terms: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], alive: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None) -> NDArray[numpy.uint64]:
        """How many rows set in `alive` (None: all) hold each term."""

    def search(self, indptr: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], indices: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], values: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], k: int, allowed: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None, threads: int = 1, prune: bool = True) -> tuple[NDArray[numpy.int64], NDArray[numpy.float32]]:
        """
        Top `k` rows and dot products per query (queries in CSR form), best first; only rows
        sharing an index with the query and set in `allowed` (None: all) count. -1 / NaN pad.
        `prune`: False reads every posting list in full (the same answer, for tests).
        """

def idf_weighted(values: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], counts: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)], total: int) -> NDArray[numpy.float32]:
    """
    Query weights times Qdrant's IDF, ln((N - n + 0.5) / (n + 0.5) + 1) with n = counts[i]
    and N = total, in double, rounded to float32 once.
    """

class MultiVectorSet(VectorSet):
    """
    Multivectors: member i is a group of rows of `rows` (any codec), scored by MaxSim (the
    sum over query rows of the best score against the member's rows). A graph or the plain
    scan sees one member per group.
    """

    def __init__(self, rows: VectorSet) -> None:
        """
        Wraps `rows`, an empty set of plain rows; it is the multivector set's from now on.
        """

    def add_groups(self, x: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], offsets: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> int:
        """
        Append groups: group i is rows x[offsets[i]:offsets[i + 1]]; returns the first's offset.
        """

    def score_groups(self, query: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], ids: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float32]:
        """MaxSim scores (higher is better) of one query matrix."""

    def score_pair(self, a: int, b: int) -> float:
        """MaxSim of member a (as the query) against member b."""

    @property
    def rows(self) -> int:
        """Rows stored, over all groups."""

    @property
    def offsets_view(self) -> Annotated[NDArray[numpy.uint64], dict(shape=(None,), writable=False)]:
        """Group offsets into the rows without a copy (valid until the next add)."""

    @property
    def codes_view(self) -> Annotated[NDArray[numpy.uint8], dict(shape=(None, None), writable=False)]:
        """
        The codes of every row, row-major, without a copy (valid until the next add).
        """

def merge(positions: Sequence[int], offsets: Sequence[Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)]], scores: Sequence[Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)]], queries: int, ascending: bool, threshold: float | None, wanted: int) -> tuple[NDArray[numpy.float32], NDArray[numpy.int64], NDArray[numpy.int64]]:
    """
    Each query's points from several segments' (queries, k) answers (offset -1 pads):
    by score (ascending: distances), position, offset; NaN last; past `threshold` dropped;
    `wanted` at most. Returns scores and keys (position << 40 | offset) laid end to end, and
    each query's end.
    """

def fuse(keys: Sequence[Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)]], scores: Sequence[Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)]]) -> tuple[NDArray[numpy.int64], NDArray[numpy.float32]]:
    """
    Each key's scores summed over the lists in list order (float32), best first; ties and
    NaN totals (last) in the order the keys were first seen.
    """

def rrf_scores(n: int, k: float, weight: float) -> NDArray[numpy.float32]:
    """
    RRF's scores of ranks 1..n in a list of this weight: 1 / (rank / weight + k - 1) in
    float32; all 0 where the weight is not positive.
    """

class Leaf:
    """
    A leaf of a query's stage tree: queries of one vector, dense or sparse, and a search per
    segment that holds it (see cpp/query/leaf.h). `ranked` runs one; `fused_rrf` several
    and their fusion, in one call without the GIL.
    """

    @staticmethod
    def dense(rows: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], groups: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None, shown: int, ascending: bool, threshold: float | None, wanted: int) -> Leaf:
        """
        Dense queries: each a row, or with `groups` (queries + 1 offsets from 0) each a
        multivector's rows; `shown`: 0 engine scores as they are, 1 Euclid's distance, 2
        Manhattan's; `ascending`: lower scores first; points past `threshold` dropped;
        `wanted` at most per query.
        """

    @staticmethod
    def sparse(indptr: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], terms: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], weights: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], threshold: float | None, wanted: int) -> Leaf:
        """
        Sparse queries in CSR form (unique terms in each): dot products, higher first.
        """

    def add_dense(self, position: int, graph: Hnsw | None, walk: VectorSet, rescore: VectorSet | None, reader: RowReader | None, check_cache: bool, limit: int, candidates: int, ef: int, allowed: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None, ids: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None) -> None:
        """
        The search of the segment at `position`, as `search` takes it; `ids`: each row's
        offset in the segment (None: the row itself).
        """

    def add_sparse(self, position: int, index: SparseIndex, k: int, allowed: Annotated[NDArray[numpy.uint64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None, ids: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None) -> None:
        """The search of the segment at `position`'s sparse index."""

    def add_rows(self, position: int, set: VectorSet, rows: Annotated[NDArray[numpy.uint32], dict(shape=(None,), order='C', device='cpu', writable=False)], k: int, ids: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)] | None) -> None:
        """
        A rescoring stage's candidates in the segment at `position`: their `rows` of `set`
        scored exactly by the leaf's one dense query, the best `k` kept (ties: lower row).
        """

def ranked(leaf: Leaf, threads: int = 0) -> tuple[NDArray[numpy.float32], NDArray[numpy.int64], NDArray[numpy.int64]]:
    """
    Each of the leaf's queries' points over its segments, best first, as `merge` returns
    them: scores and keys (position << 40 | offset) laid end to end, and each query's end.
    `threads`: for a batch of queries (0: every core).
    """

def fused_rrf(leaves: Sequence[Leaf], k: float, weights: Sequence[float], threshold: float | None, wanted: int) -> tuple[NDArray[numpy.float32], NDArray[numpy.int64]]:
    """
    Reciprocal rank fusion (fusion.py's scores) of the leaves' ranked lists, each leaf one
    query run as `ranked` runs it: scores and keys, best first, those under `threshold`
    dropped, `wanted` at most.
    """

def plain_dense_vector(raw: object | None, dim: int) -> NDArray[numpy.float32] | None:
    """
    A dense query from a list of `dim` plain floats and ints, each finite in float32, as a
    float32 array (a contiguous float32 array of `dim` finite values: itself); None for
    anything else, which the caller's own parse then explains.
    """

def openings(text: bytes) -> int:
    """
    How many '[' and '{' the bytes hold (strings included): a bound on JSON's depth.
    """

def number_arrays(text: bytes, min_count: int) -> list[tuple[tuple[str | int, ...], int, int, numpy.typing.NDArray[numpy.float32]]]:
    """
    The JSON text's arrays of at least `min_count` plain numbers, each finite in float32
    (a request's dense vectors), as (path of keys and indices, start, end, float32 array);
    none if the text is not well formed as far as the scan reads it.
    """

def shortest_doubles(values: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> NDArray[numpy.float64]:
    """
    Each float32 as the double its shortest round-tripping decimal names (how Qdrant
    writes an f32), NaN and infinities as they are.
    """

def json_copy(value: Any) -> Any:
    """
    A JSON value's own copy, for a caller to keep or change: dicts and lists rebuilt, all
    else (immutable) shared.
    """
