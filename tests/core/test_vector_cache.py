"""The SQL backend's in-memory vector cache: kept current incrementally, and correct when others write."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from memstore import DataField, KeyField, Memstore, RecordDefinition, VectorField
from memstore.backends.memory.vectors import MemoryVectorBackend
from memstore.backends.sql.vectors import SqlVectorBackend
from memstore.stores.vectors import VectorCollection, VectorStore

DEFINITION = RecordDefinition(
    KeyField("id"), VectorField("v", dimensions=3, distance="dot"), [DataField("n", filterable=True)]
)


def ids(collection: VectorCollection[dict[str, Any]], query: list[float], top_k: int = 100) -> list[str]:
    return [hit.record["id"] for hit in collection.search(query, top_k=top_k)]


@pytest.fixture
def pair(sql_url: str) -> Iterator[tuple[Memstore, Memstore]]:
    with Memstore(sql_url, vectors="sql") as first, Memstore(sql_url, vectors="sql") as second:
        yield first, second


class LoadSpy:
    """Counts how the cache reads the table: full loads (None) and deltas (the version it starts from)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[int | None] = []
        original = SqlVectorBackend._load

        def spy(backend: SqlVectorBackend, conn: Any, index: Any, spec: Any, newer_than: int | None) -> None:
            self.calls.append(newer_than)
            original(backend, conn, index, spec, newer_than)

        monkeypatch.setattr(SqlVectorBackend, "_load", spy)

    def take(self) -> list[int | None]:
        calls, self.calls = self.calls, []
        return calls


