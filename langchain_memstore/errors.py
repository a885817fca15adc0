"""The one error the adapters add to :mod:`memstore.errors`."""

from __future__ import annotations

from memstore import MemstoreError

__all__ = ["ForeignDataError"]


class ForeignDataError(MemstoreError, ValueError):
    """Stored data that an adapter cannot read back as the framework object it serves.

    Raised on reads of rows the adapter did not write: a chat message whose ``type`` is not a LangChain
    message type (a plain core ``text`` message, one written by another framework's adapter) or whose
    metadata lacks the LangChain fields; a LangGraph store entry that is not an item this adapter wrote.
    The message names what was read and what is wrong. Nothing is returned for the call that hit it.
    """
