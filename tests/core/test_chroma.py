"""What only the Chroma backend has: approximate search, a server that fails, shared embedded clients."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import chromadb
import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from chromadb.config import Settings
from services import ChromaServer

from memstore import (
    BackendError,
    DataField,
    KeyField,
    Memstore,
    RecordDefinition,
    ValidationError,
    VectorField,
)
from memstore.backends import chroma as chroma_module
from memstore.backends.chroma import ChromaVectorBackend
from memstore.backends.memory.vectors import MemoryVectorBackend
from memstore.records import Distance
from memstore.stores.vectors import VectorBackend, VectorStore

DEFINITION = RecordDefinition(
    KeyField("id"), VectorField("v", dimensions=4), [DataField("lang", filterable=True)]
)


@pytest.fixture(params=["chroma", "chroma-server"])
def chroma_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "chroma-server":
        yield request.getfixturevalue("chroma_server_backend")
        return
    backend = ChromaVectorBackend(path=tmp_path / "chroma")
    yield backend
    backend.close()


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_recall_at_10_against_exact_search(chroma_backend: VectorBackend, distance: Distance) -> None:
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((5000, 32)).astype(np.float32)
    definition = RecordDefinition(KeyField("id", int), VectorField("v", dimensions=32, distance=distance))
    records = [{"id": i, "v": row} for i, row in enumerate(matrix)]
    approximate = VectorStore(chroma_backend).get_collection("recall", definition)
    exact = VectorStore(MemoryVectorBackend()).get_collection("recall", definition)
    for collection in (approximate, exact):
        collection.create()
        collection.upsert_batch(records)
    assert approximate.count() == 5000
    overlaps = []
    for query in rng.standard_normal((40, 32)).astype(np.float32):
        truth = {hit.record["id"] for hit in exact.search(query, top_k=10)}
        found = {hit.record["id"] for hit in approximate.search(query, top_k=10)}
        overlaps.append(len(truth & found) / 10)
    assert float(np.mean(overlaps)) >= 0.95


def _pause(server: ChromaServer) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)


def _resume(server: ChromaServer) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGCONT)


def test_a_server_that_stops_answering_fails_within_the_timeout(
    private_chroma_server: ChromaServer, sqlite_url: str
) -> None:
    server = private_chroma_server
    with Memstore(sqlite_url, vectors=f"{server.url}?timeout=2") as memstore:
        memstore.kv.set("before", "kept")
        docs = memstore.vectors.get_collection("docs", DEFINITION)
        docs.create()
        docs.upsert({"id": "a", "v": [1, 0, 0, 0], "lang": "en"})
        _pause(server)
        try:
            for operation, call in [
                ("upsert", lambda: docs.upsert({"id": "b", "v": [0, 1, 0, 0]})),
                ("search", lambda: docs.search([1, 0, 0, 0])),
                ("count", docs.count),
            ]:
                started = time.monotonic()
                with pytest.raises(BackendError) as caught:
                    call()
                # Bounded by the 2 s client timeout (generous slack for a loaded machine), not a hang.
                assert time.monotonic() - started < 20
                assert caught.value.backend == "chroma"
                assert caught.value.operation == operation
                assert isinstance(caught.value.__cause__, httpx.TimeoutException)
        finally:
            _resume(server)
        assert [hit.record["id"] for hit in docs.search([1, 0, 0, 0], top_k=1)] == ["a"]
        server.stop()
        with pytest.raises(BackendError) as caught:
            docs.get("a")
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        # Nothing of this went to the SQL database: its tables hold no vectors, and the KV store is intact.
        assert memstore.database is not None
        with memstore.database.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM memstore_vector_records")).scalar_one() == 0
            assert conn.execute(sa.text("SELECT count(*) FROM memstore_vector_collections")).scalar_one() == 0
        assert memstore.kv.get("before") == "kept"
        memstore.kv.set("after", "written")
        assert memstore.kv.get("after") == "written"


def test_connecting_to_a_paused_server_is_bounded_too(private_chroma_server: ChromaServer) -> None:
    server = private_chroma_server
    backend = ChromaVectorBackend(host=server.host, port=server.port, timeout=1)
    _pause(server)
    try:
        started = time.monotonic()
        with pytest.raises(BackendError) as caught:
            VectorStore(backend).list_collection_names()
        assert time.monotonic() - started < 20
        assert caught.value.operation == "connect"
    finally:
        _resume(server)
    assert VectorStore(backend).list_collection_names() == [], "a later call connects"
    backend.close()


def test_a_server_that_was_never_there_fails_on_first_use_not_on_construction() -> None:
    with Memstore("memory://", vectors="chroma+http://127.0.0.1:9?timeout=1") as memstore:
        collection = memstore.vectors.get_collection("docs", DEFINITION)
        with pytest.raises(BackendError):
            collection.create()


def test_embedded_clients_are_shared_per_path_and_released_by_the_last_user(tmp_path: Path) -> None:
    path = tmp_path / "vectors"
    first = ChromaVectorBackend(path=path)
    second = ChromaVectorBackend(path=str(path) + "/../vectors")
    VectorStore(first).get_collection("docs", DEFINITION).create()
    assert VectorStore(second).list_collection_names() == ["docs"]
    assert len([p for p in chroma_module._EMBEDDED if p == str(path.resolve())]) == 1
    first.close()
    second_docs = VectorStore(second).get_collection("docs", DEFINITION)
    second_docs.upsert({"id": "a", "v": [1, 0, 0, 0]})
    second.close()
    assert str(path.resolve()) not in chroma_module._EMBEDDED
    reopened = ChromaVectorBackend(path=path)
    assert VectorStore(reopened).get_collection("docs").count() == 1, "the data outlives the client"
    reopened.close()


def test_foreign_collections_are_not_listed_and_not_opened(tmp_path: Path) -> None:
    backend = ChromaVectorBackend(path=tmp_path / "chroma")
    store = VectorStore(backend)
    store.get_collection("mine", DEFINITION).create()
    backend.close()
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    client.create_collection("theirs", embedding_function=None)
    client.close()
    backend = ChromaVectorBackend(path=tmp_path / "chroma")
    store = VectorStore(backend)
    assert store.list_collection_names() == ["mine"]
    with pytest.raises(ValidationError, match="not created by memstore"):
        store.get_collection("theirs", DEFINITION).count()
    backend.close()


def test_hnsw_settings_reach_the_collection(tmp_path: Path) -> None:
    backend = ChromaVectorBackend(path=tmp_path / "chroma", hnsw={"ef_search": 150, "max_neighbors": 24})
    VectorStore(backend).get_collection("tuned", DEFINITION).create()
    backend.close()
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    configuration = client.get_collection("tuned", embedding_function=None).configuration["hnsw"]
    client.close()
    assert (configuration["ef_search"], configuration["max_neighbors"], configuration["space"]) == (
        150,
        24,
        "cosine",
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"path": "x", "host": "h"}, {"host": "h", "timeout": 0}, {"host": "h", "timeout": float("inf")}],
)
def test_backend_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ChromaVectorBackend(**options)
