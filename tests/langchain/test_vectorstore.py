"""MemstoreVectorStore beyond the standard suite: filters, scores, MMR, persistence, ownership, errors.

Runs on embedded Chroma (the default backend), SQL vectors on SQLite and PostgreSQL, and memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from langchain_memstore import LangChainEmbedder, MemstoreEmbeddings, MemstoreVectorStore
from langchain_memstore.vectorstore import translate_filter
from memstore import ConflictError, HashingEmbedder, Memstore, ValidationError
from memstore.filters import Eq, In, Not, Range


class TableEmbeddings(Embeddings):
    """Fixed vectors per text (unknown texts raise), so scores are known exactly."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(self.table[text]) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return list(self.table[text])


@pytest.fixture(params=["chroma", "sqlite", "postgresql", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memstore]:
    """A fresh Memstore whose vectors live on each backend in turn."""
    if request.param == "chroma":
        store = Memstore(f"sqlite:///{tmp_path / 'm.db'}", vectors=f"chroma:///{tmp_path / 'chroma'}")
    elif request.param == "memory":
        store = Memstore("memory://", vectors="memory")
    else:
        store = Memstore(str(request.getfixturevalue(f"{request.param}_url")), vectors="sql")
    with store:
        yield store


DOCS = [
    Document("alpha", metadata={"source": "a", "year": 2020, "author": {"name": "ann"}}, id="1"),
    Document("beta", metadata={"source": "b", "year": 2021, "draft": True}, id="2"),
    Document("gamma", metadata={"source": "a", "year": 2022, "author": {"name": "bob"}}, id="3"),
    Document("delta", metadata={"year": 2023.5}, id="4"),
    Document("epsilon", metadata={}, id="5"),
]


@pytest.fixture
def filled(backend: Memstore) -> MemstoreVectorStore:
    vs = MemstoreVectorStore("filters", DeterministicFakeEmbedding(size=8), store=backend)
    assert vs.add_documents(DOCS) == ["1", "2", "3", "4", "5"]
    return vs


FILTERS: list[tuple[Any, set[str]]] = [
    ({"source": "a"}, {"1", "3"}),
    ({"source": {"$eq": "b"}}, {"2"}),
    ({"source": {"$ne": "a"}}, {"2", "4", "5"}),  # Not(Eq): documents without "source" match
    ({"source": {"$in": ["a", "b"]}}, {"1", "2", "3"}),
    ({"source": {"$nin": ["a"]}}, {"2", "4", "5"}),
    ({"year": {"$gte": 2021, "$lt": 2023}}, {"2", "3"}),
    ({"year": {"$gt": 2022}}, {"4"}),
    ({"$and": [{"source": "a"}, {"year": {"$gt": 2020}}]}, {"3"}),
    ({"$or": [{"source": "b"}, {"year": 2020}]}, {"1", "2"}),
    ({"$not": {"source": "a"}}, {"2", "4", "5"}),
    ({"source": "a", "year": 2022}, {"3"}),
    ({"author": {"name": "ann"}}, {"1"}),
    ({"draft": True}, {"2"}),
    ({"year": "2020"}, set()),  # type-strict: the string is not the number
    (Eq("source", "b"), {"2"}),
    (In("year", [2020, 2023.5]), {"1", "4"}),
    (Not(Range("year", lt=2022)), {"3", "4", "5"}),
]


@pytest.mark.parametrize(("spec", "expected"), FILTERS, ids=[str(spec) for spec, _ in FILTERS])
def test_metadata_filters(filled: MemstoreVectorStore, spec: Any, expected: set[str]) -> None:
    if (
        isinstance(spec, Not)
        and isinstance(spec.filter, Range)
        and filled._store.vectors.backend.kind == "chroma"
    ):
        with pytest.raises(ValidationError, match=r"(?i)chroma"):
            filled.similarity_search("alpha", k=10, filter=spec)
        return
    found = filled.similarity_search("alpha", k=10, filter=spec)
    assert {doc.id for doc in found} == expected
    for doc in found:
        assert doc.metadata == next(d.metadata for d in DOCS if d.id == doc.id)


async def test_filters_async_and_mmr(filled: MemstoreVectorStore) -> None:
    found = await filled.asimilarity_search("beta", k=10, filter={"source": "a"})
    assert {doc.id for doc in found} == {"1", "3"}
    mmr = await filled.amax_marginal_relevance_search(
        "beta", k=2, fetch_k=10, filter={"year": {"$gte": 2021}}
    )
    assert len(mmr) == 2
    assert {doc.id for doc in mmr} <= {"2", "3", "4"}


def test_filter_translation_moves_fields_under_metadata() -> None:
    assert translate_filter({"source": "a"}) == Eq(("metadata", "source"), "a")
    assert translate_filter({"author": {"name": "x"}}) == Eq(("metadata", "author", "name"), "x")
    assert translate_filter(None) is None


@pytest.mark.parametrize(
    "spec",
    [{"source": {"$like": "a%"}}, {"source": {"$exists": True}}, {"$nor": [{"source": "a"}]}, "source"],
)
def test_unsupported_filters_raise_value_errors(backend: Memstore, spec: Any) -> None:
    vs = MemstoreVectorStore("bad-filters", DeterministicFakeEmbedding(size=4), store=backend)
    with pytest.raises(ValueError, match=r"\$like|\$exists|\$nor|filter"):
        vs.similarity_search("x", filter=spec)  # empty store: still refused
    vs.add_texts(["x"], [{"source": "a"}])
    with pytest.raises(ValidationError):
        vs.similarity_search("x", filter=spec)


UNIT = {"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0], "c": [-1.0, 0.0, 0.0], "q": [1.0, 0.0, 0.0]}


@pytest.mark.parametrize(
    ("distance", "scores", "relevance"),
    [
        ("cosine", {"a": 1.0, "b": 0.0, "c": -1.0}, {"a": 1.0, "b": 0.0, "c": 0.0}),
        ("dot", {"a": 1.0, "b": 0.0, "c": -1.0}, {"a": 1.0, "b": 0.0, "c": 0.0}),
        (
            "euclidean",
            {"a": 0.0, "b": -math.sqrt(2), "c": -2.0},
            {"a": 1.0, "b": 1 / (1 + math.sqrt(2)), "c": 1 / 3},
        ),
    ],
)
def test_scores_and_relevance_per_distance(
    backend: Memstore, distance: Any, scores: dict[str, float], relevance: dict[str, float]
) -> None:
    vs = MemstoreVectorStore(f"scores-{distance}", TableEmbeddings(UNIT), store=backend, distance=distance)
    vs.add_texts(["a", "b", "c"], ids=["a", "b", "c"])
    with_scores = vs.similarity_search_with_score("q", k=3)
    assert [doc.id for doc, _ in with_scores] == ["a", "b", "c"]
    for doc, score in with_scores:
        assert score == pytest.approx(scores[str(doc.id)], abs=1e-5)
    with_relevance = vs.similarity_search_with_relevance_scores("q", k=3)
    for doc, rel in with_relevance:
        assert 0.0 <= rel <= 1.0
        assert rel == pytest.approx(relevance[str(doc.id)], abs=1e-5)
    strict = vs.as_retriever(search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.9})
    assert [doc.id for doc in strict.invoke("q")] == ["a"]


def test_mmr_prefers_diverse_documents(backend: Memstore) -> None:
    table = {
        "a": [1.0, 0.0, 0.0],
        "a-twin": [0.995, 0.0998, 0.0],
        "side": [0.6, 0.0, 0.8],
        "q": [1.0, 0.0, 0.0],
    }
    vs = MemstoreVectorStore("mmr", TableEmbeddings(table), store=backend)
    vs.add_texts(["a", "a-twin", "side"], ids=["a", "a-twin", "side"])
    assert [d.id for d in vs.similarity_search("q", k=2)] == ["a", "a-twin"]
    mmr = vs.max_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=0.3)
    assert [d.id for d in mmr] == ["a", "side"]
    assert [d.page_content for d in mmr] == ["a", "side"]
    by_vector = vs.max_marginal_relevance_search_by_vector(table["q"], k=2, fetch_k=3, lambda_mult=0.3)
    assert [d.id for d in by_vector] == ["a", "side"]
    retriever = vs.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3, "lambda_mult": 0.3})
    assert [d.id for d in retriever.invoke("q")] == ["a", "side"]
    assert vs.max_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=1.0)[1].id == "a-twin"


