"""Which build of vqdb is running, for `GET /`'s `commit` (Qdrant reports the commit it was
built from; null when unknown): the HEAD of the source checkout an editable install runs from,
else the commit the build recorded (CMakeLists.txt writes commit.txt beside the extension)."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def commit() -> str | None:
    return _checkout_head() or _recorded()


def _recorded() -> str | None:
    """The commit the build was made from (an installed copy); None where none was known."""
    try:
        found = (PACKAGE / "commit.txt").read_text().strip()
    except OSError:
        return None
    return found if re.fullmatch("[0-9a-f]{40}", found) else None


def _checkout_head() -> str | None:
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
