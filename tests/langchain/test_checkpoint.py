"""MemstoreCheckpointSaver and the core CheckpointStore on memory, SQLite and PostgreSQL.

LangGraph's conformance suite (test_checkpoint_conformance.py) pins the contract call by call; these tests pin
what it does not: a real graph behaves exactly as on LangGraph's InMemorySaver (interrupts, resume, time
travel, sync and async), values are stored once per version, reads are one query, prune keeps what the kept
checkpoints reference, and the core's thread deletes, retention and schema upgrade.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from checkpoint_graph import build
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from langchain_memstore import MemstoreCheckpointSaver
from memstore import CheckpointWrite, Memstore, ValidationError
from memstore.backends.sql import database as sql_database
from memstore.backends.sql.database import select_rows
from memstore.stores import checkpoints as core_checkpoints

MANUAL = "a large static channel. " * 2000  # ~48 kB, written once by the first input


def _config(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


def _session(graph: Any, thread_id: str) -> None:
    """Run to the interrupt, resume, travel back to the review and take the other branch."""
    config = _config(thread_id)
    graph.invoke({"messages": ["hello"], "approved": False, "manual": MANUAL}, config)
    graph.invoke(Command(resume="yes"), config)
    at_review = next(s for s in graph.get_state_history(config) if s.next == ("review",))
    forked = graph.update_state(at_review.config, {"messages": ["edited"]})
    graph.invoke(Command(resume="no"), forked)


async def _asession(graph: Any, thread_id: str) -> None:
    config = _config(thread_id)
    await graph.ainvoke({"messages": ["hello"], "approved": False, "manual": MANUAL}, config)
    await graph.ainvoke(Command(resume="yes"), config)
    reviews = [s async for s in graph.aget_state_history(config) if s.next == ("review",)]
    at_review = reviews[0]
    forked = await graph.aupdate_state(at_review.config, {"messages": ["edited"]})
    await graph.ainvoke(Command(resume="no"), forked)


def _history(graph: Any, thread_id: str) -> list[tuple[Any, ...]]:
    """What a user sees of a thread's history, without the ids (they differ between savers)."""
    rows = []
    for snapshot in graph.get_state_history(_config(thread_id)):
        values = {k: v for k, v in snapshot.values.items() if k != "manual"}
        rows.append(
            (
                repr(sorted(values.items())),
                snapshot.values.get("manual") == MANUAL,
                snapshot.next,
                snapshot.metadata["source"],
                snapshot.metadata["step"],
                [repr(i.value) for t in snapshot.tasks for i in t.interrupts],
                snapshot.parent_config is None,
            )
        )
    return rows


@pytest.fixture
def saver(mstore: Memstore) -> Iterator[MemstoreCheckpointSaver]:
    with MemstoreCheckpointSaver(mstore) as checkpointer:
        yield checkpointer


def test_is_a_checkpoint_saver_and_leaves_a_given_store_open(mstore: Memstore) -> None:
    saver = MemstoreCheckpointSaver(mstore)
    assert isinstance(saver, BaseCheckpointSaver)
    saver.close()
    mstore.kv.set("still", "open")  # a Memstore passed in belongs to the caller


def test_a_graph_behaves_as_on_the_in_memory_saver(saver: MemstoreCheckpointSaver) -> None:
    ours, reference = build(saver), build(InMemorySaver())
    _session(ours, "t")
    _session(reference, "t")
    history = _history(ours, "t")
    assert history == _history(reference, "t")
    assert len(history) >= 8
    final = ours.get_state(_config("t"))
    assert final.values["messages"][-2:] == ["review: no", "discarded"]
    assert "edited" in final.values["messages"]


async def test_the_async_face_runs_the_same_graph(saver: MemstoreCheckpointSaver) -> None:
    ours, reference = build(saver), build(InMemorySaver())
    await _asession(ours, "t")
    await _asession(reference, "t")
    assert _history(ours, "t") == _history(reference, "t")
    assert [t.checkpoint["id"] async for t in saver.alist(_config("t"))] == [
        t.checkpoint["id"] for t in saver.list(_config("t"))
    ]


