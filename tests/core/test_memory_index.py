"""The MemoryIndex protocol on memory://, SQLite and PostgreSQL: one outbox and member set per store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from memstore import MEMORY_URL, Memstore, Message
from memstore.stores.memory_index import MemoryIndex

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url, vectors="memory" if store_url == MEMORY_URL else "sql") as opened:
        opened.memory_index.prepare()
        yield opened


def _messages(*texts: str, cid: str | None = None) -> list[Message]:
    return [
        Message(
            "user",
            text,
            created_at=T0 + timedelta(days=i),
            conversation_id=cid,
            id=None if cid is None else uuid.uuid4().hex,
        )
        for i, text in enumerate(texts)
    ]


def _append(index: MemoryIndex, collection: str, cid: str, *texts: str) -> list[str]:
    """``append_indexed`` takes messages as the buffer store prepares them: with ids and the conversation."""
    stored = index.append_indexed(collection, cid, _messages(*texts, cid=cid), T0)
    return [m.id or "" for m in stored]


def test_append_indexed_writes_members_keywords_and_outbox(store: Memstore) -> None:
    index = store.memory_index
    ids = _append(index, "a", "c1", "golden retriever puppy", "marathon in October")
    assert [m.text for m in store.buffer("c1").get_msg()] == ["golden retriever puppy", "marathon in October"]
    assert index.pending("a", 10) == sorted(ids)
    assert index.pending_count("a") == 2
    assert index.pending_count("b") == 0
    assert [key for key, _ in index.keyword_search("puppy", 5)] == [ids[0]]
    assert set(index.fetch([*ids, "missing"])) == set(ids)
    index.clear_pending("a", ids[:1])
    assert index.pending("a", 10) == [ids[1]]


def test_buffer_writes_are_not_members_until_marked(store: Memstore) -> None:
    index = store.memory_index
    store.buffer("c2").add_msgs(_messages("violin lessons on Tuesday"))
    assert index.keyword_search("violin", 5) == []
    index.mark_history("a", None)
    assert len(index.keyword_search("violin", 5)) == 1
    assert index.pending_count("a") == 1
    index.mark_history("a", None)  # already members: nothing twice
    assert index.pending_count("a") == 1


def test_delete_older_than_clears_every_collection(store: Memstore) -> None:
    index = store.memory_index
    ids = _append(index, "a", "c1", "old turn about violins", "new turn about violins")
    index.mark_history("b", None)  # members already: collection b's outbox stays empty
    assert index.pending_count("b") == 0
    other = _append(index, "b", "c2", "old violin turn in c2")
    index.reindex_all("c")  # every member waits in a third collection's outbox too
    assert set(index.delete_older_than(T0 + timedelta(hours=1), ["c1"])) == {ids[0]}
    assert index.pending("a", 10) == [ids[1]]
    assert index.pending("b", 10) == other
    assert index.pending("c", 10) == sorted([ids[1], *other])  # every collection's outbox, not one
    assert set(index.delete_older_than(T0 + timedelta(hours=1), None)) == set(other)
    assert index.pending_count("b") == 0
    assert {key for key, _ in index.keyword_search("violins violin", 10)} == {ids[1]}
    assert [group[:4] for group in index.stats(None)] == [("c1", "user", "text", 1)]


def test_forget_removes_conversations_and_their_rows(store: Memstore) -> None:
    index = store.memory_index
    ids = _append(index, "a", "c1", "golden retriever puppy")
    index.forget(["c1"], ids)
    assert store.conversations.list_conversation_ids("") == []
    assert index.pending_count("a") == 0
    assert index.keyword_search("puppy", 5) == []


def test_reindex_all_puts_every_member_back_in_the_outbox(store: Memstore) -> None:
    index = store.memory_index
    ids = _append(index, "a", "c1", "one", "two")
    index.clear_pending("a", ids)
    index.reindex_all("a")
    assert index.pending("a", 10) == sorted(ids)


def test_memory_stores_share_nothing_and_memories_of_one_store_share_the_index() -> None:
    with Memstore(MEMORY_URL) as first, Memstore(MEMORY_URL) as second:
        _append(first.memory_index, "a", "c1", "golden retriever puppy")
        assert second.memory_index.pending_count("a") == 0
        assert second.memory_index.keyword_search("puppy", 5) == []
        assert first.memory_index.pending_count("a") == 1
