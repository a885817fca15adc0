"""``ConversationManager``: platforms and conversations, and messages across them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Literal

from memstore._sync import to_async
from memstore._validate import check_count, check_identifier, check_text, short_repr
from memstore.errors import NotFoundError, ValidationError
from memstore.models import Message
from memstore.stores.buffer import BufferStore, CursorPage, MetaFilter
from memstore.stores.chat import (
    ChatBackend,
    Conversation,
    Platform,
    check_metadata,
    check_title,
)

__all__ = ["ConversationManager", "ConversationPage"]

_UNSET: Any = object()


class ConversationPage:
    """Conversations, most recently active first, and the cursor of the next page (None at the end)."""

    def __init__(self, conversations: list[Conversation], next_cursor: str | None) -> None:
        self.conversations = conversations
        self.next_cursor = next_cursor

    def __iter__(self) -> Any:
        return iter(self.conversations)

    def __len__(self) -> int:
        return len(self.conversations)

    def __repr__(self) -> str:
        return f"ConversationPage({len(self.conversations)} conversations, next_cursor={self.next_cursor!r})"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _encode_cursor(conversation: Conversation) -> str:
    return f"{conversation.updated_at.isoformat()}|{conversation.id}"


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, conversation_id = cursor.split("|", 1)
        return datetime.fromisoformat(stamp), conversation_id
    except (AttributeError, ValueError) as exc:
        raise ValidationError(f"not a conversation cursor from this store: {short_repr(cursor)}") from exc


class ConversationManager:
    """Platforms and conversations. Reach it as ``Memstore.conversations``.

    Deleting a conversation deletes its messages in the same transaction; deleting a platform keeps its
    conversations (their ``platform_id`` becomes None).
    """

    def __init__(self, backend: ChatBackend) -> None:
        self._backend = backend

    # -- platforms ----------------------------------------------------------------------------------------

    def add_platform(
        self, name: str, *, id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Platform:
        """Create a platform; ConflictError if ``id`` is taken."""
        platform = Platform(
            id=check_identifier(id if id is not None else uuid.uuid4().hex, "platform id"),
            name=check_identifier(name, "platform name"),
            metadata=check_metadata(metadata),
            created_at=_now(),
        )
        self._backend.save_platform(platform, create=True)
        return platform

    def get_platform(self, platform_id: str) -> Platform:
        """One platform; NotFoundError if missing."""
        found = self._backend.get_platform(check_identifier(platform_id, "platform id"))
        if found is None:
            raise NotFoundError(f"no platform {platform_id!r}")
        return found

    def get_platforms(self) -> list[Platform]:
        """Every platform, oldest first."""
        return self._backend.list_platforms()

    def update_platform(
        self, platform_id: str, *, name: str = _UNSET, metadata: dict[str, Any] = _UNSET
    ) -> Platform:
        """Change a platform's name or metadata; returns it as stored."""
        current = self.get_platform(platform_id)
        updated = Platform(
            id=current.id,
            name=current.name if name is _UNSET else check_identifier(name, "platform name"),
            metadata=current.metadata if metadata is _UNSET else check_metadata(metadata),
            created_at=current.created_at,
        )
        self._backend.save_platform(updated, create=False)
        return updated

    def delete_platform(self, platform_id: str) -> None:
        """Delete a platform (its conversations stay, detached); NotFoundError if missing."""
        if not self._backend.delete_platform(check_identifier(platform_id, "platform id")):
            raise NotFoundError(f"no platform {platform_id!r}")

    # -- conversations ------------------------------------------------------------------------------------

    def add_conversation(
        self,
        *,
        id: str | None = None,
        platform_id: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Conversation:
        """Create a conversation; ConflictError if ``id`` is taken, NotFoundError for an unknown platform."""
        if platform_id is not None:
            self.get_platform(platform_id)
        now = _now()
        conversation = Conversation(
            id=check_identifier(id if id is not None else uuid.uuid4().hex, "conversation id"),
            platform_id=platform_id,
            title=check_title(title),
            metadata=check_metadata(metadata),
            created_at=now,
            updated_at=now,
        )
        self._backend.save_conversation(conversation, create=True)
        return conversation

    def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation; NotFoundError if missing."""
        found = self._backend.get_conversation(check_identifier(conversation_id, "conversation id"))
        if found is None:
            raise NotFoundError(f"no conversation {conversation_id!r}")
        return found

    def update_conversation(
        self,
        conversation_id: str,
        *,
        title: str | None = _UNSET,
        metadata: dict[str, Any] = _UNSET,
        platform_id: str | None = _UNSET,
    ) -> Conversation:
        """Change a conversation's title, metadata or platform; returns it as stored."""
        current = self.get_conversation(conversation_id)
        if platform_id is not _UNSET and platform_id is not None:
            self.get_platform(platform_id)
        updated = Conversation(
            id=current.id,
            platform_id=current.platform_id if platform_id is _UNSET else platform_id,
            title=current.title if title is _UNSET else check_title(title),
            metadata=current.metadata if metadata is _UNSET else check_metadata(metadata),
            created_at=current.created_at,
            updated_at=_now(),
        )
        self._backend.save_conversation(updated, create=False)
        return updated

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and all its messages in one transaction; NotFoundError if missing."""
        if not self._backend.delete_conversation(check_identifier(conversation_id, "conversation id")):
            raise NotFoundError(f"no conversation {conversation_id!r}")

    def get_conversations(
        self, cursor: str | None = None, count: int = 20, platform_id: str | None = None
    ) -> ConversationPage:
        """A page of conversations, most recently active first; pass ``next_cursor`` back for the next one."""
        check_count(count, "count", minimum=1)
        if platform_id is not None:
            check_identifier(platform_id, "platform id")
        after = None if cursor is None else _decode_cursor(cursor)
        rows = self._backend.list_conversations(platform_id, after, count + 1)
        more = len(rows) > count
        rows = rows[:count]
        return ConversationPage(rows, _encode_cursor(rows[-1]) if more and rows else None)

    def list_conversation_ids(
        self, prefix: str = "", *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        """Conversation ids in code-point order, starting with ``prefix``; page with ``after=<last id>``.

        Unlike :meth:`get_conversations` (most recent first), this order does not move while conversations
        are written, so a full walk sees every conversation that existed throughout.
        """
        check_count(limit, "limit", minimum=1)
        if after is not None:
            check_identifier(after, "after")
        return self._backend.list_conversation_ids(check_text(prefix, "prefix"), after, limit)

    def get_conversation_by_msg(self, message_id: str) -> Conversation:
        """The conversation a message belongs to; NotFoundError if the message does not exist."""
        message = self._backend.get_message(check_identifier(message_id, "message id"))
        if message is None or message.conversation_id is None:
            raise NotFoundError(f"no message {message_id!r}")
        return self.get_conversation(message.conversation_id)

    # -- messages across conversations ---------------------------------------------------------------------

    def buffer(self, conversation_id: str) -> BufferStore:
        """The buffer store of one conversation."""
        return BufferStore(self._backend, conversation_id)

    def get_conversation_messages(
        self,
        conversation_id: str,
        page: int = 1,
        size: int = 20,
        *,
        type_include: Iterable[str] | None = None,
        type_exclude: Iterable[str] | None = None,
        role_include: Iterable[str] | None = None,
        role_exclude: Iterable[str] | None = None,
        filter_meta: MetaFilter = None,
    ) -> list[Message]:
        """Page ``page`` (1-based; negative counts from the end) of ``size`` messages, oldest first."""
        self.get_conversation(conversation_id)
        return self.buffer(conversation_id).get_msg(
            [page, size],
            type_include=type_include,
            type_exclude=type_exclude,
            role_include=role_include,
            role_exclude=role_exclude,
            filter_meta=filter_meta,
        )

    def get_latest_message(self, conversation_id: str) -> Message | None:
        """The newest message of a conversation (None if it has none); NotFoundError if it does not exist."""
        self.get_conversation(conversation_id)
        return self.buffer(conversation_id).latest()

    def get_messages_by_cursor(
        self,
        conversation_id: str,
        cursor: str | None = None,
        count: int = 20,
        direction: Literal["forward", "backward"] = "backward",
    ) -> CursorPage:
        """Cursor paging over one conversation (see :meth:`BufferStore.get_msg_by_cursor`)."""
        self.get_conversation(conversation_id)
        return self.buffer(conversation_id).get_msg_by_cursor(cursor, count, direction)

    aadd_platform = to_async(add_platform)
    aget_platform = to_async(get_platform)
    aget_platforms = to_async(get_platforms)
    aupdate_platform = to_async(update_platform)
    adelete_platform = to_async(delete_platform)
    aadd_conversation = to_async(add_conversation)
    aget_conversation = to_async(get_conversation)
    aupdate_conversation = to_async(update_conversation)
    adelete_conversation = to_async(delete_conversation)
    aget_conversations = to_async(get_conversations)
    aget_conversation_by_msg = to_async(get_conversation_by_msg)
    alist_conversation_ids = to_async(list_conversation_ids)
    aget_conversation_messages = to_async(get_conversation_messages)
    aget_latest_message = to_async(get_latest_message)
    aget_messages_by_cursor = to_async(get_messages_by_cursor)
