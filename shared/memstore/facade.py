"""``Memstore``: the one object users start from. It owns the backends and hands out the stores."""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from memstore._closing import Closing
from memstore.backends.memory import MemoryChatBackend, MemoryCheckpointBackend, MemoryKVBackend
from memstore.backends.sql.chat import SqlChatBackend
from memstore.backends.sql.checkpoints import SqlCheckpointBackend
from memstore.backends.sql.database import Database
from memstore.backends.sql.kv import SqlKVBackend
from memstore.errors import ValidationError
from memstore.stores.buffer import BufferStore
from memstore.stores.chat import ChatBackend
from memstore.stores.checkpoints import CheckpointBackend, CheckpointStore
from memstore.stores.conversations import ConversationManager
from memstore.stores.kv import KVBackend, KVStore

if TYPE_CHECKING:
    from memstore.embeddings.base import Embedder
    from memstore.memory import ConversationMemory
    from memstore.stores.vectors import VectorBackend, VectorStore

__all__ = ["DEFAULT_URL", "DEFAULT_VECTORS_DIR", "MEMORY_URL", "Memstore"]

DEFAULT_URL = "sqlite:///memstore_data/memstore.db"
"""The embedded default: one SQLite file (WAL mode) under ``./memstore_data/``."""

_DEFAULT_FILE_NAME = DEFAULT_URL.rsplit("/", 1)[-1]

MEMORY_URL = "memory://"
"""Keep everything in this process's memory: for tests and throw-away sessions."""

DEFAULT_CHROMA_TIMEOUT = 30.0
"""Seconds one request to a Chroma server may take (``chroma+http://host:port?timeout=5`` changes it)."""

DEFAULT_VECTORS_DIR = "memstore_data/chroma"
"""Where embedded Chroma keeps vectors when the database is not a SQLite file (PostgreSQL)."""


@dataclass(frozen=True)
class _VectorsChoice:
    """Which vector backend a Memstore uses, decided (and validated) at construction, built on first use."""

    kind: str  # "chroma", "sql" or "memory"
    path: str | None = None
    host: str | None = None
    port: int = 8000
    ssl: bool = False
    timeout: float = 30.0

    def describe(self) -> str:
        if self.kind != "chroma":
            return self.kind
        if self.path is not None:
            return f"chroma:///{self.path}"
        return f"chroma+{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def _choose_vectors(vectors: str | None, url: str | URL, database: Database | None) -> _VectorsChoice:
    if vectors is None:
        if database is None:
            return _VectorsChoice("memory")
        if database.is_sqlite:
            path = database.file_path
            if path is None:
                return _VectorsChoice("memory")
            # One vector folder per database: two SQLite files in one folder must never share collections.
            folder = "chroma" if path.name == _DEFAULT_FILE_NAME else f"{path.stem}.chroma"
            return _VectorsChoice("chroma", str(path.parent / folder))
        return _VectorsChoice("chroma", DEFAULT_VECTORS_DIR)
    if not isinstance(vectors, str):
        raise ValidationError(f"vectors is a string such as 'chroma:///path', not {type(vectors).__name__}")
    if vectors == "memory":
        return _VectorsChoice("memory")
    if vectors == "sql":
        if database is None:
            raise ValidationError(f"vectors='sql' needs a SQL database URL, not {url!r}")
        return _VectorsChoice("sql")
    if vectors.startswith("chroma:///"):
        directory = vectors[len("chroma:///") :]
        if not directory:
            raise ValidationError(
                "chroma:/// needs a path: chroma:///relative/dir or chroma:////absolute/dir"
            )
        return _VectorsChoice("chroma", directory)
    if vectors.startswith(("chroma+http://", "chroma+https://")):
        parsed = urllib.parse.urlsplit(vectors)
        try:
            port = parsed.port
        except ValueError as exc:
            raise ValidationError(f"bad port in {vectors!r}") from exc
        options = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        if (
            not parsed.hostname
            or parsed.path not in {"", "/"}
            or parsed.fragment
            or set(options) - {"timeout"}
        ):
            raise ValidationError(
                f"a Chroma server is chroma+http://host:port[?timeout=seconds], not {vectors!r}"
            )
        try:
            timeout = float(options.get("timeout", [DEFAULT_CHROMA_TIMEOUT])[-1])
        except ValueError as exc:
            raise ValidationError(f"bad timeout in {vectors!r}") from exc
        if not 0 < timeout < float("inf"):
            raise ValidationError(f"bad timeout in {vectors!r}")
        ssl = parsed.scheme == "chroma+https"
        port = port or (443 if ssl else 8000)
        return _VectorsChoice("chroma", host=parsed.hostname, port=port, ssl=ssl, timeout=timeout)
    raise ValidationError(
        f"unknown vectors backend {vectors!r}: "
        "use 'chroma:///path', 'chroma+http://host:port', 'sql' or 'memory'"
    )


