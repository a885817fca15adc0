"""Fixtures of the LlamaIndex adapter suites: every store on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import Settings
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

from llamaindex_memstore import MemstoreChatStore, MemstoreKVStore, MemstoreMemoryChatStore
from memstore import Memstore


@pytest.fixture(autouse=True, scope="session")
def offline_models() -> None:
    """Everything runs offline: LlamaIndex must never reach for a hosted LLM or embedding model."""
    Settings.llm = MockLLM()
    Settings.embed_model = MockEmbedding(embed_dim=8)


@pytest.fixture
def memstore(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url) as store:
        yield store


@pytest.fixture
def chat_store(memstore: Memstore) -> MemstoreChatStore:
    return MemstoreChatStore(memstore)


@pytest.fixture
def memory_store(memstore: Memstore) -> MemstoreMemoryChatStore:
    return MemstoreMemoryChatStore(memstore)


@pytest.fixture
def kv_store(memstore: Memstore) -> MemstoreKVStore:
    return MemstoreKVStore(memstore)


VECTOR_STORE_BACKENDS = ["memory", "sqlite", "postgresql", "chroma", "chroma-server"]


@pytest.fixture(params=VECTOR_STORE_BACKENDS)
def vector_memstore(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memstore]:
    """A Memstore whose vectors live in memory, SQL (SQLite, PostgreSQL), embedded Chroma or the session's
    Chroma server (``chroma run``; its collections are deleted after each test)."""
    if request.param == "memory":
        store = Memstore("memory://")
    elif request.param == "chroma":
        store = Memstore(
            f"sqlite:///{tmp_path / 'chroma-meta.db'}", vectors=f"chroma:///{tmp_path / 'chroma'}"
        )
    elif request.param == "chroma-server":
        request.getfixturevalue("chroma_server_backend")  # skips (or fails on CI) without a server; cleans up
        server = request.getfixturevalue("chroma_server")
        store = Memstore(
            f"sqlite:///{tmp_path / 'chroma-meta.db'}", vectors=f"chroma+http://{server.host}:{server.port}"
        )
    else:
        store = Memstore(str(request.getfixturevalue(f"{request.param}_url")), vectors="sql")
    with store:
        yield store
