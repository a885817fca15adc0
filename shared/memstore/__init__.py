"""memstore: durable, fast, searchable memory for LLM applications.

Start from :class:`Memstore`; everything else hangs off it::

    from memstore import Memstore

    with Memstore() as store:            # sqlite:///memstore_data/memstore.db
        store.kv.set("greeting", "hello")

The import is light on purpose (SQLAlchemy only): vector backends and embedders load when first used.
"""

from memstore.backends.sql.database import Database
from memstore.errors import BackendError, ConflictError, MemstoreError, NotFoundError, ValidationError
from memstore.facade import DEFAULT_URL, MEMORY_URL, Memstore
from memstore.filters import And, Eq, Filter, In, Not, Or, Range
from memstore.models import Content, Message
from memstore.stores.buffer import BufferStore, CursorPage
from memstore.stores.chat import Conversation, Platform
from memstore.stores.conversations import ConversationManager, ConversationPage
from memstore.stores.kv import KVStore, KVValue

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL",
    "MEMORY_URL",
    "And",
    "BackendError",
    "BufferStore",
    "ConflictError",
    "Content",
    "Conversation",
    "ConversationManager",
    "ConversationPage",
    "CursorPage",
    "Database",
    "Eq",
    "Filter",
    "In",
    "KVStore",
    "KVValue",
    "Memstore",
    "MemstoreError",
    "Message",
    "Not",
    "NotFoundError",
    "Or",
    "Platform",
    "Range",
    "ValidationError",
    "__version__",
]
