"""Contract regressions from issue #16: the LangGraph store's semantic search and filters.

Each test failed before its fix. The reference is LangGraph's own ``InMemoryStore`` given the same index
config and the same data: every item it finds, ours finds, with the same best cosine.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contract_helpers import SizelessEmbeddings, open_store
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore

import memstore.stores.kv as core_kv
from langchain_memstore import MemstoreGraphStore
from memstore import Memstore, ValidationError
from memstore.backends.chroma import ChromaVectorBackend


@pytest.fixture(params=["sqlite-chroma", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memstore]:
    yield from open_store(request.param, tmp_path)


# -- item 8a: semantic search finds every item InMemoryStore finds -----------------------------------------


DIMS = 64


def _index(**extra: Any) -> Any:
    return {"dims": DIMS, "embed": SizelessEmbeddings(DIMS), **extra}


def _graph(store: Memstore, **kwargs: Any) -> MemstoreGraphStore:
    return MemstoreGraphStore(store=store, kv_namespace=f"c-{uuid.uuid4().hex[:10]}", **kwargs)


def test_an_item_whose_best_vector_is_stale_is_still_found(
    store: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    monkeypatch.setattr(core_kv, "time", type("Clock", (), {"time": staticmethod(lambda: now[0])}))
    graph = _graph(store, index=_index())
    value = {"a": "green tea", "b": "black coffee"}
    graph.put(("m",), "k", value, index=["a"], ttl=1)
    now[0] += 120  # expired: the re-put below cannot see (nor delete) the "a" vector
    graph.put(("m",), "k", value, index=["b"])
    found = graph.search(("m",), query="green tea")
    assert [item.key for item in found] == ["k"]
    # Scored by the vector it lists ("b"), not by the stale one: as InMemoryStore scores a fresh put.
    reference = InMemoryStore(index=_index())
    reference.put(("m",), "k", value, index=["b"])
    assert found[0].score == pytest.approx(reference.search(("m",), query="green tea")[0].score, abs=1e-5)


def test_items_whose_vectors_are_gone_are_found_unscored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Memstore(url) as first:
        graph = MemstoreGraphStore(store=first, index=_index())
        graph.put(("m",), "tea", {"text": "green tea"})
        graph.put(("m",), "car", {"text": "a red car"})
    # The vector folder is lost (a new machine, a restore of the database alone): the items remain.
    with Memstore(url, vectors="memory") as moved:
        graph = MemstoreGraphStore(store=moved, index=_index())
        found = graph.search(("m",), query="green tea")
        assert sorted((item.key, item.score) for item in found) == [("car", None), ("tea", None)]


MIXED = [
    (("docs", "a"), "tea", {"text": "green tea in the morning", "kind": "k"}),
    (("docs", "a"), "car", {"text": "a red car", "kind": "k"}),
    (("docs", "b"), "no-text", {"title": "an item without the index field", "kind": "k"}),
    (("docs", "b"), "cat", {"text": "a cat called Turing", "kind": "other"}),
    (("docs", "b"), "tea2", {"text": "tea with milk"}),
    (("docs",), "empty", {}),
    (("docs",), "no-text2", {"body": "green tea", "kind": "k"}),
]


@pytest.fixture(params=["chroma", "sqlite", "postgresql", "memory"])
def vstore(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memstore]:
    if request.param == "chroma":
        opened = Memstore(f"sqlite:///{tmp_path / 'm.db'}")
    elif request.param == "memory":
        opened = Memstore("memory://")
    else:
        opened = Memstore(str(request.getfixturevalue(f"{request.param}_url")), vectors="sql")
    with opened:
        yield opened


def test_every_item_is_found_as_in_memory_store(vstore: Memstore) -> None:
    ours = _graph(vstore, index=_index(fields=["text"]))
    reference = InMemoryStore(index=_index(fields=["text"]))
    for s in (ours, reference):
        for namespace, key, value in MIXED:
            s.put(namespace, key, value)
        s.put(("docs", "a"), "car", {"text": "a fast red sports car", "kind": "k"})  # updated, same paths
    for query in ["green tea", "red car", "cat", "nothing shared"]:
        for filter_ in [None, {"kind": "k"}]:
            got = ours.search(("docs",), query=query, filter=filter_, limit=100)
            expected = reference.search(("docs",), query=query, filter=filter_, limit=100)
            assert {(i.namespace, i.key) for i in got} == {(i.namespace, i.key) for i in expected}
            theirs = {(i.namespace, i.key): i.score for i in expected}
            for item in got:
                want = theirs[(item.namespace, item.key)]
                assert (item.score is None) == (want is None), item.key
                if want is not None:
                    assert item.score == pytest.approx(want, abs=1e-5)
            scored = [i.score for i in got if i.score is not None]
            assert scored == sorted(scored, reverse=True)
            assert all(i.score is None for i in got[len(scored) :]), "unscored items come last"
            # Pages beyond the scored items walk the unscored ones: together they are the full list.
            walked = [
                (i.namespace, i.key, i.score)
                for offset in range(0, 9, 2)
                for i in ours.search(("docs",), query=query, filter=filter_, offset=offset, limit=2)
            ]
            assert walked == [(i.namespace, i.key, i.score) for i in got]


# -- item 8c: exact recall on embedded Chroma --------------------------------------------------------------


class TwoPoints(Embeddings):
    """``"query"`` is (1, 0, 0, 0); every other text is the one point (0.6, 0.8, 0, 0)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0, 0.0, 0.0] if text == "query" else [0.6, 0.8, 0.0, 0.0]


