"""The chat backend in memory: the same contract as SQL, with the filter language's Python reference."""

from __future__ import annotations

import bisect
import copy
import dataclasses
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from memstore.backends.base import Conversation, MessageQuery, Platform
from memstore.errors import ConflictError, NotFoundError
from memstore.filters import matches
from memstore.models import Message

__all__ = ["MemoryChatBackend"]

_Record = TypeVar("_Record", Conversation, Platform)


def _detached(message: Message) -> Message:
    """A copy sharing no mutable object with the caller: what is stored changes only through the store."""
    return message.stored(content=copy.deepcopy(message.content), metadata=copy.deepcopy(message.metadata))


def _detached_record(record: _Record) -> _Record:
    return dataclasses.replace(record, metadata=copy.deepcopy(record.metadata))


def _selected(message: Message, query: MessageQuery) -> bool:
    position = message.position if message.position is not None else 0
    created = message.created_at
    return (
        (query.types_in is None or message.type in query.types_in)
        and (not query.types_out or message.type not in query.types_out)
        and (query.roles_in is None or message.role in query.roles_in)
        and (not query.roles_out or message.role not in query.roles_out)
        and (query.meta is None or matches(query.meta, message.metadata))
        and (query.after is None or position > query.after)
        and (query.before is None or position < query.before)
        and (query.positions is None or position in query.positions)
        and (query.since is None or (created is not None and created >= query.since))
        and (query.until is None or (created is not None and created < query.until))
    )


@dataclasses.dataclass
class _Thread:
    conversation: Conversation
    next_position: int = 0
    messages: list[Message] = dataclasses.field(default_factory=list)  # ordered by position


