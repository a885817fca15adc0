"""memstore for LangChain and LangGraph: chat history, byte and vector stores, LangGraph memory.

::

    from langchain_memstore import MemstoreChatMessageHistory, MemstoreByteStore, MemstoreGraphStore
    from langchain_memstore import MemstoreVectorStore

Each class takes ``store=``: a :class:`memstore.Memstore` to share (the class never closes it), a SQL URL,
or None for the embedded default. :class:`MemstoreGraphStore` needs LangGraph
(``pip install 'memstore-ai[langgraph]'``) and is imported on first use. docs/langchain.md has the guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_memstore.byte_store import MemstoreByteStore
from langchain_memstore.chat_history import MemstoreChatMessageHistory
from langchain_memstore.errors import ForeignDataError
from langchain_memstore.messages import METADATA_KEY, from_memstore, to_memstore
from langchain_memstore.vectorstore import MemstoreVectorStore

if TYPE_CHECKING:
    from langchain_memstore.graph_store import MemstoreGraphStore

__all__ = [
    "METADATA_KEY",
    "ForeignDataError",
    "MemstoreByteStore",
    "MemstoreChatMessageHistory",
    "MemstoreGraphStore",
    "MemstoreVectorStore",
    "from_memstore",
    "to_memstore",
]


def __getattr__(name: str) -> Any:
    # LangGraph is an optional extra: import the graph store only when someone asks for it.
    if name == "MemstoreGraphStore":
        from langchain_memstore.graph_store import MemstoreGraphStore

        return MemstoreGraphStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
