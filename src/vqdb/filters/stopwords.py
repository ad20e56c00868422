"""Stopwords of a text index, as Qdrant's `stopwords` option names them: a language
("english"), or {"languages": [...], "custom": [...]}. Qdrant's language lists are NLTK's; vqdb
holds English's (179 words). Other languages are accepted and echoed back but remove nothing
yet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# NLTK's English stopwords, the list Qdrant applies for "english"
ENGLISH = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until
    while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why
    how all any both each few more most other some such no nor not only own same so than too
    very s t can will just don don't should should've now d ll m o re ve y ain aren aren't
    couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't
    ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
    weren weren't won won't wouldn wouldn't
    """.split()  # noqa: SIM905 (a word list reads best as text)
)

_LANGUAGES = {"english": ENGLISH}


def stopwords(option: Any, lowercase: bool) -> frozenset[str]:
    """The words a text index drops, from its `stopwords` option; lowercased when the index
    lowercases its tokens (custom ones too, as Qdrant does), else compared as given."""
    languages: list[Any]
    custom: list[Any]
    if isinstance(option, str):
        languages, custom = [option], []
    elif isinstance(option, Mapping):
        languages, custom = option.get("languages") or [], option.get("custom") or []
    else:
        return frozenset()
    words: set[str] = set(custom)
    for language in languages:
        words |= _LANGUAGES.get(str(language).lower(), frozenset())
    return frozenset(w.lower() for w in words) if lowercase else frozenset(words)
