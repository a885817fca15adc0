"""memstore for LangChain and LangGraph: chat history, a byte store, and LangGraph long-term memory.

::

    from langchain_memstore import MemstoreChatMessageHistory, MemstoreByteStore, MemstoreGraphStore

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

if TYPE_CHECKING:
    from langchain_memstore.graph_store import MemstoreGraphStore

__all__ = [
    "METADATA_KEY",
    "ForeignDataError",
    "MemstoreByteStore",
    "MemstoreChatMessageHistory",
    "MemstoreGraphStore",
    "from_memstore",
    "to_memstore",
]


def __getattr__(name: str) -> Any:
    # LangGraph is an optional extra: import the graph store only when someone asks for it.
    if name == "MemstoreGraphStore":
        from langchain_memstore.graph_store import MemstoreGraphStore

        return MemstoreGraphStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
