"""``MemstoreMemoryChatStore``: the ``AsyncDBChatStore`` that LlamaIndex's ``Memory`` keeps its queue in.

The archive design: the ACTIVE messages of a key live in the conversation named by the key; its ARCHIVED
messages live in a second conversation, ``"memstore:archive:" + key``. Archiving the oldest ``n`` is the
core's :meth:`memstore.BufferStore.move_oldest`, one transaction: no reader ever sees a message in both
lists or in neither, and the archive keeps the order in which messages left the queue. Chat keys may not
start with the reserved prefix, so an archive can never collide with a user's key.
"""

from __future__ import annotations

import contextlib
from typing import Any

from llama_index.core.llms import ChatMessage
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus

from llamaindex_memstore._plan import Call, Collect, Plan, run_async
from llamaindex_memstore._store import (
    ARCHIVE_PREFIX,
    StoreArg,
    StoreModel,
    archive_id,
    check_key,
    conversation_ids,
    is_reserved,
    key_of,
)
from llamaindex_memstore.messages import to_chat_message, to_memstore_message
from memstore import BufferStore, ConflictError, NotFoundError, ValidationError
from memstore import Message as StoredMessage
from memstore.validation import check_count

__all__ = ["MemstoreMemoryChatStore"]

# How often a windowed read starts again when the message it anchored on leaves the list meanwhile.
_RACE_RETRIES = 5


def _check_window(value: object, what: str) -> int | None:
    return None if value is None else check_count(value, f"{what} (None or a count)", minimum=0)


