"""What every adapter class shares: opening the ``Memstore`` it runs on, closing it, and the rules for chat
keys."""

from __future__ import annotations

from llama_index.core.bridge.pydantic import BaseModel, PrivateAttr

from llamaindex_memstore._plan import Call, Plan
from memstore import Memstore, StoreArg, ValidationError, open_store

__all__ = [
    "ARCHIVE_PREFIX",
    "RECALL_PREFIX",
    "StoreArg",
    "StoreModel",
    "StoreOwner",
    "archive_id",
    "check_key",
    "conversation_ids",
    "is_reserved",
    "key_of",
    "open_store",
    "recall_id",
]

_PAGE = 500

ARCHIVE_PREFIX = "memstore:archive:"
"""Conversation ids starting with this hold the archived messages of ``MemstoreMemoryChatStore`` sessions."""

RECALL_PREFIX = "memstore:recall:"
"""Conversation ids starting with this hold what ``MemstoreMemoryBlock`` remembers of a ``Memory`` session.

Chat keys may start with neither reserved prefix, so an archive or a block's memory can never collide with a
user's conversation, and ``get_keys`` leaves them out.
"""

_RESERVED = (ARCHIVE_PREFIX, RECALL_PREFIX)


class StoreOwner:
    """The ``store`` argument of every adapter class: which ``Memstore`` it runs on and who closes it.

    A ``Memstore`` passed in stays the caller's (never closed here); one opened from a URL or the default is
    the adapter's, and :meth:`close` releases it. Subclasses call :meth:`_attach_store` in their constructor.
    """

    _store: Memstore
    _owns_store: bool

    def _attach_store(self, store: StoreArg) -> None:
        self._store, self._owns_store = open_store(store)

    @property
    def store(self) -> Memstore:
        """The ``Memstore`` this object runs on."""
        return self._store

    def close(self) -> None:
        """Close the ``Memstore`` if this object opened it (from a URL or the default); else do nothing."""
        if self._owns_store:
            self._store.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close` (closing releases connections, it does not wait on I/O)."""
        self.close()


class StoreModel(StoreOwner, BaseModel):
    """:class:`StoreOwner` for LlamaIndex's pydantic classes (chat stores, vector store, memory block): the
    store is private state, never a field, so it is not serialised with the component."""

    _store: Memstore = PrivateAttr()
    _owns_store: bool = PrivateAttr(default=False)


def check_key(key: object) -> str:
    """A chat key as given, if it is a str outside the reserved namespaces.

    The core checks the rest when the key is used as a conversation id (non-empty, no NUL, valid Unicode,
    at most 1024 UTF-8 bytes), raising :class:`memstore.ValidationError` before anything is written.
    """
    if not isinstance(key, str):
        raise ValidationError(f"chat store keys are str, not {type(key).__name__}")
    for prefix in _RESERVED:
        if key.startswith(prefix):
            raise ValidationError(f"chat store keys may not start with the reserved {prefix!r}")
    return key


def is_reserved(conversation_id: str) -> bool:
    """True for the conversations the adapters keep for themselves (archives, memory blocks)."""
    return conversation_id.startswith(_RESERVED)


def archive_id(key: str) -> str:
    """The conversation holding the archived messages of ``key``."""
    return ARCHIVE_PREFIX + key


def recall_id(session_id: str) -> str:
    """The conversation in which ``MemstoreMemoryBlock`` keeps what it remembers of a ``Memory`` session."""
    return RECALL_PREFIX + session_id


def key_of(conversation_id: str) -> str:
    """The chat key a conversation belongs to: itself, or the key whose archive it is."""
    return conversation_id.removeprefix(ARCHIVE_PREFIX)


def conversation_ids(store: Memstore) -> Plan[set[str]]:
    """Every conversation id in the store, read page by page."""
    found: set[str] = set()
    cursor = None
    while True:
        page = yield Call(store.conversations, "get_conversations", (cursor, _PAGE))
        found.update(conversation.id for conversation in page)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor
