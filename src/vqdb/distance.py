"""Distances as the API names them, and the one place engine scores become API scores (the
native query leaves apply the same mapping in C++, named by `Distance.shown`).

Inside the engine every score is "higher is better": Dot and Cosine as they are, Euclid as the
negated squared distance, Manhattan as the negated distance. Users see what Qdrant shows:
similarities for Dot and Cosine, distances (ascending) for Euclid and Manhattan.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import numpy.typing as npt


class Distance(str, Enum):
    COSINE = "Cosine"
    DOT = "Dot"
    EUCLID = "Euclid"
    MANHATTAN = "Manhattan"

    @classmethod
    def parse(cls, value: Distance | str) -> Distance:
        if isinstance(value, Distance):
            return value
        for member in cls:
            if member.value.lower() == str(value).lower():
                return member
        names = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown distance {value!r} (expected one of {names})")

    @property
    def metric(self) -> str:
        """The engine's metric name."""
        return {"Cosine": "cosine", "Dot": "dot", "Euclid": "l2", "Manhattan": "l1"}[self.value]

    @property
    def ascending(self) -> bool:
        """True where the API score is a distance (smaller is better)."""
        return self in (Distance.EUCLID, Distance.MANHATTAN)

    @property
    def shown(self) -> int:
        """How cpp/query/leaf.h turns engine scores into these (its `Shown`): 0 as they are, 1
        Euclid's distance, 2 Manhattan's; the same mapping as `to_api`, which the leaf tests
        hold it to."""
        return _SHOWN.get(self, 0)

    def to_engine(self, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The scores users see back to engine scores (what Qdrant's example objectives
        compare: Euclid as the negated squared distance)."""
        if self is Distance.EUCLID:
            return -np.square(scores)
        if self is Distance.MANHATTAN:
            return -scores
        return scores

    def to_api(self, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Engine scores (higher is better) to the scores users see."""
        if self is Distance.EUCLID:
            return np.sqrt(np.maximum(-scores, 0.0))
        if self is Distance.MANHATTAN:
            return -scores
        return scores


_SHOWN = {Distance.EUCLID: 1, Distance.MANHATTAN: 2}  # Distance.shown, read per query
