"""The public API of the three packages, pinned: adding or removing a name is a deliberate act (this list and
docs/api.md change with it), never a side effect of an import."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "memstore": [
        "And", "BackendError", "Blob", "BufferStore", "CheckpointStore", "CheckpointWrite", "ConflictError",
        "Content", "Conversation", "ConversationManager", "ConversationMemory", "ConversationPage",
        "CursorPage", "DEFAULT_URL", "DataField", "Database", "Distance", "Embedder", "EmbedderLike", "Eq",
        "Filter", "ForgetReport", "HashingEmbedder", "In", "KVStore", "KVValue", "KeyField", "LazyCollection",
        "MEMORY_URL",
        "Memstore", "MemstoreError", "Message", "MiniLMEmbedder", "Not", "NotFoundError", "Or", "Platform",
        "Range", "RecordDefinition", "RecordMapper", "RestoreReport", "ScoredMessage", "SearchResult",
        "SemanticStore", "SizedEmbedder", "StoreArg", "StoredCheckpoint", "TokenCounter",
        "UnsupportedOperation", "ValidationError", "VectorCollection", "VectorField", "VectorStore",
        "__version__", "approximate_tokens", "as_embedder", "get_default_embedder", "open_store",
    ],
    "langchain_memstore": [
        "ForeignDataError", "LangChainEmbedder", "METADATA_KEY", "MemstoreByteStore",
        "MemstoreChatMessageHistory", "MemstoreCheckpointSaver", "MemstoreEmbeddings", "MemstoreGraphStore",
        "MemstoreMemoryRetriever", "MemstoreVectorStore", "from_memstore", "to_memstore",
    ],
    "llamaindex_memstore": [
        "LlamaIndexEmbedder", "MemstoreChatStore", "MemstoreEmbedding", "MemstoreKVStore",
        "MemstoreMemoryBlock", "MemstoreMemoryChatStore", "MemstoreVectorStore", "to_chat_message",
        "to_memstore_filter", "to_memstore_message",
    ],
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_all_is_pinned_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(PUBLIC[package])
    assert len(set(module.__all__)) == len(module.__all__), "a name listed twice"
    for name in module.__all__:
        assert getattr(module, name) is not None, name
