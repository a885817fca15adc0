"""MemstoreGraphStore against LangGraph's InMemoryStore, on memory, SQLite and PostgreSQL.

LangGraph ships no conformance suite for stores, so the reference is ``InMemoryStore``: the same operations
go to both and the results must agree. Where the two differ on purpose, a test below names the difference:

- search order: ours is most recently updated first (like LangGraph's PostgresStore); InMemoryStore's is
  insertion order. Searches are compared as sets, and our order is checked on its own.
- InMemoryStore keeps listing a namespace after its last item is deleted (and creates one on any ``get``);
  the database stores list only namespaces that hold items, and so do we.
- ``$gt``-style filters on a missing or non-numeric field raise in InMemoryStore; they match nothing here.
- ``created_at`` survives an overwrite here (as in PostgresStore); InMemoryStore resets it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, TypedDict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

from langchain_memstore import ForeignDataError, MemstoreGraphStore
from memstore import Memstore, ValidationError

Namespace = tuple[str, ...]


def _graph_store(store: Memstore) -> MemstoreGraphStore:
    return MemstoreGraphStore(store=store, kv_namespace=f"graph-{uuid.uuid4().hex}")


def _triples(items: list[SearchItem]) -> set[tuple[Namespace, str, str]]:
    return {(item.namespace, item.key, repr(sorted(item.value.items()))) for item in items}


def _forget_empty_namespaces(reference: InMemoryStore) -> None:
    # InMemoryStore keeps (and, on get, creates) empty namespaces; the database stores list only namespaces
    # that hold items. Drop its empty ones before comparing list_namespaces.
    for namespace in [ns for ns, items in reference._data.items() if not items]:
        del reference._data[namespace]


def _assert_search_order(items: list[SearchItem]) -> None:
    keys = [(-item.updated_at.timestamp(), item.namespace, item.key) for item in items]
    assert keys == sorted(keys)


# -- the model comparison -----------------------------------------------------------------------------------

_labels = st.sampled_from(["a", "b", "ü"])
_namespaces = st.lists(_labels, min_size=1, max_size=3).map(tuple)
_keys = st.sampled_from(["k", "k2", "x.y", "a..b", "", "."])
_values = st.fixed_dictionaries(
    {"n": st.integers(0, 4), "tag": st.sampled_from(["red", "blue"]), "flag": st.booleans()},
    optional={
        "nested": st.fixed_dictionaries({"x": st.integers(0, 2)}, optional={"y": st.just("z")}),
        "list": st.lists(st.integers(0, 1)),
    },
)
_writes = st.one_of(
    st.tuples(st.just("put"), _namespaces, _keys, _values),
    st.tuples(st.just("put"), _namespaces, _keys, _values),
    st.tuples(st.just("delete"), _namespaces, _keys),
    st.tuples(st.just("get"), _namespaces, _keys),
)

# Every read below runs after each program, so each program is checked against all of them.
FILTERS: list[dict[str, Any] | None] = [
    None,
    {"tag": "red"},
    {"tag": "green"},
    {"flag": True},
    {"flag": False, "tag": "blue"},
    {"nested": {"x": 1}},
    {"list": [0, 1]},
    {"list": []},
    *({"n": {op: n}} for op in ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"] for n in [-1, 2, 5]),
    {"n": {"$gt": 0, "$lte": 3}},
    {"n": 2},
]
PREFIXES: list[Namespace] = [(), ("a",), ("b",), ("a", "a"), ("ü", "b")]
PATTERNS: list[Namespace | None] = [None, ("a",), ("*",), ("a", "*"), ("*", "b"), ("b", "a")]


def _apply(store: MemstoreGraphStore, reference: InMemoryStore, op: tuple[Any, ...]) -> None:
    kind, *args = op
    if kind == "put":
        store.put(*args)
        reference.put(*args)
    elif kind == "delete":
        store.delete(*args)
        reference.delete(*args)
    else:
        mine, theirs = store.get(*args), reference.get(*args)
        assert (mine and (mine.namespace, mine.key, mine.value)) == (
            theirs and (theirs.namespace, theirs.key, theirs.value)
        )


def _compare_reads(store: MemstoreGraphStore, reference: InMemoryStore) -> None:
    for prefix in PREFIXES:
        for filter_ in FILTERS:
            everything = store.search(prefix, filter=filter_, limit=1000)
            _assert_search_order(everything)
            assert _triples(everything) == _triples(reference.search(prefix, filter=filter_, limit=1000)), (
                prefix,
                filter_,
            )
            assert store.search(prefix, filter=filter_, limit=2, offset=1) == everything[1:3]
    _forget_empty_namespaces(reference)
    for starts in PATTERNS:
        for ends in PATTERNS:
            for max_depth in [None, 1, 2]:
                options: dict[str, Any] = {"prefix": starts, "suffix": ends, "max_depth": max_depth}
                assert store.list_namespaces(**options) == reference.list_namespaces(**options), options
                assert store.list_namespaces(**options, limit=2, offset=1) == reference.list_namespaces(
                    **options, limit=2, offset=1
                )


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(_writes, min_size=1, max_size=20))
def test_agrees_with_in_memory_store(program: list[tuple[Any, ...]]) -> None:
    with MemstoreGraphStore(store="memory://") as store:
        reference = InMemoryStore()
        for op in program:
            _apply(store, reference, op)
        _compare_reads(store, reference)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(_writes, min_size=5, max_size=20))
def test_agrees_with_in_memory_store_on_sql(sql_store: Memstore, program: list[tuple[Any, ...]]) -> None:
    # The adapter's logic is the same on every backend; on SQL this checks the KV prefix scans and
    # orderings it relies on, so a few programs are enough.
    store, reference = _graph_store(sql_store), InMemoryStore()
    for op in program:
        _apply(store, reference, op)
    _compare_reads(store, reference)


def test_list_namespaces_example_from_langgraph_docs(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    for namespace in [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
    ]:
        store.put(namespace, "k", {"v": 1})
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a",), suffix=("*", "e")) == [("a", "b", "d", "e")]
    assert store.list_namespaces(max_depth=1) == [("a",)]
    assert store.list_namespaces(limit=2, offset=1) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]


# -- items, keys and timestamps -----------------------------------------------------------------------------


def test_put_get_overwrite_keeps_created_at(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    store.put(("users", "42"), "prefs", {"theme": "dark"})
    first = store.get(("users", "42"), "prefs")
    assert first is not None
    assert first.value == {"theme": "dark"}
    assert first.created_at == first.updated_at
    assert first.created_at.tzinfo is not None
    time.sleep(0.002)
    store.put(("users", "42"), "prefs", {"theme": "light"})
    second = store.get(("users", "42"), "prefs")
    assert second is not None
    assert second.value == {"theme": "light"}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    store.delete(("users", "42"), "prefs")
    assert store.get(("users", "42"), "prefs") is None
    store.put(("users", "42"), "prefs", {"theme": "new"})
    third = store.get(("users", "42"), "prefs")
    assert third is not None
    assert third.created_at > first.created_at


@pytest.mark.parametrize(
    ("namespace", "key"),
    [
        (("a",), "b..c"),
        (("a", "b"), "c"),
        (("a", "b", "c"), ""),
        (("ab",), "c"),
        (("a",), "bc"),
        (("a",), ".b"),
        (("a",), "b."),
        (("it's", '"q"', "%_\\"), "'; DROP TABLE memstore_kv; --"),
        (("ü", "🎉"), "ключ"),
    ],
)
def test_namespace_and_key_encoding_is_unambiguous(mstore: Memstore, namespace: Namespace, key: str) -> None:
    store = _graph_store(mstore)
    neighbours = [(("a",), "b..c"), (("a", "b"), "c"), (("a", "b", "c"), ""), (("ab",), "c"), (("a",), "bc")]
    for index, (ns, k) in enumerate(neighbours):
        store.put(ns, k, {"i": index})
    store.put(namespace, key, {"me": True})
    item = store.get(namespace, key)
    assert item is not None
    assert (item.namespace, item.key, item.value) == (namespace, key, {"me": True})
    found = {(i.namespace, i.key) for i in store.search((), limit=100)}
    assert found == {*neighbours, (namespace, key)}
    assert {(i.namespace, i.key) for i in store.search(("a",), limit=100)} == {
        (ns, k) for ns, k in found if ns[0] == "a"
    }


def test_search_orders_by_most_recent_update(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    for key in ["first", "second", "third"]:
        store.put(("docs",), key, {"k": key})
        time.sleep(0.002)
    store.put(("docs",), "first", {"k": "first, edited"})
    assert [item.key for item in store.search(("docs",))] == ["first", "third", "second"]
    assert [item.key for item in store.search(("docs",), limit=1, offset=1)] == ["third"]
    assert all(item.score is None for item in store.search(("docs",), query="semantic search is phase 2"))


def test_filters_follow_json_equality_and_never_raise_on_mismatched_types(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    store.put(("x",), "bool", {"v": True, "s": "2024-05-01"})
    store.put(("x",), "int", {"v": 1, "s": "2023-12-31"})
    store.put(("x",), "float", {"v": 1.0})
    store.put(("x",), "missing", {})
    assert {i.key for i in store.search(("x",), filter={"v": 1})} == {"int", "float"}
    assert {i.key for i in store.search(("x",), filter={"v": True})} == {"bool"}
    assert {i.key for i in store.search(("x",), filter={"v": {"$ne": 1}})} == {"bool", "missing"}
    assert {i.key for i in store.search(("x",), filter={"v": {"$gte": 1}})} == {"int", "float"}
    assert {i.key for i in store.search(("x",), filter={"s": {"$gt": "2024-01-01"}})} == {"bool"}
    assert {i.key for i in store.search(("x",), filter={"v": None})} == {"missing"}


def test_batch_reads_see_the_state_before_its_writes(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    store.put(("n",), "k", {"v": "old"})
    results = store.batch(
        [
            PutOp(("n",), "k", {"v": "new"}),
            GetOp(("n",), "k"),
            PutOp(("n",), "k", {"v": "newest"}),
            SearchOp(("n",)),
            PutOp(("m",), "k", {"v": 1}),
            ListNamespacesOp(),
            PutOp(("m",), "k", None),
        ]
    )
    assert results[0] is None
    assert isinstance(results[1], Item)
    assert results[1].value == {"v": "old"}
    assert [item.value for item in results[3]] == [{"v": "old"}]  # type: ignore[union-attr]
    assert results[5] == [("n",)]
    item = store.get(("n",), "k")
    assert item is not None
    assert item.value == {"v": "newest"}
    assert store.get(("m",), "k") is None


# -- bad input: raised before anything is written ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param({"when": object()}, ValidationError, id="object"),
        pytest.param({"blob": b"x"}, ValidationError, id="bytes"),
        pytest.param({"nan": float("nan")}, ValidationError, id="nan"),
        pytest.param({"deep": {1: "int key"}}, ValidationError, id="int-key"),
        pytest.param(["not", "a", "dict"], ValidationError, id="list"),
        pytest.param({"text": "lone \ud800"}, ValidationError, id="lone-surrogate"),
    ],
)
async def test_bad_value_writes_nothing_of_the_batch(
    mstore: Memstore, value: Any, error: type[Exception]
) -> None:
    store = _graph_store(mstore)
    store.put(("keep",), "me", {"v": 1})
    batch = [PutOp(("ok",), "a", {"v": 1}), PutOp(("keep",), "me", None), PutOp(("ok",), "b", value)]
    with pytest.raises(error):
        store.batch(batch)
    with pytest.raises(error):
        await store.abatch(batch)
    assert [(i.namespace, i.key) for i in store.search(())] == [(("keep",), "me")]


def test_bad_key_in_a_delete_writes_nothing(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    with pytest.raises(ValidationError):
        store.batch([PutOp(("ok",), "a", {"v": 1}), PutOp(("ok",), "x" * 2000, None)])
    with pytest.raises(ValidationError):
        store.batch([PutOp(("ok",), "a", {"v": 1}), PutOp(("ok",), "nul\x00", None)])
    assert store.search(()) == []


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(PutOp(("a.b",), "k", {"v": 1}), id="dot-in-label"),
        pytest.param(PutOp(("",), "k", {"v": 1}), id="empty-label"),
        pytest.param(PutOp((), "k", {"v": 1}), id="empty-namespace"),
        pytest.param(GetOp(("a", "b.c"), "k"), id="get-dot"),
        pytest.param(SearchOp(("a.",)), id="search-dot"),
        pytest.param(ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("x.y",)),)), id="list-dot"),
    ],
)
def test_invalid_namespaces_are_rejected(mstore: Memstore, op: Any) -> None:
    store = _graph_store(mstore)
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(("ok",), "a", {"v": 1}), op])
    assert store.search(()) == []


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(SearchOp(("a",), filter={"v": {"$regex": "x"}}), id="unknown-operator"),
        pytest.param(SearchOp(("a",), filter={"v": {"$gt": [1]}}), id="list-comparison"),
        pytest.param(SearchOp(("a",), filter={"v": {"$gt": None}}), id="none-comparison"),
        pytest.param(SearchOp(("a",), filter={"v": {"$eq": 1, "plain": 2}}), id="mixed-operators"),
        pytest.param(SearchOp(("a",), limit=-1), id="negative-limit"),
        pytest.param(SearchOp(("a",), offset=-1), id="negative-offset"),
        pytest.param(ListNamespacesOp(max_depth=0), id="zero-depth"),
        pytest.param(ListNamespacesOp(match_conditions=(MatchCondition("infix", ("a",)),)), id="infix"),  # type: ignore[arg-type]
        pytest.param("not an op", id="not-an-op"),
    ],
)
def test_bad_reads_are_validation_errors_and_write_nothing(mstore: Memstore, op: Any) -> None:
    store = _graph_store(mstore)
    with pytest.raises(ValidationError):
        store.batch([PutOp(("ok",), "a", {"v": 1}), op])
    assert store.search(()) == []


def test_foreign_entries_in_the_namespace_are_typed_errors(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    kv = mstore.kv.namespace_store(store.kv_namespace)
    kv.set("no-terminator", "{}")
    with pytest.raises(ForeignDataError, match="no-terminator"):
        store.list_namespaces()
    kv.delete("no-terminator")
    kv.set("a..k", "not json")
    with pytest.raises(ForeignDataError, match="not an item"):
        store.get(("a",), "k")
    kv.set("a..k", b'{"value": {}}')
    with pytest.raises(ForeignDataError):
        store.search(("a",))
    with pytest.raises(ForeignDataError):
        store.put(("a",), "k", {"overwrite": "refused"})


# -- async, persistence, graphs -----------------------------------------------------------------------------


async def test_async_api(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    await store.aput(("users", "1"), "a", {"n": 1})
    await store.aput(("users", "2"), "b", {"n": 2})
    item = await store.aget(("users", "1"), "a")
    assert item is not None
    assert item.value == {"n": 1}
    assert [i.key for i in await store.asearch(("users",), filter={"n": {"$gt": 1}})] == ["b"]
    assert await store.alist_namespaces(prefix=("users",)) == [("users", "1"), ("users", "2")]
    await store.adelete(("users", "1"), "a")
    assert await store.aget(("users", "1"), "a") is None


def test_items_survive_reopening_the_database(sql_url: str) -> None:
    with MemstoreGraphStore(store=sql_url) as store:
        store.put(("memories", "u1"), "m1", {"text": "likes tea"})
    with MemstoreGraphStore(store=sql_url) as reopened:
        item = reopened.get(("memories", "u1"), "m1")
        assert item is not None
        assert item.value == {"text": "likes tea"}


class _State(TypedDict):
    user: str
    said: str
    recalled: list[str]


def _remember(state: _State, runtime: Runtime[None]) -> dict[str, Any]:
    assert runtime.store is not None
    namespace = ("memories", state["user"])
    if state["said"]:
        runtime.store.put(namespace, uuid.uuid4().hex, {"text": state["said"]})
    return {"recalled": sorted(item.value["text"] for item in runtime.store.search(namespace, limit=50))}


def _graph_with(store: MemstoreGraphStore) -> Any:
    builder = StateGraph(_State)
    builder.add_node("remember", _remember)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder.compile(checkpointer=InMemorySaver(), store=store)


async def test_compiled_graph_shares_memories_across_threads(mstore: Memstore) -> None:
    store = _graph_store(mstore)
    graph = _graph_with(store)
    first = graph.invoke(
        {"user": "ada", "said": "likes tea", "recalled": []}, {"configurable": {"thread_id": "t1"}}
    )
    assert first["recalled"] == ["likes tea"]
    second = await graph.ainvoke(
        {"user": "ada", "said": "", "recalled": []}, {"configurable": {"thread_id": "t2"}}
    )
    assert second["recalled"] == ["likes tea"]
    other_user = graph.invoke(
        {"user": "bob", "said": "", "recalled": []}, {"configurable": {"thread_id": "t3"}}
    )
    assert other_user["recalled"] == []
    third = graph.invoke(
        {"user": "ada", "said": "hates coffee", "recalled": []}, {"configurable": {"thread_id": "t2"}}
    )
    assert third["recalled"] == ["hates coffee", "likes tea"]


def test_graph_memories_outlive_the_process_store(sql_url: str) -> None:
    with MemstoreGraphStore(store=sql_url) as store:
        _graph_with(store).invoke(
            {"user": "ada", "said": "likes tea", "recalled": []}, {"configurable": {"thread_id": "t1"}}
        )
    with MemstoreGraphStore(store=sql_url) as reopened:
        later = _graph_with(reopened).invoke(
            {"user": "ada", "said": "", "recalled": []}, {"configurable": {"thread_id": "new-thread"}}
        )
    assert later["recalled"] == ["likes tea"]
