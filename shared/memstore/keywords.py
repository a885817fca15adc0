"""The keyword tokenizer and BM25, shared by every backend's keyword index (pure functions, no I/O).

They sit at the core's top level, below ``backends/`` and ``memory/``, so that a backend (the SQL keyword
index, the memory backend's BM25) and the ranking of :class:`~memstore.memory.ConversationMemory` use one
definition of a token, a stopword and the indexed prefix of a message without a backend importing the memory
layer. :mod:`memstore.memory.ranking` re-exports them under their old names.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["BM25", "KEYWORD_CHARS", "STOPWORDS", "content_tokens", "keyword_text", "tokenize"]

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t don ve ll re d m""".split()  # noqa: SIM905
)
"""English function words left out of keyword queries (question words carry no evidence in a turn)."""

KEYWORD_CHARS = 100_000
"""Keyword search reads the first this many characters of a message, on every backend. PostgreSQL's
``tsvector`` holds at most 1 MB of lexemes; 100,000 characters stay under it whatever the text (at most 4
UTF-8 bytes per character), so one huge message can neither fail its own write nor every later one."""


def keyword_text(text: str) -> str:
    """The part of a message's text that keyword search indexes (see :data:`KEYWORD_CHARS`)."""
    return text[:KEYWORD_CHARS]


def tokenize(text: str) -> list[str]:
    """Lower-cased ``\\w+`` tokens (the memory backend's keyword tokenizer)."""
    return re.findall(r"\w+", text.lower())


def content_tokens(tokens: Sequence[str]) -> list[str]:
    """``tokens`` without :data:`STOPWORDS`; all of them when every token is a stopword."""
    kept = [token for token in tokens if token not in STOPWORDS]
    return kept or list(tokens)


class BM25:
    """Okapi BM25 over tokenised documents (``k1=1.2``, ``b=0.75``, idf ``ln(1 + (N - n + .5)/(n + .5))``)."""

    def __init__(self, documents: Iterable[tuple[str, Sequence[str]]], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.docs = [(key, Counter(tokens), len(tokens)) for key, tokens in documents]
        self.average = sum(length for _, _, length in self.docs) / len(self.docs) if self.docs else 0.0
        frequency: Counter[str] = Counter()
        for _, counts, _ in self.docs:
            frequency.update(counts.keys())
        total = len(self.docs)
        self.idf = {term: math.log(1 + (total - n + 0.5) / (n + 0.5)) for term, n in frequency.items()}

    def scores(self, query: Sequence[str]) -> dict[str, float]:
        """The score of every document sharing at least one query term (others are left out)."""
        terms = [term for term in dict.fromkeys(query) if term in self.idf]
        found: dict[str, float] = {}
        for key, counts, length in self.docs:
            total = 0.0
            for term in terms:
                tf = counts.get(term, 0)
                if tf:
                    norm = self.k1 * (1 - self.b + self.b * length / (self.average or 1.0))
                    total += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
            if total > 0:
                found[key] = total
        return found
