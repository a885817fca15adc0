"""Interleaved work on several conversations, KV namespaces, vector collections and conversation memories
(which share one vector collection and one keyword index) never crosses over."""

from __future__ import annotations

import uuid

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from memstore import DataField, HashingEmbedder, KeyField, Memstore, Message, RecordDefinition, VectorField

DEFINITION = RecordDefinition(
    KeyField("id"), VectorField("v", dimensions=2), [DataField("tenant", filterable=True)]
)

TENANTS = st.sampled_from([0, 1, 2])
KEYS = st.sampled_from(["a", "a_", "a%", "ab", "b", "shared"])
WORDS = st.sampled_from(["apple", "river", "apple river", "shared", "Apple%", "river_"])
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)


class IsolationMachine(RuleBasedStateMachine):
    memstore: Memstore

    @initialize()
    def start(self) -> None:
        run = uuid.uuid4().hex[:8]
        self.buffers = [self.memstore.buffer(f"{run}-{t}") for t in range(3)]
        self.kvs = [self.memstore.kv.namespace_store(f"{run}-{t}") for t in range(3)]
        self.messages: list[list[str]] = [[], [], []]
        self.entries: list[dict[str, str]] = [{}, {}, {}]
        self.collections = [self.memstore.vectors.get_collection(f"c{run}-{t}", DEFINITION) for t in range(3)]
        for collection in self.collections:
            collection.create()
        self.records: list[dict[str, float]] = [{}, {}, {}]
        embedder = HashingEmbedder(16)
        self.memories = [self.memstore.memory(f"{run}-m{t}", embedder=embedder) for t in range(3)]
        self.remembered: list[list[str]] = [[], [], []]

    @rule(tenant=TENANTS, texts=st.lists(TEXT, min_size=1, max_size=3))
    def append(self, tenant: int, texts: list[str]) -> None:
        self.buffers[tenant].add_msgs(Message(role="user", content=t, metadata={"t": tenant}) for t in texts)
        self.messages[tenant].extend(texts)

    @rule(tenant=TENANTS)
    def delete_newest(self, tenant: int) -> None:
        newest = self.buffers[tenant].latest()
        if newest is None:
            assert self.messages[tenant] == []
            return
        self.buffers[tenant].delete_msg(newest.id or "")
        self.messages[tenant].pop()

    @rule(tenant=TENANTS)
    def clear(self, tenant: int) -> None:
        assert self.buffers[tenant].clear() == len(self.messages[tenant])
        self.messages[tenant].clear()

    @rule(tenant=TENANTS, key=KEYS, value=TEXT)
    def kv_set(self, tenant: int, key: str, value: str) -> None:
        self.kvs[tenant].set(key, value)
        self.entries[tenant][key] = value

    @rule(tenant=TENANTS, prefix=st.sampled_from(["a", "a_", "a%", "", "s"]))
    def kv_delete_prefix(self, tenant: int, prefix: str) -> None:
        doomed = [k for k in self.entries[tenant] if k.startswith(prefix)]
        assert self.kvs[tenant].delete_by_prefix(prefix) == len(doomed)
        for key in doomed:
            del self.entries[tenant][key]

    @rule(tenant=TENANTS, key=KEYS)
    def kv_delete(self, tenant: int, key: str) -> None:
        assert self.kvs[tenant].delete(key) == (self.entries[tenant].pop(key, None) is not None)

    @rule(tenant=TENANTS, key=KEYS, weight=st.floats(0.1, 10))
    def vector_upsert(self, tenant: int, key: str, weight: float) -> None:
        self.collections[tenant].upsert({"id": key, "v": [weight, 1.0], "tenant": tenant})
        self.records[tenant][key] = weight

    @rule(tenant=TENANTS, key=KEYS)
    def vector_delete(self, tenant: int, key: str) -> None:
        self.collections[tenant].delete(key)
        self.records[tenant].pop(key, None)

    @rule(tenant=TENANTS, words=st.lists(WORDS, min_size=1, max_size=3))
    def remember(self, tenant: int, words: list[str]) -> None:
        texts = [f"{word} memo" for word in words]
        self.memories[tenant].add([Message(role="user", content=t, metadata={"t": tenant}) for t in texts])
        self.remembered[tenant].extend(texts)

    @rule(tenant=TENANTS)
    def forget(self, tenant: int) -> None:
        # Deleting a memory's messages through its buffer: recall must never return them again.
        conversation = self.memories[tenant].conversation_id or ""
        assert self.memstore.buffer(conversation).clear() == len(self.remembered[tenant])
        self.remembered[tenant].clear()

    @invariant()
    def each_tenant_sees_only_its_own(self) -> None:
        if not hasattr(self, "buffers"):
            return
        for tenant in range(3):
            found = self.buffers[tenant].get_msg()
            assert [m.content for m in found] == self.messages[tenant]
            assert {m.metadata["t"] for m in found} <= {tenant}
            assert self.buffers[tenant].length() == len(self.messages[tenant])
            assert self.buffers[tenant].get_msg(filter_meta={"t": (tenant + 1) % 3}) == []
            assert self.kvs[tenant].get_by_prefix("") == dict(sorted(self.entries[tenant].items()))
            hits = self.collections[tenant].search([1.0, 1.0], 10)
            assert sorted(h.record["id"] for h in hits) == sorted(self.records[tenant])
            assert {h.record["tenant"] for h in hits} <= {tenant}
            assert self.collections[tenant].count() == len(self.records[tenant])
            # "memo" is in every message of every memory: keyword search alone would find them all.
            recalled = self.memories[tenant].recall("memo", k=100)
            assert sorted(h.message.text for h in recalled) == sorted(self.remembered[tenant])
            assert {hit.message.metadata["t"] for hit in recalled} <= {tenant}
            assert (
                self.memories[tenant].recent(100)
                == self.memstore.buffer(self.memories[tenant].conversation_id or "").get_msg()
            )
            assert self.kvs[tenant].get_by_prefix("a") == {
                k: v for k, v in sorted(self.entries[tenant].items()) if k.startswith("a")
            }


def test_conversations_namespaces_and_collections_are_isolated(store_url: str) -> None:
    with Memstore(store_url, vectors="memory" if store_url == "memory://" else "sql") as memstore:
        machine = type("Machine", (IsolationMachine,), {"memstore": memstore})
        run_state_machine_as_test(
            machine, settings=settings(max_examples=100, stateful_step_count=20, deadline=None)
        )
