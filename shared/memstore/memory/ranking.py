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

The keyword tokenizer and BM25 live in :mod:`memstore.keywords` (below the backends, which use them too) and
are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from memstore.errors import ValidationError
from memstore.keywords import BM25 as BM25
from memstore.keywords import KEYWORD_CHARS as KEYWORD_CHARS
from memstore.keywords import STOPWORDS as STOPWORDS
from memstore.keywords import content_tokens as content_tokens
from memstore.keywords import keyword_text as keyword_text
from memstore.keywords import tokenize as tokenize

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

FusionMethod = Literal["minmax", "rrf"]


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
