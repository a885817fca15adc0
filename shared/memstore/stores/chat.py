"""What the buffer store and the conversation manager share: the chat types and the ``ChatBackend`` protocol
(defined in :mod:`memstore.backends.base`, re-exported here) and the checks of titles and metadata."""

from __future__ import annotations

from typing import Any

from memstore._validate import check_json_object, check_text
from memstore.backends.base import ChatBackend, Conversation, MessageQuery, Platform

__all__ = ["ChatBackend", "Conversation", "MessageQuery", "Platform"]


def check_title(title: object) -> str | None:
    if title is None:
        return None
    return check_text(title, "title")


def check_metadata(metadata: object) -> dict[str, Any]:
    return {} if metadata is None else check_json_object(metadata, "metadata")