def test_an_unchanged_channel_is_stored_once(sql_store: Memstore) -> None:
    graph = build(MemstoreCheckpointSaver(sql_store))
    _session(graph, "t")
    assert sql_store.database is not None
    with sql_store.database.engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.text(
                    "SELECT channel, count(*) FROM memstore_checkpoint_blobs "
                    "WHERE thread_id = 't' GROUP BY channel"
                )
            ).all()
        )
        checkpoints = conn.execute(sa.text("SELECT count(*) FROM memstore_checkpoints")).scalar_one()
    assert counts["manual"] == 1  # written once, referenced by every later checkpoint
    assert checkpoints >= 8
    assert counts["messages"] < checkpoints


def _count_statements(store: Memstore, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Any]:
    """Every statement sent to the database: SQLAlchemy's executions, plus the reads run on the driver
    cursor by ``select_rows`` (which SQLAlchemy's events do not see)."""
    assert store.database is not None
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    def counted(connection: Any, dialect: Any, statement: Any, params: Any, **options: Any) -> Any:
        seen.append(str(statement))
        return select_rows(connection, dialect, statement, params, **options)

    monkeypatch.setattr(sql_database, "select_rows", counted)
    sa.event.listen(store.database.engine, "before_cursor_execute", listener)
    return seen, listener


def test_get_tuple_and_list_are_one_query(sql_store: Memstore, monkeypatch: pytest.MonkeyPatch) -> None:
    saver = MemstoreCheckpointSaver(sql_store)
    graph = build(saver)
    for n in range(3):
        _session(graph, f"t{n}")
    per_thread = len(list(saver.list(_config("t0"))))
    seen, listener = _count_statements(sql_store, monkeypatch)
    try:
        assert saver.get_tuple(_config("t1")) is not None
        assert len(seen) == 1
        seen.clear()
        listed = list(saver.list(_config("t1"), limit=5))
        assert len(listed) == 5
        assert len(seen) == 1
        seen.clear()
        every = list(saver.list(None))  # all threads, streamed in pages of 50
        assert len(seen) == len(every) // 50 + 1
        seen.clear()
        assert list(
            saver.list(_config("t1"), filter={"source": "loop"}, limit=3)
        )  # filtered: SQLAlchemy's path
        assert len(seen) == 1
        assert len(every) == 3 * per_thread
    finally:
        assert sql_store.database is not None
        sa.event.remove(sql_store.database.engine, "before_cursor_execute", listener)
    assert all(t.checkpoint["channel_values"].get("manual") in (None, MANUAL) for t in every)
    assert [t.checkpoint["id"] for t in every] == sorted((t.checkpoint["id"] for t in every), reverse=True)


def test_list_filters_before_and_limit(saver: MemstoreCheckpointSaver) -> None:
    graph = build(saver)
    _session(graph, "t")
    _session(graph, "u")
    everything = list(saver.list(_config("t")))
    inputs = list(saver.list(_config("t"), filter={"source": "input"}))
    assert inputs
    assert {t.metadata["source"] for t in inputs} == {"input"}
    assert len(inputs) == sum(t.metadata["source"] == "input" for t in everything)
    step_one = [
        t.checkpoint["id"] for t in everything if t.metadata["step"] == 1 and t.metadata["source"] == "loop"
    ]
    assert step_one
    assert [
        t.checkpoint["id"] for t in saver.list(_config("t"), filter={"step": 1, "source": "loop"})
    ] == step_one
    assert list(saver.list(_config("t"), filter={"step": "1"})) == []  # JSON equality: "1" is not 1
    # Values the filter language cannot say are compared in Python, still with limit.
    parents = everything[0].metadata["parents"]
    assert len(list(saver.list(_config("t"), filter={"parents": parents}, limit=2))) == 2
    assert list(saver.list(_config("t"), filter={"nope": None}, limit=3)) == everything[:3]
    assert list(saver.list(_config("t"), filter={'odd"key': 1})) == []
    middle = everything[4].config
    assert [t.checkpoint["id"] for t in saver.list(_config("t"), before=middle, limit=2)] == [
        t.checkpoint["id"] for t in everything[5:7]
    ]
    assert len(list(saver.list(None, filter={"source": "input"}))) == 2 * len(inputs)
    assert list(saver.list(_config("t"), limit=0)) == []


