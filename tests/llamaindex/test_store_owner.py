"""Every adapter class closes the Memstore it opened itself (from a URL or the default), never one passed
in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llamaindex_memstore import (
    MemstoreChatStore,
    MemstoreKVStore,
    MemstoreMemoryBlock,
    MemstoreMemoryChatStore,
    MemstoreVectorStore,
)
from memstore import HashingEmbedder, Memstore

ADAPTERS: dict[str, Callable[[Any], Any]] = {
    "chat_store": MemstoreChatStore,
    "memory_chat_store": MemstoreMemoryChatStore,
    "kv_store": MemstoreKVStore,
    "vector_store": MemstoreVectorStore,
    "memory_block": lambda store: MemstoreMemoryBlock(store, embedder=HashingEmbedder(8)),
}


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[Memstore]:
    """Every Memstore closed during the test, in order."""
    seen: list[Memstore] = []
    real_close = Memstore.close

    def spy(self: Memstore) -> None:
        seen.append(self)
        real_close(self)

    monkeypatch.setattr(Memstore, "close", spy)
    return seen


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("name", list(ADAPTERS))
def test_closes_only_what_it_opened(
    name: str, use_async: bool, tmp_path: Path, closed: list[Memstore]
) -> None:
    make = ADAPTERS[name]
    owned = make(f"sqlite:///{tmp_path / 'owned.db'}")
    assert isinstance(owned.store, Memstore)
    if use_async:
        asyncio.run(owned.aclose())
    else:
        owned.close()
    assert closed == [owned.store]
    with Memstore("memory://") as lent:
        borrowed = make(lent)
        assert borrowed.store is lent
        borrowed.close()
        assert closed == [owned.store]  # a store passed in stays open
    assert closed == [owned.store, lent]
