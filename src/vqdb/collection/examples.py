"""Queries that score each point by its similarity to several example vectors, as Qdrant
defines them, and MMR's diversity re-ranking.

- recommend `best_score` (Qdrant 1.19): a (0, 1) sigmoid of the best similarity to a positive
  example if it beats every negative one, else minus that of the best negative similarity;
  `sum_scores`: positives' sum minus negatives' sum.
- `context` (pairs of positive and negative examples): sum over pairs of
  fast_sigmoid(min(sim(positive) - sim(negative) - eps, 0)): 0 inside every pair's zone.
- `discover` (a target and context pairs): the number of pairs whose positive is more similar
  than its negative, minus those whose negative is, plus a (0, 1) sigmoid of the target's
  similarity.
- `relevance_feedback`: the target's similarity, moved towards examples scored better by the
  feedback and away from those scored worse.

Similarity is the engine's score, higher is better: minus the squared distance for Euclid (as
Qdrant's raw scorer), minus the distance for Manhattan. These objectives are not distances a
graph can walk, so every allowed point is compared with every example by an exact scan of the
originals: one native call per segment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Sims = npt.NDArray[np.float32]  # (examples, points): similarity of each point to each example
Scores = npt.NDArray[np.float32]
_EPS = np.float32(np.finfo(np.float32).eps)  # Qdrant's margin in a context pair's loss


def fast_sigmoid(x: Scores) -> Scores:
    out: Scores = x / (np.float32(1) + np.abs(x))
    return out


def _scaled_sigmoid(x: Scores) -> Scores:
    """Qdrant's scaled_fast_sigmoid: fast_sigmoid mapped onto (0, 1)."""
    out: Scores = np.float32(0.5) * (fast_sigmoid(x) + np.float32(1))
    return out


def best_score(positives: int) -> Callable[[Sims], Scores]:
    def score(sims: Sims) -> Scores:
        pos, neg = sims[:positives], sims[positives:]
        n = sims.shape[1]
        best_pos = pos.max(axis=0) if len(pos) else np.full(n, -np.inf, dtype=np.float32)
        best_neg = neg.max(axis=0) if len(neg) else np.full(n, -np.inf, dtype=np.float32)
        wins = best_pos > best_neg
        best = _scaled_sigmoid(np.where(wins, best_pos, best_neg))  # finite: one side is given
        out: Scores = np.where(wins, best, -best)
        return out

    return score


def sum_scores(positives: int) -> Callable[[Sims], Scores]:
    def score(sims: Sims) -> Scores:
        out: Scores = sims[:positives].sum(axis=0) - sims[positives:].sum(axis=0)
        return out

    return score


def context(sims: Sims) -> Scores:
    """Examples are ordered positive, negative of each pair in turn."""
    difference = sims[0::2] - sims[1::2] - _EPS
    loss: Scores = fast_sigmoid(np.minimum(difference, np.float32(0))).sum(axis=0)
    return loss


def discover(sims: Sims) -> Scores:
    """Examples: the target, then positive, negative of each pair in turn."""
    target, pos, neg = sims[0], sims[1::2], sims[2::2]
    rank = (pos > neg).sum(axis=0) - (pos < neg).sum(axis=0)
    scaled = np.float32(0.5) * (fast_sigmoid(target) + np.float32(1))
    out: Scores = rank.astype(np.float32) + scaled
    return out


def naive_feedback(
    feedback_scores: Sequence[float], a: float, b: float, c: float
) -> Callable[[Sims], Scores]:
    """Qdrant's relevance feedback ("naive" strategy). Examples: the target, then the feedback
    examples; every ordered pair of those whose feedback scores differ by more than 0 adds
    c * difference^b * (similarity to the better one - to the worse one) to a * the target's
    similarity."""
    pairs = [
        (i + 1, j + 1, np.float32(c * (si - sj) ** b))
        for i, si in enumerate(feedback_scores)
        for j, sj in enumerate(feedback_scores)
        if i != j and si - sj > 0
    ]

    def score(sims: Sims) -> Scores:
        out: Scores = np.float32(a) * sims[0]
        for better, worse, weight in pairs:
            out = out + weight * (sims[better] - sims[worse])
        return out

    return score


def maximal_marginal_relevance(
    relevance: Scores, pairwise: Sims, diversity: float, limit: int
) -> list[int]:
    """Qdrant's MMR: the most relevant candidate first, then each time the one maximising
    lambda * relevance - (1 - lambda) * (its highest similarity to one already chosen), with
    lambda = 1 - diversity. Returns positions into the candidates, in the order chosen."""
    n = relevance.shape[0]
    if n == 0 or limit <= 0:
        return []
    weight = np.float32(1 - diversity)
    chosen = [int(np.argmax(relevance))]
    closest = pairwise[chosen[0]].copy()  # each candidate's highest similarity to the chosen
    left = np.ones(n, dtype=np.bool_)
    left[chosen[0]] = False
    while len(chosen) < min(limit, n):
        value = np.where(left, weight * relevance - (np.float32(1) - weight) * closest, -np.inf)
        best = int(np.argmax(value))
        chosen.append(best)
        left[best] = False
        closest = np.maximum(closest, pairwise[best])
    return chosen


def pairs(raw: object, where: str) -> list[tuple[object, object]]:
    """Context pairs as Qdrant takes them: one {"positive", "negative"} or a list (null or []
    for none)."""
    if raw is None:
        return []
    found = [raw] if isinstance(raw, dict) else raw
    if not isinstance(found, Sequence) or isinstance(found, str):
        raise ValueError(f"{where}: expected context pairs {{'positive': ..., 'negative': ...}}")
    out = []
    for i, pair in enumerate(found):
        if not isinstance(pair, dict) or set(pair) != {"positive", "negative"}:
            raise ValueError(
                f"{where}[{i}]: a context pair is {{'positive': ..., 'negative': ...}}"
            )
        out.append((pair["positive"], pair["negative"]))
    return out
