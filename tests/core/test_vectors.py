"""The VectorStore contract on every backend: memory, SQLite, PostgreSQL, embedded Chroma, a Chroma server."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Annotated, Any

import numpy as np
import pydantic
import pytest
import sqlalchemy as sa

from memstore import (
    ConflictError,
    DataField,
    KeyField,
    Memstore,
    NotFoundError,
    RecordDefinition,
    ValidationError,
    VectorField,
)
from memstore.backends.exact import ExactIndex
from memstore.backends.memory.vectors import MemoryVectorBackend
from memstore.filters import And, Eq, Filter, In, Not, Or, Range, matches, parse_filter
from memstore.records import Distance
from memstore.stores.vectors import (
    VectorBackend,
    VectorCollection,
    VectorStore,
    check_collection_name,
    sanitize_collection_name,
)

FIELDS = ["lang", "year", "score", "draft", "tags", "note"]
DEFINITION = RecordDefinition(
    KeyField("id"),
    VectorField("embedding", dimensions=4, distance="cosine"),
    [*(DataField(name, filterable=True) for name in FIELDS), DataField("text", full_text=True)],
)


def rec(key: Any, vector: Any, **data: Any) -> dict[str, Any]:
    return {"id": key, "embedding": vector, **data}


@pytest.fixture
def store(vector_backend: VectorBackend) -> VectorStore:
    return VectorStore(vector_backend)


@pytest.fixture
def docs(store: VectorStore) -> VectorCollection[dict[str, Any]]:
    collection = store.get_collection("docs", DEFINITION)
    collection.create()
    return collection


def ids(results: Any) -> list[Any]:
    return [hit.record["id"] for hit in results]


# -- collections ------------------------------------------------------------------------------------------


def test_collection_lifecycle(store: VectorStore) -> None:
    collection = store.get_collection("lifecycle", DEFINITION)
    assert not collection.exists()
    assert store.list_collection_names() == []
    operations = [
        lambda: collection.upsert(rec("a", [1, 0, 0, 0])),
        lambda: collection.get("a"),
        lambda: collection.get_batch(["a"]),
        lambda: collection.count(),
        lambda: collection.count(filter=Eq("lang", "en")),
        lambda: collection.count(filter=In("lang", [])),
        lambda: collection.search([1, 0, 0, 0]),
        lambda: collection.delete("a"),
        lambda: collection.delete_batch(["a"]),
    ]
    for operation in operations:
        with pytest.raises(NotFoundError):
            operation()
    collection.create()
    assert collection.exists()
    with pytest.raises(ConflictError):
        collection.create()
    assert collection.create_if_not_exists() is False
    assert store.get_collection("lifecycle.2", DEFINITION).create_if_not_exists() is True
    assert store.list_collection_names() == ["lifecycle", "lifecycle.2"]
    collection.upsert(rec("a", [1, 0, 0, 0]))
    assert collection.count() == 1
    assert collection.delete_collection() is True
    assert not collection.exists()
    assert collection.delete_collection() is False
    for operation in operations:
        with pytest.raises(NotFoundError):
            operation()
    assert store.list_collection_names() == ["lifecycle.2"]
    collection.create()
    assert collection.count() == 0, "a re-created collection starts empty"


def test_a_handle_sees_the_collection_deleted_and_recreated_elsewhere(store: VectorStore) -> None:
    first = store.get_collection("shared", DEFINITION)
    first.create()
    first.upsert(rec("a", [1, 0, 0, 0]))
    second = store.get_collection("shared", DEFINITION)
    assert second.count() == 1
    first.delete_collection()
    with pytest.raises(NotFoundError):
        second.count()
    first.create()
    first.upsert(rec("b", [0, 1, 0, 0]))
    assert ids(second.search([0, 1, 0, 0])) == ["b"]


def test_a_handle_never_writes_with_a_definition_the_collection_no_longer_has(store: VectorStore) -> None:
    bound = store.get_collection("moved", DEFINITION)
    bound.create()
    bound.upsert(rec("a", [1, 0, 0, 0], lang="en"))
    adopting = store.get_collection("moved")  # no definition: takes the stored one
    assert adopting.count() == 1
    other = RecordDefinition(
        KeyField("id"), VectorField("embedding", dimensions=2, distance="euclidean"), [DataField("lang")]
    )
    recreated = store.get_collection("moved", other)
    bound.delete_collection()
    recreated.create()
    operations = [
        lambda: bound.upsert(rec("b", [1, 0, 0, 0])),
        lambda: bound.upsert_batch(iter([rec("b", [1, 0, 0, 0])])),
        lambda: bound.get("a"),
        lambda: bound.delete("a"),
        lambda: bound.count(),
        lambda: bound.search([1, 0, 0, 0]),
    ]
    for operation in operations:
        with pytest.raises(ConflictError, match="another definition"):
            operation()
    assert recreated.count() == 0, "nothing written through the stale handle"
    assert adopting.count() == 0  # its next call to the backend finds the new definition and takes it
    assert adopting.upsert({"id": "c", "embedding": [0.5, 0.5], "lang": "fr"}) == "c"
    assert adopting.definition == other
    assert ids(recreated.search([0.5, 0.5])) == ["c"]


def test_a_collection_is_bound_to_its_definition(store: VectorStore) -> None:
    store.get_collection("bound", DEFINITION).create()
    other = RecordDefinition(KeyField("id"), VectorField("embedding", dimensions=5), [DataField("lang")])
    mismatched = store.get_collection("bound", other)
    with pytest.raises(ConflictError):
        mismatched.count()
    with pytest.raises(ConflictError):
        mismatched.create_if_not_exists()
    stored = store.get_collection("bound")
    assert stored.definition == DEFINITION, "no definition given: the stored one is used"
    stored.upsert(rec("a", [1, 2, 3, 4], lang="en"))
    assert stored.get("a", include_vectors=False) == {"id": "a", "lang": "en"}
    with pytest.raises(ValidationError):
        store.get_collection("unborn").create()


# -- records ----------------------------------------------------------------------------------------------


def test_upsert_get_round_trip_and_replace(docs: VectorCollection[dict[str, Any]]) -> None:
    record = rec(
        "a",
        [0.5, 0.25, 0.0, 1.0],
        lang="en",
        year=2020,
        score=1.5,
        draft=False,
        tags={"topic": "db", "n": [1, 2, None]},
        note=None,
        text="héllo 👋",
    )
    assert docs.upsert(record) == "a"
    assert docs.get("a") == record
    assert docs.get("a", include_vectors=False) == {k: v for k, v in record.items() if k != "embedding"}
    assert docs.get("missing") is None
    docs.upsert(rec("a", (1, 0, 0, 0), lang="fr"))
    assert docs.get("a") == {"id": "a", "embedding": [1.0, 0.0, 0.0, 0.0], "lang": "fr"}
    assert docs.count() == 1


@pytest.mark.parametrize(
    ("best", "others"),
    [([1e20, 0.0], [1.0, 1.0]), ([1.0, 0.0], [1e-30, 1e-25])],
    ids=["huge", "tiny"],
)
def test_extreme_magnitudes_keep_the_true_best_hit(best: list[float], others: list[float]) -> None:
    """The exact backends' short list (memory, SQL): norms beyond float32's square range must not push the
    best record out of it."""
    index = ExactIndex(2, "cosine")
    keys = ["best", *(f"o{i:02d}" for i in range(40))]
    rows = [best, *([others[0], others[1] * (1 + i / 100)] for i in range(40))]
    index.upsert(keys, np.array(rows, dtype=np.float32))
    key, score = index.search(np.array([1.0, 0.0], dtype=np.float32), 1)[0]
    assert (key, round(score, 6)) == ("best", 1.0)


def test_numpy_vectors_are_accepted(docs: VectorCollection[dict[str, Any]]) -> None:
    docs.upsert(rec("np", np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float64)))
    assert docs.get("np")["embedding"] == [0.5, 0.5, 0.5, 0.5]  # type: ignore[index]


def test_batches(docs: VectorCollection[dict[str, Any]]) -> None:
    records = [rec(f"k{i}", [1, i, 0, 0], year=i) for i in range(30)]
    assert docs.upsert_batch(records) == [f"k{i}" for i in range(30)]
    assert docs.count() == 30
    found = docs.get_batch(["k3", "nope", "k1", "k3"], include_vectors=False)
    assert found == [{"id": "k3", "year": 3}, {"id": "k1", "year": 1}], (
        "asked order, each once, missing left out"
    )
    assert docs.get_batch([]) == []
    assert docs.upsert_batch([]) == []
    docs.delete_batch(["k1", "k2", "nope"])
    assert docs.count() == 28
    docs.delete("k3")
    docs.delete("k3")
    assert docs.count() == 27
    assert docs.get("k3") is None


def test_last_write_of_a_key_in_a_batch_wins(docs: VectorCollection[dict[str, Any]]) -> None:
    assert docs.upsert_batch([rec("k", [1, 0, 0, 0], year=1), rec("k", [0, 1, 0, 0], year=2)]) == ["k", "k"]
    assert docs.get("k") == rec("k", [0.0, 1.0, 0.0, 0.0], year=2)
    assert docs.count() == 1


BAD_RECORDS: list[Any] = [
    rec("bad", [1, 2, 3]),
    rec("bad", [1, 2, 3, 4, 5]),
    rec("bad", [1, float("nan"), 0, 0]),
    rec("bad", [1, float("inf"), 0, 0]),
    rec("bad", [1e39, 0, 0, 0]),
    rec("bad", [0, 0, 0, 0]),
    rec("bad", "abcd"),
    rec("bad", [[1, 2, 3, 4]]),
    rec("bad", ["a", "b", "c", "d"]),
    rec("bad", None),
    {"id": "bad", "lang": "en"},
    {"embedding": [1, 0, 0, 0]},
    rec("bad", [1, 0, 0, 0], unknown=1),
    rec("", [1, 0, 0, 0]),
    rec("nul\x00key", [1, 0, 0, 0]),
    rec("x" * 1025, [1, 0, 0, 0]),
    rec(42, [1, 0, 0, 0]),
    rec("bad", [1, 0, 0, 0], lang=float("nan")),
    rec("bad", [1, 0, 0, 0], lang=object()),
    rec("bad", [1, 0, 0, 0], text="\ud800"),
    rec("bad", [1, 0, 0, 0], tags={1: "non-str key"}),
    ["not", "a", "dict"],
]


@pytest.mark.parametrize("bad", BAD_RECORDS, ids=range(len(BAD_RECORDS)))
def test_a_batch_with_one_invalid_record_writes_nothing(
    docs: VectorCollection[dict[str, Any]], bad: Any
) -> None:
    with pytest.raises(ValidationError):
        docs.upsert_batch([rec("good-1", [1, 0, 0, 0]), bad, rec("good-2", [0, 1, 0, 0])])
    assert docs.count() == 0


def test_int_keys(store: VectorStore) -> None:
    definition = RecordDefinition(
        KeyField("n", int), VectorField("v", dimensions=2, distance="dot"), ["label"]
    )
    numbers = store.get_collection("numbers", definition)
    numbers.create()
    keys = [0, -7, 2**63 - 1, -(2**63), 10, 9]
    assert numbers.upsert_batch([{"n": k, "v": [1, i], "label": str(k)} for i, k in enumerate(keys)]) == keys
    assert numbers.get(-7) == {"n": -7, "v": [1.0, 1.0], "label": "-7"}
    assert [r["n"] for r in numbers.get_batch([10, 3, 0])] == [10, 0]
    hits = numbers.search([0, 1], top_k=2)
    assert [hit.record["n"] for hit in hits] == [9, 10]
    for bad in ["1", True, 2**63, -(2**63) - 1, 1.0, None]:
        with pytest.raises(ValidationError):
            numbers.upsert({"n": bad, "v": [1, 0]})
        with pytest.raises(ValidationError):
            numbers.get(bad)  # type: ignore[arg-type]
    numbers.delete(0)
    assert numbers.count() == len(keys) - 1


# -- search -----------------------------------------------------------------------------------------------


def _reference_scores(matrix: np.ndarray, query: np.ndarray, distance: Distance) -> np.ndarray:
    matrix, query = matrix.astype(np.float64), query.astype(np.float64)
    if distance == "cosine":
        return (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    if distance == "dot":
        return matrix @ query
    return -np.linalg.norm(matrix - query, axis=1)


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclidean"])
def test_every_distance_ranks_and_scores_like_numpy(store: VectorStore, distance: Distance) -> None:
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((40, 8)).astype(np.float32)
    definition = RecordDefinition(KeyField("id"), VectorField("v", dimensions=8, distance=distance))
    collection = store.get_collection(f"distance-{distance}", definition)
    collection.create()
    collection.upsert_batch([{"id": f"r{i:02d}", "v": row} for i, row in enumerate(matrix)])
    for query in [matrix[3], rng.standard_normal(8).astype(np.float32)]:
        expected = _reference_scores(matrix, query, distance)
        order = sorted(range(40), key=lambda i: -expected[i])[:10]
        hits = collection.search(query, top_k=10)
        assert ids(hits) == [f"r{i:02d}" for i in order]
        for hit, i in zip(hits, order, strict=True):
            assert hit.score == pytest.approx(expected[i], rel=1e-4, abs=1e-4)
    best = collection.search(matrix[3], top_k=1)[0]
    assert best.record["id"] == "r03" or distance == "dot"
    if distance == "cosine":
        assert best.score == pytest.approx(1.0, abs=1e-5)
    if distance == "euclidean":
        assert best.score == pytest.approx(0.0, abs=1e-3)


def test_search_options_and_validation(docs: VectorCollection[dict[str, Any]]) -> None:
    assert docs.search([1, 0, 0, 0]) == [], "an empty collection finds nothing"
    docs.upsert_batch([rec("a", [1, 0, 0, 0], lang="en"), rec("b", [1, 1, 0, 0], lang="fr")])
    hits = docs.search([1, 0, 0, 0], top_k=10)
    assert ids(hits) == ["a", "b"], "top_k beyond the count returns everything"
    assert "embedding" not in hits[0].record
    with_vectors = docs.search([1, 0, 0, 0], top_k=1, include_vectors=True)
    assert with_vectors[0].record == rec("a", [1.0, 0.0, 0.0, 0.0], lang="en")
    assert hits[0].score > hits[1].score
    for top_k in [0, -1, True, 1.5, 10_001, "3"]:
        with pytest.raises(ValidationError):
            docs.search([1, 0, 0, 0], top_k=top_k)  # type: ignore[arg-type]
    for vector in [[1, 0, 0], [0, 0, 0, 0], [float("nan"), 0, 0, 0], "abcd", None]:
        with pytest.raises(ValidationError):
            docs.search(vector)  # type: ignore[arg-type]


# Records and filters over them: every operator, nested fields, missing fields, type strictness.
FILTER_RECORDS: list[dict[str, Any]] = [
    {"lang": "en", "year": 2020, "score": 0.5, "draft": False, "tags": {"topic": "db"}},
    {"lang": "fr", "year": 2021, "score": 1.5, "draft": True, "tags": {"topic": "ml", "level": 2}},
    {"lang": "en", "year": 2022, "draft": True},
    {"lang": "1", "year": "2020", "score": 1, "tags": {"topic": 5}},
    {"year": 1, "draft": 1, "note": "it's \"quoted\" ' OR 1=1 --"},
    {},
    {"lang": None, "year": True, "tags": "flat"},
    {"lang": ["en"], "year": 2020.0, "tags": {"topic": ["db"]}},
    {"lang": "EN", "year": -3, "score": -0.0, "tags": {"topic": {"deep": "db"}}},
]

FILTERS: list[Filter | dict[str, Any]] = [
    Eq("lang", "en"),
    Eq("lang", "1"),
    Eq("year", 2020),
    Eq("year", 2020.0),
    Eq("year", "2020"),
    Eq("draft", True),
    Eq("draft", False),
    Eq("year", 1),
    Eq("year", True),
    Eq("score", 0),
    Eq(("tags", "topic"), "db"),
    Eq(("tags", "topic"), 5),
    Eq(("tags", "topic", "deep"), "db"),
    Eq("note", "it's \"quoted\" ' OR 1=1 --"),
    Eq("lang", "missing"),
    In("lang", ["en", "fr"]),
    In("year", [2021, "2020", True, 1.0]),
    In("lang", []),
    Range("year", gte=2021),
    Range("score", gt=0.5, lte=1.5),
    Range("year", lt=2021),
    Range("year", gt=-10, lt=0),
    Not(Eq("lang", "en")),
    Not(In("year", [2020, 2021])),
    Not(In("lang", [])),
    Not(Range("year", gte=2021)),
    Not(Range("score", gt=0, lt=1)),
    And(Eq("lang", "en"), Eq("draft", True)),
    And(),
    Or(Eq("lang", "fr"), Range("score", lt=1)),
    Or(),
    Not(Or(Eq(("tags", "topic"), "db"), Eq("draft", True))),
    Not(And(Eq("lang", "en"), Not(Eq("draft", True)))),
    Not(Not(Eq("lang", "fr"))),
    Or(Not(And()), Eq("lang", "en")),
    {"lang": {"$ne": "en"}, "year": {"$gte": 2020, "$lt": 2022}},
    {"$or": [{"draft": True}, {"draft": {"$in": [False]}}, {"lang": {"$nin": ["en", "1"]}}]},
]


def _filter_records(shift: int = 0) -> list[dict[str, Any]]:
    """FILTER_RECORDS as keys r0, r1, ...; ``shift`` gives ``r{i}`` the data of record ``i + shift``."""
    count = len(FILTER_RECORDS)
    return [rec(f"r{i}", [1, i / 10, 0, 0], **FILTER_RECORDS[(i + shift) % count]) for i in range(count)]


@pytest.fixture
def filtered(store: VectorStore) -> VectorCollection[dict[str, Any]]:
    collection = store.get_collection("filtered", DEFINITION)
    collection.create()
    collection.upsert_batch(_filter_records())
    return collection


def _search_or_refusal(
    collection: VectorCollection[dict[str, Any]], query: list[float], spec: Any, backend: VectorBackend
) -> list[Any] | None:
    """The hit keys, or None where Chroma refuses a filter it cannot express (and only that)."""
    try:
        return ids(collection.search(query, top_k=100, filter=spec))
    except ValidationError as exc:
        refusal = exc
    assert backend.kind == "chroma", f"{backend.kind} refused {spec!r}: {refusal}"
    assert "chroma does not support the negation of a range" in str(refusal)
    return None


def _assert_filters_match_the_reference(
    collection: VectorCollection[dict[str, Any]], backend: VectorBackend
) -> None:
    refused = []
    for spec in FILTERS:
        node = parse_filter(spec)
        assert node is not None
        expected = {f"r{i}" for i, data in enumerate(FILTER_RECORDS) if matches(node, data)}
        found = _search_or_refusal(collection, [1, 0, 0, 0], spec, backend)
        if found is None:
            refused.append(spec)
            with pytest.raises(ValidationError):
                collection.count(filter=spec)
            continue
        assert set(found) == expected, f"{spec!r}"
        assert collection.count(filter=spec) == len(expected), f"count of {spec!r}"
    assert len(refused) == (2 if backend.kind == "chroma" else 0), refused


def test_every_filter_operator_matches_the_reference(
    filtered: VectorCollection[dict[str, Any]], vector_backend: VectorBackend
) -> None:
    _assert_filters_match_the_reference(filtered, vector_backend)


@pytest.mark.parametrize("shift", [1, 4])
def test_a_replaced_record_keeps_nothing_of_its_old_data(
    store: VectorStore, vector_backend: VectorBackend, shift: int
) -> None:
    """Upsert replaces a record whole: no field of the old data stays readable or filterable."""
    collection = store.get_collection("replaced", DEFINITION)
    collection.create()
    collection.upsert_batch(_filter_records(shift))
    final = _filter_records()
    collection.upsert_batch(final)
    stored = collection.get_batch([record["id"] for record in final], include_vectors=False)
    assert stored == [{k: v for k, v in record.items() if k != "embedding"} for record in final]
    _assert_filters_match_the_reference(collection, vector_backend)


def _delete_or_refusal(
    collection: VectorCollection[dict[str, Any]], spec: Any, backend: VectorBackend
) -> int | None:
    """How many ``delete_where`` deleted, or None where Chroma refuses a filter it cannot express."""
    try:
        return collection.delete_where(spec)
    except ValidationError as exc:
        refusal = exc
    assert backend.kind == "chroma", f"{backend.kind} refused {spec!r}: {refusal}"
    assert "chroma does not support the negation of a range" in str(refusal)
    return None


def test_delete_where_deletes_exactly_what_the_reference_matches(
    store: VectorStore, vector_backend: VectorBackend
) -> None:
    """``delete_where`` removes the records :func:`memstore.filters.matches` accepts, and only those; the
    count it returns is theirs; searches, gets and scans agree afterwards (the SQL cache included)."""
    collection = store.get_collection("deleting", DEFINITION)
    collection.create()
    everyone = {f"r{i}" for i in range(len(FILTER_RECORDS))}
    refused = []
    for spec in FILTERS:
        collection.upsert_batch(_filter_records())
        collection.search([1, 0, 0, 0], top_k=100)  # warm the backend's caches first
        node = parse_filter(spec)
        assert node is not None
        expected = {f"r{i}" for i, data in enumerate(FILTER_RECORDS) if matches(node, data)}
        deleted = _delete_or_refusal(collection, spec, vector_backend)
        if deleted is None:
            assert collection.count() == len(everyone), "a refused filter deletes nothing"
            refused.append(spec)
            continue
        assert deleted == len(expected), f"{spec!r}"
        left = everyone - expected
        assert {r["id"] for r in collection.scan(include_vectors=False)} == left, f"{spec!r}"
        assert set(ids(collection.search([1, 0, 0, 0], top_k=100))) == left, f"{spec!r}"
        assert {r["id"] for r in collection.get_batch(sorted(everyone))} == left, f"{spec!r}"
        assert collection.count() == len(left)
    assert len(refused) == (2 if vector_backend.kind == "chroma" else 0), refused


async def test_delete_where_everything_keeps_the_collection(store: VectorStore) -> None:
    collection = store.get_collection("delete-all", DEFINITION)
    with pytest.raises(NotFoundError):
        collection.delete_where(None)
    collection.create()
    assert collection.delete_where(None) == 0
    collection.upsert_batch([rec(f"a{i}", [1, 0, 0, i], lang="en") for i in range(5)])
    assert await collection.adelete_where({"lang": "fr"}) == 0
    assert await collection.adelete_where(None) == 5
    assert collection.exists()
    assert collection.count() == 0
    assert collection.search([1, 0, 0, 0]) == []
    collection.upsert(rec("b", [0, 1, 0, 0]))
    assert ids(collection.search([1, 0, 0, 0])) == ["b"]
    with pytest.raises(ValidationError, match="not filterable"):
        collection.delete_where({"embedding": 1})


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclidean"])
def test_scores_are_exact_float64_for_the_given_keys(store: VectorStore, distance: Distance) -> None:
    """``scores`` and ``score_batch`` score every given key (none missed, as an ANN search could) with the
    float64 reference, bit for bit on the stored vectors of every backend."""
    from memstore.backends.exact import exact_scores

    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((120, 8)).astype(np.float32)
    matrix[60:80] = matrix[7]  # twenty equal vectors: an HNSW top-k can miss some, scoring cannot
    definition = RecordDefinition(KeyField("id"), VectorField("v", dimensions=8, distance=distance))
    collection = store.get_collection(f"scores-{distance}", definition)
    collection.create()
    collection.upsert_batch([{"id": f"r{i:03d}", "v": row} for i, row in enumerate(matrix)])
    asked = [f"r{i:03d}" for i in range(119, -1, -3)] + ["missing", "r119"]
    wanted = [i for i in range(119, -1, -3)]
    for query in [matrix[7], rng.standard_normal(8).astype(np.float32)]:
        reference = exact_scores(matrix[wanted], query, distance)
        scores = collection.scores(query, asked)
        assert list(scores) == [f"r{i:03d}" for i in wanted], "asked order, each once, missing left out"
        # Chroma stores cosine vectors normalised, in float32: its scores are those of the stored vectors.
        renormalised = store.backend.kind == "chroma" and distance == "cosine"
        tolerance = 1e-6 if renormalised else 1e-12
        if not renormalised:
            assert list(scores.values()) == reference.tolist()
        assert scores == pytest.approx(
            dict(zip(scores, _reference_scores(matrix[wanted], query, distance).tolist(), strict=True)),
            rel=tolerance,
            abs=tolerance,
        )
        batch = collection.score_batch(query, asked)
        assert [hit.score for hit in batch] == sorted(scores.values(), reverse=True)
        assert {hit.record["id"]: hit.score for hit in batch} == scores
        assert all("v" not in hit.record for hit in batch)
    with_vectors = collection.score_batch(matrix[0], ["r000"], include_vectors=True)
    assert np.allclose(with_vectors[0].record["v"], matrix[0], rtol=1e-6, atol=1e-6)
    assert collection.scores(matrix[0], []) == {}
    assert collection.scores(matrix[0], ["nope"]) == {}
    with pytest.raises(ValidationError):
        collection.scores([1.0, 2.0], ["r000"])
    collection.delete_batch(["r000"])
    assert "r000" not in collection.scores(matrix[0], ["r000", "r001"])


async def test_scores_async_twin_and_int_keys(store: VectorStore) -> None:
    definition = RecordDefinition(KeyField("id", int), VectorField("v", dimensions=2, distance="dot"))
    collection = store.get_collection("scores-int", definition)
    with pytest.raises(NotFoundError):
        await collection.ascores([1.0, 0.0], [1])
    collection.create()
    collection.upsert_batch([{"id": i, "v": [float(i), 1.0]} for i in range(1, 6)])
    assert await collection.ascores([1.0, 0.0], [5, 2, 9]) == {5: 5.0, 2: 2.0}
    assert [hit.record["id"] for hit in await collection.ascore_batch([1.0, 0.0], [2, 5])] == [5, 2]


def test_filters_combine_with_ranking(filtered: VectorCollection[dict[str, Any]]) -> None:
    hits = filtered.search([1, 0.75, 0, 0], top_k=2, filter=Range("year", gte=2020))
    assert ids(hits) == ["r7", "r2"]


@pytest.mark.parametrize(
    "spec",
    [
        Eq("text", "héllo"),
        Eq("id", "r1"),
        Eq("embedding", 1),
        {"lang": {"$regex": ".*"}},
        {"$where": "1=1"},
        {"year": {"$gt": "2020"}},
        "lang = 'en'",
    ],
    ids=repr,
)
def test_bad_filters_raise_validation_error(filtered: VectorCollection[dict[str, Any]], spec: Any) -> None:
    with pytest.raises(ValidationError):
        filtered.search([1, 0, 0, 0], filter=spec)


# -- record types -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Note:
    id: Annotated[str, KeyField()]
    text: Annotated[str, DataField(full_text=True)]
    lang: Annotated[str, DataField(filterable=True)]
    embedding: Annotated[list[float] | None, VectorField(dimensions=3, distance="dot")] = None
    tags: list[str] = dataclasses.field(default_factory=list)


class Event(pydantic.BaseModel):
    n: Annotated[int, KeyField()]
    title: Annotated[str, DataField(filterable=True)]
    at: datetime
    embedding: Annotated[list[float] | None, VectorField(dimensions=3, distance="euclidean")] = None


class StrictEvent(pydantic.BaseModel):
    id: str
    embedding: Annotated[list[float], VectorField(dimensions=3)]


def test_dataclass_records(store: VectorStore) -> None:
    notes = store.get_collection("notes", Note)
    assert notes.definition == RecordDefinition(
        KeyField("id"),
        VectorField("embedding", dimensions=3, distance="dot"),
        [DataField("text", full_text=True), DataField("lang", filterable=True), DataField("tags")],
    )
    notes.create()
    first = Note("n1", "hello", "en", [1.0, 0.0, 0.0], ["a"])
    notes.upsert_batch([first, Note("n2", "bonjour", "fr", [0.5, 0.5, 0.0])])
    assert notes.get("n1") == first
    hits = notes.search([1, 0, 0], top_k=5, filter={"lang": "fr"})
    assert [hit.record for hit in hits] == [Note("n2", "bonjour", "fr", None, [])]
    with pytest.raises(ValidationError):
        notes.upsert({"id": "n3", "text": "x", "lang": "en", "embedding": [1, 0, 0]})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        notes.upsert(Note("n3", "x", "en"))  # no vector


def test_pydantic_records(store: VectorStore) -> None:
    events = store.get_collection("events", Event)
    assert events.definition.key == KeyField("n", int)
    events.create()
    event = Event(
        n=1, title="launch", at=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), embedding=[1, 2, 3]
    )
    events.upsert(event)
    events.upsert(
        Event(n=2, title="landing", at=datetime(2026, 2, 1, tzinfo=timezone.utc), embedding=[3, 2, 1])
    )
    assert events.get(1) == event
    hits = events.search([1, 2, 3], top_k=2)
    assert [hit.record.n for hit in hits] == [1, 2]
    assert hits[0].record.embedding is None
    assert hits[0].record.at == event.at
    assert hits[0].score == pytest.approx(0.0, abs=1e-3)
    assert hits[1].score == pytest.approx(-math.sqrt(8), rel=1e-4)
    strict = store.get_collection("strict-events", StrictEvent)
    strict.create()
    strict.upsert(StrictEvent(id="s", embedding=[1, 0, 0]))
    assert strict.search([1, 0, 0], include_vectors=True)[0].record == StrictEvent(
        id="s", embedding=[1, 0, 0]
    )
    with pytest.raises(ValidationError, match="include_vectors"):
        strict.search([1, 0, 0])


class Point:
    """A record type no default mapper knows."""

    def __init__(self, name: str, xyz: tuple[float, float, float], color: str) -> None:
        self.name, self.xyz, self.color = name, xyz, color

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.name, self.xyz, self.color) == (
            other.name,
            other.xyz,
            other.color,
        )

    __hash__ = None  # type: ignore[assignment]


class PointMapper:
    def to_storage(self, record: Point) -> Mapping[str, Any]:
        return {"key": record.name, "vec": list(record.xyz), "color": record.color}

    def from_storage(self, values: dict[str, Any]) -> Point:
        xyz = tuple(values.get("vec") or (0.0, 0.0, 0.0))
        return Point(values["key"], xyz, values["color"])  # type: ignore[arg-type]


def test_custom_mapper(store: VectorStore) -> None:
    definition = RecordDefinition(
        "key", VectorField("vec", dimensions=3), [DataField("color", filterable=True)]
    )
    points = store.get_collection("points", definition, mapper=PointMapper())
    points.create()
    points.upsert_batch([Point("p", (1.0, 0.0, 0.0), "red"), Point("q", (0.0, 1.0, 0.0), "blue")])
    assert points.get("p") == Point("p", (1.0, 0.0, 0.0), "red")
    assert [hit.record.name for hit in points.search([0, 1, 0], top_k=1, filter={"color": "blue"})] == ["q"]


def test_definitions_from_types_are_checked() -> None:
    @dataclasses.dataclass
    class NoVector:
        id: str

    @dataclasses.dataclass
    class TwoVectors:
        id: str
        a: Annotated[list[float], VectorField(dimensions=2)]
        b: Annotated[list[float], VectorField(dimensions=2)]

    @dataclasses.dataclass
    class FloatKey:
        key: Annotated[float, KeyField()]
        v: Annotated[list[float], VectorField(dimensions=2)]

    @dataclasses.dataclass
    class NoKey:
        name: str
        v: Annotated[list[float], VectorField(dimensions=2)]

    for bad in [NoVector, TwoVectors, FloatKey, NoKey, dict, int]:
        with pytest.raises(ValidationError):
            RecordDefinition.from_type(bad)
    for make in [
        lambda: VectorField(dimensions=0),
        lambda: VectorField(dimensions=True),  # type: ignore[arg-type]
        lambda: VectorField(dimensions=3, distance="manhattan"),  # type: ignore[arg-type]
        lambda: RecordDefinition("id", VectorField("id", dimensions=2)),
        lambda: RecordDefinition("id", VectorField(dimensions=2)),
        lambda: RecordDefinition('a"b', VectorField("v", dimensions=2)),
        lambda: KeyField("id", float),  # type: ignore[arg-type]
    ]:
        with pytest.raises(ValidationError):
            make()
    definition = RecordDefinition.from_type(Note)
    assert RecordDefinition.from_json(definition.to_json()) == definition


# -- names ------------------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "'; DROP TABLE memstore_vector_records; --",
    'Robert"); DELETE FROM memstore_vector_collections WHERE ("1"="1',
    "ab",
    "a",
    "-abc",
    "abc-",
    "a..b",
    "1.2.3.4",
    "emoji 🧠🔥",
    "名前",
    "../../etc/passwd",
    " leading space",
    "x" * 600,
    "%_\\",
    "a b",
    "a_b",
]


def test_strict_names_reject_what_chroma_cannot_store(store: VectorStore) -> None:
    for name in HOSTILE_NAMES:
        if name == "a_b":
            continue
        with pytest.raises(ValidationError):
            store.get_collection(name, DEFINITION)
    for name in ["", "nul\x00", "x" * 1025, 42, None]:
        with pytest.raises(ValidationError):
            store.get_collection(name, DEFINITION)  # type: ignore[arg-type]
    assert store.list_collection_names() == []
    for name in ["abc", "ABC", "a.b", "a--b", "memstore_kv", "x" * 512]:
        assert check_collection_name(name) == name


def test_sanitized_names_never_collide(vector_backend: VectorBackend) -> None:
    sanitizing = VectorStore(vector_backend, names="sanitize")
    canary = sanitizing.get_collection("canary", DEFINITION)
    canary.create()
    canary.upsert(rec("c", [1, 0, 0, 0]))
    storage_names = set()
    for index, name in enumerate(HOSTILE_NAMES):
        collection = sanitizing.get_collection(name, DEFINITION)
        assert check_collection_name(collection.storage_name) == collection.storage_name
        storage_names.add(collection.storage_name)
        collection.create()
        collection.upsert(rec(name, [1, index, 0, 0], note=name))
    assert len(storage_names) == len(HOSTILE_NAMES)
    assert sanitizing.list_collection_names() == sorted([*HOSTILE_NAMES, "canary"])
    for name in HOSTILE_NAMES:
        collection = sanitizing.get_collection(name)
        assert collection.count() == 1
        assert collection.get(name, include_vectors=False) == {"id": name, "note": name}
    assert canary.get("c", include_vectors=False) == {"id": "c"}
    # A strict store naming the sanitised collection directly sees that it belongs to another name.
    strict = VectorStore(vector_backend)
    squatter = strict.get_collection(sanitize_collection_name("a b"), DEFINITION)
    assert not squatter.exists()
    for operation in (squatter.create, squatter.count, squatter.delete_collection):
        with pytest.raises(ConflictError):
            operation()
    assert sanitizing.get_collection("a b").count() == 1


HOSTILE_TEXT = [
    "'; DROP TABLE memstore_vector_records; --",
    'Robert"); DELETE FROM memstore_vector_collections WHERE ("1"="1',
    "' OR '1'='1",
    "%",
    "_",
    "\\",
    "\\'",
    "$ne",
    "#document",
    "memstore:data",
    "emoji 🧠🔥",
    "ـ RTL مرحبا",
    "e\u0301\u0301",
    " ",
    "\n\t",
    '{"json": true}',
    "x" * 1024,
]


def test_hostile_keys_values_and_filter_values(docs: VectorCollection[dict[str, Any]]) -> None:
    long_value = "y" * 10_000
    values = [*HOSTILE_TEXT, long_value]
    docs.upsert_batch([rec(key, [1, i, 0, 0], note=values[i]) for i, key in enumerate(HOSTILE_TEXT)])
    docs.upsert(rec("long", [1, 0, 1, 0], note=long_value, text=long_value))
    assert docs.count() == len(HOSTILE_TEXT) + 1
    for i, key in enumerate(HOSTILE_TEXT):
        assert docs.get(key, include_vectors=False) == {"id": key, "note": values[i]}
        found = ids(docs.search([1, 0, 0, 0], top_k=100, filter=Eq("note", values[i])))
        assert found == [key]
        others = ids(docs.search([1, 0, 0, 0], top_k=100, filter=Not(Eq("note", values[i]))))
        assert sorted(others) == sorted({*HOSTILE_TEXT, "long"} - {key})
    assert ids(docs.search([1, 0, 0, 0], top_k=100, filter=Eq("note", long_value))) == ["long"]
    assert ids(docs.search([1, 0, 0, 0], top_k=100, filter=In("note", ["%", "_", "nothing"]))) == ["%", "_"]
    docs.delete_batch(HOSTILE_TEXT)
    assert docs.count() == 1


def test_hostile_field_names_and_nested_keys(store: VectorStore) -> None:
    names = [
        "a.b",
        "$x",
        "#y",
        "memstore:data",
        "memstore:num:a",
        "back\\slash",
        "'; DROP TABLE t; --",
        "名前",
        "t\tab",
    ]
    definition = RecordDefinition(
        KeyField("id"), VectorField("v", dimensions=2), [DataField(name, filterable=True) for name in names]
    )
    collection = store.get_collection("fields", definition)
    collection.create()
    nested = {"a.b": 1, "a": {"b": 2}, "$x": 3, "#y": 4, "": 5, "'": 6, "é": "accent"}
    first = {"id": "1", "v": [1, 0], **{name: i for i, name in enumerate(names)}}
    second = {"id": "2", "v": [0, 1], "a.b": nested, "memstore:data": "not the data", "$x": {"": "empty key"}}
    collection.upsert_batch([first, second])
    assert collection.get("1") == {**first, "v": [1.0, 0.0]}
    assert collection.get("2") == {**second, "v": [0.0, 1.0]}
    cases: list[tuple[Filter, list[str]]] = [
        (Eq("a.b", 0), ["1"]),
        (Eq(("a.b", "a.b"), 1), ["2"]),
        (Eq(("a.b", "a", "b"), 2), ["2"]),
        (Eq(("a.b", "a", "b"), 1), []),
        (Eq(("a.b", "$x"), 3), ["2"]),
        (Eq(("a.b", "#y"), 4), ["2"]),
        (Eq(("a.b", "'"), 6), ["2"]),
        (Eq("$x", 1), ["1"]),
        (Eq("memstore:data", "not the data"), ["2"]),
        (Eq("memstore:num:a", 4), ["1"]),
        (Range("back\\slash", gte=5), ["1"]),
        (Not(Range("'; DROP TABLE t; --", gte=6)), ["2"]),
        (In("名前", [7, 8]), ["1"]),
        (Eq("t\tab", 8), ["1"]),
        (Eq(("a.b", "é"), "accent"), ["2"]),
    ]
    for node, expected in cases:
        found = _search_or_refusal(collection, [1, 1], node, store.backend)
        assert found == (None if isinstance(node, Not) and store.backend.kind == "chroma" else expected), node


async def test_async_twins_share_the_implementation(store: VectorStore) -> None:
    collection = store.get_collection("async", DEFINITION)
    assert await collection.acreate_if_not_exists() is True
    assert await collection.aexists()
    assert await collection.aupsert(rec("a", [1, 0, 0, 0], lang="en")) == "a"
    assert await collection.aupsert_batch([rec("b", [0, 1, 0, 0]), rec("c", [0, 0, 1, 0])]) == ["b", "c"]
    assert (await collection.aget("a", include_vectors=False)) == {"id": "a", "lang": "en"}
    assert [r["id"] for r in await collection.aget_batch(["c", "a"])] == ["c", "a"]
    assert await collection.acount() == 3
    results = await asyncio.gather(*(collection.asearch([1, 0, 0, 0], top_k=1) for _ in range(8)))
    assert all(ids(found) == ["a"] for found in results)
    await collection.adelete("a")
    await collection.adelete_batch(["b"])
    assert await collection.acount() == 1
    assert await store.alist_collection_names() == ["async"]
    assert await collection.adelete_collection() is True
    second = store.get_collection("async-2", DEFINITION)
    await second.acreate()
    assert await second.acount() == 0


# -- across backends ----------------------------------------------------------------------------------------


@pytest.fixture
def exact_backends(sqlite_url: str, postgresql_url: str) -> Iterator[list[VectorBackend]]:
    with Memstore(sqlite_url, vectors="sql") as lite, Memstore(postgresql_url, vectors="sql") as pg:
        yield [MemoryVectorBackend(), lite.vectors.backend, pg.vectors.backend]


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclidean"])
def test_exact_backends_return_identical_results(
    exact_backends: list[VectorBackend], distance: Distance
) -> None:
    rng = np.random.default_rng(11)
    matrix = rng.standard_normal((300, 16)).astype(np.float32)
    matrix[100:120] = matrix[5]  # ties: twenty copies of one vector, broken by key on every backend
    matrix[200:205] = np.round(matrix[200:205], 1)
    definition = RecordDefinition(
        KeyField("id"),
        VectorField("v", dimensions=16, distance=distance),
        [DataField("group", filterable=True)],
    )
    records = [{"id": f"k{i:03d}", "v": row, "group": i % 3} for i, row in enumerate(matrix)]
    order = rng.permutation(300)
    collections = []
    for number, backend in enumerate(exact_backends):
        collection = VectorStore(backend).get_collection("same", definition)
        collection.create()
        shuffled = [records[i] for i in (order if number % 2 else range(300))]  # other insertion orders
        collection.upsert_batch(shuffled[:150])
        collection.upsert_batch(shuffled[150:])
        collections.append(collection)
    queries = [matrix[5], matrix[200], *rng.standard_normal((4, 16)).astype(np.float32)]
    for query in queries:
        for where in [None, Eq("group", 1), Not(Eq("group", 1))]:
            results = [
                [(h.record["id"], h.score) for h in c.search(query, 30, filter=where)] for c in collections
            ]
            assert results[0] == results[1] == results[2]
            assert len(results[0]) == 30
            # In-place scoring gives the very scores search gives, on every exact backend.
            keys = [key for key, _ in results[0]]
            assert [c.scores(query, keys) for c in collections] == [dict(results[0])] * 3


def test_sql_schema_survives_hostile_input(sql_url: str) -> None:
    with Memstore(sql_url, vectors="sql") as memstore:
        memstore.kv.set("canary", "alive")
        sanitizing = VectorStore(memstore.vectors.backend, names="sanitize")
        for name in HOSTILE_NAMES:
            collection = sanitizing.get_collection(name, DEFINITION)
            collection.create()
            collection.upsert_batch([rec(text, [1, 0, 0, 0], note=text) for text in HOSTILE_TEXT])
            for text in HOSTILE_TEXT:
                assert ids(collection.search([1, 0, 0, 0], top_k=50, filter={"note": text})) == [text]
            collection.delete_batch(HOSTILE_TEXT[:3])
        for name in HOSTILE_NAMES[::2]:
            assert sanitizing.get_collection(name).delete_collection()
        assert memstore.database is not None
        tables = set(sa.inspect(memstore.database.engine).get_table_names())
        assert {
            "memstore_meta",
            "memstore_kv",
            "memstore_vector_collections",
            "memstore_vector_records",
        } <= tables
        assert memstore.kv.get("canary") == "alive"
        assert sanitizing.list_collection_names() == sorted(HOSTILE_NAMES[1::2])


# -- scan and copy -------------------------------------------------------------------------------------------


def test_scan_reads_every_record_once_page_by_page(docs: VectorCollection[dict[str, Any]]) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(1234, 4)).astype(np.float32)
    docs.upsert_batch(
        [rec(f"k{i:04d}", vectors[i], lang="en" if i % 3 else "fr", year=i) for i in range(1234)]
    )
    seen = list(docs.scan(page_size=100))
    assert sorted(r["id"] for r in seen) == [f"k{i:04d}" for i in range(1234)]
    for record in seen[:50]:
        assert np.allclose(record["embedding"], vectors[int(record["id"][1:])], atol=1e-6)
    french = list(docs.scan(filter=Eq("lang", "fr"), include_vectors=False, page_size=7))
    assert sorted(r["id"] for r in french) == [f"k{i:04d}" for i in range(0, 1234, 3)]
    assert all("embedding" not in r for r in french)
    assert list(docs.scan(filter=In("lang", []))) == []
    with pytest.raises(ValidationError):
        list(docs.scan(page_size=0))


async def test_scan_has_an_async_twin_and_reports_a_missing_collection(store: VectorStore) -> None:
    missing = store.get_collection("missing", DEFINITION)
    with pytest.raises(NotFoundError):
        list(missing.scan())
    missing.create()
    missing.upsert_batch([rec(f"a{i}", [1, 0, 0, i]) for i in range(3)])
    assert sorted([r["id"] async for r in missing.ascan(page_size=2)]) == ["a0", "a1", "a2"]


def test_copy_collections_carries_definitions_and_vectors(vector_backend: VectorBackend) -> None:
    from memstore.stores.vectors import copy_collections

    source = VectorStore(vector_backend)
    first = source.get_collection("first", DEFINITION)
    first.create()
    first.upsert_batch([rec(f"x{i}", [1, i, 0, 0], lang="en", year=i) for i in range(600)])
    source.get_collection("empty", DEFINITION).create()
    target_backend = MemoryVectorBackend()
    target = VectorStore(target_backend)
    stale = target.get_collection("first", DEFINITION)
    stale.create()
    stale.upsert(rec("stale", [0, 0, 0, 1]))
    assert copy_collections(vector_backend, target_backend) == {"first": 600, "empty": 0}
    assert sorted(target.list_collection_names()) == ["empty", "first"]
    copied = target.get_collection("first", DEFINITION)
    assert copied.count() == 600
    assert copied.get("stale") is None
    original = first.get("x7")
    assert original is not None
    assert copied.get("x7") == original


# -- LazyCollection ------------------------------------------------------------------------------------------


def _layout(dimensions: int) -> RecordDefinition:
    return RecordDefinition(
        KeyField("id"), VectorField("v", dimensions=dimensions), [DataField("lang", filterable=True)]
    )


def test_lazy_collection_reads_create_nothing_and_writes_create_it(store: VectorStore) -> None:
    lazy = store.lazy_collection("lazy", _layout)
    assert lazy.open() is None
    assert lazy.read(lambda collection: collection.count(), -1) == -1
    assert "lazy" not in store.list_collection_names()
    with pytest.raises(ValidationError, match="dimensions"):
        lazy.create()
    lazy.write(lambda collection: collection.upsert({"id": "a", "v": [1, 0, 0], "lang": "en"}), 3)
    assert store.get_collection("lazy").definition == _layout(3)
    # A second handle adopts the stored size; a write of another size is bad input, not a new collection.
    other = store.lazy_collection("lazy", _layout)
    assert other.read(lambda collection: collection.count(), 0) == 1
    with pytest.raises(ValidationError, match="3 floats"):
        other.write(lambda collection: collection.upsert({"id": "b", "v": [1, 0]}), 2)


async def test_lazy_collection_looks_a_deleted_collection_up_again(store: VectorStore) -> None:
    fixed = RecordDefinition(KeyField("id"), VectorField("v", dimensions=2))
    lazy = store.lazy_collection("lazy-dropped", fixed)
    await lazy.awrite(lambda collection: collection.upsert({"id": "a", "v": [1, 0]}))
    assert lazy.open() is not None
    store.get_collection("lazy-dropped").delete_collection()  # elsewhere: the kept handle is now stale
    assert lazy.read(lambda collection: collection.count(), -1) == -1
    assert await lazy.aread(lambda collection: collection.count(), -1) == -1
    lazy.write(lambda collection: collection.upsert({"id": "b", "v": [0, 1]}))  # created anew
    assert lazy.read(lambda collection: [r["id"] for r in collection.scan()], []) == ["b"]
    assert lazy.delete_collection()
    assert not lazy.delete_collection()
    assert lazy.read(lambda collection: collection.count(), -1) == -1


def test_lazy_collection_refuses_another_layout(store: VectorStore) -> None:
    store.get_collection("lazy-foreign", RecordDefinition(KeyField("id"), VectorField("w", 2))).create()
    with pytest.raises(ConflictError, match="another layout"):
        store.lazy_collection("lazy-foreign", _layout).open()
    with pytest.raises(ValidationError, match="another layout"):
        store.lazy_collection("lazy-foreign", _layout, refuse=ValidationError).read(lambda c: 1, 0)
    with pytest.raises(ConflictError):  # a fixed definition is checked as get_collection checks it
        store.lazy_collection("lazy-foreign", _layout(2)).open()
    with pytest.raises(ValidationError, match="collection name"):
        store.lazy_collection("no spaces", _layout)


def test_a_digit_key_never_indexes_into_a_list(store: VectorStore) -> None:
    """PostgreSQL's json_extract_path reads "0" as an array index; the filter language only reaches into
    objects, as the reference matches() says (this matched the list on PostgreSQL before)."""
    definition = RecordDefinition(
        KeyField("id"), VectorField("v", dimensions=2), [DataField("tags", filterable=True)]
    )
    collection = store.get_collection("digits", definition)
    collection.create()
    records = [
        {"id": "list", "v": [1, 0], "tags": [5, "x"]},
        {"id": "dict", "v": [1, 0], "tags": {"0": 5, "1": "x", " 1": 3}},
    ]
    collection.upsert_batch(records)
    for condition in (
        Eq(("tags", "0"), 5),
        Range(("tags", "0"), gte=5),
        Eq(("tags", "1"), "x"),
        In(("tags", "0"), [5, 6]),
        Eq(("tags", " 1"), 3),
    ):
        expected = [r["id"] for r in records if matches(condition, r)]
        assert expected == ["dict"]
        assert [r["id"] for r in collection.scan(filter=condition)] == expected, condition
        if not isinstance(condition, Range):  # Chroma cannot negate a range (D10)
            assert collection.count(filter=Not(condition)) == 1
