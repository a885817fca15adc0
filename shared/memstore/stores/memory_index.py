"""``MemoryIndex``: the storage side of :class:`~memstore.memory.ConversationMemory` (a protocol; no I/O).

A conversation memory keeps, beside the messages themselves, three things about them:

- the **members**: which messages a memory added (keyword recall searches those alone, so a turn written
  through a plain buffer stays out of recall until :meth:`~memstore.memory.ConversationMemory.index_history`
  takes it in);
- the **keyword index** over the members' text (FTS5 on SQLite, a GIN expression index joined with the member
  table on PostgreSQL, BM25 over the member set in memory);
- the **outbox**: per vector collection, the messages stored but not yet embedded into that collection.

These are written in the transaction that writes the messages, so a message is never stored without them,
and removed in the transaction that deletes the messages. One object per store implements the protocol
(``Memstore.memory_index``): ``backends/sql/memory_index.py`` on a database, ``backends/memory/
memory_index.py`` for ``memory://``, whose state belongs to that object, so every memory of one store shares
its outbox and members as the database's tables would. Embedding, ranking and validation stay above it, in
``memstore/memory/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from memstore.models import Message

__all__ = ["MemoryIndex", "StatsGroup"]

StatsGroup = tuple[str, str, str, int, datetime | None, datetime | None]
"""One group of :meth:`MemoryIndex.stats`: conversation id, role, type, message count, oldest and newest
``created_at``."""


class MemoryIndex(Protocol):
    """What a backend implements for conversation memory. Each write is one atomic transaction.

    ``collection`` names the vector collection an outbox entry waits for: two memories over different
    collections index the same messages independently. Message ids are global (as in the chat backend).
    """

    def prepare(self) -> None:
        """Create whatever the index needs that the schema does not (idempotent; called once per memory)."""
        ...

    def append_indexed(
        self, collection: str, conversation_id: str, messages: Sequence[Message], now: datetime
    ) -> list[Message]:
        """Append ``messages`` (already prepared by the buffer store) to ``conversation_id`` and, in the same
        transaction, make them members, index their text and put them in ``collection``'s outbox; returns
        them as stored."""
        ...

    def pending(self, collection: str, limit: int) -> list[str]:
        """Up to ``limit`` ids from ``collection``'s outbox, in id order."""
        ...

    def clear_pending(self, collection: str, message_ids: Sequence[str]) -> None:
        """Take ``message_ids`` out of ``collection``'s outbox (ids not in it are ignored)."""
        ...

    def pending_count(self, collection: str) -> int:
        """How many ids ``collection``'s outbox holds."""
        ...

    def mark_history(self, collection: str, conversation_ids: Sequence[str] | None) -> None:
        """Make every message of ``conversation_ids`` (None: every conversation) that is not a member yet a
        member, keyword-indexed and in ``collection``'s outbox, in one transaction."""
        ...

    def reindex_all(self, collection: str) -> None:
        """Replace ``collection``'s outbox by every stored member (after the whole store was restored)."""
        ...

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
        """Up to ``limit`` ``(message id, score)`` pairs among stored members, best first (higher is better),
        matching the filters (``since`` inclusive, ``until`` exclusive on ``created_at``)."""
        ...

    def fetch(self, message_ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among ``message_ids``, by id (missing ones left out)."""
        ...

    def delete_older_than(self, cutoff: datetime, conversation_ids: Sequence[str] | None) -> list[str]:
        """Delete the messages created before ``cutoff`` (in ``conversation_ids``, None: everywhere) with
        their member, keyword and outbox entries (every collection), in one transaction; returns their ids."""
        ...

    def forget(self, conversation_ids: Sequence[str], message_ids: Sequence[str]) -> None:
        """Delete ``conversation_ids`` with their messages, and the member, keyword and outbox entries of
        ``message_ids`` (their messages), in one transaction."""
        ...

    def stats(self, conversation_ids: Sequence[str] | None) -> list[StatsGroup]:
        """Message counts and ``created_at`` range grouped by (conversation, role, type)."""
        ...

    def storage_bytes(self) -> int | None:
        """The size of the whole database (file or server database); None when nothing is on disk."""
        ...

    def storage_files(self) -> list[Path]:
        """The live files the store is kept in (an export must never overwrite them)."""
        ...
