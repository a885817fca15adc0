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
``memstore/memory/``. The protocol is defined in :mod:`memstore.backends.base` (re-exported here).
"""

from __future__ import annotations

from memstore.backends.base import MemoryIndex, StatsGroup

__all__ = ["MemoryIndex", "StatsGroup"]
