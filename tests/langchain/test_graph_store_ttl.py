"""MemstoreGraphStore TTL: expiry, refresh on read (refresh_ttl), default TTL, sweeping; on every backend.

The core KV store reads its clock through ``memstore.stores.kv.time``; most tests replace that with a manual
clock, so expiry is exact and instant. One test waits on the real clock, end to end.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, TypedDict

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import GetOp, Item, PutOp, SearchOp

import memstore.stores.kv as core_kv
from langchain_memstore import MemstoreGraphStore
from memstore import Memstore, ValidationError


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(core_kv, "time", fake)
    return fake


def _graph_store(store: Memstore, **kwargs: Any) -> MemstoreGraphStore:
    return MemstoreGraphStore(store=store, kv_namespace=f"ttl-{uuid.uuid4().hex}", **kwargs)


def _keys(store: MemstoreGraphStore, namespace: tuple[str, ...] = ("a",), **kwargs: Any) -> list[str]:
    return sorted(item.key for item in store.search(namespace, **kwargs))


def test_supports_ttl_and_items_expire(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore)
    assert store.supports_ttl is True
    store.put(("a",), "short", {"v": 1}, ttl=1)
    store.put(("a",), "long", {"v": 2}, ttl=10)
    store.put(("a",), "forever", {"v": 3})
    clock.advance(0.5)
    assert _keys(store, refresh_ttl=False) == ["forever", "long", "short"]
    clock.advance(0.6)  # 1.1 minutes after the put: "short" is gone from every read
    assert store.get(("a",), "short") is None
    assert _keys(store) == ["forever", "long"]
    assert store.list_namespaces() == [("a",)]
    clock.advance(60)
    assert _keys(store) == ["forever"]
    store.delete(("a",), "forever")
    assert store.list_namespaces() == []  # only expired items left: the namespace is not listed


def test_reads_refresh_the_ttl_unless_told_not_to(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore)
    store.put(("a",), "got", {"v": 1}, ttl=1)
    store.put(("a",), "searched", {"v": 2}, ttl=1)
    store.put(("a",), "peeked", {"v": 3}, ttl=1)
    clock.advance(0.8)
    assert store.get(("a",), "peeked", refresh_ttl=False) is not None  # read, not refreshed
    for _ in range(3):  # 2.4 minutes in all, each read within the minute: refreshed reads keep items alive
        assert store.get(("a",), "got") is not None
        assert [i.key for i in store.search(("a",), filter={"v": 2})] == ["searched"]
        clock.advance(0.8)
    assert store.get(("a",), "peeked", refresh_ttl=False) is None
    assert _keys(store, refresh_ttl=False) == ["got", "searched"]
    clock.advance(1.1)  # nothing read for more than the TTL
    assert _keys(store, refresh_ttl=False) == []


def test_search_refreshes_only_the_page_it_returns(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore)
    store.put(("a",), "old", {"v": 1}, ttl=1)
    clock.advance(0.01)
    store.put(("a",), "new", {"v": 2}, ttl=1)
    clock.advance(0.8)
    assert [i.key for i in store.search(("a",), limit=1)] == ["new"]  # most recently updated first
    clock.advance(0.5)
    assert _keys(store, refresh_ttl=False) == ["new"]


def test_refresh_keeps_updated_at_and_a_put_without_ttl_is_permanent(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore)
    store.put(("a",), "k", {"v": 1}, ttl=1)
    before = store.get(("a",), "k")
    clock.advance(0.9)
    after = store.get(("a",), "k")
    assert before is not None
    assert after is not None
    assert after.updated_at == before.updated_at
    store.put(("a",), "k", {"v": 2})  # overwritten without a TTL: never expires
    clock.advance(1000)
    item = store.get(("a",), "k")
    assert item is not None
    assert item.value == {"v": 2}
    store.put(("a",), "k", {"v": 3}, ttl=2)  # and a TTL again
    clock.advance(2.5)
    assert store.get(("a",), "k") is None


def test_default_ttl_and_refresh_on_read_config(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore, ttl={"default_ttl": 1, "refresh_on_read": False})
    store.put(("a",), "default", {"v": 1})
    store.put(("a",), "explicit", {"v": 2}, ttl=5)
    store.put(("a",), "none", {"v": 3}, ttl=None)  # an explicit None: never expires
    clock.advance(0.8)
    assert _keys(store) == ["default", "explicit", "none"]  # no refresh by default now
    assert store.get(("a",), "default") is not None
    clock.advance(0.3)
    assert _keys(store) == ["explicit", "none"]
    store.put(("a",), "refreshed", {"v": 4})
    clock.advance(0.8)
    assert store.get(("a",), "refreshed", refresh_ttl=True) is not None  # asked for explicitly
    clock.advance(0.8)
    assert "refreshed" in _keys(store)


def test_batch_ops_carry_their_own_ttl_and_reads_come_first(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore)
    store.batch([PutOp(("a",), "one", {"v": 1}, ttl=1), PutOp(("a",), "two", {"v": 2}, ttl=3)])
    clock.advance(0.9)
    # The get refreshes "one" to 1 minute, then the put in the same batch gives it 5.
    results = store.batch([GetOp(("a",), "one"), PutOp(("a",), "one", {"v": 10}, ttl=5)])
    first = results[0]
    assert isinstance(first, Item)
    assert first.value == {"v": 1}
    clock.advance(2.5)
    assert _keys(store, refresh_ttl=False) == ["one"]
    results = store.batch([SearchOp(("a",), refresh_ttl=False)])
    assert [i.key for i in results[0]] == ["one"]  # type: ignore[union-attr]


def test_sweep_deletes_expired_entries(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore)
    store.put(("a",), "gone", {"v": 1}, ttl=1)
    store.put(("b",), "gone-too", {"v": 1}, ttl=1)
    store.put(("a",), "kept", {"v": 2}, ttl=10)
    clock.advance(2)
    assert store.sweep_ttl() == 2
    assert store.sweep_ttl() == 0
    # Gone from the KV store itself, not just hidden: the core's raw keys show only the live item.
    assert mstore.kv.namespace_store(store.kv_namespace).keys() == ["a..kept"]


async def test_async_ttl(mstore: Memstore, clock: Clock) -> None:
    store = _graph_store(mstore)
    await store.aput(("a",), "k", {"v": 1}, ttl=1)
    clock.advance(0.9)
    assert await store.aget(("a",), "k") is not None  # refreshes
    clock.advance(0.9)
    assert [i.key for i in await store.asearch(("a",))] == ["k"]
    clock.advance(1.1)
    assert await store.aget(("a",), "k") is None
    assert await store.asweep_ttl() == 1


@pytest.mark.parametrize(
    "ttl",
    [0, -1, float("nan"), float("inf"), True, "5"],
)
def test_bad_ttls_write_nothing(mstore: Memstore, ttl: Any) -> None:
    store = _graph_store(mstore)
    with pytest.raises(ValidationError, match="ttl"):
        store.batch([PutOp(("a",), "ok", {"v": 1}), PutOp(("a",), "bad", {"v": 1}, ttl=ttl)])
    assert store.search(()) == []


@pytest.mark.parametrize(
    "config",
    [
        {"default_ttl": 0},
        {"sweep_interval_minutes": -1},
        {"refresh_on_read": "yes"},
        {"omit_expired": False},
        {"x": 1},
    ],
)
def test_bad_ttl_configs(config: Any) -> None:
    with pytest.raises(ValidationError):
        MemstoreGraphStore(store="memory://", ttl=config)


def test_background_sweeper_on_the_real_clock(sqlite_url: str) -> None:
    with Memstore(sqlite_url) as mstore:
        store = _graph_store(mstore, ttl={"sweep_interval_minutes": 0.002})  # every 0.12 s
        store.put(("a",), "brief", {"v": 1}, ttl=0.005)  # 0.3 s
        store.put(("a",), "kept", {"v": 2})
        future = store.start_ttl_sweeper()
        assert store.start_ttl_sweeper() is future
        raw = mstore.kv.namespace_store(store.kv_namespace)

        def stored_rows() -> list[str]:  # rows in the database, expired or not (reads skip expired ones)
            query = sa.text("SELECT key FROM memstore_kv WHERE namespace = :ns ORDER BY key")
            with mstore.database.engine.connect() as conn:
                return [row[0] for row in conn.execute(query, {"ns": store.kv_namespace})]

        assert stored_rows() == ["a..brief", "a..kept"]
        deadline = time.monotonic() + 10
        while stored_rows() != ["a..kept"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored_rows() == ["a..kept"]  # the sweeper thread deleted the expired row
        assert store.get(("a",), "brief") is None
        assert raw.purge_expired() == 0
        assert store.stop_ttl_sweeper(timeout=5) is True
        assert future.done()
        store.close()


class State(TypedDict):
    user: str
    said: str
    recalled: list[str]


@pytest.fixture
def graph_and_store(mstore: Memstore) -> tuple[Any, MemstoreGraphStore]:
    store = _graph_store(mstore, ttl={"default_ttl": 1})

    def remember(state: State, runtime: Runtime) -> dict[str, Any]:
        namespace = ("memories", state["user"])
        assert runtime.store is not None
        if state["said"]:
            runtime.store.put(namespace, uuid.uuid4().hex, {"text": state["said"]})
        return {"recalled": sorted(item.value["text"] for item in runtime.store.search(namespace))}

    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder.compile(checkpointer=InMemorySaver(), store=store), store


def test_compiled_graph_memories_expire(
    graph_and_store: tuple[Any, MemstoreGraphStore], clock: Clock
) -> None:
    graph, _ = graph_and_store
    graph.invoke({"user": "ada", "said": "likes tea", "recalled": []}, {"configurable": {"thread_id": "1"}})
    clock.advance(0.9)
    later = graph.invoke({"user": "ada", "said": "", "recalled": []}, {"configurable": {"thread_id": "2"}})
    assert later["recalled"] == ["likes tea"]  # and the search refreshed it
    clock.advance(0.9)
    later = graph.invoke({"user": "ada", "said": "", "recalled": []}, {"configurable": {"thread_id": "3"}})
    assert later["recalled"] == ["likes tea"]
    clock.advance(1.1)
    later = graph.invoke({"user": "ada", "said": "", "recalled": []}, {"configurable": {"thread_id": "4"}})
    assert later["recalled"] == []
