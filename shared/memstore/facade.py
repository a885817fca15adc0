"""``Memstore``: the one object users start from. It owns the backends and hands out the stores."""

from __future__ import annotations

import dataclasses
import logging
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from memstore._closing import Closing
from memstore._sync import to_async
from memstore._validate import check_text, mask_password
from memstore.backends.memory import MemoryChatBackend, MemoryCheckpointBackend, MemoryKVBackend
from memstore.backends.memory.memory_index import MemoryMemoryIndex
from memstore.backends.sql.chat import SqlChatBackend
from memstore.backends.sql.checkpoints import SqlCheckpointBackend
from memstore.backends.sql.database import Database
from memstore.backends.sql.kv import SqlKVBackend
from memstore.backends.sql.memory_index import SqlMemoryIndex
from memstore.errors import UnsupportedOperation, ValidationError
from memstore.stores.buffer import BufferStore
from memstore.stores.chat import ChatBackend
from memstore.stores.checkpoints import CheckpointBackend, CheckpointStore
from memstore.stores.conversations import ConversationManager
from memstore.stores.kv import KVBackend, KVStore
from memstore.stores.memory_index import MemoryIndex

if TYPE_CHECKING:
    from memstore.embeddings.base import EmbedderLike
    from memstore.memory import ConversationMemory
    from memstore.memory.forget import ForgetReport
    from memstore.stores.vectors import VectorBackend, VectorStore

__all__ = [
    "DEFAULT_URL",
    "DEFAULT_VECTORS_DIR",
    "MEMORY_URL",
    "Memstore",
    "RestoreReport",
    "StoreArg",
    "open_store",
]

logger = logging.getLogger(__name__)

BACKUP_VECTORS_KEY = "backup_vectors"
"""``memstore_meta`` entry of a backup whose vector tables hold vectors copied from outside the database."""

DEFAULT_URL = "sqlite:///memstore_data/memstore.db"
"""The embedded default: one SQLite file (WAL mode) under ``./memstore_data/``."""

_DEFAULT_FILE_NAME = DEFAULT_URL.rsplit("/", 1)[-1]

MEMORY_URL = "memory://"
"""Keep everything in this process's memory: for tests and throw-away sessions."""

DEFAULT_CHROMA_TIMEOUT = 30.0
"""Seconds one request to a Chroma server may take (``chroma+http://host:port?timeout=5`` changes it)."""

DEFAULT_VECTORS_DIR = "memstore_data/chroma"
"""Embedded Chroma's folder beside the default SQLite file (:data:`DEFAULT_URL`).

A PostgreSQL database gets a folder of its own under the same parent, ``memstore_data/pg-<id>.chroma``,
named by the id the database keeps (:meth:`memstore.Database.database_id`): databases (and schemas) on
one machine never share vectors, and every spelling of one database's URL finds the same folder."""


@dataclass(frozen=True)
class RestoreReport:
    """What :meth:`Memstore.restore` did. ``vectors``: records put back per collection from the backup's
    copy (-1: already in place, the store keeps vectors in the database); None when the backup carried no
    vectors (a backup of an earlier version, or of a store without any)."""

    path: Path
    vectors: dict[str, int] | None


def _set_meta(database: Database, name: str, value: str) -> None:
    from memstore.backends.sql.schema import meta

    upsert = database.insert(meta).values(name=name, value=value)
    upsert = upsert.on_conflict_do_update(index_elements=[meta.c.name], set_={"value": value})
    database.run(lambda conn: conn.execute(upsert), write=True, operation="meta.set")


def _pop_meta(database: Database, name: str) -> str | None:
    from sqlalchemy import delete

    from memstore.backends.sql.schema import meta

    statement = delete(meta).where(meta.c.name == name).returning(meta.c.value)
    return database.run(
        lambda conn: conn.execute(statement).scalar_one_or_none(), write=True, operation="meta.pop"
    )


