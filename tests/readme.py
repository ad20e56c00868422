"""The README's Python examples, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(*, served: bool = False) -> list[str]:
    """The blocks that talk to `vqdb serve` (tests/api runs them against a server), or the
    others."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if ("QdrantClient(url=" in b) == served]
