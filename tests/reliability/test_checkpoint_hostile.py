"""The hostile corpus through the LangGraph checkpointer: exact round-trip or ValidationError, nothing else.

Each string is used as a thread id, a checkpoint namespace, a metadata key and value (and a filter on them),
a channel name and value, a task id, and a thread-id prefix to delete. Afterwards the SQL schema and a canary
thread are unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from hostile import CORPUS, rejected_as_identifier, rejected_as_text
from langgraph.checkpoint.base import empty_checkpoint

from langchain_memstore import MemstoreCheckpointSaver
from memstore import Memstore, ValidationError


def _outcome(action: Callable[[], Any]) -> str:
    try:
        action()
    except ValidationError:
        return "rejected"
    return "round-trip"


def _put(
    saver: MemstoreCheckpointSaver, thread_id: str, namespace: str = "", **options: Any
) -> dict[str, Any]:
    checkpoint = empty_checkpoint()
    channel = options.get("channel", "ch")
    value = options.get("value", "v")
    checkpoint["channel_versions"] = {channel: "1"}
    checkpoint["channel_values"] = {channel: value}
    metadata = {"source": "loop", "step": 1, **options.get("metadata", {})}
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": namespace}}
    return dict(saver.put(config, checkpoint, metadata, {channel: "1"}))  # type: ignore[arg-type]


def _probe(saver: MemstoreCheckpointSaver, index: int, text: str) -> list[str]:
    bad_id, bad_text = rejected_as_identifier(text), rejected_as_text(text)
    bad_namespace = bad_text or len(text.encode("utf-8", "surrogatepass")) > 1024

    def thread_id() -> None:
        stored = _put(saver, text, value=f"v{index}")
        found = saver.get_tuple({"configurable": {"thread_id": text}})
        assert found is not None
        assert found.config["configurable"]["thread_id"] == text
        assert found.checkpoint["channel_values"] == {"ch": f"v{index}"}
        assert [t.config for t in saver.list({"configurable": {"thread_id": text}})] == [stored]
        saver.delete_thread(text)
        assert saver.get_tuple({"configurable": {"thread_id": text}}) is None

    def namespace() -> None:
        stored = _put(saver, f"ns-{index}", text)
        found = saver.get_tuple(stored)  # type: ignore[arg-type]
        assert found is not None
        assert found.config["configurable"]["checkpoint_ns"] == text
        saver.delete_thread(f"ns-{index}")

    def metadata() -> None:
        stored = _put(saver, f"md-{index}", metadata={text: text, "nested": {text: [text]}})
        found = saver.get_tuple(stored)  # type: ignore[arg-type]
        assert found is not None
        assert found.metadata[text] == text
        assert found.metadata["nested"] == {text: [text]}
        matching = list(saver.list(None, filter={text: text}))
        assert [t.config for t in matching] == [stored]
        assert list(saver.list(None, filter={text: text + "x"})) == []
        saver.delete_thread(f"md-{index}")

    def channel_and_task() -> None:
        stored = _put(saver, f"ch-{index}", channel=text, value=text)
        saver.put_writes(stored, [(text, text)], text, task_path=text)  # type: ignore[arg-type]
        found = saver.get_tuple(stored)  # type: ignore[arg-type]
        assert found is not None
        assert found.checkpoint["channel_values"] == {text: text}
        assert found.pending_writes == [(text, text, text)]
        saver.delete_thread(f"ch-{index}")

    def prefix() -> None:
        _put(saver, text + "-victim")
        try:
            assert saver.store.checkpoints.delete_by_prefix(text) >= 1
        except ValidationError:
            saver.delete_thread(text + "-victim")  # "" is refused as a prefix: tidy up, then report it
            raise
        assert saver.get_tuple({"configurable": {"thread_id": text + "-victim"}}) is None

    prefixed_too_long = rejected_as_identifier(text + "-victim")
    outcomes = []
    for action, rejected in (
        (thread_id, bad_id),
        (namespace, bad_namespace),
        (metadata, bad_text or not text),  # an empty metadata key is fine; the filter path must cope too
        (channel_and_task, bad_id),
        (prefix, bad_id or prefixed_too_long),
    ):
        if action is metadata and not text:
            rejected = False
        outcome = _outcome(action)
        assert outcome == ("rejected" if rejected else "round-trip"), (action.__name__, text[:40])
        outcomes.append(outcome)
    return outcomes


def test_hostile_strings_through_the_checkpointer(store_url: str) -> None:
    with Memstore(store_url) as store, MemstoreCheckpointSaver(store) as saver:
        canary = _put(saver, "canary", value="canary")
        tables_before = (
            None if store.database is None else sa.inspect(store.database.engine).get_table_names()
        )
        outcomes = Counter(o for index, text in enumerate(CORPUS) for o in _probe(saver, index, text))
        if store.database is not None:
            assert sa.inspect(store.database.engine).get_table_names() == tables_before
        found = saver.get_tuple(canary)  # type: ignore[arg-type]
        assert found is not None
        assert found.checkpoint["channel_values"] == {"ch": "canary"}
        assert [t.config["configurable"]["thread_id"] for t in saver.list(None)] == ["canary"]
        assert outcomes["rejected"] > 0
        assert outcomes["round-trip"] > 0
        assert sum(outcomes.values()) == 5 * len(CORPUS)
