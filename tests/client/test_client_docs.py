"""The examples in the client's module docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "__init__",
    "collections",
    "convert",
    "embedded",
    "exploration",
    "groups",
    "points",
    "reads",
    "upload",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module("vqdb.client" if name == "__init__" else f"vqdb.client.{name}")
    assert doctest.testmod(module).failed == 0
