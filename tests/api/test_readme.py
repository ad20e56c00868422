"""The README's qdrant-client example runs against `vqdb serve` as written (its URL aside)."""

from __future__ import annotations

import warnings

import pytest
from readme import README, python_blocks
from served import Server


@pytest.mark.parametrize("block", python_blocks(served=True))
def test_readme_server_example_runs(server: Server, block: str) -> None:
    code = block.replace("http://localhost:6333", server.url)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(code, str(README), "exec"), {})
