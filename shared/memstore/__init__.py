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
from memstore.models import Content, Message
from memstore.stores.kv import KVStore, KVValue

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL",
    "MEMORY_URL",
    "BackendError",
    "ConflictError",
    "Content",
    "Database",
    "KVStore",
    "KVValue",
    "Memstore",
    "MemstoreError",
    "Message",
    "NotFoundError",
    "ValidationError",
    "__version__",
]
