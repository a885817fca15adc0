"""Core value types. Pure data and validation, no I/O."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

from memstore._validate import check_identifier, check_json, check_json_object, check_text
from memstore.errors import ValidationError

__all__ = ["Content", "Message"]

Content = str | list[Any]
"""A message's content: plain text, or a JSON list of parts (multimodal blocks, tool-call parts...)."""


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are taken to be UTC; everything stored and returned is timezone-aware UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclasses.dataclass(frozen=True)
class Message:
    """One chat message, as every store and adapter sees it.

    Create one with ``Message(role=..., content=...)``; the store fills in ``id``, ``conversation_id``,
    ``position`` and ``created_at`` when it is written, unless you give them (imported history keeps its
    original ids and times). ``position`` is monotonic within a conversation and is the order messages are
    read back in. Invalid values raise :class:`~memstore.errors.ValidationError` at construction.
    """

    role: str
    content: Content
    type: str = "text"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    id: str | None = None
    conversation_id: str | None = None
    position: int | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        check_identifier(self.role, "Message.role")
        check_identifier(self.type, "Message.type")
        if isinstance(self.content, str):
            check_text(self.content, "Message.content")
        elif isinstance(self.content, list | tuple):
            object.__setattr__(self, "content", list(check_json(self.content, "Message.content")))
        else:
            raise ValidationError(
                f"Message.content must be a str or a list of parts, not {type(self.content).__name__}"
            )
        object.__setattr__(self, "metadata", check_json_object(self.metadata, "Message.metadata"))
        if self.id is not None:
            check_identifier(self.id, "Message.id")
        if self.conversation_id is not None:
            check_identifier(self.conversation_id, "Message.conversation_id")
        if self.position is not None and (
            not isinstance(self.position, int) or isinstance(self.position, bool) or self.position < 0
        ):
            raise ValidationError("Message.position must be a non-negative int")
        if self.created_at is not None:
            if not isinstance(self.created_at, datetime):
                raise ValidationError("Message.created_at must be a datetime")
            object.__setattr__(self, "created_at", _as_utc(self.created_at))

    @property
    def text(self) -> str:
        """The content as plain text: the string itself, or the text parts joined by newlines."""
        if isinstance(self.content, str):
            return self.content
        parts: list[str] = []
        for part in self.content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)

    @classmethod
    def from_storage(cls, **fields: Any) -> Message:
        """Rebuild a message read back from a store, skipping validation (it was validated on the way in).

        Stores call this for every row they return; it must get every field.
        """
        message = object.__new__(cls)
        message.__dict__.update(fields)  # frozen blocks __setattr__ only; this is the fast path for rows
        return message

    def stored(self, **assigned: Any) -> Message:
        """A copy with store-assigned fields (id, conversation, position, time) set, not validated again.

        For stores only: the message itself was validated when it was built, and the assigned values come
        from the store. Re-validating every message of a batch would double the cost of an append.
        """
        return Message.from_storage(**{**self.__dict__, **assigned})

    def replace(self, **changes: Any) -> Message:
        """A copy with ``changes`` applied (validated like a new message)."""
        return dataclasses.replace(self, **changes)