@dataclass(frozen=True)
class _VectorsChoice:
    """Which vector backend a Memstore uses, decided (and validated) at construction, built on first use."""

    kind: str  # "chroma", "sql" or "memory"
    path: str | None = None
    per_database: bool = False  # embedded Chroma in a folder named by the database's id (PostgreSQL)
    host: str | None = None
    port: int = 8000
    ssl: bool = False
    timeout: float = 30.0

    def describe(self) -> str:
        if self.kind != "chroma":
            return self.kind
        if self.per_database:
            return f"chroma:///{_pg_vectors_dir('<database id>')}"
        if self.path is not None:
            return f"chroma:///{self.path}"
        return f"chroma+{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def _pg_vectors_dir(database_id: str) -> str:
    return f"{Path(DEFAULT_VECTORS_DIR).parent.as_posix()}/pg-{database_id[:16]}.chroma"


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
        # A shared folder would let every database on the machine see the others' vectors.
        return _VectorsChoice("chroma", per_database=True)
    if not isinstance(vectors, str):
        raise ValidationError(f"vectors is a string such as 'chroma:///path', not {type(vectors).__name__}")
    check_text(vectors, "vectors")
    if vectors == "memory":
        return _VectorsChoice("memory")
    if vectors == "sql":
        if database is None:
            raise ValidationError(f"vectors='sql' needs a SQL database URL, not {mask_password(url)!r}")
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
    :data:`DEFAULT_URL`), ``<name>.chroma`` for any other (``app.db`` → ``app.chroma``), so two databases
    in one folder never share vectors; for PostgreSQL ``memstore_data/pg-<id>.chroma``, one folder per
    database and schema (the id is kept in the database: see :data:`DEFAULT_VECTORS_DIR`); memory for
    ``memory://`` and in-memory SQLite.

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
            memory_chat = MemoryChatBackend()
            chat_backend = memory_chat
            checkpoint_backend = MemoryCheckpointBackend()
            memory_index: MemoryIndex = MemoryMemoryIndex(memory_chat)
        else:
            self.database = Database(url)
            kv_backend = SqlKVBackend(self.database)
            sql_chat = SqlChatBackend(self.database)
            chat_backend = sql_chat
            checkpoint_backend = SqlCheckpointBackend(self.database)
            memory_index = SqlMemoryIndex(self.database, sql_chat)
        self.kv = KVStore(kv_backend)
        """The key-value store, in the ``"default"`` namespace."""
        self.conversations = ConversationManager(chat_backend)
        """Platforms and conversations, and messages across them."""
        self.checkpoints = CheckpointStore(checkpoint_backend)
        """Workflow checkpoints (LangGraph's short-term memory), on the same database."""
        self.memory_index = memory_index
        """The storage side of every :class:`~memstore.ConversationMemory` of this store (its outbox,
        keyword index and members: :class:`memstore.stores.memory_index.MemoryIndex`), one per store so
        that its memories share them."""
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
        self, conversation_id: str | None = None, *, embedder: EmbedderLike | None = None, **options: Any
    ) -> ConversationMemory:
        """Long-term memory over messages with hybrid recall (see :class:`memstore.ConversationMemory`).

        ``conversation_id=None`` spans every conversation. ``embedder`` defaults to the offline MiniLM
        (:func:`memstore.get_default_embedder`); a LangChain ``Embeddings`` or a LlamaIndex
        ``BaseEmbedding`` works unwrapped (:func:`memstore.as_embedder`); ``options`` go to
        :class:`~memstore.ConversationMemory`.
        """
        from memstore.memory import ConversationMemory

        return ConversationMemory(self, conversation_id, embedder=embedder, **options)

    def _vector_backend(self) -> VectorBackend:
        choice = self._vectors_choice
        if choice.per_database:
            assert self.database is not None
            path = _pg_vectors_dir(self.database.database_id())
            self._vectors_choice = choice = dataclasses.replace(choice, path=path, per_database=False)
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

    # -- backup and restore -------------------------------------------------------------------------------

    def _sqlite(self, operation: str) -> Database:
        if self.database is None:
            raise UnsupportedOperation(f"{operation}: a memory:// store has no file; use export() instead")
        if not self.database.is_sqlite or self.database.file_path is None:
            raise UnsupportedOperation(
                f"{operation} uses SQLite's backup API; on PostgreSQL use pg_dump: "
                "pg_dump -Fc -t 'memstore_*' DBNAME > memstore.dump (restore with pg_restore)"
            )
        return self.database

    def _vectors_in_use(self) -> VectorBackend | None:
        """The vector backend, unless it cannot hold anything yet (in-memory vectors never opened, embedded
        Chroma whose folder was never created): backup and forget then need not load Chroma."""
        choice = self._vectors_choice
        if choice.kind == "memory" and self._vectors is None:
            return None
        if choice.path is not None and self._vectors is None and not Path(choice.path).is_dir():
            return None
        return self.vectors.backend

    def _external_vectors(self) -> VectorBackend | None:
        """The vector backend when vectors live outside the database and hold something to keep."""
        return None if self._vectors_choice.kind == "sql" else self._vectors_in_use()

    def backup(self, path: str | Path, *, progress: bool = False) -> Path:
        """Write a complete backup of a SQLite-file store to the new file ``path`` (never overwritten, never
        through a symlink, mode 0600), with SQLite's online backup API: safe while others write.

        Vectors kept outside the database (embedded Chroma, a Chroma server, memory) are copied into the
        backup's own vector tables, every collection with its definition, so :meth:`restore` on any machine
        finds them. PostgreSQL and ``memory://`` raise :class:`UnsupportedOperation` (use ``pg_dump``).
        """
        from memstore.backends.sql.sqlite_files import backup_database

        database = self._sqlite("backup")
        external = self._external_vectors()

        def add_vectors(staged: Path) -> None:
            if external is None:
                return
            from memstore.backends.sql.vectors import SqlVectorBackend
            from memstore.stores.vectors import copy_collections

            with Database(f"sqlite:///{staged}") as copy:
                copied = copy_collections(external, SqlVectorBackend(copy), progress=progress)
                _set_meta(copy, BACKUP_VECTORS_KEY, external.kind)
            logger.info("backup %s: %d vector collection(s) copied from %s", path, len(copied), external.kind)

        return backup_database(database, Path(path), complete=add_vectors)

    def restore(self, path: str | Path, *, progress: bool = False) -> RestoreReport:
        """Replace the SQLite database with the backup at ``path``, checked whole on a copy first (an
        unusable file raises :class:`ValidationError` with the live database untouched).

        When the backup carries vectors (see :meth:`backup`) and this store keeps vectors outside the
        database, every collection in the backup replaces its namesake there; other collections are left
        as they are.
        """
        from memstore.backends.sql.sqlite_files import restore_database

        database = self._sqlite("restore")
        restore_database(database, Path(path))
        carried = _pop_meta(database, BACKUP_VECTORS_KEY)
        if carried is None:
            return RestoreReport(Path(path), None)
        from memstore.backends.sql.vectors import SqlVectorBackend
        from memstore.stores.vectors import copy_collections

        restored = SqlVectorBackend(database)
        if self._vectors_choice.kind == "sql":  # the backup's vector tables are this store's vectors now
            return RestoreReport(Path(path), {spec.name: -1 for spec in restored.list_collections()})
        copied = copy_collections(restored, self.vectors.backend, progress=progress)
        for name in copied:
            restored.delete_collection(name)
        return RestoreReport(Path(path), copied)

    # -- forgetting -----------------------------------------------------------------------------------------

    def forget(
        self,
        subject: str,
        *,
        prefix: bool = False,
        kv_prefixes: Mapping[str, str | Sequence[str]] | None = None,
    ) -> ForgetReport:
        """Remove everything the store holds of ``subject``, a conversation (session, thread) id, or of every
        id starting with it when ``prefix``: the conversations and their messages (with the reserved
        ``memstore:<kind>:<id>`` conversations adapters derive from them), keyword-index and pending rows,
        the messages' vectors in every collection, the LangGraph checkpoints of those threads, and the KV
        entries under ``kv_prefixes`` (``{kv namespace: key prefix or prefixes}``, e.g. a LangGraph store
        namespace from ``MemstoreGraphStore.kv_prefixes``) with their vector index records.

        Returns a :class:`~memstore.memory.forget.ForgetReport` of what went. Safe to call again: it
        removes what is left.
        """
        from memstore.memory.forget import forget

        return forget(self, subject, prefix=prefix, kv_prefixes=kv_prefixes)

    aforget = to_async(forget)
    abackup = to_async(backup)
    arestore = to_async(restore)

    def close(self) -> None:
        """Release every connection and client the store holds. Idempotent."""
        vectors = getattr(self, "_vectors", None)
        if vectors is not None:
            self._vectors = None
            vectors.close()
        if self.database is not None:
            self.database.close()

    def __repr__(self) -> str:
        return f"Memstore({mask_password(self.url)!r}, vectors={self._vectors_choice.describe()!r})"


StoreArg = Memstore | str | None
"""What every adapter accepts as ``store``: a :class:`Memstore`, a database URL, or None for the default."""


def open_store(store: StoreArg) -> tuple[Memstore, bool]:
    """The :class:`Memstore` an adapter runs on, and whether the adapter owns it (so must close it).

    A given ``Memstore`` stays the caller's: the adapter never closes it. A str is a URL (``sqlite:///...``,
    ``postgresql://...``, ``memory://``) and None the embedded default (:data:`DEFAULT_URL`); in both cases
    the adapter created the ``Memstore`` and closes it. Anything else raises TypeError.
    """
    if isinstance(store, Memstore):
        return store, False
    if store is None:
        return Memstore(), True
    if isinstance(store, str):
        return Memstore(store), True
    raise TypeError(f"store must be a memstore.Memstore, a URL str or None, not {type(store).__name__}")
