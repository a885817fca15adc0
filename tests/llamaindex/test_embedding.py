"""MemstoreEmbedding: a LlamaIndex BaseEmbedding over the core's offline MiniLM (and any core embedder)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding

from llamaindex_memstore import MemstoreEmbedding, MemstoreMemoryBlock, MemstoreVectorStore
from llamaindex_memstore.embeddings import as_embedder
from memstore import HashingEmbedder, Memstore, MiniLMEmbedder, ValidationError, get_default_embedder


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_class() -> None:
    assert BaseEmbedding.__name__ in [cls.__name__ for cls in MemstoreEmbedding.__mro__]
    assert MemstoreEmbedding.class_name() == "MemstoreEmbedding"


def test_default_is_the_offline_minilm() -> None:
    model = MemstoreEmbedding()
    assert model.embedder is get_default_embedder()
    assert isinstance(model.embedder, MiniLMEmbedder)
    assert model.dimensions == 384
    texts = ["The cat sat on the mat.", "A kitten rested on the rug.", "Quarterly tax filing deadlines"]
    vectors = model.get_text_embedding_batch(texts)
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vectors)  # unit length
    # Real semantics, not a mock: the paraphrase is nearer than the unrelated text.
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2]) + 0.2
    # Same vectors as the core embedder, for texts and queries alike (no query prefix).
    assert vectors == get_default_embedder().embed_documents(texts)
    assert model.get_query_embedding(texts[0]) == pytest.approx(vectors[0], abs=1e-6)
    assert model.model_dump() == {
        "model_name": "all-MiniLM-L6-v2",
        "embed_batch_size": 32,
        "num_workers": None,
        "embeddings_cache": None,
        "dimensions": 384,
        "class_name": "MemstoreEmbedding",
    }


async def test_async_runs_the_core_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashingEmbedder(16)
    model = MemstoreEmbedding(embedder)
    calls: list[str] = []
    real_documents, real_query = HashingEmbedder.aembed_documents, HashingEmbedder.aembed_query

    async def documents(self: HashingEmbedder, texts: list[str]) -> Any:
        calls.append("aembed_documents")
        return await real_documents(self, texts)

    async def query(self: HashingEmbedder, text: str) -> Any:
        calls.append("aembed_query")
        return await real_query(self, text)

    monkeypatch.setattr(HashingEmbedder, "aembed_documents", documents)
    monkeypatch.setattr(HashingEmbedder, "aembed_query", query)
    assert await model.aget_query_embedding("hello") == embedder.embed_query("hello")
    assert await model.aget_text_embedding("a b") == embedder.embed_documents(["a b"])[0]
    batch = await model.aget_text_embedding_batch(["x", "y z"])
    assert batch == embedder.embed_documents(["x", "y z"])
    assert calls == ["aembed_query", "aembed_documents", "aembed_documents"]


async def test_an_embedder_without_async_twins_runs_in_a_thread() -> None:
    class Plain:
        dimensions = 2

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(len(t)), 1.0] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return [float(len(text)), 0.0]

    model = MemstoreEmbedding(Plain())
    assert model.dimensions == 2
    assert await model.aget_query_embedding("abc") == [3.0, 0.0]
    assert await model.aget_text_embedding_batch(["ab", "c"]) == [[2.0, 1.0], [1.0, 1.0]]


def test_rejects_what_is_not_an_embedder() -> None:
    with pytest.raises(ValidationError, match="Embedder"):
        MemstoreEmbedding("all-MiniLM-L6-v2")  # type: ignore[arg-type]


def test_core_consumers_get_the_core_embedder_back() -> None:
    embedder = HashingEmbedder(8)
    assert as_embedder(MemstoreEmbedding(embedder)) is embedder


def test_vector_index_retrieves_by_meaning(store_url: str) -> None:
    with Memstore(store_url, vectors="memory") as store:
        index = VectorStoreIndex.from_documents(
            [
                Document(text="memstore keeps chat history in SQL databases"),
                Document(text="The bakery sells sourdough bread on Fridays"),
                Document(text="Penguins live in the southern hemisphere"),
            ],
            storage_context=StorageContext.from_defaults(vector_store=MemstoreVectorStore(store)),
            embed_model=MemstoreEmbedding(),
        )
        hit = index.as_retriever(similarity_top_k=1).retrieve("where are conversation logs stored?")[0]
        assert "chat history" in hit.get_content()
        block = MemstoreMemoryBlock(store, embedder=MemstoreEmbedding(), conversation_id="c")
        assert block.memory.embedder is get_default_embedder()
