"""The SemanticStore contract on every vector backend, with the hashing embedder and once with MiniLM."""

from __future__ import annotations

import pytest

from memstore import (
    ConflictError,
    HashingEmbedder,
    MiniLMEmbedder,
    SemanticStore,
    ValidationError,
)
from memstore.backends.memory.vectors import MemoryVectorBackend
from memstore.stores.vectors import VectorBackend, VectorStore

DOCS = [
    ("d1", "the cat sat on the mat"),
    ("d2", "stock markets fell sharply today"),
    ("d3", "a recipe with two cups of flour"),
    ("d4", "the dog chased the cat around the garden"),
]


@pytest.fixture
def semantic(vector_backend: VectorBackend) -> SemanticStore:
    return SemanticStore(VectorStore(vector_backend), HashingEmbedder(64))


def test_add_search_replace_delete(semantic: SemanticStore) -> None:
    semantic.add_docs(DOCS, "notes")
    found = semantic.search("the cat sat on the mat", "notes", top_k=2)
    assert [doc_id for doc_id, _ in found] == ["d1", "d4"]
    assert found[0][1] == pytest.approx(1.0, abs=1e-5)
    assert found[0][1] >= found[1][1]
    assert all(isinstance(doc_id, str) and isinstance(score, float) for doc_id, score in found)
    assert len(semantic.search("anything", "notes", top_k=10)) == 4
    semantic.add_docs([("d1", "stock markets fell sharply today")], "notes")
    assert semantic.search("stock markets fell sharply today", "notes", top_k=2)[1][0] in {"d1", "d2"}
    semantic.delete_docs(["d2", "missing"], "notes")
    assert [doc_id for doc_id, _ in semantic.search("stock markets fell sharply today", "notes", 1)] == ["d1"]
    assert semantic.delete_table("notes") is True
    assert semantic.delete_table("notes") is False
    assert semantic.search("cat", "notes") == []


def test_tables_are_separate_and_may_have_any_name(semantic: SemanticStore) -> None:
    semantic.add_docs(DOCS[:2], "team notes / 2024 'draft'")
    semantic.add_docs(DOCS[2:], "名前")
    assert {doc_id for doc_id, _ in semantic.search("cat", "team notes / 2024 'draft'", 10)} == {"d1", "d2"}
    assert {doc_id for doc_id, _ in semantic.search("cat", "名前", 10)} == {"d3", "d4"}
    semantic.delete_docs(["d1"], "名前")
    assert len(semantic.search("cat", "team notes / 2024 'draft'", 10)) == 2


def test_missing_tables_hold_nothing(semantic: SemanticStore) -> None:
    assert semantic.search("cat", "nowhere") == []
    semantic.delete_docs(["d1"], "nowhere")
    assert semantic.delete_table("nowhere") is False
    semantic.add_docs([], "still-nowhere")
    assert semantic.search("cat", "still-nowhere") == []


def test_bad_input_writes_nothing(semantic: SemanticStore) -> None:
    for docs in (
        [("ok", "fine"), ("", "empty id")],
        [("ok", "fine"), ("x", None)],
        [("ok", "fine"), (1, "int id")],
    ):
        with pytest.raises(ValidationError):
            semantic.add_docs(docs, "checked")  # type: ignore[arg-type]
    assert semantic.search("fine", "checked") == []
    with pytest.raises(ValidationError):
        semantic.add_docs(DOCS, "")
    with pytest.raises(ValidationError):
        semantic.search("nul\x00", "checked")


def test_an_embedder_of_another_size_cannot_reuse_a_table(vector_backend: VectorBackend) -> None:
    SemanticStore(VectorStore(vector_backend), HashingEmbedder(64)).add_docs(DOCS, "sized")
    other = SemanticStore(VectorStore(vector_backend), HashingEmbedder(32))
    with pytest.raises(ConflictError):
        other.add_docs(DOCS, "sized")
    with pytest.raises(ConflictError):
        other.search("cat", "sized")


async def test_async_twins(semantic: SemanticStore) -> None:
    await semantic.aadd_docs(DOCS, "async")
    assert (await semantic.asearch("the cat sat on the mat", "async", 1))[0][0] == "d1"
    await semantic.adelete_docs(["d1"], "async")
    assert len(await semantic.asearch("cat", "async", 10)) == 3
    assert await semantic.adelete_table("async") is True


def test_an_embedder_without_dimensions_is_sized_by_its_first_vector() -> None:
    class Sizeless:
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 0.0] for _ in texts]

        def embed_query(self, text: str) -> list[float]:
            return [1.0, 0.0]

    semantic = SemanticStore(VectorStore(MemoryVectorBackend()), Sizeless())
    assert semantic.definition.vector.dimensions == 2
    semantic.add_docs([("a", "x")], "t")
    assert semantic.search("x", "t") == [("a", pytest.approx(1.0))]
    with pytest.raises(ValidationError):
        SemanticStore(VectorStore(MemoryVectorBackend()), object())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(threads=2)


def test_a_close_pair_ranks_first_with_the_real_model(
    vector_backend: VectorBackend, minilm: MiniLMEmbedder
) -> None:
    embedder = minilm
    semantic = SemanticStore(VectorStore(vector_backend), embedder)
    semantic.add_docs(
        [
            ("cat", "The cat sat on the mat."),
            ("kitten", "A kitten is resting on a rug."),
            ("markets", "Stock markets fell sharply today."),
            ("flour", "The recipe needs two cups of flour."),
            ("flight", "Our flight to Paris was delayed by three hours."),
        ],
        "sentences",
    )
    top_two = semantic.search("a small cat lying on a carpet", "sentences", top_k=2)
    assert {doc_id for doc_id, _ in top_two} == {"cat", "kitten"}
    assert semantic.search("shares dropped on Wall Street", "sentences", top_k=1)[0][0] == "markets"
    assert semantic.search("the plane left late", "sentences", top_k=1)[0][0] == "flight"
