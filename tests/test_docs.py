"""Examples in the docs must run: the README's Python blocks and the modules' doctests."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import vqdb.index.vector_index

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("block", python_blocks(README.read_text()))
def test_readme_example_runs(block: str) -> None:
    exec(compile(block, str(README), "exec"), {})


def test_doctests() -> None:
    assert doctest.testmod(vqdb.index.vector_index).failed == 0