def test_bad_metadata_writes_nothing(backend: Memstore) -> None:
    vs = MemstoreVectorStore("bad-meta", DeterministicFakeEmbedding(size=4), store=backend)
    vs.add_texts(["ok"], ids=["0"])
    with pytest.raises(ValidationError):
        vs.add_texts(["x", "y"], [{"n": 1}, {"n": float("nan")}], ids=["1", "2"])
    with pytest.raises(ValidationError):
        vs.add_texts(["x"], [{"when": object()}], ids=["3"])
    assert vs.get_by_ids(["0", "1", "2", "3"]) == [Document("ok", id="0")]


def test_generated_ids_are_uuid4_and_get_by_ids_keeps_order(backend: Memstore) -> None:
    vs = MemstoreVectorStore("ids", DeterministicFakeEmbedding(size=4), store=backend)
    ids = vs.add_texts(["x", "y", "z"], ids=None)
    assert len(set(ids)) == 3
    assert all(len(i) == 36 and i[14] == "4" for i in ids)
    assert [d.page_content for d in vs.get_by_ids([ids[2], "missing", ids[0], ids[2]])] == ["z", "x"]


def test_delete_without_ids_drops_the_collection(backend: Memstore) -> None:
    vs = MemstoreVectorStore("drop", DeterministicFakeEmbedding(size=4), store=backend)
    vs.add_texts(["x"], ids=["1"])
    assert vs.delete() is True
    assert "drop" not in backend.vectors.list_collection_names()
    assert vs.similarity_search("x") == []
    vs.add_texts(["y"], ids=["2"])
    assert [d.id for d in vs.similarity_search("y")] == ["2"]


