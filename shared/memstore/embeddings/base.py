"""The ``Embedder`` protocol and ``HashingEmbedder``, a deterministic embedder for tests (no model)."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from typing import Protocol, runtime_checkable

from memstore._sync import to_async
from memstore.errors import ValidationError

__all__ = ["Embedder", "HashingEmbedder", "check_texts"]


@runtime_checkable
class Embedder(Protocol):
    """Turns text into vectors of :attr:`dimensions` floats.

    ``embed_documents`` embeds texts to store, ``embed_query`` a text to search with (models such as e5 treat
    them differently; others do the same thing). memstore's embedders also offer ``aembed_documents`` and
    ``aembed_query``, the same code run in a worker thread.
    """

    @property
    def dimensions(self) -> int:
        """The length of every vector this embedder returns."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search text."""


def check_texts(texts: object) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, list | tuple):
        raise ValidationError("embed_documents takes a list of str")
    for text in texts:
        if not isinstance(text, str):
            raise ValidationError(f"texts to embed are str, not {type(text).__name__}")
    return list(texts)


_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """A deterministic bag-of-words embedder: no model, no network, the same vectors in every process.

    Each lower-cased word and each pair of neighbouring words is hashed (BLAKE2b) to a signed slot; the result
    is L2-normalised, so texts sharing words score a higher cosine similarity. A text without words gets a
    fixed unit vector, never the zero vector. Meant for tests and examples, not for retrieval quality.
    """

    def __init__(self, dimensions: int = 256) -> None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 2:
            raise ValidationError("HashingEmbedder dimensions must be an int >= 2")
        self.dimensions = dimensions

    def _embed(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        features = [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]
        vector = [0.0] * self.dimensions
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            slot = int.from_bytes(digest[:7], "little") % self.dimensions
            vector[slot] += 1.0 if digest[7] & 1 else -1.0
        norm = math.sqrt(sum(value * value for value in vector))
        if norm == 0:  # no words, or features that cancelled out: a fixed unit vector, never all zeros
            vector[0], norm = 1.0, 1.0
        return [value / norm for value in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(text) for text in check_texts(texts)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    aembed_documents = to_async(embed_documents)
    aembed_query = to_async(embed_query)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimensions={self.dimensions})"
