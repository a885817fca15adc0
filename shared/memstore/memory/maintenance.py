"""Upkeep of :class:`~memstore.memory.ConversationMemory`: indexing history written without a memory,
retention (``delete_older_than``), statistics, and re-indexing after a restore.

Each step's storage work is one call to the store's :class:`~memstore.stores.memory_index.MemoryIndex` (one
transaction); the vector side follows it. The functions take the memory as their first argument;
:class:`~memstore.memory.ConversationMemory`'s methods call them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from memstore._validate import check_identifier, check_number
from memstore.errors import NotFoundError, ValidationError
from memstore.filters import In
from memstore.memory.recall import names

if TYPE_CHECKING:
    from memstore.memory.conversation import ConversationMemory

__all__ = ["MemoryStats"]


@dataclasses.dataclass(frozen=True)
class MemoryStats:
    """What :meth:`ConversationMemory.stats` reports. ``storage_bytes``: the whole database file (SQLite) or
    database (PostgreSQL); None in memory."""

    messages: int
    conversations: dict[str, int]
    roles: dict[str, int]
    types: dict[str, int]
    first_at: datetime | None
    last_at: datetime | None
    pending: int
    vectors: int
    storage_bytes: int | None


def index_history(memory: ConversationMemory, conversation_ids: Iterable[str] | str | None = None) -> int:
    """The body of :meth:`ConversationMemory.index_history`."""
    cids = names(conversation_ids, "conversation_ids")
    if memory.conversation_id is not None:
        if cids is not None and cids != [memory.conversation_id]:
            raise ValidationError(f"this memory is bound to conversation {memory.conversation_id!r}")
        cids = [memory.conversation_id]
    memory._ensure_collection()
    memory._memory_index.mark_history(memory.collection_name, cids)
    return memory._flush()


def scope_ids(memory: ConversationMemory, conversation_id: str | None) -> list[str] | None:
    """The conversations an upkeep call covers: ``conversation_id`` (which a bound memory must match), else
    the memory's own, else None (every conversation)."""
    if conversation_id is not None:
        cid = check_identifier(conversation_id, "conversation_id")
        if memory.conversation_id is not None and cid != memory.conversation_id:
            raise ValidationError(f"this memory is bound to conversation {memory.conversation_id!r}")
        return [cid]
    return None if memory.conversation_id is None else [memory.conversation_id]


def delete_older_than(memory: ConversationMemory, days: float, *, conversation_id: str | None = None) -> int:
    """The body of :meth:`ConversationMemory.delete_older_than`."""
    check_number(days, "days")
    try:
        cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    except OverflowError:  # further back than datetime reaches: nothing is that old
        return 0
    doomed = memory._memory_index.delete_older_than(cutoff, scope_ids(memory, conversation_id))
    if doomed:
        with contextlib.suppress(NotFoundError):  # no collection yet: no vectors to delete
            memory._collection.delete_batch(doomed)
    return len(doomed)


def stats(memory: ConversationMemory) -> MemoryStats:
    """The body of :meth:`ConversationMemory.stats`."""
    cids = scope_ids(memory, None)
    groups = memory._memory_index.stats(cids)
    size = memory._memory_index.storage_bytes()
    by_conversation: dict[str, int] = {}
    by_role: dict[str, int] = {}
    by_type: dict[str, int] = {}
    lows = [g[4] for g in groups if g[4] is not None]
    highs = [g[5] for g in groups if g[5] is not None]
    for cid, role, type_, count, _, _ in groups:
        by_conversation[cid] = by_conversation.get(cid, 0) + count
        by_role[role] = by_role.get(role, 0) + count
        by_type[type_] = by_type.get(type_, 0) + count
    try:
        vectors = memory._collection.count(filter=None if cids is None else In("conversation_id", cids))
    except NotFoundError:
        vectors = 0
    return MemoryStats(
        messages=sum(by_conversation.values()),
        conversations=dict(sorted(by_conversation.items())),
        roles=dict(sorted(by_role.items())),
        types=dict(sorted(by_type.items())),
        first_at=min(lows) if lows else None,
        last_at=max(highs) if highs else None,
        pending=memory.pending_count(),
        vectors=vectors,
        storage_bytes=size,
    )


def reindex_everything(memory: ConversationMemory) -> int:
    """Index again every message a memory added, in every conversation: the whole database was replaced,
    not only this memory's conversation."""
    memory._memory_index.reindex_all(memory.collection_name)
    return memory._flush()
