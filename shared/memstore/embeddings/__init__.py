"""Embedders: the :class:`Embedder` protocol, :func:`as_embedder` (LangChain ``Embeddings``, LlamaIndex
``BaseEmbedding`` and other embedding objects as an ``Embedder``), the offline default
(:class:`MiniLMEmbedder`) and a deterministic :class:`HashingEmbedder` for tests.

Importing this package loads no model and no heavy library.
"""

from memstore.embeddings.base import (
    DocumentEmbeddings,
    Embedder,
    EmbedderLike,
    HashingEmbedder,
    SizedEmbedder,
    TextEmbeddingModel,
    as_embedder,
)
from memstore.embeddings.minilm import MiniLMEmbedder, get_default_embedder

__all__ = [
    "DocumentEmbeddings",
    "Embedder",
    "EmbedderLike",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "SizedEmbedder",
    "TextEmbeddingModel",
    "as_embedder",
    "get_default_embedder",
]
