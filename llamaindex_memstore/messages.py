"""LlamaIndex ``ChatMessage`` <-> ``memstore.Message``: the one mapping every chat store here uses.

Pure functions, no I/O. ``to_chat_message(to_memstore_message(m)) == m`` for every ``ChatMessage`` whose
``additional_kwargs`` hold JSON values (str, int, float, bool, None, lists, dicts with str keys), whatever
its role and blocks. The mapping, field by field:

====================================  =============================================================
``ChatMessage``                       ``memstore.Message``
====================================  =============================================================
``role`` (any ``MessageRole``)        ``role``: the enum's value (``"user"``, ``"developer"``, ...)
``blocks == [TextBlock(text=t)]``     ``content``: ``t``, a plain str (what keyword search and SQL see)
any other ``blocks`` (none, images,   ``content``: ``[block.model_dump(mode="json"), ...]``; each part
audio, video, documents, thinking,    keeps its ``block_type``; images, audio, video and documents
tool calls, citations, cache points)  keep their references (url / path) and any base64 data inline
``additional_kwargs``                 ``metadata["additional_kwargs"]`` (absent when empty)
(derived, for filters only)           ``type``: ``"tool_call"`` if the message carries tool calls
                                      (a ``ToolCallBlock`` or ``additional_kwargs["tool_calls"]``),
                                      ``"tool_result"`` for the roles ``tool`` / ``function``,
                                      ``"text"`` if every block is text, else ``"blocks"``
====================================  =============================================================

``additional_kwargs`` go through LlamaIndex's own serializer first (the one ``SimpleChatStore`` and
``SQLAlchemyChatStore`` use): pydantic models (an OpenAI ``tool_calls`` entry, say) are stored as their
``model_dump()`` dicts and ``bytes`` as base64 text, and come back in that form; tuples come back as lists.
Anything else that JSON cannot hold exactly (datetimes, sets, non-str keys, NaN, NUL characters, lone
surrogates, arbitrary objects) raises :class:`memstore.ValidationError` before anything is written.

Reading back is strict: a stored role that is not a ``MessageRole``, or a content part that is not a
LlamaIndex block, raises :class:`memstore.ValidationError` naming the message; nothing is guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import ContentBlock, ToolCallBlock
from llama_index.core.bridge.pydantic import TypeAdapter
from llama_index.core.bridge.pydantic import ValidationError as PydanticValidationError
from llama_index.core.llms import ChatMessage, MessageRole, TextBlock
from pydantic_core import PydanticSerializationError

from memstore import Message, ValidationError

__all__ = ["to_chat_message", "to_memstore_message"]

_BLOCK = TypeAdapter(ContentBlock)
# Blocks whose ``path`` pydantic validates as an existing file: on the way back the file may be gone, and a
# stored reference must still read back, so the path is restored as stored instead of re-validated.
_FILE_PATH_BLOCKS = frozenset({"image", "audio", "video"})
_TOOL_ROLES = frozenset({MessageRole.TOOL, MessageRole.FUNCTION})


def to_memstore_message(message: ChatMessage) -> Message:
    """The ``memstore.Message`` that stores ``message`` (see the module docstring for the mapping).

    Raises :class:`memstore.ValidationError` for anything that cannot be stored exactly; nothing is
    written by this function, so callers convert a whole batch before their first write.
    """
    if not isinstance(message, ChatMessage):
        raise ValidationError(f"expected a llama_index ChatMessage, not {type(message).__name__}")
    try:
        kwargs = message.model_dump(include={"additional_kwargs"})["additional_kwargs"]
        blocks = message.blocks
        content: str | list[Any]
        if len(blocks) == 1 and type(blocks[0]) is TextBlock:
            content = blocks[0].text
        else:
            content = [block.model_dump(mode="json") for block in blocks]
    except (PydanticSerializationError, ValueError, TypeError) as exc:
        raise ValidationError(f"ChatMessage cannot be stored: {exc}") from exc
    checked = Message(
        role=MessageRole(message.role).value,
        content=content,
        type=_type_of(message),
        metadata={"additional_kwargs": kwargs} if kwargs else {},
    )
    # JSON has no tuple: store what every backend gives back (lists), so memory and SQL agree exactly.
    return checked.replace(metadata=json.loads(json.dumps(checked.metadata)))


def to_chat_message(message: Message) -> ChatMessage:
    """The ``ChatMessage`` a stored ``memstore.Message`` holds; the inverse of :func:`to_memstore_message`.

    Raises :class:`memstore.ValidationError` if the stored role is not a ``MessageRole`` or a content part
    is not a LlamaIndex content block.
    """
    try:
        role = MessageRole(message.role)
    except ValueError:
        raise ValidationError(
            f"stored message {message.id!r} has role {message.role!r}, which is not a LlamaIndex MessageRole"
        ) from None
    kwargs = message.metadata.get("additional_kwargs", {})
    if not isinstance(kwargs, dict):
        raise ValidationError(f"stored message {message.id!r} has non-object additional_kwargs")
    if isinstance(message.content, str):
        blocks: list[Any] = [TextBlock(text=message.content)]
    else:
        blocks = [_block(part, message.id) for part in message.content]
    # additional_kwargs are set after validation: ChatMessage's legacy validator would otherwise try to turn
    # a stored ``images`` entry into image blocks a second time.
    chat = ChatMessage.model_validate({"role": role, "blocks": blocks})
    return chat.model_copy(update={"additional_kwargs": kwargs}) if kwargs else chat


def _block(part: Any, message_id: str | None) -> Any:
    if not isinstance(part, dict) or "block_type" not in part:
        raise ValidationError(
            f"stored message {message_id!r} holds a content part that is not a block: {part!r}"
        )
    path = part.get("path") if part["block_type"] in _FILE_PATH_BLOCKS else None
    try:
        block = _BLOCK.validate_python({**part, "path": None} if path is not None else part)
    except PydanticValidationError as exc:
        raise ValidationError(f"stored message {message_id!r} holds an invalid content block: {exc}") from exc
    return block.model_copy(update={"path": Path(path)}) if path is not None else block


def _type_of(message: ChatMessage) -> str:
    if message.additional_kwargs.get("tool_calls") or any(
        isinstance(block, ToolCallBlock) for block in message.blocks
    ):
        return "tool_call"
    if message.role in _TOOL_ROLES:
        return "tool_result"
    if all(isinstance(block, TextBlock) for block in message.blocks):
        return "text"
    return "blocks"
