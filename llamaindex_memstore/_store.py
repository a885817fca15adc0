"""What every adapter class shares: opening the ``Memstore`` it runs on, and the rules for chat keys."""

from __future__ import annotations

from llamaindex_memstore._plan import Call, Plan
from memstore import Memstore, ValidationError

__all__ = [
    "ARCHIVE_PREFIX",
    "StoreArg",
    "archive_id",
    "check_key",
    "conversation_ids",
    "key_of",
    "open_store",
]

_PAGE = 500

StoreArg = Memstore | str | None
"""A ``Memstore`` to run on (the caller keeps owning it), a SQL URL, or None for the embedded default."""

ARCHIVE_PREFIX = "memstore:archive:"
"""Conversation ids starting with this hold the archived messages of ``MemstoreMemoryChatStore`` sessions.

Chat keys may not start with it, so an archive can never collide with a user's conversation, and
``get_keys`` leaves archives out.
"""


def open_store(store: StoreArg) -> tuple[Memstore, bool]:
    """The ``Memstore`` to use and whether the adapter created it (and so closes it)."""
    if store is None:
        return Memstore(), True
    if isinstance(store, str):
        return Memstore(store), True
    if isinstance(store, Memstore):
        return store, False
    raise ValidationError(f"store must be a memstore.Memstore, a SQL URL or None, not {type(store).__name__}")


def check_key(key: object) -> str:
    """A chat key as given, if it is a str outside the reserved archive namespace.

    The core checks the rest when the key is used as a conversation id (non-empty, no NUL, valid Unicode,
    at most 1024 UTF-8 bytes), raising :class:`memstore.ValidationError` before anything is written.
    """
    if not isinstance(key, str):
        raise ValidationError(f"chat store keys are str, not {type(key).__name__}")
    if key.startswith(ARCHIVE_PREFIX):
        raise ValidationError(f"chat store keys may not start with the reserved {ARCHIVE_PREFIX!r}")
    return key


def archive_id(key: str) -> str:
    """The conversation holding the archived messages of ``key``."""
    return ARCHIVE_PREFIX + key


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
