"""Pure ranking functions of :class:`~memstore.memory.ConversationMemory` (no I/O, unit-tested alone).

Fusion: each retriever's scores are min-max normalised to [0, 1] over its own candidate list (the best hit
gets 1, the worst 0; a list of one, or of equal scores, gets 1 for all), then combined as
``dense_weight * dense + keyword_weight * keyword`` (a candidate missing from one list gets 0 there), divided
by the sum of the weights so a hit first in both lists scores 1. ``method="rrf"`` uses reciprocal rank
fusion instead: ``sum(weight / (rrf_k + rank))``, rescaled so that first in both lists scores 1.
Neighbour boost (on by default): a turn's fused score is raised by the best score of the turns near it in
the same conversation, ``weight * 0.5 ** (distance - 1)`` times it for each distance up to ``radius``, then
divided by ``1 + weight * (1 + 0.5 + ...)`` to stay in [0, 1]. Answers sit next to the turns that share the
question's words (a question and its reply, a story told over several turns); the boost lets a turn with
no words in common rank on its neighbour's strength.
An optional recency decay multiplies each fused score by ``0.5 ** (age / half_life)``, the age measured
from the newest candidate.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from memstore.errors import ValidationError

__all__ = [
    "BM25",
    "STOPWORDS",
    "content_tokens",
    "cosines",
    "fuse",
    "minmax",
    "neighbour_boost",
    "recency_decay",
    "rrf",
    "tokenize",
]

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

FusionMethod = Literal["minmax", "rrf"]

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


def cosines(query: npt.ArrayLike, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The cosine similarity of ``query`` with each row of ``matrix`` (0 where either is all zeros)."""
    wanted = np.asarray(query, dtype=np.float64)
    rows = np.asarray(matrix, dtype=np.float64).reshape(-1, len(wanted))
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(wanted)
    products = rows @ wanted
    similarities: npt.NDArray[np.float64] = np.divide(
        products, norms, out=np.zeros_like(products), where=norms > 0
    )
    return similarities


def minmax(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores rescaled to [0, 1]: the best 1, the worst 0; all 1 when they are equal (or there is one)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def rrf(ranked: Sequence[str], k: float = 60.0) -> dict[str, float]:
    """Reciprocal-rank scores ``1 / (k + rank)`` (rank from 1) of an ordered list."""
    return {key: 1.0 / (k + rank) for rank, key in enumerate(ranked, start=1)}


def fuse(
    dense: Mapping[str, float],
    keyword: Mapping[str, float],
    *,
    dense_weight: float = 0.5,
    keyword_weight: float = 0.5,
    method: FusionMethod = "minmax",
    rrf_k: float = 60.0,
) -> dict[str, float]:
    """One score per candidate of either list, in [0, 1] (see the module doc); higher is better."""
    if dense_weight < 0 or keyword_weight < 0 or dense_weight + keyword_weight <= 0:
        raise ValidationError("fusion weights must be >= 0 and not both 0")
    if method == "minmax":
        left, right = minmax(dense), minmax(keyword)
        scale = dense_weight + keyword_weight
    elif method == "rrf":
        left = rrf(sorted(dense, key=lambda key: -dense[key]), rrf_k)
        right = rrf(sorted(keyword, key=lambda key: -keyword[key]), rrf_k)
        scale = (dense_weight + keyword_weight) / (rrf_k + 1)
    else:
        raise ValidationError(f"unknown fusion method {method!r}: use 'minmax' or 'rrf'")
    keys = set(left) | set(right)
    return {
        key: (dense_weight * left.get(key, 0.0) + keyword_weight * right.get(key, 0.0)) / scale
        for key in keys
    }


def neighbour_boost(
    scores: Mapping[str, float], slots: Mapping[str, tuple[str, int]], weight: float, radius: int
) -> dict[str, float]:
    """Each key of ``slots`` (``(conversation, position)``) scored with its neighbours (see the module doc).

    ``scores`` holds the candidates' fused scores; keys of ``slots`` missing from it (neighbours fetched for
    the boost) start at 0.
    """
    if weight < 0 or radius < 0:
        raise ValidationError("the neighbour weight and radius must be >= 0")
    if weight == 0 or radius == 0:
        return {key: scores.get(key, 0.0) for key in slots}
    at = {slot: scores.get(key, 0.0) for key, slot in slots.items()}
    steps = [weight * 0.5 ** (distance - 1) for distance in range(1, radius + 1)]
    scale = 1.0 + sum(steps)
    boosted: dict[str, float] = {}
    for key, (conversation, position) in slots.items():
        total = scores.get(key, 0.0)
        for distance, step in enumerate(steps, start=1):
            near = max(
                at.get((conversation, position - distance), 0.0),
                at.get((conversation, position + distance), 0.0),
            )
            total += step * near
        boosted[key] = total / scale
    return boosted


def recency_decay(
    scores: Mapping[str, float], created: Mapping[str, datetime], half_life_days: float | None
) -> dict[str, float]:
    """Scores times ``0.5 ** (age_days / half_life_days)``, age from the newest candidate (None: as is)."""
    if half_life_days is None or not scores:
        return dict(scores)
    if half_life_days <= 0:
        raise ValidationError("half_life_days must be > 0")
    newest = max(created[key] for key in scores)
    return {
        key: value * 0.5 ** ((newest - created[key]).total_seconds() / 86400.0 / half_life_days)
        for key, value in scores.items()
    }


def ordered(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """``(key, score)`` best first; ties broken by key so results are deterministic."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


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
