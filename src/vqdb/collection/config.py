"""A collection's configuration in Qdrant's shapes: parsed from CreateCollection, changed by
UpdateCollection diffs, echoed as CollectionInfo.config.

The one source of truth is `body`: the CreateCollection JSON the user gave, validated, with
nulls dropped. Everything else (Qdrant's defaults, each vector's effective settings) is derived
from it. So an update is "merge the diff into the body and parse again", the manifest stores the
body, and the echo shows exactly the optional fields the user set (qdrant-client refuses unknown
or wrongly-null ones) plus the fields Qdrant's schema requires, filled with its defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from vqdb import models
from vqdb.distance import Distance
from vqdb.errors import invalid
from vqdb.params import MAX_DIM, MAX_EF_CONSTRUCT, MAX_HNSW_M
from vqdb.quantization import QuantizationConfig, parse_quantization

Check = Callable[[Any, str], Any]  # (value, where) -> normalized value, or ValueError


def _at(what: str, key: str) -> str:
    return f"{what}.{key}" if what else key


def _object(value: Any, what: str) -> dict[str, Any]:
    """A JSON object with its null fields dropped (null means "not set" in every Qdrant diff)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what or 'the request'} must be an object, got {value!r}")
    return {str(k): v for k, v in value.items() if v is not None}


def _checked(value: Any, rules: Mapping[str, Check], what: str) -> dict[str, Any]:
    """Validates an object field by field; nulls and unknown fields are dropped. Qdrant's
    server ignores unknown fields everywhere but in filters and payload selectors (serde's
    default), so a body written for another Qdrant version is accepted by both alike."""
    given = _object(value, what)
    clean = {k: rules[k](v, _at(what, k)) for k, v in given.items() if k in rules}
    return {k: v for k, v in clean.items() if v is not None}