class Memstore(Closing):
    """Durable memory for an LLM application: one database, the stores on top of it.

    ``url`` is a SQLAlchemy URL: ``sqlite:///path.db`` (the embedded default, :data:`DEFAULT_URL`) or
    ``postgresql://user@host/db`` to scale out; the same code runs on both. ``"memory://"`` keeps everything
    in process memory. Use it as a context manager, or call :meth:`close`, to release connections.

    ``vectors`` chooses where :attr:`vectors` keeps vectors: ``"chroma:///relative/dir"`` or
    ``"chroma:////absolute/dir"`` (embedded Chroma), ``"chroma+http://host:port"`` (a Chroma server; add
    ``?timeout=seconds`` to change the 30 s bound on each request),
    ``"sql"`` (the same database, exact search) or ``"memory"``. The default is embedded Chroma beside the
    SQLite file: a ``chroma`` folder for a file named ``memstore.db`` (``memstore_data/chroma`` for
    :data:`DEFAULT_URL`, and for PostgreSQL), ``<name>.chroma`` for any other (``app.db`` →
    ``app.chroma``), so two databases in one folder never share vectors; memory for ``memory://`` and
    in-memory SQLite.

    Stores hang off it: :attr:`kv` (key-value, with namespaces via :meth:`KVStore.namespace_store`),
    :meth:`buffer` (the messages of one conversation), :attr:`conversations` (platforms, conversations) and
    :attr:`vectors` (vector collections, created on first use: chat- and KV-only code never loads Chroma) and
    :attr:`checkpoints` (workflow checkpoints: what LangGraph's checkpointer keeps).
    """

    def __init__(self, url: str | URL = DEFAULT_URL, *, vectors: str | None = None) -> None:
        self.url = url
        kv_backend: KVBackend
        chat_backend: ChatBackend
        checkpoint_backend: CheckpointBackend
        if isinstance(url, str) and url == MEMORY_URL:
            self.database: Database | None = None
            kv_backend = MemoryKVBackend()
            chat_backend = MemoryChatBackend()
            checkpoint_backend = MemoryCheckpointBackend()
        else:
            self.database = Database(url)
            kv_backend = SqlKVBackend(self.database)
            chat_backend = SqlChatBackend(self.database)
            checkpoint_backend = SqlCheckpointBackend(self.database)
        self.kv = KVStore(kv_backend)
        """The key-value store, in the ``"default"`` namespace."""
        self.conversations = ConversationManager(chat_backend)
        """Platforms and conversations, and messages across them."""
        self.checkpoints = CheckpointStore(checkpoint_backend)
        """Workflow checkpoints (LangGraph's short-term memory), on the same database."""
        try:
            self._vectors_choice = _choose_vectors(vectors, url, self.database)
        except ValidationError:
            self.close()
            raise
        self._vectors: VectorStore | None = None
        self._vectors_lock = threading.Lock()

    def buffer(self, conversation_id: str) -> BufferStore:
        """The ordered messages of one conversation (created on its first message)."""
        return self.conversations.buffer(conversation_id)

    def memory(
        self, conversation_id: str | None = None, *, embedder: Embedder | None = None, **options: Any
    ) -> ConversationMemory:
        """Long-term memory over messages with hybrid recall (see :class:`memstore.ConversationMemory`).

        ``conversation_id=None`` spans every conversation. ``embedder`` defaults to the offline MiniLM
        (:func:`memstore.get_default_embedder`); ``options`` go to :class:`~memstore.ConversationMemory`.
        """
        from memstore.memory import ConversationMemory

        return ConversationMemory(self, conversation_id, embedder=embedder, **options)

    def _vector_backend(self) -> VectorBackend:
        choice = self._vectors_choice
        if choice.kind == "memory":
            from memstore.backends.memory.vectors import MemoryVectorBackend

            return MemoryVectorBackend()
        if choice.kind == "sql":
            from memstore.backends.sql.vectors import SqlVectorBackend

            assert self.database is not None
            return SqlVectorBackend(self.database)
        from memstore.backends.chroma import ChromaVectorBackend

        if choice.path is not None:
            return ChromaVectorBackend(path=choice.path)
        return ChromaVectorBackend(host=choice.host, port=choice.port, ssl=choice.ssl, timeout=choice.timeout)

    @property
    def vectors(self) -> VectorStore:
        """The vector store (backend chosen by ``vectors=``), created on first access."""
        with self._vectors_lock:
            if self._vectors is None:
                from memstore.stores.vectors import VectorStore

                self._vectors = VectorStore(self._vector_backend())
            return self._vectors

    def close(self) -> None:
        """Release every connection and client the store holds. Idempotent."""
        vectors = getattr(self, "_vectors", None)
        if vectors is not None:
            self._vectors = None
            vectors.close()
        if self.database is not None:
            self.database.close()

    def __repr__(self) -> str:
        shown = self.url.render_as_string(hide_password=True) if isinstance(self.url, URL) else self.url
        return f"Memstore({shown!r}, vectors={self._vectors_choice.describe()!r})"
