"""Fixtures of the LangChain / LangGraph adapter suites: one Memstore per test, on every backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memstore import Memstore


@pytest.fixture
def mstore(store_url: str) -> Iterator[Memstore]:
    """A fresh Memstore on memory, SQLite and PostgreSQL in turn (closed after the test)."""
    with Memstore(store_url) as store:
        yield store


@pytest.fixture
def sql_store(sql_url: str) -> Iterator[Memstore]:
    """A fresh Memstore on SQLite and PostgreSQL in turn, for what must survive a reopen."""
    with Memstore(sql_url) as store:
        yield store