def test_a_duplicate_of_the_query_is_found_among_200_equal_vectors(tmp_path: Path) -> None:
    with Memstore(f"sqlite:///{tmp_path / 'm.db'}") as opened:
        assert isinstance(opened.vectors.backend, ChromaVectorBackend)
        graph = MemstoreGraphStore(store=opened, index={"dims": 4, "embed": TwoPoints(), "fields": ["text"]})
        # The duplicate goes in first, so Chroma's HNSW graph holds it (not its brute-force buffer).
        graph.put(("m",), "dup", {"text": "query"})
        graph.batch([PutOp(("m",), f"k{i:03}", {"text": "other"}) for i in range(200)])
        best = graph.search(("m",), query="query", limit=1)
        assert [(item.key, round(item.score or 0, 6)) for item in best] == [("dup", 1.0)]
        found = graph.search(("m",), query="query", limit=300)
        assert len(found) == 201
        assert found[0].key == "dup"


# -- item 8d: infinite range bounds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "keys"),
    [
        ({"$lt": math.inf}, {"one", "half"}),
        ({"$lte": math.inf}, {"one", "half"}),
        ({"$gt": -math.inf}, {"one", "half"}),
        ({"$gte": -math.inf, "$lt": 1}, {"half"}),
        ({"$gt": math.inf}, set()),
        ({"$lt": -math.inf}, set()),
    ],
)
def test_infinite_range_bounds_filter_like_in_memory_store(
    store: Memstore, condition: dict[str, float], keys: set[str]
) -> None:
    ours = _graph(store, index=_index())
    reference = InMemoryStore(index=_index())
    for s in (ours, reference):
        s.put(("m",), "one", {"n": 1, "text": "one"})
        s.put(("m",), "half", {"n": 0.5, "text": "half"})
    ours.put(("m",), "none", {"text": "no number"})  # InMemoryStore raises on it (float(None)); we skip it
    for query in (None, "one"):
        got = {i.key for i in ours.search(("m",), query=query, filter={"n": condition})}
        assert got == keys
        assert got == {i.key for i in reference.search(("m",), query=query, filter={"n": condition})}


def test_nan_bounds_are_still_rejected(store: Memstore) -> None:
    graph = _graph(store)
    with pytest.raises(ValidationError):
        graph.search(("m",), filter={"n": {"$lt": math.nan}})