class MemstoreMemoryChatStore(AsyncDBChatStore, StoreModel):
    """The chat store for ``Memory``: a FIFO queue of ACTIVE messages and an archive per key, in memstore.

    ``Memory.from_defaults(session_id=..., chat_store=MemstoreMemoryChatStore(store), token_limit=...)``.
    ``store`` is a ``memstore.Memstore`` (you keep owning it), a SQL URL, or None for the embedded default.

    What callers can rely on beyond ``AsyncDBChatStore``'s docstrings (checked against
    ``SQLAlchemyChatStore``, the store ``Memory`` uses by default):

    * ``archive_oldest_messages`` and ``delete_oldest_messages`` are each one transaction.
    * ``get_messages`` (with ``limit`` / ``offset``) and ``count_messages`` are indexed queries that load only
      the rows they return; ``status=None`` means both lists: the archive first, then the active queue.
    * ``delete_message(key, idx)`` takes ``idx`` as the position in ``get_messages(key)`` (the ACTIVE list,
      0-based, negative from the end; out of range returns None). ``SQLAlchemyChatStore`` takes its
      internal row id there, which callers cannot see.
    * ``get_keys`` lists the users' keys (sorted), never archives; a key stays listed until
      ``delete_messages(key)`` (no status) removes it, even once its lists are empty.
    * ``set_messages`` replaces both lists, like ``SQLAlchemyChatStore``: the target list in one
      transaction (never seen empty), then the other list is cleared.

    Keys are non-empty str without NUL or lone surrogates, not starting with ``"memstore:archive:"``, and
    short enough for the archive id to fit memstore's 1024 UTF-8 bytes; others raise
    ``memstore.ValidationError`` (a ``ValueError``) before anything is written.
    """

    def __init__(self, store: StoreArg = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._attach_store(store)

    @classmethod
    def class_name(cls) -> str:
        return "MemstoreMemoryChatStore"

    # -- helpers ------------------------------------------------------------------------------------------

    def _lists(self, key: str) -> tuple[BufferStore, BufferStore]:
        """(active, archive) buffers of ``key``; validates the key and its archive id."""
        checked = check_key(key)
        return self._store.buffer(checked), self._store.buffer(archive_id(checked))

    def _by_status(self, key: str, status: MessageStatus) -> BufferStore:
        active, archive = self._lists(key)
        if status == MessageStatus.ACTIVE:
            return active
        if status == MessageStatus.ARCHIVED:
            return archive
        raise ValidationError(f"status must be a MessageStatus, not {status!r}")

    @staticmethod
    def _window(buffer: BufferStore, offset: int, limit: int | None) -> Plan[list[StoredMessage]]:
        """Messages [offset, offset + limit) of one list, loading no row it does not return."""
        found: list[StoredMessage] = []
        if limit == 0:
            return found
        if offset == 0:
            found = yield Call(buffer, "get_msg", (limit,))
            return found
        if limit is not None and offset % limit == 0:
            found = yield Call(buffer, "get_msg", ([offset // limit + 1, limit],))
            return found
        # The core reads pages aligned on their size, so anchor on the message at `offset` (a page of one)
        # and stream from it, inclusive, stopping after `limit`.
        for _ in range(_RACE_RETRIES):
            anchor: list[StoredMessage] = yield Call(buffer, "get_msg", ([offset + 1, 1],))
            if not anchor:
                return found
            stream: dict[str, Any] = {"from_msg_id": anchor[0].id, "inclusive": True}
            if limit is not None:
                stream["page_size"] = limit
            try:
                found = yield Collect(buffer, "get_msgs_forward", limit, stream)
            except NotFoundError:
                continue  # the anchor was archived or deleted meanwhile: the window moved, read it again
            return found
        raise ConflictError(f"{buffer!r}: the list kept changing under a windowed read")

    # -- the operations, written once ---------------------------------------------------------------------

    def _get_messages(
        self, key: str, status: MessageStatus | None, limit: int | None, offset: int | None
    ) -> Plan[list[ChatMessage]]:
        limit = _check_window(limit, "limit")
        start = _check_window(offset, "offset") or 0
        if status is not None:
            found = yield from self._window(self._by_status(key, status), start, limit)
            return [to_chat_message(message) for message in found]
        active, archive = self._lists(key)
        archived: int = yield Call(archive, "length")
        older: list[StoredMessage] = []
        if start < archived:
            take = archived - start if limit is None else min(limit, archived - start)
            older = yield from self._window(archive, start, take)
        rest = None if limit is None else limit - len(older)
        newer = yield from self._window(active, max(start - archived, 0), rest)
        return [to_chat_message(message) for message in older + newer]

    def _count_messages(self, key: str, status: MessageStatus | None) -> Plan[int]:
        if status is not None:
            counted: int = yield Call(self._by_status(key, status), "length")
            return counted
        active, archive = self._lists(key)
        archived: int = yield Call(archive, "length")
        current: int = yield Call(active, "length")
        return archived + current

    def _add_messages(self, key: str, messages: list[ChatMessage], status: MessageStatus) -> Plan[None]:
        stored = [to_memstore_message(message) for message in messages]
        buffer = self._by_status(key, status)
        if stored:
            yield Call(buffer, "add_msgs", (stored,))

    def _set_messages(self, key: str, messages: list[ChatMessage], status: MessageStatus) -> Plan[None]:
        stored = [to_memstore_message(message) for message in messages]
        target = self._by_status(key, status)
        active, archive = self._lists(key)
        # Two transactions, after every message was validated: the target list is replaced atomically (never
        # seen empty), then the other list is cleared.
        yield Call(target, "replace", (stored,))
        yield Call(archive if status == MessageStatus.ACTIVE else active, "clear")

    def _delete_message(self, key: str, idx: int) -> Plan[ChatMessage | None]:
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise ValidationError(f"idx must be an int, not {type(idx).__name__}")
        active, _ = self._lists(key)
        for _attempt in range(_RACE_RETRIES):
            found: list[StoredMessage] = yield Call(active, "get_msg", ([idx + 1 if idx >= 0 else idx, 1],))
            if not found:
                return None
            deleted = to_chat_message(found[0])
            try:
                yield Call(active, "delete_msg", (found[0].id,))
            except NotFoundError:
                continue  # archived or deleted meanwhile: look at what is at idx now
            return deleted
        raise ConflictError(f"delete_message({key!r}, {idx}): the message there kept leaving the list")

    def _delete_messages(self, key: str, status: MessageStatus | None) -> Plan[None]:
        if status is not None:
            yield Call(self._by_status(key, status), "clear")
            return
        active, archive = self._lists(key)
        for buffer in (archive, active):
            with contextlib.suppress(NotFoundError):  # already gone: nothing to delete
                yield Call(self._store.conversations, "delete_conversation", (buffer.conversation_id,))

    def _delete_oldest(self, key: str, n: int) -> Plan[list[ChatMessage]]:
        if _check_window(n, "n") is None:
            raise ValidationError("n must be an int >= 0")
        active, _ = self._lists(key)
        # Convert before deleting: a stored message LlamaIndex cannot read must not vanish unreturned.
        peek = yield Call(active, "get_msg", (n,))
        for message in peek:
            to_chat_message(message)
        deleted = yield Call(active, "delete_oldest", (n,))
        return [to_chat_message(message) for message in deleted]

    def _archive_oldest(self, key: str, n: int) -> Plan[list[ChatMessage]]:
        active, archive = self._lists(key)
        moved = yield Call(active, "move_oldest", (n, archive.conversation_id))
        return [to_chat_message(message) for message in moved]

    def _get_keys(self) -> Plan[list[str]]:
        ids = yield from conversation_ids(self._store)
        return sorted({key_of(cid) for cid in ids if cid.startswith(ARCHIVE_PREFIX) or not is_reserved(cid)})

    # -- AsyncDBChatStore ---------------------------------------------------------------------------------

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """Messages of ``key`` with ``status`` (None: archive then active), oldest first, from ``offset``,
        at most ``limit``; pushed down to the database."""
        return await run_async(self._get_messages(key, status, limit, offset))

    async def count_messages(self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE) -> int:
        """How many messages ``key`` holds with ``status`` (None: both lists); a COUNT, no rows loaded."""
        return await run_async(self._count_messages(key, status))

    async def add_message(
        self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Append one message to the ``status`` list of ``key``."""
        await run_async(self._add_messages(key, [message], status))

    async def add_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Append messages to the ``status`` list of ``key`` in one transaction (all or nothing)."""
        await run_async(self._add_messages(key, messages, status))

    async def set_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Replace every message of ``key`` (both lists, as ``SQLAlchemyChatStore`` does) with ``messages``
        in the ``status`` list.

        Every message is validated before the first write. The ``status`` list is replaced in one
        transaction (a reader sees the old list or the new one), then the other list is cleared.
        """
        await run_async(self._set_messages(key, messages, status))

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete and return the ACTIVE message at list index ``idx``; None if out of range."""
        return await run_async(self._delete_message(key, idx))

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        """Delete the ``status`` list of ``key``; with None, the key itself with both lists."""
        await run_async(self._delete_messages(key, status))

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Delete the oldest ``n`` ACTIVE messages in one transaction and return them, oldest first."""
        return await run_async(self._delete_oldest(key, n))

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Move the oldest ``n`` ACTIVE messages to the archive in one transaction and return them."""
        return await run_async(self._archive_oldest(key, n))

    async def get_keys(self) -> list[str]:
        """The users' keys, sorted; archives are never listed as keys of their own."""
        return await run_async(self._get_keys())
