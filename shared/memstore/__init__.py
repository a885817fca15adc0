"""memstore: durable, fast, searchable memory for LLM applications.

Start from :class:`Memstore`; everything else hangs off it::

    from memstore import Memstore

    with Memstore() as store:            # sqlite:///memstore_data/memstore.db
        store.kv.set("greeting", "hello")

The import is light on purpose (SQLAlchemy only): vector backends and embedders load when first used. The
vector and embedding names below are imported on first access (PEP 562), so ``import memstore`` never loads
numpy or chromadb.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from memstore.backends.sql.database import Database
from memstore.errors import (
    BackendError,
    ConflictError,
    MemstoreError,
    NotFoundError,
    UnsupportedOperation,
    ValidationError,
)
from memstore.facade import DEFAULT_URL, MEMORY_URL, Memstore, RestoreReport, StoreArg, open_store
from memstore.filters import And, Eq, Filter, In, Not, Or, Range
from memstore.models import Content, Message
from memstore.records import DataField, Distance, KeyField, RecordDefinition, RecordMapper, VectorField
from memstore.stores.buffer import BufferStore, CursorPage
from memstore.stores.chat import Conversation, Platform
from memstore.stores.checkpoints import Blob, CheckpointStore, CheckpointWrite, StoredCheckpoint
from memstore.stores.conversations import ConversationManager, ConversationPage
from memstore.stores.kv import KVStore, KVValue
from memstore.stores.windows import TokenCounter, approximate_tokens

if TYPE_CHECKING:
    from memstore.embeddings import (
        Embedder,
        EmbedderLike,
        HashingEmbedder,
        MiniLMEmbedder,
        SizedEmbedder,
        as_embedder,
        get_default_embedder,
    )
    from memstore.memory import ConversationMemory, ScoredMessage
    from memstore.memory.forget import ForgetReport
    from memstore.stores.semantic import SemanticStore
    from memstore.stores.vectors import LazyCollection, SearchResult, VectorCollection, VectorStore

__version__ = "0.1.0"

_LAZY = {
    "ForgetReport": "memstore.memory.forget",
    "ConversationMemory": "memstore.memory",
    "ScoredMessage": "memstore.memory",
    "Embedder": "memstore.embeddings",
    "EmbedderLike": "memstore.embeddings",
    "SizedEmbedder": "memstore.embeddings",
    "as_embedder": "memstore.embeddings",
    "HashingEmbedder": "memstore.embeddings",
    "MiniLMEmbedder": "memstore.embeddings",
    "get_default_embedder": "memstore.embeddings",
    "SemanticStore": "memstore.stores.semantic",
    "LazyCollection": "memstore.stores.vectors",
    "SearchResult": "memstore.stores.vectors",
    "VectorCollection": "memstore.stores.vectors",
    "VectorStore": "memstore.stores.vectors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_URL",
    "MEMORY_URL",
    "And",
    "BackendError",
    "Blob",
    "BufferStore",
    "CheckpointStore",
    "CheckpointWrite",
    "ConflictError",
    "Content",
    "Conversation",
    "ConversationManager",
    "ConversationMemory",
    "ConversationPage",
    "CursorPage",
    "DataField",
    "Database",
    "Distance",
    "Embedder",
    "EmbedderLike",
    "Eq",
    "Filter",
    "ForgetReport",
    "HashingEmbedder",
    "In",
    "KVStore",
    "KVValue",
    "KeyField",
    "LazyCollection",
    "Memstore",
    "MemstoreError",
    "Message",
    "MiniLMEmbedder",
    "Not",
    "NotFoundError",
    "Or",
    "Platform",
    "Range",
    "RecordDefinition",
    "RecordMapper",
    "RestoreReport",
    "ScoredMessage",
    "SearchResult",
    "SemanticStore",
    "SizedEmbedder",
    "StoreArg",
    "StoredCheckpoint",
    "TokenCounter",
    "UnsupportedOperation",
    "ValidationError",
    "VectorCollection",
    "VectorField",
    "VectorStore",
    "__version__",
    "approximate_tokens",
    "as_embedder",
    "get_default_embedder",
    "open_store",
]
