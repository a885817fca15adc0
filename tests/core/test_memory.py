"""ConversationMemory on memory://, SQLite and PostgreSQL: add, recent, hybrid recall, filters, outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from memstore import (
    MEMORY_URL,
    BackendError,
    ConversationMemory,
    HashingEmbedder,
    Memstore,
    Message,
    ScoredMessage,
    ValidationError,
)
from memstore.stores.vectors import CollectionSpec, StoredRecord, VectorBackend, VectorStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url, vectors="memory" if store_url == MEMORY_URL else "sql") as opened:
        yield opened


def _memory(store: Memstore, conversation_id: str | None = "c1", **options: Any) -> ConversationMemory:
    return store.memory(conversation_id, embedder=HashingEmbedder(128), **options)


def _turns() -> list[Message]:
    texts = [
        ("user", "I adopted a golden retriever puppy named Biscuit", "text"),
        ("assistant", "Congratulations on the new puppy!", "text"),
        ("user", "My sister moved to Lisbon last spring", "text"),
        ("assistant", "Lisbon is lovely in spring", "text"),
        ("tool", "weather lookup: Lisbon 21C sunny", "tool_result"),
        ("user", "I am training for a marathon in October", "text"),
    ]
    return [
        Message(role, text, type=type_, metadata={"n": index}, created_at=T0 + timedelta(days=index))
        for index, (role, text, type_) in enumerate(texts)
    ]


def _texts(hits: Sequence[ScoredMessage]) -> list[str]:
    return [hit.message.text for hit in hits]


def test_add_recent_and_recall_keep_what_was_given(store: Memstore) -> None:
    memory = _memory(store)
    stored = memory.add(_turns())
    assert [m.position for m in stored] == list(range(6))
    assert all(m.conversation_id == "c1" and m.id for m in stored)
    recent = memory.recent(2)
    assert [m.text for m in recent] == [
        "weather lookup: Lisbon 21C sunny",
        "I am training for a marathon in October",
    ]
    assert recent[1].created_at == T0 + timedelta(days=5)
    assert recent[1].metadata == {"n": 5}
    hits = memory.recall("the puppy named Biscuit", k=3)
    assert hits[0].message.text == "I adopted a golden retriever puppy named Biscuit"
    assert hits[0].message.metadata == {"n": 0}
    assert hits[0].message.created_at == T0
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert memory.pending_count() == 0
    # The buffer store sees the same messages: it is the source of truth.
    assert [m.id for m in store.buffer("c1").get_msg()] == [m.id for m in stored]


def test_recall_filters(store: Memstore) -> None:
    memory = _memory(store)
    memory.add(_turns())
    # Keyword-only, no neighbour boost: exactly the messages holding the word (dense always returns its
    # nearest k, and the boost adds the turns around each hit).
    words = _memory(store, dense_weight=0.0, keyword_weight=1.0, neighbour_weight=0)
    lisbon = "Lisbon"
    assert set(_texts(words.recall(lisbon, k=10))) == {
        "My sister moved to Lisbon last spring",
        "Lisbon is lovely in spring",
        "weather lookup: Lisbon 21C sunny",
    }
    assert _texts(words.recall(lisbon, k=10, roles=["assistant"])) == ["Lisbon is lovely in spring"]
    assert _texts(words.recall(lisbon, k=10, types=["tool_result"])) == ["weather lookup: Lisbon 21C sunny"]
    in_range = words.recall(lisbon, k=10, since=T0 + timedelta(days=3), until=T0 + timedelta(days=4))
    assert _texts(in_range) == ["Lisbon is lovely in spring"]
    # Hybrid and dense-only: every hit passes the filters (they are pushed down to the vector layer too).
    for retriever in (memory, _memory(store, dense_weight=1.0, keyword_weight=0.0)):
        hits = retriever.recall(lisbon, k=10, roles=["assistant"])
        assert hits[0].message.text == "Lisbon is lovely in spring"
        assert {hit.message.role for hit in hits} == {"assistant"}
        assert {hit.message.type for hit in retriever.recall(lisbon, k=10, types="tool_result")} == {
            "tool_result"
        }
        since = T0 + timedelta(days=2)
        assert {hit.message.position for hit in retriever.recall("puppy", k=10, since=since)} == {2, 3, 4, 5}
        assert {hit.message.position for hit in retriever.recall("puppy", k=10, until=since)} == {0, 1}
        assert retriever.recall(lisbon, k=10, roles=["system"]) == []
    assert memory.recall(lisbon, k=0) == []
    assert len(memory.recall(lisbon, k=2)) == 2


def test_memory_spanning_conversations(store: Memstore) -> None:
    everywhere = _memory(store, None)
    with pytest.raises(ValidationError, match="conversation_id"):
        everywhere.add([Message("user", "no conversation given")])
    everywhere.add(
        [
            Message("user", "the blue notebook is in the drawer", conversation_id="a"),
            Message("user", "the red notebook is on the shelf", conversation_id="b"),
        ]
    )
    assert len(everywhere.recall("notebook", k=10)) == 2
    only_b = everywhere.recall("notebook", k=10, conversation_ids=["b"])
    assert _texts(only_b) == ["the red notebook is on the shelf"]
    assert [m.text for m in everywhere.recent(5)] == [
        "the blue notebook is in the drawer",
        "the red notebook is on the shelf",
    ]
    # A memory bound to one conversation never reads another, whatever the filter says.
    bound = _memory(store, "a")
    assert _texts(bound.recall("notebook", k=10)) == ["the blue notebook is in the drawer"]
    assert bound.recall("notebook", k=10, conversation_ids=["b"]) == []
    with pytest.raises(ValidationError):
        bound.add([Message("user", "elsewhere", conversation_id="b")])
    defaulted = _memory(store, None, default_conversation_id="d")
    assert defaulted.add(Message("user", "green notebook"))[0].conversation_id == "d"


def test_min_score_threshold(store: Memstore) -> None:
    memory = _memory(store)
    memory.add(_turns())
    everything = memory.recall("Lisbon spring sister", k=10)
    assert len(everything) >= 3
    cut = everything[1].score
    kept = memory.recall("Lisbon spring sister", k=10, min_score=cut)
    assert kept
    assert all(hit.score >= cut for hit in kept)
    assert len(kept) < len(everything)
    assert memory.recall("Lisbon spring sister", k=10, min_score=1.01) == []


def test_recency_decay_orders_equal_matches_newest_first(store: Memstore) -> None:
    memory = _memory(store, half_life_days=7)
    memory.add(
        [
            Message("user", "my favourite colour is teal", created_at=T0 + timedelta(days=30)),
            Message("user", "my favourite colour is teal", created_at=T0),
        ]
    )
    hits = memory.recall("favourite colour", k=2)
    assert [hit.message.created_at for hit in hits] == [T0 + timedelta(days=30), T0]
    assert hits[1].score == pytest.approx(hits[0].score * 0.5 ** (30 / 7))
    plain = _memory(store).recall("favourite colour", k=2)
    assert plain[0].score == pytest.approx(plain[1].score)


def test_context_turns(store: Memstore) -> None:
    memory = _memory(store, dense_weight=0.0, keyword_weight=1.0)
    memory.add(_turns())
    hits = memory.recall("Biscuit", k=2, context=1)
    assert _texts(hits) == [
        "I adopted a golden retriever puppy named Biscuit",
        "Congratulations on the new puppy!",
    ]
    assert hits[0].score == hits[1].score
    middle = memory.recall("sister moved", k=3, context=1)
    assert [hit.message.position for hit in middle] == [2, 1, 3]


def test_neighbour_boost_recalls_the_reply_next_to_a_match(store: Memstore) -> None:
    memory = _memory(store, dense_weight=0.0, keyword_weight=1.0)
    memory.add(_turns())
    # Only turn 0 holds "Biscuit"; turns 1 and 2 have no word in common with the query and rank on being
    # next to it (distance 1 before distance 2), then nothing else.
    hits = memory.recall("Biscuit", k=10)
    assert [hit.message.position for hit in hits] == [0, 1, 2]
    assert hits[0].score == pytest.approx(1 / 1.6)
    assert hits[1].score == pytest.approx(0.4 / 1.6)
    assert hits[2].score == pytest.approx(0.2 / 1.6)
    # The boost never adds a neighbour the filters exclude.
    assert [hit.message.position for hit in memory.recall("Biscuit", k=10, roles="user")] == [0, 2]
    assert [hit.message.position for hit in memory.recall("Biscuit", k=10, since=T0)] == [0, 1, 2]
    narrower = _memory(store, dense_weight=0.0, keyword_weight=1.0, neighbour_radius=1)
    assert [hit.message.position for hit in narrower.recall("Biscuit", k=10)] == [0, 1]
    off = _memory(store, dense_weight=0.0, keyword_weight=1.0, neighbour_weight=0)
    assert [(hit.message.position, hit.score) for hit in off.recall("Biscuit", k=10)] == [(0, 1.0)]
    with pytest.raises(ValidationError):
        _memory(store, neighbour_weight=-1)
    with pytest.raises(ValidationError):
        _memory(store, neighbour_radius=-1)


def test_recall_covers_only_what_a_memory_added(store: Memstore) -> None:
    # The same database holds a plain buffer conversation: neither retriever of a memory may return it, on
    # any backend (PostgreSQL's full-text index spans the whole messages table; SQLite's FTS5 rows and the
    # memory backend's member set are written by memories only).
    store.buffer("plain").add_msgs([Message("user", "the zebra crossing near the harbour")])
    memory = _memory(store, None, default_conversation_id="c1")
    memory.add([Message("user", "a zebra at the zoo")])
    for options in ({}, {"dense_weight": 0.0, "keyword_weight": 1.0}):
        hits = _memory(store, None, **options).recall("zebra crossing harbour", k=10)
        assert {hit.message.conversation_id for hit in hits} == {"c1"}
    assert _memory(store, "plain").recall("zebra crossing harbour", k=10) == []


def test_deleted_messages_are_never_recalled(store: Memstore) -> None:
    memory = _memory(store)
    stored = memory.add(_turns())
    store.buffer("c1").delete_msg(stored[0].id or "")
    assert "I adopted a golden retriever puppy named Biscuit" not in _texts(memory.recall("Biscuit puppy"))


def test_hostile_query_text_is_only_data(store: Memstore) -> None:
    memory = _memory(store)
    memory.add(_turns())
    for query in ['"Lisbon" OR NEAR(', "'; DROP TABLE memstore_messages; --", "a & b | !c :* (", "  "]:
        memory.recall(query, k=5)
    assert len(store.buffer("c1").get_msg()) == 6


class FlakyVectors:
    """A vector backend wrapper whose upserts fail while ``failing`` is set."""

    def __init__(self, inner: VectorBackend) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.failing = False

    def upsert(self, spec: CollectionSpec, records: Sequence[StoredRecord]) -> None:
        if self.failing:
            raise ConnectionError("vector backend down")
        self.inner.upsert(spec, records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_vector_failure_leaves_messages_pending_then_reindex(store: Memstore) -> None:
    flaky = FlakyVectors(store.vectors.backend)
    store._vectors = VectorStore(flaky)  # type: ignore[arg-type]
    # Dense only and no neighbour boost: a hit comes from the vector side alone.
    memory = _memory(store, dense_weight=1.0, keyword_weight=0.0, neighbour_weight=0)
    memory.add(_turns()[:2])
    flaky.failing = True
    with pytest.raises(BackendError, match="reindex"):
        memory.add(_turns()[2:])
    # Stored (the buffer is the source of truth) and pending, not silently lost.
    assert len(store.buffer("c1").get_msg()) == 6
    assert memory.pending_count() == 4
    assert "My sister moved to Lisbon last spring" not in _texts(memory.recall("sister Lisbon", k=10))
    with pytest.raises(BackendError):
        memory.reindex()
    assert memory.pending_count() == 4
    flaky.failing = False
    assert memory.reindex() == 4
    assert memory.pending_count() == 0
    assert memory.recall("My sister moved to Lisbon last spring", k=1)[0].message.text == (
        "My sister moved to Lisbon last spring"
    )
    assert memory.reindex() == 0


def test_next_add_flushes_pending(store: Memstore) -> None:
    flaky = FlakyVectors(store.vectors.backend)
    store._vectors = VectorStore(flaky)  # type: ignore[arg-type]
    memory = _memory(store, dense_weight=1.0, keyword_weight=0.0)
    flaky.failing = True
    with pytest.raises(BackendError):
        memory.add(_turns()[:3])
    flaky.failing = False
    memory.add(_turns()[3:])
    assert memory.pending_count() == 0
    assert len(memory.recall("anything at all", k=10)) == 6


def test_async_twins(store: Memstore) -> None:
    memory = _memory(store)

    async def run() -> list[ScoredMessage]:
        await memory.aadd(_turns())
        assert len(await memory.arecent(3)) == 3
        return await memory.arecall("marathon", k=1)

    assert _texts(asyncio.run(run())) == ["I am training for a marathon in October"]


def test_validation(store: Memstore) -> None:
    memory = _memory(store)
    with pytest.raises(ValidationError):
        memory.recall("x", k=-1)
    with pytest.raises(ValidationError):
        memory.recall("x", context=-1)
    with pytest.raises(ValidationError):
        memory.add(["not a message"])  # type: ignore[list-item]
    bad_options: list[dict[str, Any]] = [
        {"dense_weight": 0.0, "keyword_weight": 0.0},
        {"dense_weight": -1},
        {"dense_weight": "0.5"},
        {"keyword_weight": float("nan")},
        {"neighbour_weight": True},
        {"fusion": "bogus"},
        {"half_life_days": 0},
        {"half_life_days": "7"},
    ]
    for options in bad_options:
        with pytest.raises(ValidationError):
            _memory(store, **options)
    for days in (float("nan"), float("inf"), -1, "7"):
        with pytest.raises(ValidationError):
            memory.delete_older_than(days)  # type: ignore[arg-type]
    assert memory.delete_older_than(1e12) == 0  # further back than any date: nothing that old


def test_add_returns_messages_in_input_order_across_conversations(store: Memstore) -> None:
    everywhere = _memory(store, None)
    pairs = (("a", "a1"), ("b", "b1"), ("a", "a2"))
    batch = [Message("user", text, conversation_id=cid) for cid, text in pairs]
    assert [m.text for m in everywhere.add(batch)] == ["a1", "b1", "a2"]


def test_an_embedder_failing_on_the_query_is_a_backend_error(store: Memstore) -> None:
    class Failing(HashingEmbedder):
        def embed_query(self, text: str) -> list[float]:
            raise RuntimeError("embedding service unreachable")

    memory = store.memory("c1", embedder=Failing(64))
    memory.add([Message("user", "zebra stripes")])
    with pytest.raises(BackendError, match="embedding service unreachable") as caught:
        memory.recall("zebra")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_embedded_chroma(tmp_path: Path) -> None:
    pytest.importorskip("chromadb")
    with Memstore(f"sqlite:///{tmp_path}/m.db", vectors=f"chroma:///{tmp_path}/chroma") as store:
        memory = _memory(store, dense_weight=1.0, keyword_weight=0.0)
        memory.add(_turns())
        hits = memory.recall("Lisbon", k=10, roles=["assistant"], since=T0 + timedelta(days=1))
        assert _texts(hits)[0] == "Lisbon is lovely in spring"
        assert set(_texts(hits)) == {"Lisbon is lovely in spring", "Congratulations on the new puppy!"}
        assert _texts(memory.recall("Lisbon", k=10, roles=["assistant"], since=T0 + timedelta(days=2))) == [
            "Lisbon is lovely in spring"
        ]
        assert memory.recall("I am training for a marathon in October", k=1)[0].message.metadata == {"n": 5}


def test_recall_checks_hits_against_the_messages_as_they_are_now(store: Memstore) -> None:
    """A move or an edit made through the buffer is not in the index yet: recall must not return a message
    its filters no longer admit (another conversation, another role)."""
    memory = _memory(store, "private")
    stored = memory.add(
        [
            Message("user", "the secret password is swordfish"),
            Message("user", "my bank pin is 4242"),
            Message("assistant", "noted"),
        ]
    )
    store.buffer("private").move_oldest(1, "elsewhere")
    found = {hit.message.text for hit in memory.recall("secret password swordfish", k=5)}
    assert found == {"my bank pin is 4242", "noted"}, "the moved message stays out of this conversation"
    store.buffer("private").edit_msg(stored[1].id or "", role="assistant", content="[redacted]")
    assert memory.recall("bank pin", k=5, roles=["user"]) == []
    later = datetime.now(timezone.utc) + timedelta(days=1)
    store.buffer("private").edit_msg(stored[2].id or "", content="noted")  # created_at stays
    assert memory.recall("noted", k=5, since=later) == []


def test_the_neighbour_boost_never_brings_in_a_message_the_memory_did_not_index(store: Memstore) -> None:
    memory = _memory(store, "mixed")
    memory.add([Message("user", "we talked about zebras at the zoo")])
    store.buffer("mixed").add_msg(Message("assistant", "written through the buffer alone"))
    memory.add([Message("user", "later we talked about lions")])
    found = [hit.message.text for hit in memory.recall("zebras", k=5)]
    assert "written through the buffer alone" not in found
    assert found[0] == "we talked about zebras at the zoo"
