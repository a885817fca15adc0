"""Embedders both ways: a memstore :class:`~memstore.Embedder` as LangChain ``Embeddings`` and back.

- :class:`MemstoreEmbeddings` lets LangChain code use memstore's embedders (the offline
  :class:`~memstore.MiniLMEmbedder`, the deterministic :class:`~memstore.HashingEmbedder`).
- :class:`LangChainEmbedder` gives a LangChain ``Embeddings`` the ``dimensions`` the core's ``Embedder``
  protocol needs: given as ``dimensions=``, or learnt from the first vectors it returns (one
  ``embed_query("dimensions")`` call if ``dimensions`` is read before anything was embedded). Vectors of
  another length afterwards raise :class:`memstore.ValidationError`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from memstore import ValidationError

if TYPE_CHECKING:
    from memstore import Embedder

__all__ = ["LangChainEmbedder", "MemstoreEmbeddings"]


class MemstoreEmbeddings(Embeddings):
    """A memstore embedder (anything with ``embed_documents``/``embed_query``) as LangChain ``Embeddings``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    @property
    def dimensions(self) -> int:
        return int(self.embedder.dimensions)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(vector) for vector in self.embedder.embed_documents(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return list(self.embedder.embed_query(text))

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed_query, text)

    def __repr__(self) -> str:
        return f"MemstoreEmbeddings({self.embedder!r})"


class LangChainEmbedder:
    """A LangChain ``Embeddings`` as a core :class:`memstore.Embedder` (which knows its ``dimensions``)."""

    def __init__(self, embeddings: Embeddings, *, dimensions: int | None = None) -> None:
        if not isinstance(embeddings, Embeddings):
            raise TypeError(f"embeddings must be a LangChain Embeddings, not {type(embeddings).__name__}")
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            raise ValidationError("dimensions must be a positive int")
        self.embeddings = embeddings
        self._dimensions = dimensions
        self._lock = threading.Lock()

    @property
    def dimensions(self) -> int:
        """The vectors' length: as given, learnt from the vectors so far, or from one probe embedding."""
        if self._dimensions is None:
            self._check([self.embeddings.embed_query("dimensions")])
        assert self._dimensions is not None
        return self._dimensions

    def _check(self, vectors: list[list[float]]) -> list[list[float]]:
        for vector in vectors:
            with self._lock:
                if self._dimensions is None:
                    if not vector:
                        raise ValidationError("the embeddings returned an empty vector")
                    self._dimensions = len(vector)
            if len(vector) != self._dimensions:
                raise ValidationError(
                    f"the embeddings returned a vector of {len(vector)} floats, expected {self._dimensions}"
                )
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self.embeddings.embed_documents(list(texts))
        if len(vectors) != len(texts):
            raise ValidationError(f"the embeddings returned {len(vectors)} vectors for {len(texts)} texts")
        return self._check(vectors)

    def embed_query(self, text: str) -> list[float]:
        return self._check([self.embeddings.embed_query(text)])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = await self.embeddings.aembed_documents(list(texts))
        if len(vectors) != len(texts):
            raise ValidationError(f"the embeddings returned {len(vectors)} vectors for {len(texts)} texts")
        return self._check(vectors)

    async def aembed_query(self, text: str) -> list[float]:
        return self._check([await self.embeddings.aembed_query(text)])[0]

    def __repr__(self) -> str:
        return f"LangChainEmbedder({self.embeddings!r}, dimensions={self._dimensions!r})"
