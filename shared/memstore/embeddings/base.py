"""The ``Embedder`` protocol, :func:`as_embedder` (any embedding object as an ``Embedder``) and
``HashingEmbedder``, a deterministic embedder for tests (no model)."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
import typing
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

from memstore._sync import to_async
from memstore.errors import ValidationError

__all__ = [
    "DocumentEmbeddings",
    "Embedder",
    "EmbedderLike",
    "HashingEmbedder",
    "SizedEmbedder",
    "TextEmbeddingModel",
    "as_embedder",
    "check_texts",
]


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


class DocumentEmbeddings(Protocol):
    """The documented embedder protocol without ``dimensions`` (a LangChain ``Embeddings`` has this shape)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search text."""


class TextEmbeddingModel(Protocol):
    """An embedding model with LlamaIndex's method names (a LlamaIndex ``BaseEmbedding`` has this shape)."""

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""

    def get_query_embedding(self, query: str) -> list[float]:
        """The vector of one search text."""


EmbedderLike: TypeAlias = Embedder | DocumentEmbeddings | TextEmbeddingModel
"""What memstore accepts wherever it takes an embedder; :func:`as_embedder` makes an ``Embedder`` of it."""


def _size(value: object) -> int | None:
    """``value`` if it is a usable vector size (a positive int, not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


class SizedEmbedder:
    """An embedding model as an :class:`Embedder`: its two functions, and its vector size, given or learnt.

    The size is ``dimensions`` if given, else the length of the first vector the model returns (one probe
    ``embed_query("dimensions")`` if it is asked for before anything was embedded: collections are sized
    when a store is built). Every vector is then checked against it, so a model that changes size raises
    :class:`~memstore.errors.ValidationError` here rather than storing vectors no search can compare.
    """

    def __init__(
        self,
        embed_documents: Callable[[list[str]], Sequence[Sequence[float]]],
        embed_query: Callable[[str], Sequence[float]],
        *,
        dimensions: int | None = None,
        source: object = None,
    ) -> None:
        if dimensions is not None and _size(dimensions) is None:
            raise ValidationError("dimensions must be a positive int")
        self._documents = embed_documents
        self._query = embed_query
        self._dimensions = dimensions
        self._source = source
        self._lock = threading.Lock()

    @property
    def dimensions(self) -> int:
        """The vectors' length: as given, learnt from the vectors so far, or from one probe embedding."""
        if self._dimensions is None:
            self.embed_query("dimensions")
        assert self._dimensions is not None
        return self._dimensions

    def check_vectors(self, vectors: Sequence[Sequence[float]], count: int) -> list[list[float]]:
        """``vectors`` as lists of floats, after checking there are ``count`` of them, all of one size."""
        if len(vectors) != count:
            raise ValidationError(f"the embedder returned {len(vectors)} vectors for {count} texts")
        checked = [[float(value) for value in vector] for vector in vectors]
        for vector in checked:
            with self._lock:
                if self._dimensions is None:
                    if not vector:
                        raise ValidationError("the embedder returned an empty vector")
                    self._dimensions = len(vector)
            if len(vector) != self._dimensions:
                raise ValidationError(
                    f"the embedder returned a vector of {len(vector)} floats, expected {self._dimensions}"
                )
        return checked

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        texts = check_texts(texts)
        return self.check_vectors(self._documents(texts), len(texts))

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search text."""
        return self.check_vectors([self._query(text)], 1)[0]

    aembed_documents = to_async(embed_documents)
    aembed_query = to_async(embed_query)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._source!r}, dimensions={self._dimensions!r})"


def _callable(model: object, *names: str) -> bool:
    return all(callable(getattr(model, name, None)) for name in names)


def as_embedder(model: EmbedderLike) -> Embedder:
    """``model`` as an :class:`Embedder`: the one place memstore recognises an embedding object.

    Duck typing, so the core imports no framework: an object with ``embed_documents``/``embed_query`` (a
    memstore embedder, a LangChain ``Embeddings``) is used as it is if it says its size as a positive int
    ``dimensions``, else wrapped in a :class:`SizedEmbedder` that learns it from the first vector; an object
    with ``get_text_embedding_batch``/``get_query_embedding`` (a LlamaIndex ``BaseEmbedding``) is wrapped
    the same way. Anything else raises :class:`~memstore.errors.ValidationError`.
    """
    found: Any = model  # recognised by its methods below, not by its declared type
    if isinstance(found, SizedEmbedder):
        return found
    if _callable(found, "embed_documents", "embed_query"):
        if _size(getattr(found, "dimensions", None)) is not None:
            return typing.cast(Embedder, found)
        return SizedEmbedder(found.embed_documents, found.embed_query, source=found)
    if _callable(found, "get_text_embedding_batch", "get_query_embedding"):
        return SizedEmbedder(found.get_text_embedding_batch, found.get_query_embedding, source=found)
    raise ValidationError(
        f"an embedder has embed_documents/embed_query (or LlamaIndex's get_text_embedding_batch/"
        f"get_query_embedding), not a {type(model).__name__}"
    )


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
