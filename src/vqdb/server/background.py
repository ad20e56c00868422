"""Work a request started and did not wait for: Qdrant's `wait=false` on snapshot operations,
answered 202 at once while the snapshot is taken, deleted or recovered.

Each job runs in its own thread (a snapshot can take minutes; the server's worker threads are
for requests). A failure has no request left to answer, so it is logged, as Qdrant logs it.
The server joins the jobs still running before it closes the storage, so a snapshot is never
cut off halfway by a shutdown (its scratch files would be left to the next start).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("vqdb.server")


class Jobs:
    def __init__(self) -> None:
        self._running: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self, name: str, run: Callable[..., Any], *args: Any) -> None:
        """Runs `run(*args)` in a thread of its own; `name` says what it is in the log."""

        def job() -> None:
            try:
                run(*args)
            except Exception as e:
                log.error("%s (not waited for) failed: %s: %s", name, type(e).__name__, e)
            finally:
                with self._lock:
                    self._running.discard(thread)

        thread = threading.Thread(target=job, name=f"vqdb {name}", daemon=True)
        with self._lock:
            self._running.add(thread)
        thread.start()

    def join(self) -> None:
        """Waits for every job started so far."""
        with self._lock:
            running = list(self._running)
        for thread in running:
            thread.join()
