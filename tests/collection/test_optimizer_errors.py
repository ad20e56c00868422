"""An optimizer whose build fails makes its collection red, keeps serving searches, and is
forgotten, as in Qdrant, once the collection's config changes (Qdrant makes its optimizers
anew then): the next build runs and the collection turns green."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from vqdb.collection import info, query
from vqdb.database import Database
from vqdb.segment import builder

DIM = 8


def _until(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_failed_build_is_red_until_the_config_changes(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = builder.build
    failures = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        failures.append(1)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(builder, "build", failing)
    c = db.create_collection(
        "c",
        {
            "vectors": {"size": DIM, "distance": "Euclid"},
            "optimizers_config": {"indexing_threshold": 1},
        },
    )
    x = np.random.default_rng(0).standard_normal((200, DIM)).astype(np.float32)
    c.upsert({"batch": {"ids": list(range(200)), "vectors": x}})
    assert c.optimizer is not None
    c.optimizer.wake()
    _until(lambda: c.optimizer.error is not None)
    shown = info.info(c)
    assert shown["status"] == "red"
    assert "No space left on device" in shown["optimizer_status"]["error"]
    assert c.optimizer.wait_idle(timeout=1) is False
    found = query.query(c, {"query": x[3].tolist(), "limit": 1})["points"]
    assert found[0]["id"] == 3  # searches go on, through the segment that was not built

    monkeypatch.setattr(builder, "build", real)
    db.update_collection("c", {"optimizers_config": {"indexing_threshold": 2}})
    assert info.info(c)["optimizer_status"] == "ok"
    assert c.optimizer.wait_idle(timeout=20)
    assert info.info(c)["status"] == "green"
    assert all(not s.appendable or s.count == 0 for s in c.segments)
    assert query.query(c, {"query": x[3].tolist(), "limit": 1})["points"][0]["id"] == 3
    assert failures
