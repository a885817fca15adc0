"""MemstoreGraphStore(index=...): semantic search over memstore's vector layer, on every vector backend.

The reference is LangGraph's InMemoryStore with the same index config: the same puts and the same query
must rank the same items with the same cosine scores. The embedder is the core's deterministic bag-of-words
HashingEmbedder (texts sharing words are nearer), so rankings mean something and run offline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

import memstore.stores.kv as core_kv
from langchain_memstore import MemstoreEmbeddings, MemstoreGraphStore
from memstore import HashingEmbedder, Memstore, ValidationError, VectorCollection, VectorStore

DIMS = 128


def _index(**extra: Any) -> Any:
    return {"dims": DIMS, "embed": MemstoreEmbeddings(HashingEmbedder(DIMS)), **extra}


@pytest.fixture(params=["chroma", "sqlite", "postgresql", "memory"])
def vstore(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memstore]:
    """A Memstore whose vectors live on embedded Chroma (the default on SQLite), SQL, or memory."""
    if request.param == "chroma":
        store = Memstore(f"sqlite:///{tmp_path / 'm.db'}")
    elif request.param == "memory":
        store = Memstore("memory://")
    else:
        store = Memstore(str(request.getfixturevalue(f"{request.param}_url")), vectors="sql")
    with store:
        yield store


def _graph_store(store: Memstore, **kwargs: Any) -> MemstoreGraphStore:
    return MemstoreGraphStore(store=store, kv_namespace=f"idx-{uuid.uuid4().hex[:12]}", **kwargs)


MEMORIES = [
    (("memories", "ada"), "tea", {"text": "Ada likes green tea in the morning", "kind": "pref"}),
    (("memories", "ada"), "cat", {"text": "Ada has a cat called Turing", "kind": "fact"}),
    (("memories", "ada"), "job", {"text": "Ada works as a compiler engineer", "kind": "fact"}),
    (("memories", "bob"), "tea", {"text": "Bob hates tea and drinks coffee", "kind": "pref"}),
    (("memories", "bob"), "car", {"text": "Bob drives an old red car", "kind": "fact"}),
]


def _fill(*stores: BaseStore, **put: Any) -> None:
    for store in stores:
        for namespace, key, value in MEMORIES:
            store.put(namespace, key, value, **put)


def _ranked(items: list[Any]) -> list[tuple[tuple[str, ...], str, float | None]]:
    return [(item.namespace, item.key, item.score) for item in items]


@pytest.mark.parametrize(
    ("prefix", "query", "kwargs"),
    [
        (("memories",), "what tea does Ada like", {}),
        (("memories", "ada"), "what tea does Ada like", {}),
        (("memories",), "a red car", {"limit": 2}),
        (("memories",), "Ada cat", {"offset": 1, "limit": 2}),
        (("memories",), "tea", {"filter": {"kind": "pref"}}),
        (("memories",), "compiler engineer", {"filter": {"kind": "fact"}, "limit": 1}),
    ],
)
def test_ranks_like_in_memory_store(
    vstore: Memstore, prefix: tuple[str, ...], query: str, kwargs: dict[str, Any]
) -> None:
    ours = _graph_store(vstore, index=_index(fields=["text"]))
    reference = InMemoryStore(index=_index(fields=["text"]))
    _fill(ours, reference)
    got = ours.search(prefix, query=query, **kwargs)
    expected = reference.search(prefix, query=query, **kwargs)
    assert [(i.namespace, i.key) for i in got] == [(i.namespace, i.key) for i in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.score == pytest.approx(theirs.score, abs=1e-4)
        assert mine.value == theirs.value
    assert got, "every case above finds something"


def test_query_picks_the_right_memory_and_respects_the_namespace(vstore: Memstore) -> None:
    store = _graph_store(vstore, index=_index(fields=["text"]))
    _fill(store)
    best = store.search(("memories", "ada"), query="who has a cat called Turing", limit=1)
    assert [(i.key, i.namespace) for i in best] == [("cat", ("memories", "ada"))]
    assert best[0].score is not None
    assert best[0].score > 0.5
    bob = store.search(("memories", "bob"), query="Ada likes green tea in the morning")
    assert {i.namespace for i in bob} == {("memories", "bob")}
    assert store.search(("nobody",), query="tea") == []
    # Without a query the store searches as before: most recently updated first, no scores.
    plain = store.search(("memories", "ada"))
    assert [i.key for i in plain] == ["job", "cat", "tea"]
    assert all(i.score is None for i in plain)


def test_overwrite_delete_and_index_false(vstore: Memstore) -> None:
    store = _graph_store(vstore, index=_index(fields=["text"]))
    _fill(store)
    ns = ("memories", "ada")
    assert store.search(ns, query="green tea morning", limit=1)[0].key == "tea"
    store.put(ns, "tea", {"text": "Ada now prefers espresso", "kind": "pref"})
    # The old text's vector is gone: "green tea" no longer finds "tea" first with its old score.
    top = store.search(ns, query="Ada now prefers espresso", limit=1)
    assert top[0].key == "tea"
    assert top[0].score == pytest.approx(1.0, abs=1e-4)
    assert store.search(ns, query="green tea morning", limit=1)[0].score < 0.9  # type: ignore[operator]
    store.delete(ns, "cat")
    assert "cat" not in [i.key for i in store.search(ns, query="cat called Turing")]
    # index=False: stored, searchable without a query, unscored after the scored items with one.
    store.put(ns, "secret", {"text": "Ada has a cat called Turing"}, index=False)
    found = store.search(ns, query="cat called Turing")
    assert [i.key for i in found][-1] == "secret"
    assert found[-1].score is None
    assert all(i.score is not None for i in found[:-1])
    # Re-putting the item with vectors makes it scored again (and the best match).
    store.put(ns, "secret", {"text": "Ada has a cat called Turing"})
    assert store.search(ns, query="cat called Turing", limit=1)[0].key == "secret"


def test_fields_per_put_and_list_paths(vstore: Memstore) -> None:
    store = _graph_store(vstore, index=_index(fields=["title"]))
    reference = InMemoryStore(index=_index(fields=["title"]))
    for s in (store, reference):
        s.put(("docs",), "a", {"title": "apples and pears", "body": "rockets and orbit"})
        s.put(("docs",), "b", {"title": "rockets", "body": "apples"}, index=["body"])
        s.put(("docs",), "c", {"title": "x", "tags": ["moon landing", "apples orchard"]}, index=["tags[*]"])
    for query in ["apples", "pears", "moon landing", "rockets"]:
        got = store.search(("docs",), query=query)
        expected = reference.search(("docs",), query=query)
        assert {i.key for i in got} == {i.key for i in expected} == {"a", "b", "c"}

        def matched(items: list[Any]) -> list[tuple[str, float]]:
            # Items sharing no word with the query tie near 0, where backends may order them differently.
            return [(i.key, round(i.score, 4)) for i in items if i.score is not None and i.score > 0.05]

        assert matched(got) == matched(expected)
        # "rockets" is only in texts that were not embedded (b's title, a's body): nothing matches it.
        assert bool(matched(got)) is (query != "rockets"), query
    assert store.search(("docs",), query="moon landing", limit=1)[0].key == "c"  # max over the tag vectors


def test_expired_items_are_not_found_by_query(vstore: Memstore, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [time.time()]
    monkeypatch.setattr(core_kv, "time", type("Clock", (), {"time": staticmethod(lambda: now[0])}))
    store = _graph_store(vstore, index=_index(fields=["text"]))
    store.put(("m",), "brief", {"text": "green tea"}, ttl=1)
    store.put(("m",), "kept", {"text": "black tea"})
    assert {i.key for i in store.search(("m",), query="green tea")} == {"brief", "kept"}
    now[0] += 120
    assert [i.key for i in store.search(("m",), query="green tea")] == ["kept"]


async def test_async_and_batches(vstore: Memstore) -> None:
    store = _graph_store(vstore, index=_index(fields=["text"]))
    await store.abatch([PutOp(ns, key, value) for ns, key, value in MEMORIES])
    found = await store.asearch(("memories",), query="Bob drives a red car", limit=1)
    assert [(i.namespace, i.key) for i in found] == [(("memories", "bob"), "car")]
    # Two queries in one batch, reads before the batch's writes.
    results = store.batch(
        [
            SearchOp(("memories",), query="compiler engineer", limit=1),
            SearchOp(("memories",), query="coffee", limit=1),
            PutOp(("memories", "bob"), "tea", None),
        ]
    )
    assert [[i.key for i in r] for r in results[:2]] == [["job"], ["tea"]]  # type: ignore[union-attr]
    assert all(
        i.key != "tea" or i.namespace != ("memories", "bob")
        for i in store.search(("memories",), query="coffee")
    )


@pytest.mark.parametrize(
    "index",
    [
        {"dims": 0, "embed": MemstoreEmbeddings(HashingEmbedder(8))},
        {"embed": MemstoreEmbeddings(HashingEmbedder(8))},
        {"dims": 8},
        {"dims": 8, "embed": MemstoreEmbeddings(HashingEmbedder(8)), "fields": "text"},
        {"dims": 8, "embed": MemstoreEmbeddings(HashingEmbedder(8)), "other": 1},
    ],
)
def test_bad_index_configs(index: Any) -> None:
    with pytest.raises(ValidationError):
        MemstoreGraphStore(store="memory://", index=index)


def test_wrong_dims_write_nothing(vstore: Memstore) -> None:
    store = _graph_store(vstore, index={"dims": 16, "embed": MemstoreEmbeddings(HashingEmbedder(8))})
    with pytest.raises(ValidationError):
        store.put(("a",), "k", {"text": "x"})
    assert store.search(("a",)) == []


class State(TypedDict):
    user: str
    question: str
    answer: str


def test_compiled_graph_searches_memories_by_meaning(vstore: Memstore) -> None:
    store = _graph_store(vstore, index=_index(fields=["text"]))
    _fill(store)

    def recall(state: State, runtime: Runtime) -> dict[str, Any]:
        assert runtime.store is not None
        hits = runtime.store.search(("memories", state["user"]), query=state["question"], limit=1)
        return {"answer": hits[0].value["text"] if hits else ""}

    builder = StateGraph(State)
    builder.add_node("recall", recall)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", END)
    graph = builder.compile(checkpointer=InMemorySaver(), store=store)
    config: Any = {"configurable": {"thread_id": "1"}}
    out = graph.invoke({"user": "ada", "question": "what does Ada do for work", "answer": ""}, config)
    assert out["answer"] == "Ada works as a compiler engineer"
    out = graph.invoke({"user": "bob", "question": "what does Bob drink", "answer": ""}, config)
    assert out["answer"] == "Bob hates tea and drinks coffee"


def _index_collection(vstore: Memstore, store: MemstoreGraphStore) -> Any:
    return VectorStore(vstore.vectors.backend, names="sanitize").get_collection(f"{store.kv_namespace}.index")


def test_vectors_follow_their_items(vstore: Memstore) -> None:
    store = _graph_store(vstore, index=_index(fields=["text", "tags[*]"]))
    vectors = _index_collection(vstore, store)
    _fill(store)
    assert vectors.count() == 5  # one "text" each, no tags
    store.put(("memories", "ada"), "tea", {"text": "tea", "tags": ["green", "hot"]})
    assert vectors.count() == 7  # text + tags[*].0 + tags[*].1
    store.put(("memories", "ada"), "tea", {"text": "tea"})
    assert vectors.count() == 5  # the tag vectors went with the tags
    store.delete(("memories", "ada"), "cat")
    assert vectors.count() == 4
    store.put(("memories", "ada"), "job", {"text": "still a compiler engineer"}, index=False)
    assert vectors.count() == 3
    store.batch([PutOp(("memories", "bob"), key, None) for key in ("tea", "car")])
    assert vectors.count() == 1
    assert [i.key for i in store.search(("memories",), query="tea", limit=1)] == ["tea"]


def test_a_vector_its_item_no_longer_lists_never_matches(
    vstore: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _graph_store(vstore, index=_index(fields=["text"]))
    store.put(("m",), "k", {"text": "green tea"})

    def fail(self: Any, keys: Any) -> None:
        raise RuntimeError("vector backend away")

    # The item is rewritten without vectors but removing its old vector fails: the item is the truth.
    monkeypatch.setattr(VectorCollection, "delete_batch", fail)
    with pytest.raises(RuntimeError, match="away"):
        store.put(("m",), "k", {"text": "green tea"}, index=False)
    assert _index_collection(vstore, store).count() == 1  # the stale vector is still there
    found = store.search(("m",), query="green tea")
    assert [(i.key, i.score) for i in found] == [("k", None)]  # found unscored, not through the stale vector
