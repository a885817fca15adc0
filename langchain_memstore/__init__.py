"""memstore for LangChain and LangGraph: chat history, recall, byte and vector stores, LangGraph memory.

::

    from langchain_memstore import MemstoreChatMessageHistory, MemstoreByteStore, MemstoreGraphStore
    from langchain_memstore import MemstoreCheckpointSaver, MemstoreMemoryRetriever, MemstoreVectorStore

Each class takes ``store=``: a :class:`memstore.Memstore` to share (the class never closes it), a SQL URL,
or None for the embedded default. :class:`MemstoreGraphStore` and :class:`MemstoreCheckpointSaver` need
LangGraph (``pip install 'memstore-ai[langgraph]'``); they and :class:`MemstoreVectorStore` (numpy, the
vector layer) are imported on first use. docs/langchain.md has the guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_memstore.byte_store import MemstoreByteStore
from langchain_memstore.chat_history import MemstoreChatMessageHistory
from langchain_memstore.embeddings import LangChainEmbedder, MemstoreEmbeddings
from langchain_memstore.errors import ForeignDataError
from langchain_memstore.messages import METADATA_KEY, from_memstore, to_memstore
from langchain_memstore.retriever import MemstoreMemoryRetriever

if TYPE_CHECKING:
    from langchain_memstore.checkpoint import MemstoreCheckpointSaver
    from langchain_memstore.graph_store import MemstoreGraphStore
    from langchain_memstore.vectorstore import MemstoreVectorStore

__all__ = [
    "METADATA_KEY",
    "ForeignDataError",
    "LangChainEmbedder",
    "MemstoreByteStore",
    "MemstoreChatMessageHistory",
    "MemstoreCheckpointSaver",
    "MemstoreEmbeddings",
    "MemstoreGraphStore",
    "MemstoreMemoryRetriever",
    "MemstoreVectorStore",
    "from_memstore",
    "to_memstore",
]


def __getattr__(name: str) -> Any:
    # LangGraph is an optional extra: import the graph store only when someone asks for it.
    if name == "MemstoreGraphStore":
        from langchain_memstore.graph_store import MemstoreGraphStore

        return MemstoreGraphStore
    if name == "MemstoreCheckpointSaver":
        from langchain_memstore.checkpoint import MemstoreCheckpointSaver

        return MemstoreCheckpointSaver
    if name == "MemstoreVectorStore":
        # Vectors load numpy and the vector layer: import them only when someone asks.
        from langchain_memstore.vectorstore import MemstoreVectorStore

        return MemstoreVectorStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