def test_the_cache_follows_writes_of_another_memstore(
    pair: tuple[Memstore, Memstore], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = pair
    spy = LoadSpy(monkeypatch)
    mine = first.vectors.get_collection("shared", DEFINITION)
    mine.create()
    mine.upsert_batch([{"id": f"k{i}", "v": [i, 0, 0], "n": i} for i in range(10)])
    assert ids(mine, [1, 0, 0], top_k=3) == ["k9", "k8", "k7"]
    assert spy.take() == [None], "the first search loads the collection once"

    mine.upsert({"id": "k10", "v": [10, 0, 0]})
    mine.delete("k9")
    assert ids(mine, [1, 0, 0], top_k=2) == ["k10", "k8"]
    assert spy.take() == [], "this backend's own writes are applied to the cache, no reload"

    theirs = second.vectors.get_collection("shared", DEFINITION)
    theirs.upsert({"id": "t", "v": [100, 0, 0]})
    assert ids(mine, [1, 0, 0], top_k=1) == ["t"]
    calls = spy.take()
    assert len(calls) == 1
    assert calls[0] is not None, "another writer's rows arrive as a delta, not a reload"

    theirs.upsert({"id": "k0", "v": [50, 0, 0], "n": 0})  # a changed vector
    theirs.delete_batch(["t", "k8"])
    assert ids(mine, [1, 0, 0], top_k=3) == ["k0", "k10", "k7"]
    assert set(ids(mine, [1, 0, 0])) == {f"k{i}" for i in [0, 1, 2, 3, 4, 5, 6, 7, 10]}
    assert mine.search([1, 0, 0], top_k=1, filter={"n": 0})[0].score == pytest.approx(50)

    # Interleaved writers: the cache is never left behind.
    for step in range(6):
        (mine if step % 2 else theirs).upsert({"id": f"x{step}", "v": [200 + step, 0, 0]})
        assert ids(mine, [1, 0, 0], top_k=1) == [f"x{step}"]
        assert ids(theirs, [1, 0, 0], top_k=1) == [f"x{step}"]

    # Deleted and re-created elsewhere: a new collection, never the old cache.
    theirs.delete_collection()
    theirs.create()
    theirs.upsert({"id": "fresh", "v": [1, 0, 0]})
    assert ids(mine, [1, 0, 0]) == ["fresh"]


def test_delete_where_keeps_both_caches_right(
    pair: tuple[Memstore, Memstore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filtered delete bumps the version like any write: the writer's cache drops exactly the deleted
    keys (no reload), another Memstore's cache catches up on its next read, scores included."""
    first, second = pair
    mine = first.vectors.get_collection("where", DEFINITION)
    mine.create()
    mine.upsert_batch([{"id": f"k{i}", "v": [i, 0, 0], "n": i % 3} for i in range(30)])
    theirs = second.vectors.get_collection("where", DEFINITION)
    assert ids(theirs, [1, 0, 0], top_k=1) == ["k29"]  # their cache is loaded
    assert ids(mine, [1, 0, 0], top_k=1) == ["k29"]
    spy = LoadSpy(monkeypatch)
    assert mine.delete_where({"n": 2}) == 10
    assert ids(mine, [1, 0, 0], top_k=2) == ["k28", "k27"]
    assert spy.take() == [], "the writer's own cache drops the returned keys"
    survivors = {f"k{i}" for i in range(30) if i % 3 != 2}
    assert set(ids(theirs, [1, 0, 0])) == survivors
    assert set(theirs.scores([1, 0, 0], [f"k{i}" for i in range(30)])) == survivors
    assert theirs.delete_where(None) == 20
    assert ids(mine, [1, 0, 0]) == []
    assert mine.scores([1, 0, 0], ["k0", "k1"]) == {}


def test_scores_read_no_record_rows(pair: tuple[Memstore, Memstore]) -> None:
    first, _ = pair
    collection = first.vectors.get_collection("scored", DEFINITION)
    collection.create()
    collection.upsert_batch([{"id": f"k{i}", "v": [i, 1, 0]} for i in range(200)])
    assert first.database is not None
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(first.database.engine, "before_cursor_execute", record)
    try:
        scores = collection.scores([1, 0, 0], ["k3", "k199", "missing"])
    finally:
        sa.event.remove(first.database.engine, "before_cursor_execute", record)
    assert scores == {"k3": 3.0, "k199": 199.0}
    # The first call loads the matrix once (as a search would); a second reads only the version.
    statements.clear()
    sa.event.listen(first.database.engine, "before_cursor_execute", record)
    try:
        collection.scores([1, 0, 0], [f"k{i}" for i in range(200)])
    finally:
        sa.event.remove(first.database.engine, "before_cursor_execute", record)
    assert all("memstore_vector_records" not in s for s in statements), statements


def test_a_search_or_get_without_changes_reads_only_the_version(
    pair: tuple[Memstore, Memstore],
) -> None:
    first, _ = pair
    collection = first.vectors.get_collection("quiet", DEFINITION)
    collection.create()
    collection.upsert_batch([{"id": f"k{i}", "v": [i, 1, 0]} for i in range(200)])
    collection.search([1, 0, 0], top_k=5)
    assert first.database is not None
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(first.database.engine, "before_cursor_execute", record)
    try:
        hits = collection.search([1, 0, 0], top_k=5)
        got = collection.get_batch(["k3", "k199", "missing"], include_vectors=True)
    finally:
        sa.event.remove(first.database.engine, "before_cursor_execute", record)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # Record data and vectors come from the cache: each call reads only the collection's version.
    assert len(selects) == 2, statements
    assert all("memstore_vector_collections" in s and "memstore_vector_records" not in s for s in selects)
    assert [hit.record["id"] for hit in hits] == ["k199", "k198", "k197", "k196", "k195"]
    assert sorted((r["id"], list(r["v"])) for r in got) == [("k199", [199, 1, 0]), ("k3", [3, 1, 0])]


def test_records_from_the_cache_are_the_callers_own(sql_url: str) -> None:
    definition = RecordDefinition(
        KeyField("id"), VectorField("v", dimensions=3, distance="dot"), [DataField("meta")]
    )
    with Memstore(sql_url, vectors="sql") as memstore:
        collection = memstore.vectors.get_collection("owned", definition)
        collection.create()
        collection.upsert({"id": "a", "v": [1, 0, 0], "meta": {"tags": ["x"], "n": 1.5}})
        first = collection.search([1, 0, 0], top_k=1)[0].record
        first["meta"]["tags"].append("mutated")
        got = collection.get("a")
        assert got is not None
        got["meta"]["n"] = 0
        assert collection.search([1, 0, 0], top_k=1)[0].record["meta"] == {"tags": ["x"], "n": 1.5}
        assert collection.get("a") == {"id": "a", "v": got["v"], "meta": {"tags": ["x"], "n": 1.5}}


def test_concurrent_writers_and_searchers_in_one_process(sql_url: str) -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((400, 3)).astype(np.float32)
    with Memstore(sql_url, vectors="sql") as memstore:
        collection = memstore.vectors.get_collection("busy", DEFINITION)
        collection.create()
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for start in range(worker * 100, worker * 100 + 100, 10):
                    collection.upsert_batch(
                        [{"id": f"k{i:03d}", "v": vectors[i]} for i in range(start, start + 10)]
                    )
                    collection.search(vectors[start], top_k=3)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        reference = VectorStore(MemoryVectorBackend()).get_collection("busy", DEFINITION)
        reference.create()
        reference.upsert_batch([{"id": f"k{i:03d}", "v": vectors[i]} for i in range(400)])
        for query in rng.standard_normal((5, 3)).astype(np.float32):
            expected = [(hit.record["id"], hit.score) for hit in reference.search(query, top_k=400)]
            assert [(hit.record["id"], hit.score) for hit in collection.search(query, top_k=400)] == expected


def _write_from_another_process(url: str, rounds: int) -> None:
    with Memstore(url, vectors="sql") as memstore:
        collection = memstore.vectors.get_collection("across")
        for step in range(rounds):
            collection.upsert({"id": f"p{step}", "v": [1000 + step, 0, 0]})
            collection.delete(f"k{step}")


def test_another_process_writing_the_same_collection(sql_url: str) -> None:
    with Memstore(sql_url, vectors="sql") as memstore:
        collection = memstore.vectors.get_collection("across", DEFINITION)
        collection.create()
        collection.upsert_batch([{"id": f"k{i}", "v": [i, 0, 0]} for i in range(20)])
        assert ids(collection, [1, 0, 0], top_k=1) == ["k19"]
        process = mp.get_context("spawn").Process(target=_write_from_another_process, args=(sql_url, 10))
        process.start()
        process.join(timeout=120)
        assert process.exitcode == 0
        assert ids(collection, [1, 0, 0], top_k=1) == ["p9"]
        assert set(ids(collection, [1, 0, 0])) == {f"p{i}" for i in range(10)} | {
            f"k{i}" for i in range(10, 20)
        }
