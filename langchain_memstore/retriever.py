"""``MemstoreMemoryRetriever``: a LangChain retriever over stored conversation history.

Recall is the core's :meth:`memstore.ConversationMemory.recall` (hybrid: dense similarity over the vector
layer fused with the database's keyword ranking); this module only maps LangChain's call to it and each
:class:`memstore.ScoredMessage` to a :class:`~langchain_core.documents.Document`:

==================  ==========================================================================
Document field      value
==================  ==========================================================================
``page_content``    the message text (:attr:`memstore.Message.text`: the str content, or its text parts)
``id``              the core message id
``metadata``        ``message_id``, ``session_id`` (the conversation id), ``role``, ``type``,
                    ``position``, ``created_at`` (ISO 8601, UTC), ``score`` (fused, in [0, 1])
==================  ==========================================================================

Only messages indexed for recall are found: those added through a :class:`memstore.ConversationMemory`
(``Memstore.memory(...).add``) on the same collection, through
:meth:`MemstoreMemoryRetriever.add_messages`, or by a ``MemstoreChatMessageHistory(..., recall=True)``. A
plain ``MemstoreChatMessageHistory`` writes to the buffer store only, so its messages are not indexed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from langchain_memstore.embeddings import LangChainEmbedder
from langchain_memstore.messages import to_memstore
from memstore import Memstore, Message, ValidationError
from memstore.memory import ConversationMemory, ScoredMessage
from memstore.memory.conversation import DEFAULT_COLLECTION
from memstore.validation import check_count

if TYPE_CHECKING:
    from memstore import Embedder

__all__ = ["MemstoreMemoryRetriever"]

# What a call may override (``retriever.invoke(query, k=3, roles="user")``); LangChain passes "verbose" too.
_CALL_OPTIONS = frozenset({"k", "session_id", "roles", "types", "since", "until", "min_score", "context"})
_IGNORED = frozenset({"verbose"})


def _document(hit: ScoredMessage) -> Document:
    message = hit.message
    return Document(
        page_content=message.text,
        id=message.id,
        metadata={
            "message_id": message.id,
            "session_id": message.conversation_id,
            "role": message.role,
            "type": message.type,
            "position": message.position,
            "created_at": None if message.created_at is None else message.created_at.isoformat(),
            "score": hit.score,
        },
    )


class MemstoreMemoryRetriever(StoreOwner, BaseRetriever):
    """Recall past messages by meaning and keywords, as LangChain ``Document`` objects (one per message).

    ::

        retriever = MemstoreMemoryRetriever("user-42", store=store, embedding=embeddings, k=4)
        retriever.add_messages([HumanMessage("I adopted a puppy named Biscuit")])
        retriever.invoke("what is my dog called?")            # [Document("I adopted a puppy ...")]
        retriever.invoke("dog", k=2, roles="user")            # any option can be overridden per call

    ``session_id`` limits recall to one session (a core conversation id, e.g. a
    ``MemstoreChatMessageHistory`` session); None searches every session, and only a retriever built with
    None may do so: on a retriever bound to a session, a call's ``session_id=None`` raises
    :class:`memstore.ValidationError` instead of widening the search. Filters: ``roles`` and ``types``
    (a name or a list, any of them; LangChain histories store ``user``/``assistant``/``system``/``tool``
    roles and ``human``/``ai``/... types), ``since`` (inclusive) and ``until`` (exclusive) on the message's
    ``created_at``, and ``min_score`` on the fused score in [0, 1]. ``context=n`` adds up to ``n``
    neighbouring turns around each hit (they count toward ``k``). Each of these, and ``k``, can be given
    per call as keyword arguments of ``invoke``/``ainvoke``; other names raise
    :class:`memstore.ValidationError`, as do hostile ids or values (checked when the retriever is built).

    ``embedding`` is a LangChain ``Embeddings`` or a memstore :class:`~memstore.Embedder`; None means the
    core's offline default (:func:`memstore.get_default_embedder`). Use the same embedder as whatever indexed
    the messages. ``store`` is a :class:`memstore.Memstore` (shared, never closed here), a SQL URL, or None
    for the embedded default; ``collection`` names the vector collection of the memory
    (:data:`memstore.memory.conversation.DEFAULT_COLLECTION` by default, shared with ``Memstore.memory()``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    session_id: str | None = None
    """The session (core conversation id) searched; None: every session."""
    k: int = Field(default=4, strict=True)
    """How many documents a call returns (at most)."""
    roles: str | list[str] | None = None
    types: str | list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    context: int = Field(default=0, strict=True)
    collection: str = DEFAULT_COLLECTION

    _store: Memstore = PrivateAttr()
    _owns_store: bool = PrivateAttr(default=False)
    _memory: ConversationMemory = PrivateAttr()

    def __init__(
        self,
        session_id: str | None = None,
        *,
        store: StoreArg = None,
        embedding: Embeddings | Embedder | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(session_id=session_id, **fields)
        embedder = LangChainEmbedder(embedding) if isinstance(embedding, Embeddings) else embedding
        self._store, self._owns_store = open_store(store)
        try:
            self._memory = self._store.memory(None, embedder=embedder, collection=self.collection)
            self._check()
        except BaseException:
            self.close()
            raise

    @property
    def memory(self) -> ConversationMemory:
        """The core memory recalled from (spanning every session; the session is a per-call filter)."""
        return self._memory

    def _options(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The recall arguments: this retriever's options, with a call's ``overrides``."""
        unknown = set(overrides) - _CALL_OPTIONS - _IGNORED
        if unknown:
            raise ValidationError(
                f"unknown retriever option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_CALL_OPTIONS))}"
            )
        if self.session_id is not None and "session_id" in overrides and overrides["session_id"] is None:
            # None means "every session": only a retriever built unscoped may search them all.
            raise ValidationError(
                f"this retriever is bound to session {self.session_id!r}: session_id=None (every session) "
                "needs a retriever built with session_id=None"
            )
        chosen = {name: overrides.get(name, getattr(self, name)) for name in _CALL_OPTIONS}
        chosen["conversation_ids"] = chosen.pop("session_id")
        return chosen

    def _check(self) -> None:
        """Raise ValidationError now for options the core would refuse at the first call."""
        check_count(self.k, "k", minimum=0)
        options = self._options({})
        options["k"] = 0  # recall checks every argument, then returns at once for k=0: no I/O
        self._memory.recall("check", **options)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return [_document(hit) for hit in self._memory.recall(query, **self._options(kwargs))]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return [_document(hit) for hit in await self._memory.arecall(query, **self._options(kwargs))]

    # -- filling the memory -------------------------------------------------------------------------------

    def _messages(self, messages: Sequence[BaseMessage], session_id: str | None) -> list[Message]:
        target = session_id if session_id is not None else self.session_id
        if target is None:
            raise ValidationError("add_messages needs a session_id (this retriever searches every session)")
        converted = []
        for index, message in enumerate(messages):
            try:
                core = to_memstore(message)
            except ValidationError as exc:
                raise ValidationError(f"message {index} of the batch: {exc}") from exc
            converted.append(dataclasses.replace(core, conversation_id=target))
        return converted

    def add_messages(self, messages: Sequence[BaseMessage], *, session_id: str | None = None) -> list[str]:
        """Store LangChain ``messages`` in ``session_id`` (default: this retriever's session) and index them
        for recall, in one transaction; returns their core message ids. Nothing is written on bad input."""
        return [m.id or "" for m in self._memory.add(self._messages(messages, session_id))]

    async def aadd_messages(
        self, messages: Sequence[BaseMessage], *, session_id: str | None = None
    ) -> list[str]:
        """Async twin of :meth:`add_messages`."""
        return [m.id or "" for m in await self._memory.aadd(self._messages(messages, session_id))]

    def __repr__(self) -> str:
        return f"MemstoreMemoryRetriever(session_id={self.session_id!r}, k={self.k!r}, store={self._store!r})"
