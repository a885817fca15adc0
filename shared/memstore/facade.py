"""``Memstore``: the one object users start from. It owns the backends and hands out the stores."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import URL

from memstore.backends.memory import MemoryChatBackend, MemoryKVBackend
from memstore.backends.sql.chat import SqlChatBackend
from memstore.backends.sql.database import Database
from memstore.backends.sql.kv import SqlKVBackend
from memstore.stores.buffer import BufferStore
from memstore.stores.chat import ChatBackend
from memstore.stores.conversations import ConversationManager
from memstore.stores.kv import KVBackend, KVStore

__all__ = ["DEFAULT_URL", "MEMORY_URL", "Memstore"]

DEFAULT_URL = "sqlite:///memstore_data/memstore.db"
"""The embedded default: one SQLite file (WAL mode) under ``./memstore_data/``."""

MEMORY_URL = "memory://"
"""Keep everything in this process's memory: for tests and throw-away sessions."""


class Memstore:
    """Durable memory for an LLM application: one database, the stores on top of it.

    ``url`` is a SQLAlchemy URL: ``sqlite:///path.db`` (the embedded default, :data:`DEFAULT_URL`) or
    ``postgresql://user@host/db`` to scale out; the same code runs on both. ``"memory://"`` keeps everything
    in process memory. Use it as a context manager, or call :meth:`close`, to release connections.

    Stores hang off it: :attr:`kv` (key-value, with namespaces via :meth:`KVStore.namespace_store`),
    :meth:`buffer` (the messages of one conversation) and :attr:`conversations` (platforms, conversations).
    """

    def __init__(self, url: str | URL = DEFAULT_URL) -> None:
        self.url = url
        kv_backend: KVBackend
        chat_backend: ChatBackend
        if isinstance(url, str) and url == MEMORY_URL:
            self.database: Database | None = None
            kv_backend = MemoryKVBackend()
            chat_backend = MemoryChatBackend()
        else:
            self.database = Database(url)
            kv_backend = SqlKVBackend(self.database)
            chat_backend = SqlChatBackend(self.database)
        self.kv = KVStore(kv_backend)
        """The key-value store, in the ``"default"`` namespace."""
        self.conversations = ConversationManager(chat_backend)
        """Platforms and conversations, and messages across them."""

    def buffer(self, conversation_id: str) -> BufferStore:
        """The ordered messages of one conversation (created on its first message)."""
        return self.conversations.buffer(conversation_id)

    def close(self) -> None:
        """Release every connection the store holds. Idempotent."""
        if self.database is not None:
            self.database.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close` (closing only returns pooled connections, so it does not block)."""
        self.close()

    def __enter__(self) -> Memstore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Memstore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        shown = self.url.render_as_string(hide_password=True) if isinstance(self.url, URL) else self.url
        return f"Memstore({shown!r})"
