"""``SemanticStore``: tables of texts searched by meaning, over any VectorStore and an embedder.

The contract is openjiuwen's ``BaseSemanticStore``: ``add_docs``, ``delete_docs``, ``search`` returning
``(id, score)`` pairs and ``delete_table``. Each table is a vector collection with the definition
``id`` (str key) / ``text`` (full-text data field) / ``embedding`` (the embedder's dimensions, cosine).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memstore._sync import to_async
from memstore._validate import check_identifier, check_text
from memstore.embeddings.base import Embedder, EmbedderLike, as_embedder
from memstore.errors import NotFoundError, ValidationError
from memstore.records import DataField, KeyField, RecordDefinition, VectorField
from memstore.stores.vectors import VectorCollection, VectorStore

__all__ = ["SemanticStore"]


class SemanticStore:
    """Texts embedded with ``embedder`` and kept in ``vector_store``, one collection per table.

    ``embedder`` is anything :func:`memstore.as_embedder` takes: a memstore ``Embedder``, a LangChain
    ``Embeddings`` or a LlamaIndex ``BaseEmbedding``, unwrapped; its size sizes the tables.

    Table names may be any non-empty text: they are mapped to collection names with the ``sanitize`` policy
    (see :func:`memstore.stores.vectors.sanitize_collection_name`) whatever the given store's policy. A table
    is created by its first :meth:`add_docs`; reading or deleting from a table that does not exist finds
    nothing. Scores are cosine similarities: higher = more similar, at most 1.
    """

    def __init__(self, vector_store: VectorStore, embedder: EmbedderLike) -> None:
        self.embedder: Embedder = as_embedder(embedder)
        self._vectors = VectorStore(vector_store.backend, names="sanitize")
        self.definition = RecordDefinition(
            KeyField("id"),
            VectorField("embedding", dimensions=self.embedder.dimensions, distance="cosine"),
            [DataField("text", full_text=True)],
        )

    def _table(self, table: str) -> VectorCollection[dict[str, Any]]:
        return self._vectors.get_collection(table, self.definition)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self.embedder.embed_documents(texts)
        if len(vectors) != len(texts):
            raise ValidationError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        return vectors

    def add_docs(self, docs: Iterable[tuple[str, str]], table: str) -> None:
        """Embed and store ``(id, text)`` pairs in ``table`` (created if needed); an existing id is replaced.

        Everything is validated and embedded before anything is written.
        """
        pairs = [(check_identifier(doc_id, "doc id"), check_text(text, "doc text")) for doc_id, text in docs]
        collection = self._table(table)
        if not pairs:
            return
        vectors = self._embed([text for _, text in pairs])
        collection.create_if_not_exists()
        collection.upsert_batch(
            [
                {"id": doc_id, "text": text, "embedding": vector}
                for (doc_id, text), vector in zip(pairs, vectors, strict=True)
            ]
        )

    def delete_docs(self, ids: Iterable[str], table: str) -> None:
        """Delete the docs with ``ids`` from ``table``; unknown ids and tables are ignored."""
        checked = [check_identifier(doc_id, "doc id") for doc_id in ids]
        try:
            self._table(table).delete_batch(checked)
        except NotFoundError:
            return

    def search(self, query: str, table: str, top_k: int = 5) -> list[tuple[str, float]]:
        """The ``top_k`` docs of ``table`` closest to ``query`` as ``(id, cosine similarity)``, best first."""
        collection = self._table(table)
        vector = self.embedder.embed_query(check_text(query, "query"))
        try:
            hits = collection.search(vector, top_k)
        except NotFoundError:
            return []
        return [(str(hit.record["id"]), hit.score) for hit in hits]

    def delete_table(self, table: str) -> bool:
        """Delete ``table`` and its docs; False if it did not exist."""
        return self._table(table).delete_collection()

    aadd_docs = to_async(add_docs)
    adelete_docs = to_async(delete_docs)
    asearch = to_async(search)
    adelete_table = to_async(delete_table)

    def __repr__(self) -> str:
        return f"SemanticStore(backend={self._vectors.backend.kind!r}, embedder={self.embedder!r})"
