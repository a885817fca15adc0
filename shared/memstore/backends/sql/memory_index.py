"""``SqlMemoryIndex``: conversation memory's members, keyword index and outbox in the database.

The outbox is ``memstore_memory_pending`` (collection, message id). Members and the keyword index are the FTS5
table on SQLite (a row per member) and ``memstore_memory_members`` joined with a GIN expression index on
PostgreSQL (``backends/sql/keyword.py``). Every write runs in the transaction that writes or deletes the
messages, through :meth:`Database.run`, so a message is never stored without them nor deleted leaving them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, select, text

from memstore.backends.base import StatsGroup
from memstore.backends.sql.chat import _MESSAGE_COLUMNS, SqlChatBackend, _message
from memstore.backends.sql.database import Database, chunks
from memstore.backends.sql.keyword import (
    delete_keyword_rows,
    ensure_keyword_index,
    fts,
    keyword_search,
    write_keyword_rows,
)
from memstore.backends.sql.schema import conversations, memory_members, memory_pending, messages
from memstore.backends.sql.sqlite_files import live_files
from memstore.models import Message

__all__ = ["SqlMemoryIndex"]

_HISTORY_BATCH = 500


def _batches(items: Iterable[Message], size: int) -> Iterator[list[Message]]:
    stream = iter(items)
    while batch := list(itertools.islice(stream, size)):
        yield batch


class SqlMemoryIndex:
    """Implements :class:`memstore.stores.memory_index.MemoryIndex` on a :class:`Database`."""

    def __init__(self, database: Database, chat: SqlChatBackend) -> None:
        self._db = database
        self._chat = chat

    def _members(self) -> Any:
        """The table whose ``message_id`` column lists the members."""
        return fts if self._db.is_sqlite else memory_members

    def prepare(self) -> None:
        ensure_keyword_index(self._db)

    def append_indexed(
        self, collection: str, conversation_id: str, messages: Sequence[Message], now: datetime
    ) -> list[Message]:
        database = self._db

        def on_write(conn: Connection, rows: list[Message]) -> None:
            write_keyword_rows(conn, database, rows)
            conn.execute(
                memory_pending.insert(), [{"collection": collection, "message_id": m.id} for m in rows]
            )

        return self._chat.append(conversation_id, messages, now, on_write=on_write)

    def pending(self, collection: str, limit: int) -> list[str]:
        statement = (
            select(memory_pending.c.message_id)
            .where(memory_pending.c.collection == collection)
            .order_by(memory_pending.c.message_id)
            .limit(limit)
        )
        return self._db.run(
            lambda conn: [str(v) for v in conn.execute(statement).scalars()],
            write=False,
            operation="memory.pending",
        )

    def clear_pending(self, collection: str, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        statement = delete(memory_pending).where(
            memory_pending.c.collection == collection, memory_pending.c.message_id.in_(list(message_ids))
        )
        self._db.run(lambda conn: conn.execute(statement), write=True, operation="memory.clear_pending")

    def pending_count(self, collection: str) -> int:
        statement = (
            select(func.count()).select_from(memory_pending).where(memory_pending.c.collection == collection)
        )
        return self._db.run(
            lambda conn: int(conn.execute(statement).scalar_one()), write=False, operation="memory.pending"
        )

    def mark_history(self, collection: str, conversation_ids: Sequence[str] | None) -> None:
        database = self._db
        statement = select(*_MESSAGE_COLUMNS).where(
            messages.c.id.not_in(select(self._members().c.message_id))
        )
        if conversation_ids is not None:
            statement = statement.where(messages.c.conversation_id.in_(list(conversation_ids)))

        def work(conn: Connection) -> None:
            fresh = [_message(row) for row in conn.execute(statement)]
            for batch in _batches(fresh, _HISTORY_BATCH):
                write_keyword_rows(conn, database, batch)
                rows = [{"collection": collection, "message_id": m.id} for m in batch]
                conn.execute(database.insert(memory_pending).on_conflict_do_nothing(), rows)

        database.run(work, write=True, operation="memory.index_history")

    def reindex_all(self, collection: str) -> None:
        find = select(messages.c.id).where(messages.c.id.in_(select(self._members().c.message_id)))

        def work(conn: Connection) -> None:
            conn.execute(delete(memory_pending).where(memory_pending.c.collection == collection))
            ids = [str(v) for v in conn.execute(find).scalars()]
            if ids:
                conn.execute(
                    memory_pending.insert(), [{"collection": collection, "message_id": i} for i in ids]
                )

        self._db.run(work, write=True, operation="memory.reindex_all")

    def keyword_search(
        self,
        query: str,
        limit: int,
        *,
        conversation_ids: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[str, float]]:
        return keyword_search(
            self._db,
            query,
            limit,
            conversation_ids=conversation_ids,
            roles=roles,
            types=types,
            since=since,
            until=until,
        )

    def fetch(self, message_ids: Sequence[str]) -> dict[str, Message]:
        if not message_ids:
            return {}
        wanted = list(dict.fromkeys(message_ids))
        statement = select(*_MESSAGE_COLUMNS).where(messages.c.id.in_(wanted))
        rows = self._db.run(
            lambda conn: [_message(row) for row in conn.execute(statement)],
            write=False,
            operation="memory.fetch",
        )
        return {m.id or "": m for m in rows}

    def delete_older_than(self, cutoff: datetime, conversation_ids: Sequence[str] | None) -> list[str]:
        database = self._db
        condition = messages.c.created_at < cutoff
        if conversation_ids is not None:
            condition = condition & messages.c.conversation_id.in_(list(conversation_ids))
        find = select(messages.c.id).where(condition)

        def work(conn: Connection) -> list[str]:
            ids = [str(v) for v in conn.execute(find).scalars()]
            for part in chunks(ids):
                chunk = list(part)
                conn.execute(delete(messages).where(messages.c.id.in_(chunk)))
                conn.execute(delete(memory_pending).where(memory_pending.c.message_id.in_(chunk)))
                delete_keyword_rows(conn, database, chunk)
            return ids

        return database.run(work, write=True, operation="memory.delete_older_than")

    def forget(self, conversation_ids: Sequence[str], message_ids: Sequence[str]) -> None:
        database = self._db
        ensure_keyword_index(database)  # a store no memory ever opened has no keyword table yet

        def work(conn: Connection) -> None:
            for part in chunks(message_ids):
                conn.execute(delete(memory_pending).where(memory_pending.c.message_id.in_(list(part))))
            delete_keyword_rows(conn, database, message_ids)
            for part in chunks(conversation_ids):
                conn.execute(delete(messages).where(messages.c.conversation_id.in_(list(part))))
                conn.execute(delete(conversations).where(conversations.c.id.in_(list(part))))

        database.run(work, write=True, operation="forget")

    def stats(self, conversation_ids: Sequence[str] | None) -> list[StatsGroup]:
        statement = select(
            messages.c.conversation_id,
            messages.c.role,
            messages.c.type,
            func.count(),
            func.min(messages.c.created_at),
            func.max(messages.c.created_at),
        ).group_by(messages.c.conversation_id, messages.c.role, messages.c.type)
        if conversation_ids is not None:
            statement = statement.where(messages.c.conversation_id.in_(list(conversation_ids)))
        return self._db.run(
            lambda conn: [
                (str(c), str(r), str(t), int(n), lo, hi) for c, r, t, n, lo, hi in conn.execute(statement)
            ],
            write=False,
            operation="memory.stats",
        )

    def storage_bytes(self) -> int | None:
        if self._db.is_sqlite:
            size_sql = text("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
        else:
            size_sql = text("SELECT pg_database_size(current_database())")
        size = self._db.run(
            lambda conn: conn.execute(size_sql).scalar_one(), write=False, operation="memory.stats"
        )
        return None if size is None else int(size)

    def storage_files(self) -> list[Path]:
        return live_files(self._db)
