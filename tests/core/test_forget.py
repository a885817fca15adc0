"""Forgetting a user: one call removes their messages, conversations, index rows, vectors, LangGraph store
items and checkpoints, on every backend, and nothing of anyone else's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from langchain_core.embeddings import DeterministicFakeEmbedding
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from langchain_memstore import MemstoreCheckpointSaver, MemstoreGraphStore
from memstore import HashingEmbedder, Memstore, Message, ValidationError


@pytest.fixture(params=["memory", "sqlite", "postgresql", "sqlite+chroma"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Memstore]:
    if request.param == "sqlite+chroma":  # the embedded default: vectors in Chroma beside the file
        opened = Memstore(f"sqlite:///{tmp_path / 'app.db'}")
    else:
        memory = request.param == "memory"
        url = "memory://" if memory else str(request.getfixturevalue(f"{request.param}_url"))
        opened = Memstore(url, vectors="memory" if memory else "sql")
    with opened:
        yield opened


class _Count(TypedDict):
    n: int


def _run_graph(store: Memstore, thread_id: str) -> MemstoreCheckpointSaver:
    builder = StateGraph(_Count)
    builder.add_node("step", lambda state: {"n": state["n"] + 1})
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    saver = MemstoreCheckpointSaver(store=store)
    builder.compile(checkpointer=saver).invoke({"n": 0}, {"configurable": {"thread_id": thread_id}})
    return saver


def _user_data(store: Memstore, user: str, graph: MemstoreGraphStore) -> None:
    memory = store.memory(None, embedder=HashingEmbedder(dimensions=32), default_conversation_id=user)
    memory.add([Message("user", f"{user} loves sailing"), Message("assistant", f"noted for {user}")])
    memory.add(Message("user", f"{user} archived note", conversation_id=f"memstore:archive:{user}"))
    store.buffer(f"memstore:recall:{user}").add_msg(Message("user", f"{user} recall block"))
    store.buffer(f"{user}-side-chat").add_msg(Message("user", f"{user} side chat"))
    graph.put(("users", user), "prefs", {"text": f"{user} likes tea"})
    graph.put(("users", user, "notes"), "n1", {"text": f"{user} note"})
    _run_graph(store, user)


def _rows(store: Memstore, table: str, column: str, values: list[str]) -> int:
    assert store.database is not None
    meta = sa.MetaData()
    reflected = sa.Table(table, meta, autoload_with=store.database.engine)
    with store.database.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(reflected).where(reflected.c[column].in_(values))
        return int(conn.execute(query).scalar_one())


def test_forget_removes_everything_of_one_user_and_nothing_else(store: Memstore) -> None:
    index = {"dims": 16, "embed": DeterministicFakeEmbedding(size=16), "fields": ["text"]}
    graph = MemstoreGraphStore(store=store, index=index)  # type: ignore[arg-type]
    _user_data(store, "u42", graph)
    _user_data(store, "u7", graph)
    doomed = [
        m.id or ""
        for cid in ("u42", "memstore:archive:u42", "memstore:recall:u42")
        for m in store.buffer(cid).get_msg()
    ]
    assert len(doomed) == 4

    report = store.forget("u42", kv_prefixes=graph.kv_prefixes(("users", "u42")))

    assert report.conversations == ["memstore:archive:u42", "memstore:recall:u42", "u42"]
    assert report.messages == 4
    assert report.vectors == 3  # the memory indexed three of the four (the recall block is a plain buffer)
    assert report.kv_entries == 2
    assert report.checkpoints == 3  # input, step, end
    saver = MemstoreCheckpointSaver(store=store)
    assert list(saver.list({"configurable": {"thread_id": "u42"}})) == []
    assert len(list(saver.list({"configurable": {"thread_id": "u7"}}))) == 3
    remaining = store.conversations.list_conversation_ids("")
    assert not {"u42", "memstore:archive:u42", "memstore:recall:u42"} & set(remaining)
    assert "u42-side-chat" in remaining, "an exact id forgets that id, not every id it prefixes"
    memory = store.memory(None, embedder=HashingEmbedder(dimensions=32))
    assert all("u42" not in hit.message.text for hit in memory.recall("u42 loves sailing archived", 10))
    assert {hit.message.text for hit in memory.recall("u7 sailing", 10)} >= {"u7 loves sailing"}
    collection = store.vectors.get_collection("memstore-memory")
    assert collection.get_batch(doomed) == []
    assert collection.count() == 3
    assert graph.search(("users", "u42")) == []
    assert [item.key for item in graph.search(("users", "u7"), query="tea")] == ["prefs", "n1"]
    index_records = list(store.vectors.get_collection("langgraph_store.index").scan(include_vectors=False))
    assert index_records
    assert all(not str(record["entry"]).startswith("users.u42.") for record in index_records)
    if store.database is not None:
        assert _rows(store, "memstore_messages", "id", doomed) == 0
        assert _rows(store, "memstore_memory_pending", "message_id", doomed) == 0
        keyword = "memstore_keyword_fts" if store.database.is_sqlite else "memstore_memory_members"
        assert _rows(store, keyword, "message_id", doomed) == 0
    # Forgetting again finds nothing left.
    again = store.forget("u42", kv_prefixes=graph.kv_prefixes(("users", "u42")))
    assert (again.messages, again.vectors, again.kv_entries, again.checkpoints) == (0, 0, 0, 0)


def test_forget_by_prefix_and_its_async_twin(store: Memstore) -> None:
    graph = MemstoreGraphStore(store=store)
    _user_data(store, "u42", graph)
    report = store.forget("u42", prefix=True)
    assert "u42-side-chat" in report.conversations
    assert store.conversations.list_conversation_ids("u42") == []


async def test_aforget(store: Memstore) -> None:
    store.buffer("gone").add_msg(Message("user", "bye"))
    report = await store.aforget("gone")
    assert report.conversations == ["gone"]


def test_forget_checks_its_input(store: Memstore) -> None:
    for bad in ("", None, "x\x00y"):
        with pytest.raises(ValidationError):
            store.forget(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        store.forget("u", kv_prefixes={"ns": ["a\x00"]})
    assert store.forget("nobody").conversations == []