def test_versions_of_any_langgraph_type_round_trip(saver: MemstoreCheckpointSaver) -> None:
    checkpoint = {
        "v": 1,
        "id": "1ef",
        "ts": "2026-01-01T00:00:00+00:00",
        "channel_values": {"a": [1, 2], "b": {"x": "y"}},
        "channel_versions": {"a": 3, "b": 2.5},
        "versions_seen": {"node": {"a": 2}},
        "updated_channels": None,
    }
    stored = saver.put(
        _config("t", checkpoint_ns=""), checkpoint, {"source": "loop", "step": 1}, {"a": 3, "b": 2.5}
    )
    found = saver.get_tuple(stored)
    assert found is not None
    assert found.checkpoint["channel_versions"] == {"a": 3, "b": 2.5}
    assert found.checkpoint["channel_values"] == {"a": [1, 2], "b": {"x": "y"}}
    assert saver.get_next_version(None) < saver.get_next_version("00000000000000000000000000000001.5")
    assert saver.get_next_version(7).startswith("0" * 29 + "008.")


def test_pending_writes_keep_the_first_write_and_replace_special_ones(saver: MemstoreCheckpointSaver) -> None:
    graph = build(saver)
    graph.invoke({"messages": ["hi"], "manual": "m"}, _config("t"))  # stops at the interrupt
    config = saver.get_tuple(_config("t")).config  # type: ignore[union-attr]
    saver.put_writes(config, [("messages", ["a"]), ("__error__", "first")], "task-1", "~path")
    saver.put_writes(config, [("messages", ["b"]), ("__error__", "second")], "task-1", "~path")
    writes = saver.get_tuple(config).pending_writes  # type: ignore[union-attr]
    mine = [(channel, value) for task, channel, value in writes if task == "task-1"]
    assert mine == [("__error__", "second"), ("messages", ["a"])]


def test_prune_keeps_what_the_latest_checkpoint_references(sql_store: Memstore) -> None:
    saver = MemstoreCheckpointSaver(sql_store)
    graph = build(saver)
    _session(graph, "t")
    _session(graph, "other")
    before = graph.get_state(_config("t"))
    saver.prune(["t"])
    assert len(list(saver.list(_config("t")))) == 1
    after = graph.get_state(_config("t"))
    assert after.values == before.values
    assert after.values["manual"] == MANUAL  # written at the first step, still referenced
    assert sql_store.database is not None
    with sql_store.database.engine.connect() as conn:
        blobs = conn.execute(
            sa.text("SELECT channel, version FROM memstore_checkpoint_blobs WHERE thread_id = 't'")
        ).all()
    kept = saver.get_tuple(_config("t"))
    assert kept is not None
    referenced = {(channel, str(version)) for channel, version in kept.checkpoint["channel_versions"].items()}
    assert {tuple(row) for row in blobs} <= referenced  # only the kept checkpoint's values are left
    assert ("manual", str(kept.checkpoint["channel_versions"]["manual"])) in {tuple(row) for row in blobs}
    assert len(list(saver.list(_config("other")))) > 1
    graph.invoke({"messages": ["again"]}, _config("t"))  # the pruned thread carries on
    assert graph.get_state(_config("t")).values["manual"] == MANUAL


def test_delete_copy_and_delete_for_runs(saver: MemstoreCheckpointSaver) -> None:
    graph = build(saver)
    _session(graph, "t")
    saver.copy_thread("t", "copy")
    assert _history(graph, "copy") == _history(graph, "t")
    saver.delete_thread("t")
    assert saver.get_tuple(_config("t")) is None
    assert graph.get_state(_config("copy")).values["manual"] == MANUAL
    run = str(uuid.uuid4())
    graph.invoke({"messages": ["more"]}, {"configurable": {"thread_id": "copy"}, "metadata": {"run_id": run}})
    runs = {t.metadata.get("run_id") for t in saver.list(_config("copy"))}
    assert run in runs
    saver.delete_for_runs([run])
    assert run not in {t.metadata.get("run_id") for t in saver.list(_config("copy"))}
    assert graph.get_state(_config("copy")).values["manual"] == MANUAL