def _uint(lo: int, hi: int | None = None) -> Check:
    """An unsigned integer in [lo, hi]. As in Qdrant, what is no unsigned integer at all is
    malformed (400); one out of the range is refused by its validator (422)."""

    def check(value: Any, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{what} must be an integer >= {lo}, got {value!r}")
        if value < lo or hi is not None and value > hi:
            limit = f"must be {lo} or larger" if hi is None else f"must be from {lo} to {hi}"
            raise invalid(what, f"value {value} invalid, {limit}")
        return value

    return check


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {value!r}")
    return value


def _fraction(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


def _choice(*allowed: str) -> Check:
    def check(value: Any, what: str) -> str:
        if value not in allowed:
            raise ValueError(f"{what} {value!r} is not supported (expected {', '.join(allowed)})")
        return str(value)

    return check


def _graph_m(value: Any, what: str) -> int:
    m: int = _uint(0, MAX_HNSW_M)(value, what)
    if m == 1:  # the graph needs two links per node; Qdrant's m = 0 means no graph at all
        raise ValueError(f"{what} must be 0 (no graph) or at least 2, got 1")
    return m


def _unsupported(value: Any, what: str) -> None:
    if not (isinstance(value, Mapping) and not value):  # an empty map asks for nothing
        raise ValueError(f"{what} is not supported")


def _keep(value: Any, what: str) -> Any:
    return value


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object, got {value!r}")
    return {str(k): v for k, v in value.items()}


def _distance(value: Any, what: str) -> str:
    try:
        return Distance.parse(value).value
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def _option(default: Any, check: Check) -> Any:
    """A settings field: its Qdrant default and the check its JSON value must pass."""
    return field(default=default, metadata={"check": check})


def _section(cls: type[Any]) -> Check:
    """The check of a JSON object whose fields are those of the settings dataclass `cls`."""
    rules = {f.name: f.metadata["check"] for f in fields(cls)}
    return lambda value, what: _checked(value, rules, what)


def _set(settings: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(settings).items() if v is not None}


@dataclass(frozen=True)
class HnswSettings:
    """Qdrant's HnswConfig. m = 0 builds no graph; full_scan_threshold is in KB of vectors."""

    m: int = _option(16, _graph_m)
    ef_construct: int = _option(100, _uint(4, MAX_EF_CONSTRUCT))
    full_scan_threshold: int = _option(10_000, _uint(10))
    max_indexing_threads: int = _option(0, _uint(0))
    on_disk: bool = _option(False, _bool)
    memory: str | None = _option(None, _choice("cold", "cached", "pinned"))
    payload_m: int | None = _option(None, _uint(0))
    inline_storage: bool | None = _option(None, _bool)


@dataclass(frozen=True)
class OptimizersSettings:
    """Qdrant's OptimizersConfig. Sizes in KB of vectors; indexing_threshold 0 = never index;
    max_optimization_threads None or "auto" = no limit."""

    deleted_threshold: float = _option(0.2, _fraction)
    vacuum_min_vector_number: int = _option(1000, _uint(100))
    default_segment_number: int = _option(0, _uint(0))
    max_segment_size: int | None = _option(None, _uint(1))
    memmap_threshold: int | None = _option(None, _uint(0))
    indexing_threshold: int = _option(10_000, _uint(0))
    flush_interval_sec: int = _option(5, _uint(0))
    max_optimization_threads: int | str | None = _option(
        None, lambda v, w: v if v == "auto" else _uint(0)(v, w)
    )
    prevent_unoptimized: bool | None = _option(None, _bool)


def _memory(storage: str) -> Check:
    """Qdrant's memory placement of vector or payload storage, where `pinned` (a heap copy)
    does not exist (422, as its validator refuses it)."""
    placements = _choice("cold", "cached", "pinned")

    def check(value: Any, what: str) -> str:
        if placements(value, what) == "pinned":
            raise invalid(what, f"`pinned` memory placement is not supported for {storage}")
        return str(value)

    return check


def _sparse_datatype(value: Any, what: str) -> str:
    if value == "turbo4":
        raise invalid(what, "sparse vectors do not support the `turbo4` datatype")
    if value in ("float16", "uint8"):
        raise ValueError(
            f"{what} {value!r} is not supported: vqdb stores sparse weights as float32 "
            "(float16 and uint8 are for dense vectors and multivectors here)"
        )
    checked: str = _choice("float32")(value, what)
    return checked


@dataclass(frozen=True)
class SparseIndexSettings:
    """Qdrant's SparseIndexParams. full_scan_threshold is a count of vectors here (not KB);
    vqdb's sparse search is the same exact one whatever it says. `on_disk` (or `memory:
    cold`): an optimized segment's rows and postings are read in place from its files, not
    held in RAM (a follower always reads them so). Weights are float32 (float16 and uint8 are
    a later step: asking for them is a 400 naming them)."""

    full_scan_threshold: int | None = _option(None, _uint(0))
    on_disk: bool | None = _option(None, _bool)
    memory: str | None = _option(None, _choice("cold", "cached", "pinned"))
    datatype: str | None = _option(None, _sparse_datatype)


@dataclass(frozen=True)
class WalSettings:
    wal_capacity_mb: int = _option(32, _uint(1))
    wal_segments_ahead: int = _option(0, _uint(0))
    wal_retain_closed: int = _option(1, _uint(1))  # the echo's minimum, though diffs allow 0


@dataclass(frozen=True)
class ParamsSettings:
    """Top-level CollectionParams. One node, one shard: sharding and replication are echoed."""

    shard_number: int = _option(1, _uint(1))
    sharding_method: str | None = _option(None, _choice("auto"))
    replication_factor: int = _option(1, _uint(1))
    write_consistency_factor: int = _option(1, _uint(1))
    read_fan_out_factor: int | None = _option(None, _uint(0))
    read_fan_out_delay_ms: int | None = _option(None, _uint(0))
    on_disk_payload: bool = _option(True, _bool)
    payload: dict[str, Any] | None = _option(
        None, lambda v, w: _checked(v, {"memory": _memory("payload storage")}, w)
    )


def _quantization(value: Any, what: str) -> dict[str, Any] | None:
    """A quantization config as set (its `memory` kept for the echo); "Disabled" is None."""
    if value is None or value == "Disabled":
        return None
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValueError(
            f"{what} must be {{'scalar': {{...}}}}, {{'binary': {{...}}}}, "
            f"{{'product': {{...}}}} or {{'turbo': {{...}}}}, got {value!r}"
        )
    ((kind, options),) = value.items()
    clean = {str(kind): _known(_object(options, _at(what, str(kind))), str(kind))}
    required = {"scalar": "type", "product": "compression"}.get(str(kind))
    if required and required not in clean[str(kind)]:  # the echo must carry it: Qdrant requires it
        raise ValueError(f"{_at(_at(what, str(kind)), required)} is required")
    try:
        _quantizer(clean)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None
    return clean


def _known(options: dict[str, Any], kind: str) -> dict[str, Any]:
    """A quantization method's options without the fields Qdrant's schema does not know (an
    unknown method is left for the engine to refuse)."""
    model = _QUANTIZATION_MODELS.get(kind)
    return (
        options if model is None else {k: v for k, v in options.items() if k in model.model_fields}
    )


_QUANTIZATION_MODELS: dict[str, type[BaseModel]] = {
    "scalar": models.ScalarQuantizationConfig,
    "binary": models.BinaryQuantizationConfig,
    "product": models.ProductQuantizationConfig,
    "turbo": models.TurboQuantQuantizationConfig,
}


def _quantizer(config: Mapping[str, Any] | None) -> QuantizationConfig | None:
    """The engine's quantization dataclass; Qdrant's newer `memory: pinned` = always_ram."""
    if config is None:
        return None
    ((kind, options),) = config.items()
    options = dict(options)
    memory = options.pop("memory", None)
    if memory is not None:
        options["always_ram"] = _choice("cold", "cached", "pinned")(memory, "memory") == "pinned"
    return parse_quantization({kind: options})


def _strict_mode(value: Any, what: str) -> dict[str, Any]:
    """Kept and echoed, not enforced; its values are checked with the generated model."""
    clean = _checked(value, dict.fromkeys(models.StrictModeConfig.model_fields, _keep), what)
    try:
        models.StrictModeConfig.model_validate(clean)
    except ValidationError as e:
        error = e.errors()[0]
        where = ".".join([what, *map(str, error["loc"])])
        raise ValueError(f"{where}: {error['msg']}") from None
    return clean


def _multivector(value: Any, what: str) -> dict[str, Any]:
    """Qdrant's MultiVectorConfig: {"comparator": "max_sim"}, the one comparator there is."""
    clean = _checked(value, {"comparator": _choice("max_sim")}, what)
    if "comparator" not in clean:
        raise ValueError(f"{_at(what, 'comparator')} is required")
    return clean


_VECTOR_RULES: dict[str, Check] = {
    "size": _uint(1, MAX_DIM),
    "distance": _distance,
    "hnsw_config": _section(HnswSettings),
    "quantization_config": _quantization,
    "on_disk": _bool,
    "memory": _memory("dense vector storage"),
    "datatype": _choice("float32", "float16", "uint8", "turbo4"),
    "multivector_config": _multivector,
}


_SPARSE_RULES: dict[str, Check] = {
    "index": _section(SparseIndexSettings),
    "modifier": _choice("none", "idf"),
}


def _sparse_vectors(value: Any, what: str) -> dict[str, Any]:
    given = _object(value, what)
    return {
        str(name): _checked(params, _SPARSE_RULES, _at(what, str(name)))
        for name, params in given.items()
    }


def _is_named(vectors: Mapping[str, Any]) -> bool:
    """Single VectorParams ({"size": 4, ...}) or a map of names to them ({} included)."""
    return all(isinstance(v, Mapping) for v in vectors.values())


def _vector(value: Any, what: str) -> dict[str, Any]:
    clean = _checked(value, _VECTOR_RULES, what)
    for key in ("size", "distance"):
        if key not in clean:
            raise ValueError(f"{_at(what, key)} is required")
    return clean


def _vectors(value: Any, what: str) -> dict[str, Any]:
    given = _object(value, what)
    if not _is_named(given):
        return _vector(given, what)
    return {name: _vector(params, _at(what, name)) for name, params in given.items()}


_BODY_RULES: dict[str, Check] = {
    **{f.name: f.metadata["check"] for f in fields(ParamsSettings)},
    "vectors": _vectors,
    "hnsw_config": _section(HnswSettings),
    "wal_config": _section(WalSettings),
    "optimizers_config": _section(OptimizersSettings),
    "quantization_config": _quantization,
    "sparse_vectors": _sparse_vectors,
    "init_from": _unsupported,
    "strict_mode_config": _strict_mode,
    "metadata": _mapping,
}
_PARAMS = {f.name for f in fields(ParamsSettings)}
_PARAMS_DIFF = _PARAMS - {"shard_number", "sharding_method"}
_VECTOR_DIFF = {"hnsw_config", "quantization_config", "on_disk", "memory"}
_UPDATE = {"vectors", "optimizers_config", "params", "hnsw_config", "quantization_config"}
_UPDATE |= {"sparse_vectors", "strict_mode_config", "metadata"}


@dataclass(frozen=True)
class VectorConfig:
    """One vector of a collection, with the collection's settings applied: `hnsw` is the
    collection's overlaid with the vector's own, `quantization` the vector's own or else the
    collection's. `on_disk`: originals memory-mapped from the segment files."""

    size: int
    distance: Distance
    on_disk: bool
    hnsw: HnswSettings
    quantization: QuantizationConfig | None
    multivector: bool = False  # multivector_config: {"comparator": "max_sim"}
    datatype: str = "float32"  # of the stored originals: float32, float16, uint8 or turbo4

    @property
    def always_ram(self) -> bool:
        """Whether the quantized copy stays in RAM (always, when the originals do)."""
        return not self.on_disk or bool(self.quantization and self.quantization.always_ram)

    def index_args(self) -> dict[str, Any]:
        """Keyword arguments of vqdb.Index; Qdrant's m = 0 is a plain (graph-less) index."""
        graph = {"m": self.hnsw.m, "ef_construct": self.hnsw.ef_construct} if self.hnsw.m else None
        args = {
            "dim": self.size,
            "distance": self.distance,
            "quantization": self.quantization,
            "hnsw": graph,
        }
        return args | self.kind_args()

    def kind_args(self) -> dict[str, Any]:
        """What every store of this vector is made with, appendable or built."""
        args: dict[str, Any] = {"multivector": True} if self.multivector else {}
        if self.datatype != "float32":  # absent otherwise: older segment configs stay equal
            args["datatype"] = self.datatype
        return args

    @property
    def vector_bytes(self) -> int:
        """Bytes of one stored original (a multivector counts as one row)."""
        if self.datatype == "turbo4":  # 4 bits a dimension and two floats (turbo_set.cpp)
            return 8 * ((self.size + 63) // 64) * 4 + 8
        return self.size * {"float32": 4, "float16": 2, "uint8": 1}[self.datatype]


@dataclass(frozen=True)
class SparseVectorConfig:
    """One sparse vector of a collection. `idf`: query weights are multiplied by each term's
    inverse document frequency over the live collection (Qdrant's `modifier: idf`)."""

    index: SparseIndexSettings
    modifier: str  # "none" or "idf"

    @property
    def idf(self) -> bool:
        return self.modifier == "idf"

    def index_args(self) -> dict[str, Any]:
        """The arguments of its segment store (see vqdb.index.stores)."""
        return {"kind": "sparse"}


def _effective(params: Mapping[str, Any], hnsw: HnswSettings, q: Any) -> VectorConfig:
    own_q = params.get("quantization_config")
    memory = params.get("memory")  # Qdrant: overrides on_disk; "cold" is on disk
    quantization = _quantizer(own_q) if own_q is not None else q
    turbo = params.get("datatype") == "turbo4" or getattr(quantization, "kind", None) == "turbo"
    if turbo and params["size"] < 2:  # a rotation of one coordinate is no rotation
        raise ValueError(
            f"turbo quantization needs vectors of at least 2 dimensions, got size {params['size']}"
        )
    return VectorConfig(
        size=params["size"],
        distance=Distance(params["distance"]),
        on_disk=memory == "cold" if memory else params.get("on_disk", False),
        hnsw=replace(hnsw, **params.get("hnsw_config", {})),
        quantization=quantization,
        multivector="multivector_config" in params,
        datatype=params.get("datatype", "float32"),
    )


_KIND_OF = {"vectors": "dense", "sparse_vectors": "sparse"}  # of each section of the body


def _space(v: VectorConfig) -> tuple[Any, ...]:
    return v.size, v.distance, v.multivector, v.datatype


@dataclass(frozen=True)
class CollectionConfig:
    """A collection's configuration. Build it with `parse` (CreateCollection JSON), change it
    with `updated` (UpdateCollection JSON), show it with `to_api`, persist it with `to_json`."""

    body: dict[str, Any]  # the normalized CreateCollection JSON: what the user set
    vectors: dict[str, VectorConfig]  # dense vectors; "" is the unnamed vector
    named: bool  # `vectors` was given as a map of names
    sparse_vectors: dict[str, SparseVectorConfig]  # always named
    hnsw: HnswSettings
    optimizers: OptimizersSettings
    wal: WalSettings
    params: ParamsSettings
    quantization: QuantizationConfig | None  # the collection-wide one (vectors may override)

    @classmethod
    def parse(cls, body: Any) -> CollectionConfig:
        """From CreateCollection JSON (a pydantic model is dumped first); ValueError names the
        field at fault."""
        if hasattr(body, "model_dump"):
            body = body.model_dump(mode="json", exclude_unset=True)
        clean = _checked(body, _BODY_RULES, "")
        vectors = clean.get("vectors", {})
        named = _is_named(vectors)
        hnsw = HnswSettings(**clean.get("hnsw_config", {}))
        quantization = _quantizer(clean.get("quantization_config"))
        sparse = clean.get("sparse_vectors", {})
        if "" in sparse:
            raise ValueError("Sparse vector name cannot be empty")
        both = sorted(set(sparse) & set(vectors if named else ()))
        if both:
            raise ValueError(
                f"Dense and sparse vector names must be unique - duplicate found with '{both[0]}'"
            )
        return cls(
            body=clean,
            vectors={
                name: _effective(params, hnsw, quantization)
                for name, params in (vectors.items() if named else [("", vectors)])
            },
            named=named,
            sparse_vectors={
                name: SparseVectorConfig(
                    SparseIndexSettings(**params.get("index", {})), params.get("modifier", "none")
                )
                for name, params in sparse.items()
            },
            hnsw=hnsw,
            optimizers=OptimizersSettings(**clean.get("optimizers_config", {})),
            wal=WalSettings(**clean.get("wal_config", {})),
            params=ParamsSettings(**{k: v for k, v in clean.items() if k in _PARAMS}),
            quantization=quantization,
        )

    @property
    def on_disk_payload(self) -> bool:
        return self.params.on_disk_payload

    @property
    def payloads_cached(self) -> bool:
        """Whether optimized segments' payload files are read ahead into the page cache
        (Qdrant's `cached` placement: `payload.memory`, else `on_disk_payload: false`)."""
        memory = (self.params.payload or {}).get("memory")
        return memory == "cached" if memory else not self.params.on_disk_payload

    @property
    def names(self) -> list[str]:
        """Every vector name, dense then sparse."""
        return [*self.vectors, *self.sparse_vectors]

    @property
    def on_disk(self) -> set[str]:
        """The vectors whose optimized segments' files are read in place: dense originals
        with `on_disk`, sparse rows and postings with `index.on_disk` (or `memory: cold`)."""
        sparse = {
            name
            for name, v in self.sparse_vectors.items()
            if (v.index.memory == "cold" if v.index.memory else bool(v.index.on_disk))
        }
        return {name for name, v in self.vectors.items() if v.on_disk} | sparse

    def has_vector(self, name: str) -> bool:
        return name in self.vectors or name in self.sparse_vectors

    def store_args(self) -> dict[str, dict[str, Any]]:
        """Each vector's segment store arguments (vqdb.index.stores), dense and sparse."""
        args = {name: v.index_args() for name, v in self.vectors.items()}
        args.update({name: v.index_args() for name, v in self.sparse_vectors.items()})
        return args

    def appendable_args(self) -> dict[str, dict[str, Any]]:
        """Store arguments of an appendable segment: plain unquantized dense stores."""
        args: dict[str, dict[str, Any]] = {
            n: {"dim": v.size, "distance": v.distance} | v.kind_args()
            for n, v in self.vectors.items()
        }
        args.update({name: v.index_args() for name, v in self.sparse_vectors.items()})
        return args

    def distance(self, name: str) -> Distance:
        """How a vector's scores rank; sparse vectors score by dot product."""
        return self.vectors[name].distance if name in self.vectors else Distance.DOT

    def updated(self, diff: Any) -> CollectionConfig:
        """The config after an UpdateCollection (PATCH) diff, with Qdrant's rules: null leaves a
        field unchanged, objects merge into what is set, "Disabled" removes a quantization (on
        a vector: it falls back to the collection's), a null metadata value removes that key."""
        if hasattr(diff, "model_dump"):
            diff = diff.model_dump(mode="json", exclude_unset=True)
        given = _checked(diff, dict.fromkeys(_UPDATE, _keep), "")
        body = copy.deepcopy(self.body)
        for name, change in _object(given.get("vectors"), "vectors").items():
            if name not in self.vectors:
                raise ValueError(f"Wrong input: Not existing vector name error: {name}")
            target = body["vectors"][name] if self.named else body["vectors"]
            _merge_vector(
                target, _checked(change, dict.fromkeys(_VECTOR_DIFF, _keep), f"vectors.{name}")
            )
        for section in ("hnsw_config", "optimizers_config", "strict_mode_config"):
            if section in given:
                body[section] = {**body.get(section, {}), **_object(given[section], section)}
        body.update(_checked(given.get("params"), dict.fromkeys(_PARAMS_DIFF, _keep), "params"))
        _set_quantization(body, given.get("quantization_config"))
        for name, change in _object(given.get("sparse_vectors"), "sparse_vectors").items():
            if name not in self.sparse_vectors:
                raise ValueError(f"Wrong input: Not existing vector name error: {name}")
            _merge_sparse(body["sparse_vectors"][name], _object(change, f"sparse_vectors.{name}"))
        if "metadata" in given:
            merged = {**body.get("metadata", {}), **_mapping(given["metadata"], "metadata")}
            body["metadata"] = {k: v for k, v in merged.items() if v is not None}
        return CollectionConfig.parse(body)

    def with_vector(self, name: str, spec: Any) -> CollectionConfig:
        """The config with a new named vector (Qdrant's VectorNameConfig: {"dense": {size,
        distance, multivector_config, datatype}} or {"sparse": {modifier, datatype}}); the
        same config again is no change. Its index and quantization are the collection's."""
        if hasattr(spec, "model_dump"):
            spec = spec.model_dump(mode="json", exclude_none=True)
        if (
            not isinstance(spec, Mapping)
            or len(spec) != 1
            or next(iter(spec)) not in _KIND_OF.values()
        ):
            raise ValueError("expected {'dense': {'size', 'distance', ...}} or {'sparse': {...}}")
        ((kind, params),) = spec.items()
        params = _object(params, kind)
        body = copy.deepcopy(self.body)
        if kind == "dense":
            if not self.named and self.vectors:
                raise ValueError("this collection has one unnamed vector: it takes no named ones")
            section, other, given = "vectors", "sparse_vectors", params
        else:
            datatype = params.get("datatype")
            given = {k: v for k, v in params.items() if k == "modifier"}
            if datatype is not None:
                given["index"] = {"datatype": datatype}
            section, other = "sparse_vectors", "vectors"
        if name in (body.get(other) or {}) or not self.named and name in self.vectors:
            raise ValueError(f"Vector `{name}` already exists as a {_KIND_OF[other]} vector")
        existing = (body.get(section) or {}).get(name)
        if existing is not None:
            if CollectionConfig.parse({**body, section: {name: given}}).same_vector(self, name):
                return self
            raise ValueError(f"Vector `{name}` already exists with a different configuration")
        body[section] = {**(body.get(section) or {}), name: given}
        return CollectionConfig.parse(body)

    def without_vector(self, name: str) -> CollectionConfig:
        """The config without the named dense or sparse vector (none of that name: no change)."""
        body = copy.deepcopy(self.body)
        if self.named and name in self.vectors:
            del body["vectors"][name]
        elif name in self.sparse_vectors:
            del body["sparse_vectors"][name]
        else:
            return self
        return CollectionConfig.parse(body)

    def same_vector(self, other: CollectionConfig, name: str) -> bool:
        """Whether `name` is the same vector space in both (what VectorNameConfig sets)."""
        if name in self.sparse_vectors:
            return name in other.sparse_vectors and (
                self.sparse_vectors[name].modifier == other.sparse_vectors[name].modifier
            )
        mine, theirs = self.vectors.get(name), other.vectors.get(name)
        return mine is not None and theirs is not None and _space(mine) == _space(theirs)

    def rebuild_needed(self, old: CollectionConfig) -> set[str]:
        """Vectors whose segments must be rebuilt to match this config (graph, quantization or
        storage changed since `old`); thresholds and optimizer options never need one."""

        def build(v: VectorConfig) -> tuple[Any, ...]:
            return v.index_args(), v.on_disk, v.always_ram

        return {
            name
            for name, vector in self.vectors.items()
            if name not in old.vectors or build(vector) != build(old.vectors[name])
        }

    def warnings(self) -> list[str]:
        """Qdrant's configuration warnings: settings it accepts and ignores. vqdb's graph keeps
        no vectors inline, so `inline_storage` is ignored everywhere; it warns where Qdrant
        would ignore it too (so the same configuration warns on both)."""
        problems = []
        for name, vector in self.vectors.items():
            if not vector.hnsw.inline_storage:
                continue
            if vector.multivector:
                problems.append(
                    f"The `hnsw_config.inline_storage` option for vector '{name}' is not "
                    "compatible with multivectors. This option will be ignored."
                )
            elif vector.quantization is None:
                problems.append(
                    f"The `hnsw_config.inline_storage` option for vector '{name}' requires "
                    "quantization to be enabled. This option will be ignored."
                )
        return problems

    def to_api(self) -> dict[str, Any]:
        """CollectionInfo.config: every required field, and optional ones only where set."""
        body = copy.deepcopy(self.body)
        optimizers = _set(self.optimizers)
        if optimizers.get("max_optimization_threads") == "auto":
            del optimizers["max_optimization_threads"]  # the echo says "no limit" by omission
        params: dict[str, Any] = {"vectors": body.get("vectors", {})}
        if "sparse_vectors" in body:
            params["sparse_vectors"] = body["sparse_vectors"]
        config = {
            "params": {**params, **_set(self.params)},
            "hnsw_config": _set(self.hnsw),
            "optimizer_config": optimizers,
            "wal_config": _set(self.wal),
            "quantization_config": body.get("quantization_config"),  # null when unset, as Qdrant
        }
        for key in ("strict_mode_config", "metadata"):
            if key in body:
                config[key] = body[key]
        return config

    def to_json(self) -> dict[str, Any]:
        """For the manifest: the normalized create body, which `from_json` parses back."""
        return copy.deepcopy(self.body)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CollectionConfig:
        return cls.parse(data)

    def _bytes(self, name: str) -> int:
        """Bytes per vector, for the thresholds given in KB (float16 and uint8 originals take
        2 and 1 byte a dimension); a sparse vector counts as 1 KB (about 128 non-zeros: its
        size is not known up front)."""
        return self.vectors[name].vector_bytes if name in self.vectors else SPARSE_VECTOR_BYTES

    def indexing_threshold_vectors(self, name: str) -> int:
        """optimizers.indexing_threshold (KB) as a count of this vector; 0 = never index."""
        return _kb_to_vectors(self.optimizers.indexing_threshold, self._bytes(name))

    def deferred_from(self) -> int | None:
        """Under prevent_unoptimized, how many points an appendable segment shows before it
        defers new ones: the indexing threshold as a count of the smallest dense vector with
        a graph, as in Qdrant (None: nothing is deferred)."""
        if not self.optimizers.prevent_unoptimized:
            return None
        counts = [
            self.indexing_threshold_vectors(name)
            for name, vector in self.vectors.items()
            if vector.hnsw.m > 0 or (vector.hnsw.payload_m or 0) > 0
        ]
        counts = [n for n in counts if n > 0]
        return min(counts) if counts else None

    def optimizing(self) -> bool:
        """Whether the optimizer may run (max_optimization_threads 0 stops it, as in Qdrant)."""
        return self.optimizers.max_optimization_threads != 0

    def max_segment_vectors(self, name: str) -> int:
        """optimizers.max_segment_size (KB) as a count of this vector. Unset, it is 400 MB of
        originals: a graph that size builds in tens of seconds on two cores."""
        kb = self.optimizers.max_segment_size or DEFAULT_MAX_SEGMENT_KB
        return _kb_to_vectors(kb, self._bytes(name))

    def full_scan_threshold_vectors(self, name: str) -> int:
        """hnsw full_scan_threshold (KB) as a count of this vector: fewer candidates than this
        are scanned rather than searched through the graph. Sparse vectors: their own count
        (Qdrant's default 5000), though their search is the same exact one either way."""
        if name in self.sparse_vectors:
            threshold = self.sparse_vectors[name].index.full_scan_threshold
            return DEFAULT_SPARSE_FULL_SCAN if threshold is None else threshold
        vector = self.vectors[name]
        return _kb_to_vectors(vector.hnsw.full_scan_threshold, vector.vector_bytes)


DEFAULT_MAX_SEGMENT_KB = 400_000
DEFAULT_SPARSE_FULL_SCAN = 5000
SPARSE_VECTOR_BYTES = 1024


def _kb_to_vectors(kb: int, vector_bytes: int) -> int:
    return 0 if kb == 0 else max(1, kb * 1024 // vector_bytes)


def _merge_vector(target: dict[str, Any], change: Mapping[str, Any]) -> None:
    """Applies a VectorParamsDiff (validated later, by parsing the whole body again)."""
    if "hnsw_config" in change:
        own = target.get("hnsw_config", {})
        target["hnsw_config"] = {**own, **_object(change["hnsw_config"], "hnsw_config")}
    _set_quantization(target, change.get("quantization_config"))
    target.update({k: change[k] for k in ("on_disk", "memory") if k in change})


def _merge_sparse(target: dict[str, Any], change: Mapping[str, Any]) -> None:
    """Applies a SparseVectorParams diff: index fields merge, a modifier replaces."""
    if "index" in change:
        own = target.get("index", {})
        target["index"] = {**own, **_object(change["index"], "index")}
    if "modifier" in change:
        target["modifier"] = change["modifier"]


def _set_quantization(target: dict[str, Any], change: Any) -> None:
    if change == "Disabled":
        target.pop("quantization_config", None)
    elif change is not None:
        target["quantization_config"] = change
