"""Embedders both ways: a memstore :class:`~memstore.Embedder` as LangChain ``Embeddings`` and back.

- :class:`MemstoreEmbeddings` lets LangChain code use memstore's embedders (the offline
  :class:`~memstore.MiniLMEmbedder`, the deterministic :class:`~memstore.HashingEmbedder`).
- :class:`LangChainEmbedder` gives a LangChain ``Embeddings`` the ``dimensions`` the core's ``Embedder``
  protocol needs: given as ``dimensions=``, or learnt from the first vectors it returns (one
  ``embed_query("dimensions")`` call if ``dimensions`` is read before anything was embedded). Vectors of
  another length afterwards raise :class:`memstore.ValidationError`. It is the core's
  :class:`memstore.SizedEmbedder`, which the core also applies by itself to an unwrapped ``Embeddings``.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from memstore import EmbedderLike, SizedEmbedder, as_embedder

__all__ = ["LangChainEmbedder", "MemstoreEmbeddings"]


class MemstoreEmbeddings(Embeddings):
    """A memstore embedder (anything :func:`memstore.as_embedder` takes) as LangChain ``Embeddings``."""

    def __init__(self, embedder: EmbedderLike) -> None:
        self.embedder = as_embedder(embedder)

    @property
    def dimensions(self) -> int:
        return self.embedder.dimensions

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(vector) for vector in self.embedder.embed_documents(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return list(self.embedder.embed_query(text))

    def __repr__(self) -> str:
        return f"MemstoreEmbeddings({self.embedder!r})"


class LangChainEmbedder(SizedEmbedder):
    """A LangChain ``Embeddings`` as a core :class:`memstore.Embedder` (which knows its ``dimensions``).

    The core's :class:`memstore.SizedEmbedder` with LangChain's methods; its async methods call LangChain's
    own ``aembed_*``. The core accepts a LangChain ``Embeddings`` unwrapped too (:func:`memstore.as_embedder`
    wraps it the same way); wrap it yourself to give ``dimensions`` without a probe embedding.
    """

    def __init__(self, embeddings: Embeddings, *, dimensions: int | None = None) -> None:
        if not isinstance(embeddings, Embeddings):
            raise TypeError(f"embeddings must be a LangChain Embeddings, not {type(embeddings).__name__}")
        super().__init__(
            embeddings.embed_documents, embeddings.embed_query, dimensions=dimensions, source=embeddings
        )
        self.embeddings = embeddings

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.check_vectors(await self.embeddings.aembed_documents(list(texts)), len(texts))

    async def aembed_query(self, text: str) -> list[float]:
        return self.check_vectors([await self.embeddings.aembed_query(text)], 1)[0]

    def __repr__(self) -> str:
        return f"LangChainEmbedder({self.embeddings!r}, dimensions={self._dimensions!r})"
