"""The one exception tree of memstore.

Every error the library raises on purpose is a :class:`MemstoreError`::

    MemstoreError
     ├── ValidationError   bad input, rejected before anything is written
     ├── NotFoundError     the thing named does not exist
     ├── ConflictError     the write contradicts what is stored (duplicate id, ...)
     │    └── StaleCollectionError  a vector collection was re-created with another definition
     ├── BackendError      the database or vector server failed; ``__cause__`` keeps the driver error
     └── UnsupportedOperation  this backend does not offer the operation (the message says what to use)

``ValidationError`` also derives from :class:`ValueError` and ``NotFoundError`` from :class:`KeyError`, so
callers written against the frameworks' conventions keep working.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ConflictError",
    "MemstoreError",
    "NotFoundError",
    "StaleCollectionError",
    "UnsupportedOperation",
    "ValidationError",
]


class MemstoreError(Exception):
    """Base class of every error memstore raises on purpose."""


class ValidationError(MemstoreError, ValueError):
    """Input was rejected before anything was written."""


class NotFoundError(MemstoreError, KeyError):
    """The conversation, message, collection or record named does not exist."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain sentence.
        return str(self.args[0]) if self.args else ""


class ConflictError(MemstoreError):
    """The write contradicts what is stored (for example a duplicate id)."""


class StaleCollectionError(ConflictError):
    """Raised by a vector backend when the collection under a name now has another definition than the spec it
    was handed (deleted and re-created elsewhere). ``VectorCollection`` reads the definition again and
    retries once; callers see a ConflictError only if their own definition no longer matches."""


class BackendError(MemstoreError):
    """A backend failed. ``backend`` and ``operation`` say where; ``__cause__`` is the driver error."""

    def __init__(self, message: str, *, backend: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.backend = backend
        self.operation = operation


class UnsupportedOperation(MemstoreError):
    """The operation does not exist on this backend (the message says what to use instead)."""