class MemoryChatBackend:
    """Implements :class:`memstore.stores.chat.ChatBackend` in process memory under one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._threads: dict[str, _Thread] = {}
        self._platforms: dict[str, Platform] = {}
        self._message_owner: dict[str, str] = {}

    def _thread(self, conversation_id: str, now: datetime) -> _Thread:
        thread = self._threads.get(conversation_id)
        if thread is None:
            conversation = Conversation(conversation_id, None, None, {}, now, now)
            thread = self._threads[conversation_id] = _Thread(conversation)
        return thread

    def append(
        self, conversation_id: str, batch: Sequence[Message], now: datetime, *, replace: bool = False
    ) -> list[Message]:
        with self._lock:
            for message in batch:
                owner = self._message_owner.get(message.id or "")
                if owner is not None and not (replace and owner == conversation_id):
                    raise ConflictError(f"buffer.append: message id {message.id!r} exists")
            existing = self._threads.get(conversation_id)
            given = [m.position for m in batch if m.position is not None]
            taken = set() if replace or existing is None else {m.position for m in existing.messages}
            if given and (len(set(given)) != len(given) or taken.intersection(given)):
                raise ConflictError("buffer.append: a message already holds that position")
            thread = self._thread(conversation_id, now)  # created only once nothing can refuse the batch
            start = thread.next_position
            stored = [
                _detached(
                    m.stored(position=m.position if given else start + i, created_at=m.created_at or now)
                )
                for i, m in enumerate(batch)
            ]
            thread.next_position = max(thread.next_position, max(given) + 1) if given else start + len(batch)
            if replace:
                self.clear(conversation_id)
            thread.conversation = dataclasses.replace(thread.conversation, updated_at=now)
            for message in stored:
                keys = [m.position or 0 for m in thread.messages]
                thread.messages.insert(bisect.bisect(keys, message.position or 0), message)
                self._message_owner[message.id or ""] = conversation_id
            return [_detached(m) for m in stored]

    def insert(
        self, conversation_id: str, index: int, batch: Sequence[Message], now: datetime
    ) -> list[Message]:
        with self._lock:
            for message in batch:
                if (message.id or "") in self._message_owner:
                    raise ConflictError(f"buffer.insert: message id {message.id!r} exists")
            thread = self._thread(conversation_id, now)
            size = len(thread.messages)
            cut = max(size + index, 0) if index < 0 else min(index, size)  # list.insert's clamping
            head, tail = thread.messages[:cut], thread.messages[cut:]
            start = thread.next_position
            stored = [
                _detached(m.stored(position=start + i, created_at=m.created_at or now))
                for i, m in enumerate(batch)
            ]
            moved = [m.stored(position=start + len(batch) + i) for i, m in enumerate(tail)]
            thread.messages = head + stored + moved
            thread.next_position = start + len(batch) + len(tail)
            thread.conversation = dataclasses.replace(thread.conversation, updated_at=now)
            for message in stored:
                self._message_owner[message.id or ""] = conversation_id
            return [_detached(m) for m in stored]

    def _matching(self, conversation_id: str, query: MessageQuery) -> list[Message]:
        thread = self._threads.get(conversation_id)
        found = [m for m in thread.messages if _selected(m, query)] if thread else []
        return found[::-1] if query.descending else found

    def select(self, conversation_id: str, query: MessageQuery) -> list[Message]:
        with self._lock:
            found = self._matching(conversation_id, query)
            end = None if query.limit is None else query.offset + query.limit
            return [_detached(m) for m in found[query.offset : end]]

    def count(self, conversation_id: str, query: MessageQuery) -> int:
        with self._lock:
            return len(self._matching(conversation_id, query))

    def get_message(self, message_id: str) -> Message | None:
        with self._lock:
            owner = self._message_owner.get(message_id)
            if owner is None:
                return None
            return _detached(next(m for m in self._threads[owner].messages if m.id == message_id))

    def update_message(self, message: Message) -> None:
        with self._lock:
            owner = self._message_owner.get(message.id or "")
            if owner is None:
                raise NotFoundError(f"no message {message.id!r}")
            thread = self._threads[owner]
            stored = _detached(message)
            thread.messages = [stored if m.id == message.id else m for m in thread.messages]

    def delete_message(self, conversation_id: str, message_id: str) -> Message | None:
        with self._lock:
            if self._message_owner.get(message_id) != conversation_id:
                return None
            thread = self._threads[conversation_id]
            doomed = next(m for m in thread.messages if m.id == message_id)
            thread.messages.remove(doomed)
            del self._message_owner[message_id]
            return doomed

    def clear(self, conversation_id: str) -> int:
        with self._lock:
            thread = self._threads.get(conversation_id)
            if thread is None:
                return 0
            for message in thread.messages:
                self._message_owner.pop(message.id or "", None)
            cleared = len(thread.messages)
            thread.messages = []
            return cleared

    def take_oldest(
        self, conversation_id: str, count: int | None, target_id: str | None, now: datetime
    ) -> list[Message]:
        with self._lock:
            source = self._threads.get(conversation_id)
            taken = source.messages[:count] if source is not None else []
            if source is None or not taken:
                return []
            source.messages = source.messages[len(taken) :]
            if target_id is None:
                for message in taken:
                    del self._message_owner[message.id or ""]
                return taken
            target = self._thread(target_id, now)
            start = target.next_position
            moved = [m.stored(conversation_id=target_id, position=start + i) for i, m in enumerate(taken)]
            # Every position already in the target is below its counter, so appending keeps the order.
            target.messages.extend(moved)
            target.next_position = start + len(moved)
            target.conversation = dataclasses.replace(target.conversation, updated_at=now)
            for message in moved:
                self._message_owner[message.id or ""] = target_id
            return [_detached(m) for m in moved]

    def save_platform(self, platform: Platform, *, create: bool) -> None:
        with self._lock:
            if create and platform.id in self._platforms:
                raise ConflictError(f"platform {platform.id!r} exists")
            self._platforms[platform.id] = _detached_record(platform)

    def get_platform(self, platform_id: str) -> Platform | None:
        with self._lock:
            found = self._platforms.get(platform_id)
            return None if found is None else _detached_record(found)

    def list_platforms(self) -> list[Platform]:
        with self._lock:
            return [
                _detached_record(p)
                for p in sorted(self._platforms.values(), key=lambda p: (p.created_at, p.id))
            ]

    def delete_platform(self, platform_id: str) -> bool:
        with self._lock:
            if self._platforms.pop(platform_id, None) is None:
                return False
            for thread in self._threads.values():
                if thread.conversation.platform_id == platform_id:
                    thread.conversation = dataclasses.replace(thread.conversation, platform_id=None)
            return True

    def save_conversation(self, conversation: Conversation, *, create: bool) -> None:
        with self._lock:
            if create:
                if conversation.id in self._threads:
                    raise ConflictError(f"conversation {conversation.id!r} exists")
                self._threads[conversation.id] = _Thread(_detached_record(conversation))
            else:
                self._threads[conversation.id].conversation = _detached_record(conversation)

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        with self._lock:
            thread = self._threads.get(conversation_id)
            return None if thread is None else _detached_record(thread.conversation)

    def list_conversations(
        self, platform_id: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Conversation]:
        with self._lock:
            found = [
                _detached_record(t.conversation)
                for t in self._threads.values()
                if platform_id is None or t.conversation.platform_id == platform_id
            ]
        found.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        if after is not None:
            found = [c for c in found if (c.updated_at, c.id) < after]
        return found[:limit]

    def list_conversation_ids(self, prefix: str, after: str | None, limit: int) -> list[str]:
        with self._lock:
            ids = sorted(i for i in self._threads if i.startswith(prefix) and (after is None or i > after))
        return ids[:limit]

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._lock:
            if conversation_id not in self._threads:
                return False
            self.clear(conversation_id)
            del self._threads[conversation_id]
            return True
