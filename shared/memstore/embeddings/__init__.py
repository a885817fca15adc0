"""Embedders: the :class:`Embedder` protocol, the offline default (:class:`MiniLMEmbedder`) and a
deterministic :class:`HashingEmbedder` for tests.

Importing this package loads no model and no heavy library.
"""

from memstore.embeddings.base import Embedder, HashingEmbedder
from memstore.embeddings.minilm import MiniLMEmbedder, get_default_embedder

__all__ = ["Embedder", "HashingEmbedder", "MiniLMEmbedder", "get_default_embedder"]
