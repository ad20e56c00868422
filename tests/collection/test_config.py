"""Collection config: Qdrant's CreateCollection / UpdateCollection shapes, defaults and echo."""

from __future__ import annotations

import json
from typing import Any

import pytest
from qdrant_client.http import models as qm

from vqdb import Index, models
from vqdb.collection.config import CollectionConfig, HnswSettings
from vqdb.distance import Distance
from vqdb.quantization import BinaryQuantization, ProductQuantization, ScalarQuantization

SCALAR = {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}
BINARY = {"binary": {"encoding": "two_bits", "query_encoding": "scalar8bits"}}
PRODUCT = {"product": {"compression": "x16"}}


def single(**extra: Any) -> dict[str, Any]:
    return {"vectors": {"size": 8, "distance": "Cosine", **extra}}


def echo_is_valid(config: CollectionConfig) -> dict[str, Any]:
    """The echo parses with our generated models and with qdrant-client's, unchanged."""
    api = config.to_api()
    json.dumps(api)  # plain JSON
    for parsed in (
        models.CollectionConfig.model_validate(api),
        qm.CollectionConfig.model_validate(api),
    ):
        assert parsed.model_dump(mode="json", exclude_unset=True) == api
    return api


BODIES = [
    single(),
    single(on_disk=True),
    single(on_disk=False, hnsw_config={"m": 0}, quantization_config=SCALAR),
    {"vectors": {"a": {"size": 4, "distance": "Dot"}, "b": {"size": 3, "distance": "Euclid"}}},
    {**single(), "quantization_config": {"scalar": {"type": "int8"}}},
    {**single(), "quantization_config": SCALAR},
    {**single(), "quantization_config": {"binary": {}}},
    {**single(), "quantization_config": BINARY},
    {**single(), "quantization_config": {"product": {"compression": "x4", "always_ram": False}}},
    {
        **single(memory="cold"),
        "quantization_config": {"scalar": {"type": "int8", "memory": "pinned"}},
    },
    {
        "vectors": {
            "text": {"size": 16, "distance": "Cosine", "hnsw_config": {"m": 32}},
            "image": {"size": 4, "distance": "Manhattan", "quantization_config": PRODUCT},
        },
        "hnsw_config": {"ef_construct": 64, "payload_m": 8, "on_disk": True},
        "optimizers_config": {"indexing_threshold": 0, "max_optimization_threads": "auto"},
        "wal_config": {"wal_capacity_mb": 8},
        "quantization_config": BINARY,
        "shard_number": 2,
        "replication_factor": 1,
        "write_consistency_factor": 1,
        "on_disk_payload": False,
        "strict_mode_config": {"enabled": True, "max_query_limit": 100},
        "metadata": {"owner": "me", "tags": ["a", "b"]},
    },
]


@pytest.mark.parametrize("body", BODIES)
def test_echo_validates_and_round_trips(body: dict[str, Any]) -> None:
    config = CollectionConfig.parse(body)
    api = echo_is_valid(config)
    assert api["params"]["vectors"] == body["vectors"]  # exactly what was set, nothing more
    assert api.get("quantization_config") == body.get("quantization_config")
    again = CollectionConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config
    assert again.to_api() == api


def test_defaults() -> None:
    config = CollectionConfig.parse(single())
    assert not config.named and list(config.vectors) == [""]
    vector = config.vectors[""]
    assert (vector.size, vector.distance, vector.on_disk) == (8, Distance.COSINE, False)
    assert vector.quantization is None and vector.always_ram
    assert vector.hnsw == HnswSettings()
    assert config.on_disk_payload
    assert config.to_api() == {
        "params": {
            "vectors": {"size": 8, "distance": "Cosine"},
            "shard_number": 1,
            "replication_factor": 1,
            "write_consistency_factor": 1,
            "on_disk_payload": True,
        },
        "hnsw_config": {
            "m": 16,
            "ef_construct": 100,
            "full_scan_threshold": 10000,
            "max_indexing_threads": 0,
            "on_disk": False,
        },
        "optimizer_config": {
            "deleted_threshold": 0.2,
            "vacuum_min_vector_number": 1000,
            "default_segment_number": 0,
            "indexing_threshold": 10000,
            "flush_interval_sec": 5,
        },
        "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1},
        "quantization_config": None,  # Qdrant writes null
    }
    args = vector.index_args()
    assert args == {
        "dim": 8,
        "distance": Distance.COSINE,
        "quantization": None,
        "hnsw": {"m": 16, "ef_construct": 100},
    }
    Index(**args)  # the engine takes them as they are


