"""LlamaIndex adapters for memstore: durable chat history, ``Memory`` queues, docstores and
vector stores in one database.

::

    from llama_index.core.memory import ChatMemoryBuffer, Memory
    from llamaindex_memstore import MemstoreChatStore, MemstoreMemoryBlock, MemstoreMemoryChatStore

    buffer = ChatMemoryBuffer.from_defaults(chat_store=MemstoreChatStore(), chat_store_key="user-1")
    memory = Memory.from_defaults(
        session_id="user-1",
        chat_store=MemstoreMemoryChatStore(),
        token_limit=4000,
        memory_blocks=[MemstoreMemoryBlock()],  # long-term recall (hybrid: vectors + keywords)
    )

Each class takes ``store``: a ``memstore.Memstore``, a SQL URL, or None for the embedded default
(``sqlite:///memstore_data/memstore.db``). The adapters only translate; every rule about storage lives in
the core. docs/llamaindex.md has the message mapping and the archive design.
"""

from llamaindex_memstore.chat_store import MemstoreChatStore
from llamaindex_memstore.embeddings import LlamaIndexEmbedder, MemstoreEmbedding
from llamaindex_memstore.kvstore import MemstoreKVStore
from llamaindex_memstore.memory_block import MemstoreMemoryBlock
from llamaindex_memstore.memory_chat_store import MemstoreMemoryChatStore
from llamaindex_memstore.messages import to_chat_message, to_memstore_message
from llamaindex_memstore.vector_store import MemstoreVectorStore, to_memstore_filter

__all__ = [
    "LlamaIndexEmbedder",
    "MemstoreChatStore",
    "MemstoreEmbedding",
    "MemstoreKVStore",
    "MemstoreMemoryBlock",
    "MemstoreMemoryChatStore",
    "MemstoreVectorStore",
    "to_chat_message",
    "to_memstore_filter",
    "to_memstore_message",
]
