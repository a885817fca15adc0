"""Issue #16 item 7: an embedder needs only ``embed_documents``/``embed_query`` (its size is learnt from the
first vector), and LangChain ``Embeddings`` and LlamaIndex ``BaseEmbedding`` objects work unwrapped wherever
memstore takes an embedder: SemanticStore, Memstore.memory, MemstoreGraphStore's index, the adapters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contract_helpers import SizelessEmbeddings, open_store
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import HumanMessage
from llama_index.core.embeddings import MockEmbedding

from langchain_memstore import MemstoreGraphStore, MemstoreMemoryRetriever
from llamaindex_memstore import MemstoreMemoryBlock
from memstore import HashingEmbedder, Memstore, Message, SemanticStore


def _unwrapped() -> list[Any]:
    return [SizelessEmbeddings(), DeterministicFakeEmbedding(size=12), MockEmbedding(embed_dim=10)]


UNWRAPPED = pytest.mark.parametrize(
    "embedding", _unwrapped(), ids=["langchain-minimal", "langchain-fake", "llamaindex-mock"]
)


@pytest.fixture(params=["sqlite-chroma", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memstore]:
    yield from open_store(request.param, tmp_path)


@UNWRAPPED
def test_semantic_store_takes_an_embedder_without_dimensions(store: Memstore, embedding: Any) -> None:
    semantic = SemanticStore(store.vectors, embedding)
    semantic.add_docs([("a", "green tea in the morning"), ("b", "a red car")], "notes")
    hits = semantic.search("green tea in the morning", "notes", top_k=2)
    assert {doc_id for doc_id, _ in hits} == {"a", "b"}
    assert semantic.definition.vector.dimensions == _size(embedding)


def _size(embedding: Any) -> int:
    if isinstance(embedding, MockEmbedding):
        return len(embedding.get_query_embedding("x"))
    return len(embedding.embed_query("x"))


@UNWRAPPED
async def test_memory_takes_an_embedder_without_dimensions(store: Memstore, embedding: Any) -> None:
    memory = store.memory("c1", embedder=embedding)
    memory.add([Message("user", "my puppy is called Biscuit"), Message("assistant", "lovely")])
    assert "my puppy is called Biscuit" in [hit.message.text for hit in memory.recall("puppy Biscuit", k=2)]
    found = await memory.arecall("puppy", k=1)
    assert len(found) == 1


@pytest.mark.parametrize(
    "embed", [HashingEmbedder(10), MockEmbedding(embed_dim=10)], ids=["memstore-embedder", "llamaindex-mock"]
)
def test_graph_store_index_takes_core_and_llamaindex_embedders(store: Memstore, embed: Any) -> None:
    graph = MemstoreGraphStore(store=store, index={"dims": 10, "embed": embed, "fields": ["text"]})
    graph.put(("m",), "tea", {"text": "green tea"})
    graph.put(("m",), "car", {"text": "a red car"})
    found = graph.search(("m",), query="green tea")
    assert {item.key for item in found} == {"tea", "car"}
    assert all(item.score is not None for item in found)


def test_adapters_take_the_other_frameworks_embedders(store: Memstore) -> None:
    llama = MockEmbedding(embed_dim=8)
    retriever = MemstoreMemoryRetriever("s1", store=store, embedding=llama, k=2)  # type: ignore[arg-type]
    retriever.add_messages([HumanMessage("my puppy is called Biscuit")])
    assert [d.page_content for d in retriever.invoke("puppy")] == ["my puppy is called Biscuit"]
    sizeless = SizelessEmbeddings(8)
    block = MemstoreMemoryBlock(store=store, embedder=sizeless, collection_name="block")  # type: ignore[arg-type]
    assert block.memory.embedder.dimensions == 8