def test_qdrant_client_models_are_accepted() -> None:
    body = qm.CreateCollection(
        vectors={
            "a": qm.VectorParams(size=4, distance=qm.Distance.DOT, on_disk=True),
            "b": qm.VectorParams(
                size=6,
                distance=qm.Distance.EUCLID,
                hnsw_config=qm.HnswConfigDiff(m=0),
                quantization_config=qm.BinaryQuantization(
                    binary=qm.BinaryQuantizationConfig(
                        encoding=qm.BinaryQuantizationEncoding.ONE_AND_HALF_BITS
                    )
                ),
            ),
        },
        quantization_config=qm.ScalarQuantization(
            scalar=qm.ScalarQuantizationConfig(type=qm.ScalarType.INT8, always_ram=True)
        ),
        optimizers_config=qm.OptimizersConfigDiff(default_segment_number=2),
    )
    for given in (body, body.model_dump(mode="json", exclude_unset=True)):
        config = CollectionConfig.parse(given)
        assert config.named and set(config.vectors) == {"a", "b"}
        a, b = config.vectors["a"], config.vectors["b"]
        assert a.on_disk and a.always_ram  # the collection's scalar config says always_ram
        assert a.quantization == ScalarQuantization(always_ram=True)
        assert b.quantization == BinaryQuantization(encoding="one_and_half_bits")
        assert b.index_args()["hnsw"] is None  # m = 0: no graph
        assert config.optimizers.default_segment_number == 2
        echo_is_valid(config)
    ours = models.CreateCollection.model_validate(body.model_dump(mode="json", exclude_unset=True))
    assert CollectionConfig.parse(ours) == config


def test_per_vector_overrides() -> None:
    config = CollectionConfig.parse(
        {
            "vectors": {
                "a": {"size": 4, "distance": "Dot", "hnsw_config": {"m": 8}},
                "b": {"size": 4, "distance": "Dot", "quantization_config": PRODUCT},
                "c": {"size": 4, "distance": "Dot", "on_disk": True},
            },
            "hnsw_config": {"ef_construct": 50, "full_scan_threshold": 20},
            "quantization_config": BINARY,
        }
    )
    a, b, c = (config.vectors[n] for n in "abc")
    assert (a.hnsw.m, a.hnsw.ef_construct, a.hnsw.full_scan_threshold) == (8, 50, 20)
    assert (b.hnsw.m, b.hnsw.ef_construct) == (16, 50)
    assert a.quantization == c.quantization == BinaryQuantization("two_bits", "scalar8bits")
    assert b.quantization == ProductQuantization("x16")
    assert c.on_disk and not c.always_ram and b.always_ram
    # `memory` (Qdrant 1.16+) overrides on_disk and always_ram
    memory = CollectionConfig.parse(
        single(on_disk=False, memory="cold", quantization_config={"binary": {"memory": "pinned"}})
    )
    assert memory.vectors[""].on_disk and memory.vectors[""].always_ram


