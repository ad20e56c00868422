"""Full-text index options: the prefix tokenizer, English and custom stopwords (case-sensitive
when lowercasing is off), as Qdrant applies them to documents and queries."""

from __future__ import annotations

from typing import Any

import numpy as np
from filter_fakes import FakePoints

from vqdb.filters import parse_filter

TITLES = ["Robots of the stars", "The robotic arm", "A star is born", "robo", "LAZY the Dog"]


def matching(schema: dict[str, Any], mode: str, text: str) -> list[int]:
    points = FakePoints([{"t": t} for t in TITLES], indexes={"t": schema})
    f = parse_filter({"must": {"key": "t", "match": {mode: text}}})
    assert f is not None
    found: list[int] = np.flatnonzero(f.mask(points)).tolist()
    assert points.reads == []  # answered by the index
    return found


def test_prefix_tokenizer() -> None:
    prefix = {"type": "text", "tokenizer": "prefix"}
    assert matching(prefix, "text", "ROBO") == [0, 1, 3]
    assert matching(prefix, "text", "robot st") == [0]
    assert matching(prefix, "text", "the") == [0, 1, 4]  # no stopwords in a prefix query
    assert matching({**prefix, "max_token_len": 3}, "text", "rob") == [0, 1, 3]
    assert matching({**prefix, "max_token_len": 3}, "text", "robo") == []  # longer than indexed
    assert matching({"type": "text"}, "text", "robo") == [3]  # the word tokenizer: whole words


def test_custom_stopwords() -> None:
    lower = {"type": "text", "stopwords": {"custom": ["the", "lazy"]}}
    assert matching(lower, "text_any", "the") == []  # a query of stopwords has no tokens
    assert matching(lower, "phrase", "robots of stars") == [0]  # "the" is not in the document
    exact = {**lower, "lowercase": False, "stopwords": {"custom": ["the", "The", "LAZY"]}}
    assert matching(exact, "text", "lazy") == []  # "LAZY" was dropped, "lazy" is no token
    assert matching(exact, "text", "Dog") == [4]
    assert matching(exact, "text", "The") == []


def test_english_stopwords() -> None:
    """Qdrant's own check (tests/openapi/test_fts.py): text_any of a phrase with stopwords is
    the OR of its other words, for the language given as a name or in a list."""
    for option in ("english", {"languages": ["english"]}, {"languages": ["English"]}):
        english = {"type": "text", "stopwords": option}
        assert matching(english, "text_any", "robot of the star") == [2]  # "star": whole words
        assert matching(english, "text_any", "robots of the stars") == [0]
        assert matching(english, "text_any", "the OF") == []  # only stopwords: no tokens
        assert matching(english, "text", "Robots stars") == [0]  # "of the" dropped in both
        assert matching(english, "phrase", "robots of the stars") == [0]
    plain = {"type": "text"}
    assert matching(plain, "text_any", "the") == [0, 1, 4]  # no stopwords unless asked
    assert matching({"type": "text", "stopwords": "german"}, "text_any", "the") == [0, 1, 4]


def test_custom_stopwords_are_lowercased_with_the_tokens() -> None:
    mixed = {"type": "text", "stopwords": {"custom": ["The", "LAZY"], "languages": []}}
    assert matching(mixed, "text_any", "the lazy") == []  # Qdrant lowercases custom ones too
    assert matching(mixed, "text", "dog") == [4]
