"""vqdb's own client methods (qdrant-client has none of these): the quantization advisor for a
collection, applying its recommendation, and following the rebuild."""

from __future__ import annotations

from typing import Any

from vqdb import advisor
from vqdb.advisor import rebuild
from vqdb.client.base import ClientBase


class AdviceMethods(ClientBase):
    def advise(
        self,
        collection_name: str,
        *,
        vector_name: str = "",
        target_recall: float = 0.95,
        objective: str = "memory",
        limit: int = 10,
        queries: Any = None,
        apply: bool = False,
        progress: bool | None = None,
    ) -> dict[str, Any]:
        """Measures every quantization on the collection's vectors (see vqdb.advisor) and
        returns the advice as JSON: `candidates`, `recommendation` (quantization_config and
        search_params in Qdrant's shapes, estimated_recall). apply=True switches the collection
        to the recommended quantization (rebuilt in the background: see advice_progress)."""
        advice = advisor.advise_collection(
            self._collection(collection_name),
            vector_name,
            target_recall=target_recall,
            objective=objective,
            limit=limit,
            queries=queries,
            progress=progress,
        )
        found = advice.to_json()
        if apply and found["recommendation"]["met"]:
            rebuild.apply(self._database, collection_name, found["recommendation"])
        return found

    def advice_progress(self, collection_name: str) -> dict[str, Any]:
        """How far the rebuild after a quantization switch is (see vqdb.advisor.rebuild)."""
        return rebuild.progress(self._collection(collection_name))