def test_update_quantization_kinds_and_rebuilds() -> None:
    config = CollectionConfig.parse(single(on_disk=True))
    steps: list[tuple[Any, Any, Any]] = [  # diff, engine config, echo
        (SCALAR, ScalarQuantization(quantile=0.99, always_ram=True), SCALAR),
        (BINARY, BinaryQuantization("two_bits", "scalar8bits"), BINARY),
        (PRODUCT, ProductQuantization("x16"), PRODUCT),
        (None, ProductQuantization("x16"), PRODUCT),  # null: unchanged
        ("Disabled", None, None),
    ]
    for diff, expected, echo in steps:
        new = config.updated({"quantization_config": diff})
        assert new.vectors[""].quantization == expected
        assert new.rebuild_needed(config) == ({""} if expected != config.quantization else set())
        assert echo_is_valid(new).get("quantization_config") == echo
        config = new
    assert config.rebuild_needed(config) == set()


def test_update_vectors_hnsw_on_disk_and_optimizers() -> None:
    config = CollectionConfig.parse(
        {
            "vectors": {"a": {"size": 4, "distance": "Dot"}, "b": {"size": 4, "distance": "Dot"}},
            "quantization_config": SCALAR,
        }
    )
    new = config.updated(
        {
            "vectors": {
                "a": {"hnsw_config": {"m": 4}, "on_disk": True},
                "b": {"quantization_config": BINARY},
            },
            "optimizers_config": {"indexing_threshold": 0, "deleted_threshold": 0.5},
            "params": {"on_disk_payload": False, "replication_factor": 2},
            "metadata": {"k": 1},
        }
    )
    echo_is_valid(new)
    assert new.vectors["a"].hnsw.m == 4 and new.vectors["a"].on_disk
    assert new.vectors["b"].quantization == BinaryQuantization("two_bits", "scalar8bits")
    assert new.rebuild_needed(config) == {"a", "b"}
    assert new.optimizers.indexing_threshold == 0 and new.optimizers.deleted_threshold == 0.5
    assert new.optimizers.vacuum_min_vector_number == 1000  # untouched
    assert not new.on_disk_payload and new.params.replication_factor == 2
    # hnsw diffs merge into what the vector already set; thresholds need no rebuild
    newer = new.updated({"vectors": {"a": {"hnsw_config": {"ef_construct": 40}}}})
    assert newer.body["vectors"]["a"]["hnsw_config"] == {"m": 4, "ef_construct": 40}
    assert newer.rebuild_needed(new) == {"a"}
    same = newer.updated({"hnsw_config": {"full_scan_threshold": 100, "max_indexing_threads": 2}})
    assert same.rebuild_needed(newer) == set()
    assert same.updated({"hnsw_config": {"m": 0}}).rebuild_needed(same) == {"b"}  # a sets m=4
    # "Disabled" on a vector drops its own config: it falls back to the collection's (Qdrant)
    back = same.updated({"vectors": {"b": {"quantization_config": "Disabled"}}})
    assert back.vectors["b"].quantization == ScalarQuantization(quantile=0.99, always_ram=True)
    # metadata merges, a null value removes a key
    meta = back.updated({"metadata": {"x": 2}}).updated({"metadata": {"k": None}})
    assert meta.to_api()["metadata"] == {"x": 2}


