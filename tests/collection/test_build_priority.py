"""The optimizer builds at a lower CPU priority than the server's requests (Qdrant runs its HNSW
build threads at nice 10), and only the build: the snapshot and the swap, which hold the
collection's locks, stay on the optimizer's thread at its own priority."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import numpy as np
import pytest

from vqdb.collection import optimizer, query
from vqdb.database import Database
from vqdb.segment import builder

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="a thread's own niceness is Linux's (setpriority by thread id)"
)
DIM = 8


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_build_yields_the_cores_and_its_swap_does_not(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    real_build, real_checkpoint = builder.build, optimizer.checkpoint

    def build(*args: Any, **kwargs: Any) -> Any:
        seen["build"] = (threading.get_native_id(), _niceness())
        started: list[int] = []  # a thread the build starts (as the native ones are) inherits it
        worker = threading.Thread(target=lambda: started.append(_niceness()))
        worker.start()
        worker.join()
        seen["started"] = started[0]
        return real_build(*args, **kwargs)

    def checkpoint(c: Any) -> None:
        seen["swap"] = (threading.get_native_id(), _niceness())
        real_checkpoint(c)

    monkeypatch.setattr(builder, "build", build)
    monkeypatch.setattr(optimizer, "checkpoint", checkpoint)
    c = db.create_collection(
        "c",
        {
            "vectors": {"size": DIM, "distance": "Cosine"},
            "optimizers_config": {"indexing_threshold": 1},
        },
    )
    x = np.random.default_rng(0).standard_normal((300, DIM)).astype(np.float32)
    c.upsert({"batch": {"ids": list(range(300)), "vectors": x}})
    assert c.optimizer is not None and c.optimizer.wait_idle(timeout=30)

    ours = _niceness()
    build_thread, build_niceness = seen["build"]
    swap_thread, swap_niceness = seen["swap"]
    assert build_niceness == min(19, ours + optimizer.BUILD_NICENESS)
    assert seen["started"] == build_niceness
    assert swap_niceness == ours and swap_thread != build_thread
    assert c.optimizer.error is None
    assert not any(s.appendable and s.count for s in c.segments)  # built and swapped in
    assert query.query(c, {"query": x[7].tolist(), "limit": 1})["points"][0]["id"] == 7
