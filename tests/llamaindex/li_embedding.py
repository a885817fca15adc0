"""A deterministic offline embedding with real similarity: letter frequencies of the text.

``MockEmbedding`` gives every text the same vector, so it cannot tell whether the right nodes come back;
this one makes "which nodes are nearest" depend on the text, identically in every process.
"""

from __future__ import annotations

import string

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding


def letter_vector(text: str) -> list[float]:
    lowered = text.lower()
    return [1.0 + lowered.count(letter) for letter in string.ascii_lowercase]


class LetterEmbedding(BaseEmbedding):
    """26 floats: 1 + the count of each letter a-z (never all zeros, so cosine is defined)."""

    @classmethod
    def class_name(cls) -> str:
        return "LetterEmbedding"

    def _get_query_embedding(self, query: str) -> Embedding:
        return letter_vector(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return letter_vector(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return letter_vector(text)
