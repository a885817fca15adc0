"""``MemstoreChatStore``: LlamaIndex's ``BaseChatStore`` on memstore's buffer store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms import ChatMessage
from llama_index.core.storage.chat_store.base import BaseChatStore

from llamaindex_memstore._plan import Call, Plan, run_async, run_sync
from llamaindex_memstore._store import StoreArg, StoreModel, check_key, conversation_ids, is_reserved
from llamaindex_memstore.messages import to_chat_message, to_memstore_message
from memstore import ConflictError, NotFoundError, ValidationError, approximate_tokens
from memstore import Message as StoredMessage

__all__ = ["MemstoreChatStore"]

logger = logging.getLogger(__name__)

# How often a positional delete looks again when the message it found is deleted by someone else first.
_RACE_RETRIES = 5


class MemstoreChatStore(BaseChatStore, StoreModel):
    """Chat history for ``ChatMemoryBuffer``, chat engines and agents, durable in memstore.

    Each key is one memstore conversation (the key is the conversation id), so the same history is readable
    from every memstore adapter. Every method behaves like ``SimpleChatStore``'s, including the edge cases
    (a missing key reads as ``[]``; ``delete_message`` past the end returns None; deleting from an empty
    list raises ``IndexError``), and has an async twin that runs on the core's async methods.

    ``store`` is a ``memstore.Memstore`` (you keep owning it), a SQL URL, or None for the embedded default;
    :meth:`close` releases a store this object opened itself. Keys are non-empty str of at most 1024 UTF-8
    bytes without NUL or lone surrogates, not starting with the reserved ``"memstore:archive:"``; others
    raise ``memstore.ValidationError`` (a ``ValueError``) before anything is written.

    ``window=k`` is an opt-in for very long conversations: ``get_messages`` then returns only the newest
    ``k`` messages (oldest first), read with one indexed query, instead of the whole history.
    ``ChatMemoryBuffer`` reads everything and trims to its token limit, so with a window it never loads more
    than ``k`` messages; pick ``k`` above what the token limit can hold, or the buffer holds fewer messages
    than its limit allows. Every other method still sees the whole conversation.

    ``window_tokens=n`` (with ``window`` or alone) returns the newest messages that fit ``n`` tokens as
    ``token_counter`` counts them: a function of one ``ChatMessage`` (wrap a LlamaIndex tokenizer as
    ``lambda m: len(tokenizer(m.content or ""))``); the default, :func:`memstore.approximate_tokens`, needs no
    tokenizer download (4 characters a token, plus 3 per message). It reads backwards page by page until
    the budget is spent. Both windows never start on a tool result (role ``tool`` / ``function``) and never
    split an assistant's tool call from its results: the whole group or none of it, so a window may hold
    fewer than ``window`` messages. ``token_counter`` is not serialised with the other fields.
    """

    window: int | None = Field(
        default=None,
        ge=1,
        description="If set, get_messages returns only the newest `window` messages (oldest first).",
    )
    window_tokens: int | None = Field(
        default=None,
        ge=1,
        description="If set, get_messages returns only the newest messages within this many tokens.",
    )
    _token_counter: Callable[[ChatMessage], int] | None = PrivateAttr(default=None)

    def __init__(
        self,
        store: StoreArg = None,
        *,
        window: int | None = None,
        window_tokens: int | None = None,
        token_counter: Callable[[ChatMessage], int] | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (("window", window), ("window_tokens", window_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValidationError(f"{name} must be an int greater than or equal to 1, not {value!r}")
        if token_counter is not None and (window_tokens is None or not callable(token_counter)):
            raise ValidationError("token_counter is a function of a ChatMessage, for window_tokens=")
        super().__init__(window=window, window_tokens=window_tokens, **kwargs)
        self._token_counter = token_counter
        self._attach_store(store)

    @classmethod
    def class_name(cls) -> str:
        return "MemstoreChatStore"

    # -- the operations, written once (see llamaindex_memstore._plan) --------------------------------------

    def _set_messages(self, key: str, messages: list[ChatMessage]) -> Plan[None]:
        stored = [to_memstore_message(message) for message in messages]
        buffer = self._store.buffer(check_key(key))
        # One transaction (the core's replace): readers see the old list or the new one, never an empty key;
        # every message is converted and validated first, so bad input leaves the old list.
        yield Call(buffer, "replace", (stored,))

    def _get_messages(self, key: str) -> Plan[list[ChatMessage]]:
        buffer = self._store.buffer(check_key(key))
        if self.window is None and self.window_tokens is None:
            stored = yield Call(buffer, "get_msg")
            return [to_chat_message(message) for message in stored]
        converted: dict[str, ChatMessage] = {}
        counter = self._core_counter(converted) if self.window_tokens is not None else None
        window = {"max_messages": self.window, "max_tokens": self.window_tokens, "token_counter": counter}
        stored = yield Call(buffer, "get_window", (), window)
        return [converted.get(m.id or "") or to_chat_message(m) for m in stored]

    def _core_counter(self, converted: dict[str, ChatMessage]) -> Callable[[StoredMessage], int]:
        """The user's counter as the core's (it counts ChatMessages); keeps what it converted, so the
        window's messages are converted once."""
        user = self._token_counter
        if user is None:
            return approximate_tokens

        def count(message: StoredMessage) -> int:
            chat = converted[message.id or ""] = to_chat_message(message)
            return user(chat)

        return count

    def _add_message(self, key: str, message: ChatMessage, idx: int | None) -> Plan[None]:
        if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int)):
            raise ValidationError(f"idx must be an int or None, not {type(idx).__name__}")
        stored = to_memstore_message(message)
        buffer = self._store.buffer(check_key(key))
        if idx is None:
            yield Call(buffer, "add_msg", (stored,))
        else:
            # One transaction in the core (list.insert's rules); a read-then-replace here could drop a
            # message appended between the read and the write.
            yield Call(buffer, "insert_msg", (idx, stored))

    def _delete_messages(self, key: str) -> Plan[list[ChatMessage] | None]:
        buffer = self._store.buffer(check_key(key))
        stored = yield Call(buffer, "get_msg")
        deleted = [to_chat_message(message) for message in stored]
        try:
            yield Call(self._store.conversations, "delete_conversation", (key,))
        except NotFoundError:
            return None
        return deleted

    def _delete_message(self, key: str, idx: int) -> Plan[ChatMessage | None]:
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise ValidationError(f"idx must be an int, not {type(idx).__name__}")
        buffer = self._store.buffer(check_key(key))
        for _ in range(_RACE_RETRIES):
            # One indexed query for the message at idx: page idx+1 of size 1, or counted from the end.
            found: list[StoredMessage] = yield Call(buffer, "get_msg", ([idx + 1 if idx >= 0 else idx, 1],))
            if not found:
                if idx >= 0:
                    return None
                try:
                    yield Call(self._store.conversations, "get_conversation", (key,))
                except NotFoundError:
                    return None
                size = yield Call(buffer, "length")
                raise IndexError("pop from empty list" if size == 0 else "pop index out of range")
            deleted = to_chat_message(found[0])
            try:
                yield Call(buffer, "delete_msg", (found[0].id,))
            except NotFoundError:
                logger.debug("delete_message(%r, %d): deleted concurrently, looking again", key, idx)
                continue
            return deleted
        raise ConflictError(f"delete_message({key!r}, {idx}): the message there kept being deleted by others")

    def _get_keys(self) -> Plan[list[str]]:
        ids = yield from conversation_ids(self._store)
        return sorted(i for i in ids if not is_reserved(i))

    # -- BaseChatStore ------------------------------------------------------------------------------------

    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace the messages of ``key`` (creating it, even with ``[]``).

        One transaction: a concurrent reader sees the old list or the new one, and bad input (validated
        before the write) or a backend failure leaves the old list.
        """
        run_sync(self._set_messages(key, messages))

    def get_messages(self, key: str) -> list[ChatMessage]:
        """The messages of ``key``, oldest first (``[]`` for an unknown key); only the newest that fit
        ``window`` / ``window_tokens`` if set."""
        return run_sync(self._get_messages(key))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append one message to ``key`` (created if new); concurrent appenders never collide.

        With ``idx``, insert it before list index ``idx`` instead, as ``SimpleChatStore`` does
        (``list.insert``: negative counts from the end, out of range clamps), in one transaction; the
        messages after it are renumbered, so the cost grows with how many follow ``idx``.
        """
        run_sync(self._add_message(key, message, idx))

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete ``key`` and its messages; returns them, or None if the key does not exist.

        The delete itself is one transaction; a message appended between the read of the list and the
        delete is deleted without being returned.
        """
        return run_sync(self._delete_messages(key))

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete and return the message at list index ``idx`` (negative counts from the end), like
        ``SimpleChatStore``: None for an unknown key or ``idx >= len``; ``IndexError`` below ``-len``."""
        return run_sync(self._delete_message(key, idx))

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Delete and return the newest message; None for an unknown key, ``IndexError`` if it is empty."""
        return run_sync(self._delete_message(key, -1))

    def get_keys(self) -> list[str]:
        """Every key (conversation) in the store, sorted; the adapters' own (archives,
        memory blocks) excluded."""
        return run_sync(self._get_keys())

    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Async twin of :meth:`set_messages`."""
        await run_async(self._set_messages(key, messages))

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        """Async twin of :meth:`get_messages`."""
        return await run_async(self._get_messages(key))

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Async twin of :meth:`add_message`."""
        await run_async(self._add_message(key, message, idx))

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        """Async twin of :meth:`delete_messages`."""
        return await run_async(self._delete_messages(key))

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Async twin of :meth:`delete_message`."""
        return await run_async(self._delete_message(key, idx))

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        """Async twin of :meth:`delete_last_message`."""
        return await run_async(self._delete_message(key, -1))

    async def aget_keys(self) -> list[str]:
        """Async twin of :meth:`get_keys`."""
        return await run_async(self._get_keys())
