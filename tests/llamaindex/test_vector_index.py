"""``MemstoreVectorStore`` under LlamaIndex's own machinery: indexes, retrievers, query engines, ``Memory``.

Everything is offline: ``MockEmbedding`` and ``MockLLM`` (which answers with its prompt, so the answer shows
what was retrieved).
"""

from __future__ import annotations

import asyncio

import pytest
from li_embedding import LetterEmbedding
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.memory import Memory, VectorMemoryBlock
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from llamaindex_memstore import MemstoreMemoryChatStore, MemstoreVectorStore
from memstore import Memstore

TOPICS = {
    "birds": "Puffins nest on cliffs and dive for sand eels.",
    "rivers": "The Danube flows through ten countries before reaching the Black Sea.",
    "stars": "Betelgeuse is a red supergiant in the constellation Orion.",
}


def documents() -> list[Document]:
    return [
        Document(text=text, doc_id=f"doc-{topic}", metadata={"topic": topic})
        for topic, text in TOPICS.items()
    ]


def embed() -> MockEmbedding:
    return MockEmbedding(embed_dim=8)


def test_vector_store_index_end_to_end(vector_memstore: Memstore) -> None:
    vector_store = MemstoreVectorStore(vector_memstore, collection_name="li-index")
    storage = StorageContext.from_defaults(vector_store=vector_store)
    index = VectorStoreIndex.from_documents(documents(), storage_context=storage, embed_model=embed())

    stored = vector_store.get_nodes()
    assert sorted(node.ref_doc_id for node in stored) == ["doc-birds", "doc-rivers", "doc-stars"]
    assert len(index.docstore.docs) == 0  # stores_text: the vector store holds the nodes, no docstore needed

    retrieved = index.as_retriever(similarity_top_k=3).retrieve("anything")
    assert sorted(hit.node.get_content() for hit in retrieved) == sorted(TOPICS.values())

    only_rivers = index.as_retriever(
        similarity_top_k=3, filters=MetadataFilters(filters=[MetadataFilter(key="topic", value="rivers")])
    ).retrieve("where does the water go")
    assert [hit.node.get_content() for hit in only_rivers] == [TOPICS["rivers"]]

    engine = index.as_query_engine(
        llm=MockLLM(), filters=MetadataFilters(filters=[MetadataFilter(key="topic", value="stars")])
    )
    answer = str(engine.query("Which star is red?"))
    assert TOPICS["stars"] in answer  # MockLLM echoes its prompt: the retrieved context is in it
    assert TOPICS["birds"] not in answer

    # A second index over the same collection, as another part of an app would open it.
    reopened = VectorStoreIndex.from_vector_store(
        MemstoreVectorStore(vector_memstore, collection_name="li-index"), embed_model=embed()
    )
    again = reopened.as_retriever(similarity_top_k=5).retrieve("anything")
    assert sorted(hit.node.get_content() for hit in again) == sorted(TOPICS.values())

    # Deleting a document through the index deletes its nodes from the store.
    reopened.delete_ref_doc("doc-birds")
    assert sorted(node.ref_doc_id for node in vector_store.get_nodes()) == ["doc-rivers", "doc-stars"]


def test_mmr_query_mode_through_the_index(vector_memstore: Memstore) -> None:
    """The retriever's mmr mode gives what it gives over SimpleVectorStore (letter embeddings: no ties)."""
    results = []
    for vector_store in (MemstoreVectorStore(vector_memstore, collection_name="li-mmr"), SimpleVectorStore()):
        index = VectorStoreIndex.from_documents(
            [*documents(), Document(text="Puffins nest on cliffs; puffins dive.", doc_id="doc-birds-2")],
            storage_context=StorageContext.from_defaults(vector_store=vector_store),
            embed_model=LetterEmbedding(),
        )
        retriever = index.as_retriever(
            similarity_top_k=2, vector_store_query_mode="mmr", vector_store_kwargs={"mmr_threshold": 0.3}
        )
        results.append([hit.node.get_content() for hit in retriever.retrieve("puffins on cliffs")])
        plain = index.as_retriever(similarity_top_k=2).retrieve("puffins on cliffs")
        results.append([hit.node.get_content() for hit in plain])
    ours_mmr, ours_plain, simple_mmr, simple_plain = results
    assert ours_mmr == simple_mmr
    assert ours_plain == simple_plain
    assert ours_mmr != ours_plain  # diversity changed the second pick


def test_async_index(vector_memstore: Memstore) -> None:
    async def scenario() -> None:
        vector_store = MemstoreVectorStore(vector_memstore, collection_name="li-async")
        index = VectorStoreIndex(
            nodes=[],
            storage_context=StorageContext.from_defaults(vector_store=vector_store),
            embed_model=embed(),
            use_async=True,
        )
        for document in documents():
            await index.ainsert(document)
        hits = await index.as_retriever(
            similarity_top_k=3, filters=MetadataFilters(filters=[MetadataFilter(key="topic", value="birds")])
        ).aretrieve("sea birds")
        assert [hit.node.get_content() for hit in hits] == [TOPICS["birds"]]
        await index.adelete_ref_doc("doc-birds")
        assert len(await vector_store.aget_nodes()) == 2

    asyncio.run(scenario())


@pytest.mark.parametrize("turns", [50])
def test_memory_archives_and_recalls_through_a_vector_block(vector_memstore: Memstore, turns: int) -> None:
    session = "user-42"
    chat_store = MemstoreMemoryChatStore(vector_memstore)
    vector_store = MemstoreVectorStore(vector_memstore, collection_name="li-memory")
    memory = Memory.from_defaults(
        session_id=session,
        chat_store=chat_store,
        token_limit=200,
        token_flush_size=60,
        memory_blocks=[VectorMemoryBlock(vector_store=vector_store, embed_model=embed(), similarity_top_k=3)],
    )
    secret = "the vault code is 7-4-1-9"
    for turn in range(turns):
        user_text = f"turn {turn}: remember that {secret}" if turn == 0 else f"turn {turn}: small talk"
        memory.put(ChatMessage(role="user", content=user_text))
        memory.put(ChatMessage(role="assistant", content=f"noted turn {turn}"))

    async def counts() -> tuple[int, int]:
        archived = await chat_store.count_messages(session, status=MessageStatus.ARCHIVED)
        active = await chat_store.count_messages(session, status=MessageStatus.ACTIVE)
        return archived, active

    archived, active = asyncio.run(counts())
    assert archived > 0
    assert active > 0
    assert archived + active == 2 * turns
    assert secret not in " ".join(str(m.content) for m in memory.get_all()[archived:])  # not active any more

    flushed = vector_store.get_nodes(
        filters=MetadataFilters(filters=[MetadataFilter(key="session_id", value=session)])
    )
    assert flushed  # archived messages went to the vector block
    assert any(secret in node.get_content() for node in flushed)
    assert (
        vector_store.get_nodes(
            filters=MetadataFilters(filters=[MetadataFilter(key="session_id", value="someone-else")])
        )
        == []
    )

    # MockEmbedding makes every memory equally similar, so ask for all of them: the secret must be recalled.
    recall = Memory.from_defaults(
        session_id=session,
        chat_store=chat_store,
        token_limit=200,
        memory_blocks=[
            VectorMemoryBlock(vector_store=vector_store, embed_model=embed(), similarity_top_k=len(flushed))
        ],
    )
    messages = recall.get(input="what is the vault code?")
    assert secret in " ".join(str(message.content) for message in messages)