def _put(store: Memstore, thread_id: str, checkpoint_id: str = "c1", **metadata: Any) -> None:
    store.checkpoints.put(
        thread_id,
        "",
        checkpoint_id,
        document=("json", b"{}"),
        channel_versions={"a": "1"},
        blobs={"a": ("1", ("str", thread_id.encode()))},
        metadata=metadata,
    )


def test_core_deletes_a_thread_or_every_thread_with_a_prefix(mstore: Memstore) -> None:
    for thread_id in ["user-1:a", "user-1:b", "user-10:c", "user-2:x", "user-1%", "user_1:d"]:
        _put(mstore, thread_id)
        _put(mstore, thread_id, "c2")
    checkpoints = mstore.checkpoints
    checkpoints.put_writes("user-1:a", "", "c2", [CheckpointWrite("task", 0, "a", ("str", b"w"))])
    assert checkpoints.delete_by_prefix("user-1:") == 4
    assert {c.thread_id for c in checkpoints.list()} == {"user-10:c", "user-2:x", "user-1%", "user_1:d"}
    assert checkpoints.delete_by_prefix("user-1%") == 2  # literal: % and _ are not wildcards
    assert checkpoints.delete_thread("user-10:c") == 2
    assert checkpoints.delete_thread("nobody") == 0
    assert checkpoints.delete_threads(["user-2:x", "user_1:d"]) == 4
    assert list(checkpoints.list()) == []
    with pytest.raises(ValidationError):
        checkpoints.delete_by_prefix("")  # would forget everyone
    _put(mstore, "user-1:a")
    assert checkpoints.get("user-1:a") is not None  # nothing of the deleted thread lingers
    assert checkpoints.get("user-1:a").writes == []  # type: ignore[union-attr]


async def test_core_async_twins(mstore: Memstore) -> None:
    _put(mstore, "t")
    checkpoints = mstore.checkpoints
    assert (await checkpoints.aget("t")).checkpoint_id == "c1"  # type: ignore[union-attr]
    assert [c.checkpoint_id async for c in checkpoints.alist("t")] == ["c1"]
    assert await checkpoints.adelete_by_prefix("t") == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


def test_retention_deletes_threads_idle_for_days(mstore: Memstore, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(core_checkpoints, "time", clock)
    _put(mstore, "old")
    _put(mstore, "active")
    clock.now += 10 * 86_400
    _put(mstore, "active", "c2")
    _put(mstore, "new")
    assert mstore.checkpoints.idle_threads(5) == ["old"]
    assert mstore.checkpoints.delete_idle_threads(5) == 1
    assert {c.thread_id for c in mstore.checkpoints.list()} == {"active", "new"}
    assert mstore.checkpoints.delete_idle_threads(0) == 0  # nothing is older than now
    clock.now += 1
    assert mstore.checkpoints.delete_idle_threads(0) == 2
    with pytest.raises(ValidationError):
        mstore.checkpoints.delete_idle_threads(-1)


def test_a_schema_1_database_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Memstore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:  # what memstore 0.1 (schema 1) left behind
        for table in ["memstore_checkpoints", "memstore_checkpoint_blobs", "memstore_checkpoint_writes"]:
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE memstore_meta SET value = '1' WHERE name = 'schema_version'")
    with Memstore(f"sqlite:///{path}") as store:
        _put(store, "t")
        assert store.checkpoints.get("t") is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM memstore_meta WHERE name = 'schema_version'").fetchone() == (
            "2",
        )


def test_a_copied_thread_is_new_for_retention(mstore: Memstore, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(core_checkpoints, "time", clock)
    _put(mstore, "source")
    clock.now += 10 * 86_400
    assert mstore.checkpoints.copy_thread("source", "copy") == 1
    assert mstore.checkpoints.copy_thread("source", "copy") == 0  # what the target holds is kept
    assert mstore.checkpoints.idle_threads(5) == ["source"]
    assert mstore.checkpoints.get("copy").values == {"a": ("str", b"source")}  # type: ignore[union-attr]
