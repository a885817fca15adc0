"""Types and the backend protocol shared by the buffer store and the conversation manager (no I/O here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from memstore._validate import check_identifier, check_json_object, check_text
from memstore.filters import Filter
from memstore.models import Message

__all__ = ["ChatBackend", "Conversation", "MessageQuery", "Platform"]


@dataclasses.dataclass(frozen=True)
class Platform:
    """Where conversations come from (an app, a channel, a tenant): groups conversations."""

    id: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclasses.dataclass(frozen=True)
class Conversation:
    """One conversation. ``updated_at`` moves whenever a message is added, so lists show the active first."""

    id: str
    platform_id: str | None
    title: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _names(values: Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return tuple(check_identifier(value, what) for value in values)


@dataclasses.dataclass(frozen=True)
class MessageQuery:
    """What to read from one conversation; every field is pushed down to the backend's own query.

    ``after``/``before`` are exclusive position bounds (keyset paging); ``positions`` picks exact positions
    (ConversationMemory reads a hit's neighbouring turns with it); ``descending`` reads newest first.
    """

    types_in: tuple[str, ...] | None = None
    types_out: tuple[str, ...] | None = None
    roles_in: tuple[str, ...] | None = None
    roles_out: tuple[str, ...] | None = None
    meta: Filter | None = None
    after: int | None = None
    before: int | None = None
    positions: tuple[int, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    descending: bool = False
    offset: int = 0
    limit: int | None = None

    @classmethod
    def build(
        cls,
        *,
        type_include: Iterable[str] | None = None,
        type_exclude: Iterable[str] | None = None,
        role_include: Iterable[str] | None = None,
        role_exclude: Iterable[str] | None = None,
        meta: Filter | None = None,
    ) -> MessageQuery:
        """A validated query from the public keyword arguments."""
        return cls(
            types_in=_names(type_include, "type_include"),
            types_out=_names(type_exclude, "type_exclude"),
            roles_in=_names(role_include, "role_include"),
            roles_out=_names(role_exclude, "role_exclude"),
            meta=meta,
        )

    def page(self, **changes: Any) -> MessageQuery:
        return dataclasses.replace(self, **changes)


class ChatBackend(Protocol):
    """What a chat backend implements. Validation, paging rules and cursors stay in the stores above it.

    Every write is one atomic transaction. ``append`` assigns positions (or keeps given ones) so that
    concurrent appenders, even in other processes, never collide; it creates the conversation if missing.
    """

    def append(
        self, conversation_id: str, messages: Sequence[Message], now: datetime, *, replace: bool = False
    ) -> list[Message]:
        """Append (or, with ``replace``, delete every message first, in the same transaction)."""
        ...

    def insert(
        self, conversation_id: str, index: int, messages: Sequence[Message], now: datetime
    ) -> list[Message]:
        """Insert ``messages`` before list index ``index`` (Python's ``list.insert`` rules: negative counts
        from the end, out of range clamps) in one transaction, creating the conversation if missing.

        The new messages and every message from ``index`` on take fresh positions from the counter, in list
        order (positions are never reused); ids, content and created_at of the moved ones stay.
        """
        ...

    def select(self, conversation_id: str, query: MessageQuery) -> list[Message]: ...

    def count(self, conversation_id: str, query: MessageQuery) -> int: ...

    def get_message(self, message_id: str) -> Message | None: ...

    def update_message(self, message: Message) -> None: ...

    def delete_message(self, conversation_id: str, message_id: str) -> Message | None: ...

    def clear(self, conversation_id: str) -> int: ...

    def take_oldest(
        self, conversation_id: str, count: int | None, target_id: str | None, now: datetime
    ) -> list[Message]:
        """Remove the oldest ``count`` messages (fewer if there are fewer) in one transaction, oldest first.

        With ``target_id`` they are appended to that conversation (created if missing) on positions reserved
        from its counter, keeping id, content, metadata and created_at, and returned as stored there;
        without, they are deleted and returned as they were. Serialised with appenders of the source.
        """

    def save_platform(self, platform: Platform, *, create: bool) -> None: ...

    def get_platform(self, platform_id: str) -> Platform | None: ...

    def list_platforms(self) -> list[Platform]: ...

    def delete_platform(self, platform_id: str) -> bool: ...

    def save_conversation(self, conversation: Conversation, *, create: bool) -> None: ...

    def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    def list_conversations(
        self, platform_id: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Conversation]: ...

    def delete_conversation(self, conversation_id: str) -> bool: ...

    def list_conversation_ids(self, prefix: str, after: str | None, limit: int) -> list[str]: ...


def check_title(title: object) -> str | None:
    if title is None:
        return None
    return check_text(title, "title")


def check_metadata(metadata: object) -> dict[str, Any]:
    return {} if metadata is None else check_json_object(metadata, "metadata")
