"""``MemoryMemoryIndex``: conversation memory's members, keyword index and outbox for ``memory://``.

The state is this object's (one per store, made by ``Memstore``), so every ConversationMemory of one
``memory://`` store shares its outbox and members, as they share the tables on a database, and two stores
share nothing. One lock covers each operation together with the chat backend calls it makes, which is what a
transaction gives the SQL implementation. Keyword search is BM25 over the members' tokens
(:mod:`memstore.keywords`), computed per query: memory stores are for tests and small sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from memstore.backends.base import MessageQuery, StatsGroup
from memstore.backends.memory.chat import MemoryChatBackend
from memstore.keywords import BM25, content_tokens, keyword_text, tokenize
from memstore.models import Message

__all__ = ["MemoryMemoryIndex"]

_EVERY = 2**62


class MemoryMemoryIndex:
    """Implements :class:`memstore.stores.memory_index.MemoryIndex` over a :class:`MemoryChatBackend`."""

    def __init__(self, chat: MemoryChatBackend) -> None:
        self._chat = chat
        self._lock = threading.Lock()
        self._pending: dict[str, set[str]] = {}  # collection -> message ids waiting for its vectors
        self._members: set[str] = set()  # the messages any memory added: what keyword recall searches

    def _conversation_ids(self, conversation_ids: Sequence[str] | None) -> Iterable[str]:
        if conversation_ids is not None:
            return conversation_ids
        return self._chat.list_conversation_ids("", None, _EVERY)

    def _outbox(self, collection: str) -> set[str]:
        return self._pending.setdefault(collection, set())

    def _drop(self, message_ids: Iterable[str]) -> None:
        doomed = set(message_ids)
        self._members.difference_update(doomed)
        for pending in self._pending.values():
            pending.difference_update(doomed)

    def prepare(self) -> None:
        return None

    def append_indexed(
        self, collection: str, conversation_id: str, messages: Sequence[Message], now: datetime
    ) -> list[Message]:
        with self._lock:
            written = self._chat.append(conversation_id, messages, now)
            self._outbox(collection).update(m.id or "" for m in written)
            self._members.update(m.id or "" for m in written)
        return written

    def pending(self, collection: str, limit: int) -> list[str]:
        with self._lock:
            return sorted(self._outbox(collection))[:limit]

    def clear_pending(self, collection: str, message_ids: Sequence[str]) -> None:
        with self._lock:
            self._outbox(collection).difference_update(message_ids)

    def pending_count(self, collection: str) -> int:
        with self._lock:
            return len(self._outbox(collection))

    def mark_history(self, collection: str, conversation_ids: Sequence[str] | None) -> None:
        with self._lock:
            fresh = [
                m.id or ""
                for cid in self._conversation_ids(conversation_ids)
                for m in self._chat.select(cid, MessageQuery())
                if m.id not in self._members
            ]
            self._members.update(fresh)
            self._outbox(collection).update(fresh)

    def reindex_all(self, collection: str) -> None:
        with self._lock:
            stored = {m for m in self._members if self._chat.get_message(m) is not None}
            self._pending[collection] = stored

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
        selected = MessageQuery(
            roles_in=None if roles is None else tuple(roles),
            types_in=None if types is None else tuple(types),
            since=since,
            until=until,
        )
        cids = list(self._conversation_ids(conversation_ids))
        with self._lock:
            members = set(self._members)
        documents = [
            (m.id or "", tokenize(keyword_text(m.text)))
            for cid in cids
            for m in self._chat.select(cid, selected)
            if m.id in members
        ]
        scores = BM25(documents).scores(content_tokens(tokenize(query)))
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def fetch(self, message_ids: Sequence[str]) -> dict[str, Message]:
        found = (self._chat.get_message(i) for i in message_ids)
        return {m.id or "": m for m in found if m is not None}

    def delete_older_than(self, cutoff: datetime, conversation_ids: Sequence[str] | None) -> list[str]:
        doomed: list[str] = []
        with self._lock:
            for cid in list(self._conversation_ids(conversation_ids)):
                for message in self._chat.select(cid, MessageQuery(until=cutoff)):
                    if self._chat.delete_message(cid, message.id or "") is not None:
                        doomed.append(message.id or "")
            self._drop(doomed)
        return doomed

    def forget(self, conversation_ids: Sequence[str], message_ids: Sequence[str]) -> None:
        with self._lock:
            for cid in conversation_ids:
                self._chat.delete_conversation(cid)
            self._drop(message_ids)

    def stats(self, conversation_ids: Sequence[str] | None) -> list[StatsGroup]:
        grouped: dict[tuple[str, str, str], tuple[int, datetime | None, datetime | None]] = {}
        for cid in list(self._conversation_ids(conversation_ids)):
            for m in self._chat.select(cid, MessageQuery()):
                created = m.created_at
                count, low, high = grouped.get((cid, m.role, m.type), (0, created, created))
                low = created if low is None or (created is not None and created < low) else low
                high = created if high is None or (created is not None and created > high) else high
                grouped[(cid, m.role, m.type)] = (count + 1, low, high)
        return [(c, r, t, n, lo, hi) for (c, r, t), (n, lo, hi) in grouped.items()]

    def storage_bytes(self) -> int | None:
        return None

    def storage_files(self) -> list[Path]:
        return []
