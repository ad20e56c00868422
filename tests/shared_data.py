"""The shared datasets (../shared/data) for recall tests: loaded, or a skip naming what is
missing, so a user's checkout without them still passes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# The shared datasets live beside the checkout (../shared/data); VQDB_DATA overrides.
DATA_ROOT = Path(
    os.environ.get("VQDB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def load_dataset(name: str, queries: int = 1000):
    """(base, queries, gt, metric) from the shared data, or a skip naming what is missing."""
    folder = DATA_ROOT / name
    if not (folder / "base.npy").exists():
        pytest.skip(f"dataset {name} not found under {DATA_ROOT} (set VQDB_DATA to its folder)")
    gt_path = next(folder.glob("gt_*.npy"))
    base = np.load(folder / "base.npy")
    q = np.load(folder / "queries.npy")[:queries]
    gt = np.load(gt_path)[:queries]
    return base, q, gt, gt_path.stem[3:]


def recall_at_10(found: np.ndarray, gt: np.ndarray) -> float:
    hits = [len(set(f[:10].tolist()) & set(g[:10].tolist())) for f, g in zip(found, gt)]
    return float(np.mean(hits)) / 10