def test_a_collection_deleted_by_another_instance_is_looked_up_again(backend: Memstore) -> None:
    first = MemstoreVectorStore("dropped", DeterministicFakeEmbedding(size=4), store=backend)
    first.add_texts(["x"], ids=["1"])
    MemstoreVectorStore("dropped", DeterministicFakeEmbedding(size=4), store=backend).delete()
    assert first.similarity_search("x") == []
    assert first.get_by_ids(["1"]) == []
    assert first.delete(["1"]) is True
    first.add_texts(["y"], ids=["2"])  # creates it anew
    assert [d.id for d in first.similarity_search("y")] == ["2"]


def test_reopen_reads_the_stored_collection(sqlite_url: str) -> None:
    with MemstoreVectorStore(
        "kept", DeterministicFakeEmbedding(size=5), store=sqlite_url, vectors="sql"
    ) as vs:
        vs.add_texts(["kept text"], [{"k": 1}], ids=["1"])
    with MemstoreVectorStore(
        "kept", DeterministicFakeEmbedding(size=5), store=sqlite_url, vectors="sql"
    ) as vs:
        # Nothing written by this instance: it finds the collection and its dimensions on its own.
        assert vs.get_by_ids(["1"]) == [Document("kept text", metadata={"k": 1}, id="1")]
        assert [d.id for d in vs.similarity_search("kept text", k=1, filter={"k": 1})] == ["1"]
    other = MemstoreVectorStore(
        "kept", DeterministicFakeEmbedding(size=5), store=sqlite_url, vectors="sql", distance="dot"
    )
    with other, pytest.raises(ConflictError):
        other.similarity_search("kept text")


def test_default_backend_is_chroma_next_to_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    with MemstoreVectorStore("default", DeterministicFakeEmbedding(size=4), store=url) as vs:
        vs.add_texts(["x"], ids=["1"])
        assert "chroma" in repr(vs._store)
    assert (tmp_path / "app.chroma").is_dir()  # one vector folder per database file


def test_store_ownership(backend: Memstore) -> None:
    vs = MemstoreVectorStore("owned", DeterministicFakeEmbedding(size=4), store=backend)
    vs.add_texts(["x"], ids=["1"])
    vs.close()
    assert backend.vectors.get_collection("owned").count() == 1  # a Memstore passed in stays open
    with pytest.raises(ValidationError, match="vectors="):
        MemstoreVectorStore("owned", DeterministicFakeEmbedding(size=4), store=backend, vectors="sql")
    with pytest.raises(ValidationError):
        MemstoreVectorStore("x", DeterministicFakeEmbedding(size=4), store=backend)  # name too short
    with pytest.raises(TypeError):
        MemstoreVectorStore("owned", object(), store=backend)  # type: ignore[arg-type]


def test_from_texts_and_core_embedder(backend: Memstore) -> None:
    vs = MemstoreVectorStore.from_texts(
        ["cats purr softly", "rockets reach orbit"],
        HashingEmbedder(64),  # type: ignore[arg-type]
        [{"topic": "pets"}, {"topic": "space"}],
        ids=["c", "r"],
        collection_name="from-texts",
        store=backend,
    )
    assert isinstance(vs.embeddings, MemstoreEmbeddings)
    assert [d.id for d in vs.similarity_search("orbit rockets", k=1)] == ["r"]
    docs = MemstoreVectorStore.from_documents(
        [Document("dogs bark", metadata={"topic": "pets"}, id="d")],
        MemstoreEmbeddings(HashingEmbedder(64)),
        collection_name="from-texts",
        store=backend,
    )
    assert {d.id for d in docs.similarity_search("pets", k=3, filter={"topic": "pets"})} == {"c", "d"}
    assert docs.get_by_ids(["d"]) == [Document("dogs bark", metadata={"topic": "pets"}, id="d")]


async def test_afrom_texts_and_async_crud(backend: Memstore) -> None:
    vs = await MemstoreVectorStore.afrom_texts(
        ["one", "two"],
        DeterministicFakeEmbedding(size=4),
        ids=["1", "2"],
        collection_name="async",
        store=backend,
    )
    assert [d.page_content for d in await vs.aget_by_ids(["2", "1"])] == ["two", "one"]
    assert await vs.adelete(["1"]) is True
    assert [d.id for d in await vs.asimilarity_search("one", k=5)] == ["2"]
    found = await vs.asimilarity_search_with_score("two", k=1)
    assert found[0][0].id == "2"
    assert found[0][1] == pytest.approx(1.0, abs=1e-5)
    assert await vs.adelete() is True
    assert await vs.asimilarity_search("two") == []


def test_langchain_embedder_learns_and_checks_dimensions() -> None:
    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=7))
    assert embedder.dimensions == 7
    assert len(embedder.embed_documents(["a", "b"])[1]) == 7
    fixed = LangChainEmbedder(DeterministicFakeEmbedding(size=7), dimensions=3)
    with pytest.raises(ValidationError, match="7 floats, expected 3"):
        fixed.embed_query("a")
    wrapped = MemstoreEmbeddings(HashingEmbedder(16))
    assert wrapped.dimensions == 16
    assert len(wrapped.embed_query("hello")) == 16
