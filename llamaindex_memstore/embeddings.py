"""``LlamaIndexEmbedder``: a LlamaIndex ``BaseEmbedding`` as a core :class:`memstore.Embedder`.

The core's memory and semantic stores need an embedder's ``dimensions`` before the first vector is stored,
to size the collection; this gives any LlamaIndex embedding model that face (the core's
:class:`memstore.SizedEmbedder`, which the core also applies by itself to an unwrapped model).
"""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding

from memstore import EmbedderLike, SizedEmbedder, ValidationError

__all__ = ["LlamaIndexEmbedder", "as_embedder"]


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
    """A core ``Embedder`` for ``embedder``: a LlamaIndex ``BaseEmbedding`` is wrapped, None stays None (the
    core's offline default), anything else is passed on (:func:`memstore.as_embedder` checks it)."""
    if isinstance(embedder, BaseEmbedding):
        return LlamaIndexEmbedder(embedder)
    return embedder
