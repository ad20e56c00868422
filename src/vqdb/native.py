"""The C++ extension (cpp/, built into `vqdb._core`), imported here alone, below every module
that calls it, as faiss's loader.py is for its SWIG module: the one place that says what went
wrong when it cannot load (a source checkout not built, a build for another Python)."""

from __future__ import annotations

try:
    from vqdb import _core
except ImportError as e:
    raise ImportError(
        f"vqdb's C++ extension (vqdb._core) did not load: {e}. In a source checkout, build it "
        "with `pip install -e .`; an installed vqdb may be a build for another Python"
    ) from e

__all__ = ["_core"]
