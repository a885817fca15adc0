"""``MemstoreMemoryBlock``: long-term recall for LlamaIndex ``Memory`` from memstore's ``ConversationMemory``.

``Memory`` keeps a token-limited FIFO queue; what leaves the queue is handed to its memory blocks
(``aput``), and before every answer each block is asked for content given the recent messages (``aget``).
This block stores what it is handed in a core :class:`memstore.ConversationMemory` and answers with a hybrid
recall (dense vectors and the database's own keyword index, fused): exact names, numbers and rare words are
found as well as paraphrases, which a vector-only block misses.

Where it keeps messages: the conversation ``conversation_id`` if given, else ``"memstore:recall:" +
session_id`` for the ``Memory`` session that calls it (so one block serves every session, each recalling
only its own). The ``memstore:recall:`` prefix is reserved: chat keys may not use it and the chat stores'
``get_keys`` never list it, so the block's copy never mixes with a session's queue or archive, even on the
same ``Memstore``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_validator
from llama_index.core.llms import ChatMessage, TextBlock
from llama_index.core.memory.memory import BaseMemoryBlock
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate, RichPromptTemplate

from llamaindex_memstore._store import StoreArg, StoreModel, check_key, recall_id
from llamaindex_memstore.embeddings import as_embedder
from llamaindex_memstore.messages import to_memstore_message
from memstore import Embedder, Message, ValidationError
from memstore.memory import ConversationMemory, ScoredMessage
from memstore.validation import check_count

__all__ = ["MemstoreMemoryBlock"]

_SESSION_KEY = "session_id"  # BaseMemoryBlock.aput writes the Memory session into additional_kwargs here


def _text(message: ChatMessage) -> str:
    return " ".join(block.text for block in message.blocks if isinstance(block, TextBlock) and block.text)


class MemstoreMemoryBlock(BaseMemoryBlock[str], StoreModel):
    """A ``Memory`` block that remembers flushed messages in memstore and recalls the relevant ones.

    ::

        memory = Memory.from_defaults(
            session_id="user-1",
            chat_store=MemstoreMemoryChatStore(store),
            token_limit=4000,
            memory_blocks=[MemstoreMemoryBlock(store, similarity_top_k=5)],
        )

    ``store`` is a ``memstore.Memstore`` (you keep owning it), a SQL URL, or None for the embedded default.
    ``embedder`` is a LlamaIndex ``BaseEmbedding``, a core ``memstore.Embedder``, or None for the core's
    offline model (``memstore-ai[embed]``). ``collection_name`` is the core vector collection (default: the
    core's, ``"memstore-memory"``); one collection holds vectors of one size, so give each embedder its own.

    Recall: the text of the last ``retrieval_context_window`` messages (``Memory`` passes its queue plus
    the new input) is the query; the ``similarity_top_k`` best messages of this block's conversation are
    returned, optionally only those with a role in ``roles`` and a fused score (0 to 1) of at least
    ``min_score``, each followed by up to ``context`` neighbouring turns. They are formatted best first as
    ``<message role='...'>text</message>`` lines through ``format_template`` (``{{ text }}``), as
    ``VectorMemoryBlock`` formats its content. Messages without text (images alone, bare tool calls) are not
    stored: there is nothing to recall them by.

    Writes are all or nothing: a batch is converted and validated before anything is stored; if indexing
    fails after the messages are stored, the core keeps them pending and indexes them on the next write.
    """

    name: str = Field(default="RecalledMessages", description="The name of the memory block.")
    conversation_id: str | None = Field(
        default=None,
        description="The conversation to remember in; None: 'memstore:recall:' + the Memory session id.",
    )
    similarity_top_k: int = Field(default=3, description="How many messages to recall.")
    retrieval_context_window: int = Field(
        default=2, description="How many of the latest messages make up the recall query."
    )
    roles: list[str] | None = Field(default=None, description="Recall only messages with these roles.")
    min_score: float | None = Field(default=None, description="Recall only hits with a fused score >= this.")
    context: int = Field(default=0, description="Neighbouring turns added after each recalled message.")
    collection_name: str | None = Field(default=None, description="The core vector collection.")
    format_template: BasePromptTemplate = Field(
        default=RichPromptTemplate("{{ text }}"), description="Formats the recalled messages ({{ text }})."
    )

    _memory: ConversationMemory = PrivateAttr()

    def __init__(
        self,
        store: StoreArg = None,
        *,
        embedder: Embedder | BaseEmbedding | None = None,
        conversation_id: str | None = None,
        similarity_top_k: int = 3,
        retrieval_context_window: int = 2,
        roles: list[str] | None = None,
        min_score: float | None = None,
        context: int = 0,
        collection_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_count(similarity_top_k, "similarity_top_k", minimum=1)
        check_count(retrieval_context_window, "retrieval_context_window", minimum=1)
        check_count(context, "context", minimum=0)
        if conversation_id is not None:
            check_key(conversation_id)
        given: object = roles  # typed list[str] | None, but callers pass anything
        if given is not None and (
            isinstance(given, str)
            or not isinstance(given, Iterable)
            or not all(isinstance(r, str) and r for r in given)
        ):
            raise ValidationError("roles must be a list of non-empty str")
        if min_score is not None and (isinstance(min_score, bool) or not isinstance(min_score, int | float)):
            raise ValidationError("min_score must be a number")
        super().__init__(
            conversation_id=conversation_id,
            similarity_top_k=similarity_top_k,
            retrieval_context_window=retrieval_context_window,
            roles=None if roles is None else list(roles),
            min_score=min_score,
            context=context,
            collection_name=collection_name,
            **kwargs,
        )
        self._attach_store(store)
        options: dict[str, Any] = {} if collection_name is None else {"collection": collection_name}
        try:
            if conversation_id is not None:
                self._store.buffer(conversation_id)  # the core checks the id (no I/O)
            self._memory = self._store.memory(None, embedder=as_embedder(embedder), **options)
        except Exception:
            self.close()
            raise

    @field_validator("format_template", mode="before")
    @classmethod
    def _template(cls, value: Any) -> Any:
        if isinstance(value, str):
            return RichPromptTemplate(value) if "{{" in value and "}}" in value else PromptTemplate(value)
        return value

    @classmethod
    def class_name(cls) -> str:
        return "MemstoreMemoryBlock"

    @property
    def memory(self) -> ConversationMemory:
        """The core ``ConversationMemory`` behind this block (for stats, retention, export)."""
        return self._memory

    def _conversation(self, session_id: object) -> str:
        if self.conversation_id is not None:
            return self.conversation_id
        if session_id is None:
            raise ValidationError(
                "MemstoreMemoryBlock needs a conversation_id, or a session_id from Memory (which passes one)"
            )
        if not isinstance(session_id, str):
            raise ValidationError(f"session_id must be a str, not {type(session_id).__name__}")
        return recall_id(session_id)

    async def _aget(
        self, messages: list[ChatMessage] | None = None, session_id: str | None = None, **block_kwargs: Any
    ) -> str:
        """The recalled messages relevant to the latest ``messages``, formatted; "" if none."""
        if not messages:
            return ""
        query = " ".join(text for text in map(_text, messages[-self.retrieval_context_window :]) if text)
        if not query.strip():
            return ""
        hits: list[ScoredMessage] = await self._memory.arecall(
            query,
            self.similarity_top_k,
            conversation_ids=[self._conversation(session_id)],
            roles=self.roles,
            min_score=self.min_score,
            context=self.context,
        )
        if not hits:
            return ""
        text = "\n".join(f"<message role='{hit.message.role}'>{hit.message.text}</message>" for hit in hits)
        return self.format_template.format(text=text)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Remember ``messages`` (converted and validated first, then stored and indexed)."""
        batch: list[Message] = []
        for message in messages:
            kwargs = dict(message.additional_kwargs)
            conversation = self._conversation(kwargs.pop(_SESSION_KEY, None))
            stored = to_memstore_message(message.model_copy(update={"additional_kwargs": kwargs}))
            if stored.text.strip():
                batch.append(stored.replace(conversation_id=conversation))
        if batch:
            await self._memory.aadd(batch)

    def __repr__(self) -> str:
        where = self.conversation_id or "memstore:recall:<session>"
        return f"MemstoreMemoryBlock({self._store!r}, name={self.name!r}, conversation={where!r})"
