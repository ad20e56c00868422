"""Which build of vqdb is running: the git commit of the source checkout it runs from, for
`GET /`'s `commit` (Qdrant reports the commit it was built from; null when unknown)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def commit() -> str | None:
    """HEAD of the checkout whose src/vqdb this package is (an editable install); None for an
    installed copy, which may sit inside some other project's repository."""
    try:
        top = _git("rev-parse", "--show-toplevel")
        if top is None or Path(top).resolve() != PACKAGE.parents[1]:
            return None
        head = _git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    return head if head is not None and len(head) == 40 else None


def _git(*args: str) -> str | None:
    done = subprocess.run(
        ["git", *args], cwd=PACKAGE, capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None
