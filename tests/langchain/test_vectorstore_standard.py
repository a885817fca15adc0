"""LangChain's own VectorStore suite (``langchain_tests``), unmodified, on every memstore vector backend.

One subclass per backend: embedded Chroma (the default) on a SQLite database, SQL vectors on SQLite and on
PostgreSQL, and the in-memory backend. Each test gets an empty store of its own (a fresh database and
Chroma directory, or a fresh PostgreSQL schema). No test of the suite is overridden, skipped or xfailed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_memstore import MemstoreVectorStore


def _open(url: str, vectors: str) -> Iterator[MemstoreVectorStore]:
    store = MemstoreVectorStore(
        "standard", VectorStoreIntegrationTests.get_embeddings(), store=url, vectors=vectors
    )
    with store:
        yield store


class TestChromaEmbedded(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[MemstoreVectorStore]:
        yield from _open(f"sqlite:///{tmp_path / 'memstore.db'}", f"chroma:///{tmp_path / 'chroma'}")


class TestSqlOnSqlite(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, sqlite_url: str) -> Iterator[MemstoreVectorStore]:
        yield from _open(sqlite_url, "sql")


@pytest.mark.postgres
class TestSqlOnPostgresql(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, postgresql_url: str) -> Iterator[MemstoreVectorStore]:
        yield from _open(postgresql_url, "sql")


class TestMemory(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> Iterator[MemstoreVectorStore]:
        yield from _open("memory://", "memory")
