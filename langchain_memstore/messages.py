"""The lossless mapping between LangChain messages and :class:`memstore.Message` (pure, no I/O).

Every LangChain message becomes one core message:

============================  ==========================  ================================
LangChain class               core ``role``               core ``type``
============================  ==========================  ================================
``HumanMessage``              ``user``                    ``human``
``AIMessage``                 ``assistant``               ``ai``
``SystemMessage``             ``system``                  ``system``
``ToolMessage``               ``tool``                    ``tool``
``FunctionMessage``           ``function``                ``function``
``ChatMessage``               its ``role`` (``chat`` if   ``chat``
                              the role is empty)
``...MessageChunk``           as the class it chunks      the chunk's type (``AIMessageChunk``...)
============================  ==========================  ================================

The core ``content`` is the LangChain ``content`` as it is (a str, or the list of parts), so the core's
text view and keyword search see the words. Every other field of ``message.model_dump()`` (``id``,
``name``, ``additional_kwargs``, ``response_metadata``, ``tool_calls``, ``invalid_tool_calls``,
``usage_metadata``, ``tool_call_id``, ``artifact``, ``status``, ``role``...) is kept in the core metadata
under the reserved key :data:`METADATA_KEY`, so a message read back is equal to the one written
(``message_to_dict`` of both is the same). LangChain's ``id`` stays there: the core gives every message its
own globally unique id, and LangChain ids need not be unique across sessions.

Because role and type are real core columns, the core's filters keep working on LangChain histories, e.g.
``store.buffer(session_id).get_msg(-10, role_include=["user"])`` or ``type_include=["tool"]``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)

from langchain_memstore.errors import ForeignDataError
from memstore import Message, ValidationError

__all__ = ["METADATA_KEY", "from_memstore", "to_memstore"]

METADATA_KEY = "langchain"
"""The core metadata key holding every LangChain field but ``content`` and ``type``."""

# type -> (class, core role); a None role means the message's own role (ChatMessage).
_KINDS: dict[str, tuple[type[BaseMessage], str | None]] = {
    "human": (HumanMessage, "user"),
    "ai": (AIMessage, "assistant"),
    "system": (SystemMessage, "system"),
    "tool": (ToolMessage, "tool"),
    "function": (FunctionMessage, "function"),
    "chat": (ChatMessage, None),
    "HumanMessageChunk": (HumanMessageChunk, "user"),
    "AIMessageChunk": (AIMessageChunk, "assistant"),
    "SystemMessageChunk": (SystemMessageChunk, "system"),
    "ToolMessageChunk": (ToolMessageChunk, "tool"),
    "FunctionMessageChunk": (FunctionMessageChunk, "function"),
    "ChatMessageChunk": (ChatMessageChunk, None),
}


def to_memstore(message: BaseMessage) -> Message:
    """The core message for a LangChain message (validated: nothing invalid reaches a store).

    Raises :class:`memstore.ValidationError` for what cannot be stored losslessly: a type outside the
    mapping table (``RemoveMessage`` is an instruction to LangGraph, not a message), or fields that are not
    plain JSON (a ``bytes`` in ``additional_kwargs``, a non-str dict key, NaN...).
    """
    if not isinstance(message, BaseMessage):
        raise ValidationError(f"expected a LangChain BaseMessage, not {type(message).__name__}")
    kind = _KINDS.get(message.type)
    if kind is None or not isinstance(message, kind[0]):
        raise ValidationError(
            f"cannot store a {type(message).__name__} of type {message.type!r}; "
            f"storable types: {', '.join(sorted(_KINDS))}"
        )
    data = message.model_dump()
    content = data.pop("content")
    del data["type"]
    role = kind[1] or getattr(message, "role", "") or "chat"
    try:
        return Message(role=role, type=message.type, content=content, metadata={METADATA_KEY: data})
    except ValidationError as exc:
        raise ValidationError(f"{type(message).__name__} cannot be stored: {exc}") from exc


def from_memstore(message: Message) -> BaseMessage:
    """The LangChain message stored as ``message``; :class:`ForeignDataError` if it is not one."""
    where = f"message {message.id!r} of conversation {message.conversation_id!r}"
    kind = _KINDS.get(message.type)
    if kind is None:
        raise ForeignDataError(
            f"{where} has type {message.type!r}, which is not a LangChain message type "
            f"(was it written by another adapter or directly through memstore?)"
        )
    data = message.metadata.get(METADATA_KEY)
    if not isinstance(data, dict):
        raise ForeignDataError(f"{where} has no LangChain fields under metadata[{METADATA_KEY!r}]")
    fields: dict[str, Any] = {**data, "content": message.content}
    try:
        return kind[0](**fields)
    except (ValueError, TypeError, KeyError) as exc:  # pydantic.ValidationError is a ValueError
        raise ForeignDataError(f"{where} does not make a valid {kind[0].__name__}: {exc}") from exc
