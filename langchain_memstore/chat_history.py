"""``MemstoreChatMessageHistory``: LangChain's chat message history over a memstore conversation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage
from langchain_core.messages.utils import count_tokens_approximately

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from langchain_memstore.embeddings import LangChainEmbedder
from langchain_memstore.messages import from_memstore, to_memstore
from memstore import BufferStore, ConversationMemory, Embedder, Message, ValidationError
from memstore.validation import check_count

__all__ = ["MemstoreChatMessageHistory"]

TokenCounterArg = Callable[[list[BaseMessage]], int] | BaseLanguageModel  # type: ignore[type-arg]
"""What ``token_counter`` takes: LangChain's form (a function of a message list, as ``trim_messages`` takes),
or a chat model (its ``get_num_tokens_from_messages``)."""


class MemstoreChatMessageHistory(StoreOwner, BaseChatMessageHistory):
    """The messages of one chat session, kept in a memstore conversation (SQLite, PostgreSQL or memory).

    ``session_id`` is the core conversation id, so the same history is reachable as
    ``Memstore.buffer(session_id)`` with the core's filters and cursors. Any non-empty str of at most
    1024 UTF-8 bytes without NUL or lone surrogates works (quotes and SQL text are just text); anything else
    raises :class:`memstore.ValidationError` here, before anything is read or written.

    Messages map losslessly (see :mod:`langchain_memstore.messages` for the table): what
    :attr:`messages` returns equals what was added, tool calls, usage metadata and ids included.
    :meth:`add_messages` is one transaction: a batch with one unstorable message (say a ``bytes`` in
    ``additional_kwargs``) raises :class:`memstore.ValidationError` and writes nothing.

    ``window=k`` makes :attr:`messages` (and :meth:`aget_messages`) return only the last ``k`` messages,
    read with one indexed query of ``k`` rows: wrapped in ``RunnableWithMessageHistory``, a session of
    100k messages costs the same per turn as one of ``k``. ``window_tokens=n`` keeps the newest messages
    that fit ``n`` tokens as ``token_counter`` counts them (default: LangChain's offline
    ``count_tokens_approximately``; or a function of a message list, or a chat model), read backwards page
    by page until the budget is spent. Both can be combined. Either window never starts on a ``ToolMessage``
    and never splits an ``AIMessage``'s tool calls from their results (the whole group or none of it, so a
    window may hold fewer than ``k`` messages): chat models reject a tool result without its call.
    :meth:`get_last` reads the last ``k`` exactly, without a window. Note that LangChain deprecated this
    interface (removal in 2.0); for new code, LangGraph's
    persistence with :class:`langchain_memstore.MemstoreGraphStore` is the recommended path.

    ``recall=True`` also indexes every added message for recall (through :class:`memstore.ConversationMemory`
    on the shared memory collection, in the same call), so :class:`langchain_memstore.MemstoreMemoryRetriever`
    finds it; ``embedding`` (a LangChain ``Embeddings`` or a core embedder; default: the offline MiniLM) must
    be the retriever's. Without it the history is a plain buffer: the fastest append, nothing to recall.

    ``store`` is a :class:`memstore.Memstore` (shared, never closed here), a SQL URL, or None for the
    embedded default; a store built from a URL or None belongs to this object and :meth:`close` releases
    it. Every method has an async twin (``aget_messages``, ``aadd_messages``, ``aclear``, ``aget_last``)
    that runs the same core call off the event loop.
    """

    def __init__(
        self,
        session_id: str,
        *,
        store: StoreArg = None,
        window: int | None = None,
        window_tokens: int | None = None,
        token_counter: TokenCounterArg | None = None,
        recall: bool = False,
        embedding: Embeddings | Embedder | None = None,
    ) -> None:
        super().__init__()
        self.window = None if window is None else check_count(window, "window", minimum=1)
        """Only the last ``window`` messages are returned by :attr:`messages` (None: all of them)."""
        tokens = None if window_tokens is None else check_count(window_tokens, "window_tokens", minimum=1)
        self.window_tokens = tokens
        """:attr:`messages` returns only the newest messages within this many tokens (None: no limit)."""
        if token_counter is not None and window_tokens is None:
            raise ValidationError("token_counter= is for window_tokens= (the budget it counts against)")
        if isinstance(token_counter, BaseLanguageModel):
            token_counter = token_counter.get_num_tokens_from_messages
        elif token_counter is not None and not callable(token_counter):
            raise ValidationError("token_counter must be a function of a message list or a chat model")
        self._token_counter: Callable[[list[BaseMessage]], int] = token_counter or count_tokens_approximately
        if embedding is not None and not recall:
            raise ValidationError("embedding= is for recall=True (the messages it indexes)")
        self._store, self._owns_store = open_store(store)
        try:
            self._buffer: BufferStore = self._store.buffer(session_id)
            self._memory: ConversationMemory | None = None
            if recall:
                embedder = LangChainEmbedder(embedding) if isinstance(embedding, Embeddings) else embedding
                self._memory = self._store.memory(session_id, embedder=embedder)
        except BaseException:
            self.close()
            raise
        self.session_id = session_id

    # -- reads --------------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's messages, oldest first (only the newest that fit the windows, if set)."""
        if self.window is None and self.window_tokens is None:
            return _from_core(self._buffer.get_msg())
        converted: dict[str, BaseMessage] = {}
        stored = self._buffer.get_window(**self._window_args(converted))
        return [converted.get(m.id or "") or from_memstore(m) for m in stored]

    async def aget_messages(self) -> list[BaseMessage]:
        """Async twin of :attr:`messages`."""
        if self.window is None and self.window_tokens is None:
            return _from_core(await self._buffer.aget_msg())
        converted: dict[str, BaseMessage] = {}
        stored = await self._buffer.aget_window(**self._window_args(converted))
        return [converted.get(m.id or "") or from_memstore(m) for m in stored]

    def _window_args(self, converted: dict[str, BaseMessage]) -> dict[str, Any]:
        """The core ``get_window`` arguments; the token counter sees LangChain messages, and keeps each one it
        converted in ``converted`` so the window's messages are not converted twice."""
        counter = self._token_counter

        def count(message: Message) -> int:
            lc_message = converted[message.id or ""] = from_memstore(message)
            return counter([lc_message])

        return {
            "max_messages": self.window,
            "max_tokens": self.window_tokens,
            "token_counter": count if self.window_tokens is not None else None,
        }

    def get_last(self, k: int) -> list[BaseMessage]:
        """The last ``k`` messages, oldest first; reads only those ``k`` rows (``k=0`` gives [])."""
        return _from_core(self._buffer.get_msg(-check_count(k, "k", minimum=0)))

    async def aget_last(self, k: int) -> list[BaseMessage]:
        """Async twin of :meth:`get_last`."""
        return _from_core(await self._buffer.aget_msg(-check_count(k, "k", minimum=0)))

    # -- writes -------------------------------------------------------------------------------------------

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append ``messages`` in order, in one transaction (all or nothing); with ``recall=True`` also
        index them (see :meth:`memstore.ConversationMemory.add` for what happens if indexing fails)."""
        if self._memory is not None:
            self._memory.add(_to_core(messages))
        else:
            self._buffer.add_msgs(_to_core(messages))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async twin of :meth:`add_messages`."""
        if self._memory is not None:
            await self._memory.aadd(_to_core(messages))
        else:
            await self._buffer.aadd_msgs(_to_core(messages))

    def clear(self) -> None:
        """Delete every message of the session."""
        self._buffer.clear()

    async def aclear(self) -> None:
        """Async twin of :meth:`clear`."""
        await self._buffer.aclear()

    def __repr__(self) -> str:
        return (
            f"MemstoreChatMessageHistory(session_id={self.session_id!r}, window={self.window!r}, "
            f"window_tokens={self.window_tokens!r}, recall={self._memory is not None!r})"
        )


def _to_core(messages: Sequence[BaseMessage]) -> list[Message]:
    converted = []
    for index, message in enumerate(messages):
        try:
            converted.append(to_memstore(message))
        except ValidationError as exc:
            raise ValidationError(f"message {index} of the batch: {exc}") from exc
    return converted


def _from_core(messages: list[Message]) -> list[BaseMessage]:
    return [from_memstore(message) for message in messages]
