"""LangGraph's own checkpointer conformance suite, unmodified, on memory, SQLite and PostgreSQL.

``langgraph-checkpoint-conformance`` registers a saver factory, detects which capabilities the saver
overrides, and runs each capability's spec against a fresh saver. Every capability must be detected (base and
extended) and every spec must pass; the report's failures are printed when one does not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES, BASE_CAPABILITIES

from langchain_memstore import MemstoreCheckpointSaver
from memstore import Memstore


async def test_conformance_base_and_extended(store_url: str) -> None:
    @checkpointer_test(name=f"MemstoreCheckpointSaver[{store_url.split(':')[0]}]")
    async def saver() -> AsyncGenerator[MemstoreCheckpointSaver, None]:
        # One Memstore per capability suite, as the suite asks: a fresh saver each time, on the same database.
        store = Memstore(store_url)
        try:
            yield MemstoreCheckpointSaver(store)
        finally:
            await store.aclose()

    report = await validate(saver)
    failures = {name: result.failures for name, result in report.results.items() if not result.passed}
    assert not failures, failures
    assert {name for name, result in report.results.items() if result.detected} == {
        capability.value for capability in ALL_CAPABILITIES
    }
    assert report.passed_all_base()
    assert report.passed_all()
    assert sum(result.tests_passed for result in report.results.values()) > 80
    assert BASE_CAPABILITIES < ALL_CAPABILITIES  # the extended capabilities were run too


@pytest.mark.parametrize("strategy", ["nonsense", ""])
def test_prune_refuses_an_unknown_strategy(strategy: str) -> None:
    from memstore import ValidationError

    with MemstoreCheckpointSaver("memory://") as saver, pytest.raises(ValidationError):
        saver.prune(["t"], strategy=strategy)
