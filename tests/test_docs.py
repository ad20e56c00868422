"""Examples in the docs must run: the README's Python blocks and the modules' doctests."""

from __future__ import annotations

import doctest

import pytest
from readme import README, python_blocks

import vqdb.advisor
import vqdb.index.sparse_index
import vqdb.index.sparse_vectors
import vqdb.index.vector_index


@pytest.mark.parametrize("block", python_blocks())
def test_readme_example_runs(block: str) -> None:
    exec(compile(block, str(README), "exec"), {})


def test_doctests() -> None:
    modules = (vqdb.index.vector_index, vqdb.index.sparse_index, vqdb.index.sparse_vectors)
    for module in (*modules, vqdb.advisor):
        assert doctest.testmod(module).failed == 0, module.__name__
