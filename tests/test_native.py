"""vqdb/native.py is where the C++ extension is imported, and the only place in vqdb that does:
when it cannot load, the error says how to build it."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from vqdb import native

SRC = Path(native.__file__).parent


def test_only_native_imports_the_extension() -> None:
    importing = re.compile(r"^\s*(from vqdb import _core|import vqdb\._core|from vqdb\._core)")
    found = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if any(importing.match(line) for line in path.read_text().splitlines())
    ]
    assert found == ["native.py"]


def test_a_missing_extension_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vqdb._core", None)  # what an unbuilt checkout gives
    monkeypatch.delattr("vqdb._core", raising=False)
    try:
        with pytest.raises(ImportError, match=r"pip install -e \."):
            importlib.reload(native)
    finally:
        monkeypatch.undo()
        importlib.reload(native)
    assert native._core is sys.modules["vqdb._core"]
