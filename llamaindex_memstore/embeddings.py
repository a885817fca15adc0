"""``LlamaIndexEmbedder``: a LlamaIndex ``BaseEmbedding`` as a core :class:`memstore.Embedder`.

The core's memory and semantic stores take an ``Embedder`` (it must say its ``dimensions`` before the first
vector is stored, to size the collection); this gives any LlamaIndex embedding model that face.
"""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding

from memstore import Embedder, ValidationError

__all__ = ["LlamaIndexEmbedder", "as_embedder"]


class LlamaIndexEmbedder:
    """A LlamaIndex ``BaseEmbedding`` as a core ``Embedder``: documents embed as text, queries as queries.

    ``dimensions`` is as given, else the length of one probe embedding, taken when first asked. The core
    checks every vector's length against its collection, so a model that changes size is refused there.
    """

    def __init__(self, embed_model: BaseEmbedding, *, dimensions: int | None = None) -> None:
        if not isinstance(embed_model, BaseEmbedding):
            raise ValidationError(
                f"embed_model must be a LlamaIndex BaseEmbedding, not {type(embed_model).__name__}"
            )
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            raise ValidationError("dimensions must be a positive int")
        self.embed_model = embed_model
        self._dimensions = dimensions

    @property
    def dimensions(self) -> int:
        """The vectors' length: as given, or that of one probe embedding (cached)."""
        if self._dimensions is None:
            probe = self.embed_model.get_query_embedding("dimensions")
            if not probe:
                raise ValidationError("the embedding model returned an empty vector")
            self._dimensions = len(probe)
        return self._dimensions

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text (``get_text_embedding_batch``), in order."""
        vectors = self.embed_model.get_text_embedding_batch(list(texts))
        if len(vectors) != len(texts):
            raise ValidationError(
                f"the embedding model returned {len(vectors)} vectors for {len(texts)} texts"
            )
        return [list(vector) for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search text (``get_query_embedding``)."""
        return list(self.embed_model.get_query_embedding(text))

    def __repr__(self) -> str:
        return f"LlamaIndexEmbedder({type(self.embed_model).__name__})"


def as_embedder(embedder: Embedder | BaseEmbedding | None) -> Embedder | None:
    """A core ``Embedder`` for ``embedder``: a LlamaIndex ``BaseEmbedding`` is wrapped, None stays None (the
    core's offline default), anything else is passed on as a core ``Embedder`` (the core checks it)."""
    if isinstance(embedder, BaseEmbedding):
        return LlamaIndexEmbedder(embedder)
    return embedder
