"""Issue #16 (security): a retriever built for one session is never widened to every session by a call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_helpers import open_store
from langchain_core.messages import HumanMessage

from langchain_memstore import MemstoreMemoryRetriever
from memstore import HashingEmbedder, Memstore, ValidationError


@pytest.fixture(params=["sqlite-chroma", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memstore]:
    yield from open_store(request.param, tmp_path)


def _sessions(docs: list[object]) -> set[str]:
    return {d.metadata["session_id"] for d in docs}  # type: ignore[attr-defined]


def test_a_session_retriever_cannot_be_widened_to_every_session(store: Memstore) -> None:
    embedder = HashingEmbedder(32)
    mine = MemstoreMemoryRetriever("alice", store=store, embedding=embedder, k=10)
    mine.add_messages([HumanMessage("my puppy is called Biscuit")])
    mine.add_messages([HumanMessage("my puppy is called Secret")], session_id="bob")
    with pytest.raises(ValidationError, match="session"):
        mine.invoke("puppy", session_id=None)
    assert _sessions(mine.invoke("puppy")) == {"alice"}
    # Only a retriever built unscoped searches every session, with or without the per-call None.
    everyone = MemstoreMemoryRetriever(None, store=store, embedding=embedder, k=10)
    assert _sessions(everyone.invoke("puppy")) == {"alice", "bob"}
    assert _sessions(everyone.invoke("puppy", session_id=None)) == {"alice", "bob"}


async def test_a_session_retriever_cannot_be_widened_async(store: Memstore) -> None:
    mine = MemstoreMemoryRetriever("alice", store=store, embedding=HashingEmbedder(32), k=10)
    await mine.aadd_messages([HumanMessage("my puppy is called Secret")], session_id="bob")
    with pytest.raises(ValidationError, match="session"):
        await mine.ainvoke("puppy", session_id=None)
