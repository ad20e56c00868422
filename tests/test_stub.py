"""The committed _core.pyi must match the compiled module (regenerate with the command below)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

STUB = Path(__file__).resolve().parents[1] / "src" / "vqdb" / "_core.pyi"


def test_core_stub_is_current(tmp_path: Path) -> None:
    pytest.importorskip("nanobind.stubgen")
    out = tmp_path / "_core.pyi"
    cmd = [sys.executable, "-m", "nanobind.stubgen", "-q", "-m", "vqdb._core", "-o", str(out)]
    subprocess.run(cmd, check=True)
    assert out.read_text() == STUB.read_text(), (
        "src/vqdb/_core.pyi is stale: regenerate it with "
        "python -m nanobind.stubgen -m vqdb._core -o src/vqdb/_core.pyi"
    )