def test_update_unnamed_vector_and_unknown_names() -> None:
    config = CollectionConfig.parse(single())
    new = config.updated({"vectors": {"": {"on_disk": True, "quantization_config": PRODUCT}}})
    assert new.vectors[""].on_disk and new.rebuild_needed(config) == {""}
    assert new.to_api()["params"]["vectors"] == {
        "size": 8,
        "distance": "Cosine",
        "on_disk": True,
        "quantization_config": PRODUCT,
    }
    with pytest.raises(ValueError, match="Wrong input: Not existing vector name error: nope"):
        config.updated({"vectors": {"nope": {"on_disk": True}}})
    with pytest.raises(ValueError, match="optimizers_config.deleted_threshold"):
        config.updated({"optimizers_config": {"deleted_threshold": 2}})
    # fields a diff does not have are ignored, as Qdrant's server ignores them
    assert config.updated({"vectors": {"": {"size": 3}}}) == config
    assert config.updated({"params": {"shard_number": 3}}) == config
    assert config.updated({}) == config
    assert config.updated({"sparse_vectors": {}, "quantization_config": None}) == config
    with pytest.raises(ValueError, match="Not existing vector name error: s"):
        config.updated({"sparse_vectors": {"s": {"modifier": "idf"}}})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (single(size=-1), "vectors.size must be an integer >= 1"),
        (single(size=0), r"\[vectors.size: value 0 invalid, must be from 1 to 65536\]"),
        (single(size=True), "vectors.size"),
        (single(size=65537), "vectors.size: value 65537 invalid, must be from 1 to 65536"),
        (single(distance="Hamming"), "vectors.distance: unknown distance 'Hamming'"),
        ({"vectors": {"size": 4}}, "vectors.distance is required"),
        ({"vectors": {"a": {"distance": "Dot"}}}, "vectors.a.size is required"),
        (single(datatype="turbo8"), "vectors.datatype 'turbo8' is not supported"),
        (single(multivector_config={"comparator": "min"}), "comparator 'min' is not"),
        (single(memory="pinned"), "`pinned` memory placement is not supported for dense"),
        ({**single(), "sparse_vectors": {"s": {"modifier": "bm25"}}}, "sparse_vectors.s.modifier"),
        (
            {**single(), "sparse_vectors": {"s": {"index": {"datatype": "float16"}}}},
            "sparse_vectors.s.index.datatype 'float16' is not supported",
        ),
        ({**single(), "sparse_vectors": {"s": {"index": {"full_scan_threshold": -1}}}}, "full_sc"),
        ({**single(), "sparse_vectors": {"": {}}}, "Sparse vector name cannot be empty"),
        (
            {"vectors": {"a": {"size": 2, "distance": "Dot"}}, "sparse_vectors": {"a": {}}},
            "Dense and sparse vector names must be unique - duplicate found with 'a'",
        ),
        ({**single(), "init_from": {"collection": "x"}}, "init_from is not supported"),
        ({**single(), "sharding_method": "custom"}, "sharding_method 'custom' is not supported"),
        ({**single(), "hnsw_config": {"m": -1}}, "hnsw_config.m must be an integer >= 0"),
        ({**single(), "hnsw_config": {"m": 1}}, "hnsw_config.m must be 0"),
        ({**single(), "hnsw_config": {"ef_construct": 2}}, "hnsw_config.ef_construct"),
        # the graph reserves (2m + 1) links per point: a huge m failed later, in the optimizer
        ({**single(), "hnsw_config": {"m": 10**12}}, "hnsw_config.m: value 10+ invalid"),
        (single(hnsw_config={"ef_construct": 2**64}), "vectors.hnsw_config.ef_construct: value"),
        ({**single(), "optimizers_config": {"vacuum_min_vector_number": 5}}, "vacuum_min"),
        ({**single(), "wal_config": {"wal_capacity_mb": 0}}, "wal_config.wal_capacity_mb"),
        ({**single(), "quantization_config": {"scalar": {"type": "int4"}}}, "quantization_config"),
        (
            {**single(), "quantization_config": {"scalar": {"type": "int8", "quantile": 0.1}}},
            "quantile",
        ),
        ({**single(), "quantization_config": {"scalar": {}}}, "quantization_config.scalar.type is"),
        ({**single(), "quantization_config": {"product": {}}}, "product.compression is required"),
        ({**single(), "quantization_config": {"binary": {"encoding": "x"}}}, "encoding"),
        ({**single(), "quantization_config": {"product": {"compression": "x3"}}}, "x3"),
        ({**single(), "quantization_config": {"rotated": {}}}, "unknown quantization method"),
        ({**single(), "quantization_config": {"turbo": {"bits": "bits3"}}}, "bits3"),
        ({**single(), "quantization_config": "int8"}, "quantization_config must be"),
        ({**single(), "strict_mode_config": {"max_query_limit": 0}}, "max_query_limit"),
        ({**single(), "metadata": [1]}, "metadata must be an object"),
        ([1, 2], "the request must be an object"),
    ],
)
def test_bad_input_names_the_field(body: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CollectionConfig.parse(body)


def test_unknown_fields_are_ignored_and_not_echoed() -> None:
    """As Qdrant's server does (serde ignores unknown fields but in filters): a body written for
    a newer Qdrant is accepted, and the echo holds only what qdrant-client's models know."""
    body = {
        **single(colour="red", hnsw_config={"m": 8, "foo": 1}),
        "colour": "red",
        "quantization_config": {"binary": {"bits": 4, "always_ram": True}},
        "strict_mode_config": {"enabled": True, "max_limit": 3},
    }
    config = CollectionConfig.parse(body)
    expected = CollectionConfig.parse(
        {
            **single(hnsw_config={"m": 8}),
            "quantization_config": {"binary": {"always_ram": True}},
            "strict_mode_config": {"enabled": True},
        }
    )
    assert config == expected
    assert config.to_api() == expected.to_api()


def test_nulls_mean_unset() -> None:
    body = {
        "vectors": {"size": 8, "distance": "Cosine", "on_disk": None, "hnsw_config": None},
        "shard_number": None,
        "hnsw_config": {"m": None, "ef_construct": 64},
        "quantization_config": {"scalar": {"type": "int8", "quantile": None, "always_ram": None}},
        "sparse_vectors": None,
    }
    config = CollectionConfig.parse(body)
    api = echo_is_valid(config)
    assert api["params"]["vectors"] == {"size": 8, "distance": "Cosine"}
    assert api["quantization_config"] == {"scalar": {"type": "int8"}}  # absent, not null
    assert api["hnsw_config"]["m"] == 16 and api["hnsw_config"]["ef_construct"] == 64


def test_thresholds_in_vectors() -> None:
    config = CollectionConfig.parse(
        {
            "vectors": {
                "small": {"size": 256, "distance": "Dot"},
                "big": {
                    "size": 1536,
                    "distance": "Dot",
                    "hnsw_config": {"full_scan_threshold": 12},
                },
            },
        }
    )
    # Qdrant's note: 1 KB = 1 vector of size 256
    assert config.indexing_threshold_vectors("small") == 10_000
    assert config.full_scan_threshold_vectors("small") == 10_000
    assert config.indexing_threshold_vectors("big") == 10_000 * 1024 // (1536 * 4)
    assert config.full_scan_threshold_vectors("big") == 2
    off = config.updated({"optimizers_config": {"indexing_threshold": 0}})
    assert off.indexing_threshold_vectors("small") == off.indexing_threshold_vectors("big") == 0
    huge = CollectionConfig.parse(
        {"vectors": {"size": 65536, "distance": "Dot"}, "hnsw_config": {"full_scan_threshold": 10}}
    )
    assert huge.full_scan_threshold_vectors("") == 1  # never rounds a threshold down to "off"


def test_index_args_build_an_index_for_every_kind() -> None:
    for quantization in (None, SCALAR, BINARY, {"product": {"compression": "x4"}}):
        config = CollectionConfig.parse(single(quantization_config=quantization))
        index = Index(**config.vectors[""].index_args())
        assert index.dim == 8 and index.distance is Distance.COSINE


@pytest.mark.parametrize(
    ("params", "cached"),
    [
        ({}, False),
        ({"on_disk_payload": False}, True),
        ({"payload": {"memory": "cached"}}, True),
        ({"on_disk_payload": False, "payload": {"memory": "cold"}}, False),  # memory wins
    ],
)
def test_payload_memory_placement(params: dict[str, Any], cached: bool) -> None:
    assert CollectionConfig.parse({**single(), **params}).payloads_cached == cached
