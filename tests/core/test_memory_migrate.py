"""Migrations into ConversationMemory from sources built with the other libraries' own classes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from memstore import (
    ConversationMemory,
    HashingEmbedder,
    Memstore,
    NotFoundError,
    ValidationError,
)
from memstore.memory.migrate import migrate


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[Memstore, ConversationMemory]]:
    with Memstore(f"sqlite:///{tmp_path}/target.db", vectors="sql") as store:
        yield store, store.memory(None, embedder=HashingEmbedder(64))


def _texts(store: Memstore, conversation_id: str) -> list[tuple[str, str]]:
    return [(m.role, m.text) for m in store.buffer(conversation_id).get_msg()]


def test_from_json_memory_file(target: tuple[Memstore, ConversationMemory], tmp_path: Path) -> None:
    store, memory = target
    source = tmp_path / "memory.json"
    source.write_text(
        json.dumps(
            {
                "trip": [
                    {
                        "role": "user",
                        "content": "book a flight to Oslo",
                        "created_at": "2024-01-02T03:04:05+00:00",
                    },
                    {"role": "assistant", "content": "Done: Oslo on Friday", "metadata": {"tool": "booking"}},
                ]
            }
        )
    )
    report = migrate(memory, "json", str(source))
    assert (report.messages, report.conversations) == (2, 1)
    assert report.backup is not None
    assert report.backup.is_file()
    assert _texts(store, "trip") == [("user", "book a flight to Oslo"), ("assistant", "Done: Oslo on Friday")]
    first = store.buffer("trip").get_msg()[0]
    assert first.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert memory.recall("Oslo flight", k=1)[0].message.conversation_id == "trip"
    with pytest.raises(NotFoundError):
        migrate(memory, "json", str(tmp_path / "missing.json"))


def test_from_langchain_sql_chat_message_history(
    target: tuple[Memstore, ConversationMemory], tmp_path: Path
) -> None:
    history_module = pytest.importorskip("langchain_community.chat_message_histories")
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    url = f"sqlite:///{tmp_path}/langchain.db"
    for session, words in (("s1", "pasta"), ("s2", "pizza")):
        history = history_module.SQLChatMessageHistory(session_id=session, connection=url)
        history.add_messages(
            [
                SystemMessage(f"you like {words}"),
                HumanMessage(f"what should I cook? {words}"),
                AIMessage(f"make {words}", additional_kwargs={"source": "chef"}),
            ]
        )
    store, memory = target
    report = migrate(memory, "langchain-sql", url)
    assert (report.messages, report.conversations) == (6, 2)
    assert _texts(store, "s2") == [
        ("system", "you like pizza"),
        ("user", "what should I cook? pizza"),
        ("assistant", "make pizza"),
    ]
    assert store.buffer("s1").get_msg()[2].metadata["langchain"]["additional_kwargs"] == {"source": "chef"}
    assert memory.recall("pizza", k=10, roles="assistant")[0].message.text == "make pizza"
    # Ids derive from the source rows: running the migration again adds nothing twice.
    assert migrate(memory, "langchain-sql", url, backup=False).messages == 0
    assert len(store.buffer("s2").get_msg()) == 3
    with pytest.raises(NotFoundError):
        migrate(memory, "langchain-sql", url, table="no_such_table")


@pytest.mark.parametrize("corrupt", ["not json", '"a string"', '{"type": "human", "data": 3}'])
def test_a_corrupt_source_row_is_a_typed_error_before_any_write(
    target: tuple[Memstore, ConversationMemory], tmp_path: Path, corrupt: str
) -> None:
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path}/langchain.db"
    engine = create_engine(url)
    good = json.dumps({"type": "human", "data": {"content": "hi", "type": "human"}})
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE message_store (id INTEGER PRIMARY KEY, session_id TEXT, message TEXT)")
        )
        rows = [{"s": "s1", "m": good} for _ in range(1200)] + [{"s": "s1", "m": corrupt}]
        conn.execute(text("INSERT INTO message_store (session_id, message) VALUES (:s, :m)"), rows)
    engine.dispose()
    store, memory = target
    with pytest.raises(ValidationError, match="row id 1201"):
        migrate(memory, "langchain-sql", url)
    assert store.buffer("s1").get_msg() == [], "nothing written"


def test_from_llamaindex_sqlalchemy_chat_store(
    target: tuple[Memstore, ConversationMemory], tmp_path: Path
) -> None:
    pytest.importorskip("aiosqlite")
    from llama_index.core.llms import ChatMessage
    from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

    url = f"sqlite+aiosqlite:///{tmp_path}/llama.db"
    chat_store = SQLAlchemyChatStore(table_name="chats", async_database_uri=url)
    asyncio.run(
        chat_store.add_messages(
            "user-7",
            [
                ChatMessage(role="user", content="remind me about the dentist"),
                ChatMessage(role="assistant", content="dentist on Tuesday at 9", additional_kwargs={"k": 1}),
            ],
        )
    )
    store, memory = target
    report = migrate(memory, "llamaindex-sql", url, table="chats")
    assert (report.messages, report.conversations) == (2, 1)
    assert _texts(store, "user-7") == [
        ("user", "remind me about the dentist"),
        ("assistant", "dentist on Tuesday at 9"),
    ]
    stored = store.buffer("user-7").get_msg()
    assert stored[1].metadata == {"additional_kwargs": {"k": 1}}
    assert stored[0].created_at is not None
    assert stored[0].created_at.year >= 2024
    assert memory.recall("dentist Tuesday", k=1)[0].message.role == "assistant"


@pytest.mark.parametrize(
    "document",
    [
        {"store": {"k": [1]}},
        {"store": {"k": None}},
        {"store": {"k": [{"role": "user", "additional_kwargs": 5}]}},
    ],
    ids=repr,
)
def test_a_malformed_simple_chat_store_file_is_a_typed_error(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "chat_store.json"
    path.write_text(json.dumps(document))
    with Memstore("memory://") as store, pytest.raises(ValidationError):
        migrate(store.memory(None, embedder=HashingEmbedder(64)), "llamaindex-simple", str(path))


def test_from_llamaindex_simple_chat_store(tmp_path: Path) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.core.storage.chat_store import SimpleChatStore

    chat_store = SimpleChatStore()
    chat_store.set_messages("k1", [ChatMessage(role="user", content="my cat is called Miso")])
    chat_store.add_message("k2", ChatMessage(role="assistant", content="noted: the garden gate code is 4417"))
    path = tmp_path / "simple.json"
    try:
        chat_store.persist(persist_path=str(path))
    except ValueError:
        # persist() fails in some llama-index/pydantic pairs (ChatMessage's serializer); write the same
        # document by hand and prove it is a valid SimpleChatStore file with the library's own loader.
        document = {
            "store": {
                key: [m.model_dump(mode="json") for m in items] for key, items in chat_store.store.items()
            },
            "class_name": "SimpleChatStore",
        }
        path.write_text(json.dumps(document))
    assert (
        SimpleChatStore.from_persist_path(str(path)).get_messages("k1")[0].content == "my cat is called Miso"
    )
    with Memstore("memory://") as store:
        memory = store.memory(None, embedder=HashingEmbedder(64))
        report = migrate(memory, "llamaindex-simple", str(path))
        assert (report.messages, report.conversations, report.backup) == (2, 2, None)
        assert _texts(store, "k1") == [("user", "my cat is called Miso")]
        assert memory.recall("gate code", k=1)[0].message.conversation_id == "k2"


def test_progress_bar_counts_the_migrated_messages(
    target: tuple[Memstore, ConversationMemory], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, memory = target
    source = tmp_path / "memory.json"
    source.write_text(json.dumps({"c": [{"role": "user", "content": f"note {i}"} for i in range(7)]}))
    migrate(memory, "json", str(source), backup=False, progress=True)
    err = capsys.readouterr().err
    assert "migrate json: 100%" in err
    assert "7/7" in err, "the checking pass gives the bar its total"


def test_json_without_ids_migrated_twice_conflicts_instead_of_duplicating(
    target: tuple[Memstore, ConversationMemory], tmp_path: Path
) -> None:
    store, memory = target
    source = tmp_path / "memory.json"
    source.write_text(
        json.dumps(
            [
                {"conversation_id": "a", "role": "user", "content": "hello"},
                {"conversation_id": "a", "role": "user", "content": "hello"},  # same text, own id
                {"conversation_id": "b", "role": "assistant", "content": [{"type": "text", "text": "hi"}]},
            ]
        )
    )
    assert migrate(memory, "json", str(source), backup=False).messages == 3
    assert migrate(memory, "json", str(source), backup=False).messages == 0, "a re-run skips what it wrote"
    assert [len(store.buffer(c).get_msg()) for c in ("a", "b")] == [2, 1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"c": [{"content": "no role"}]}))
    with pytest.raises(ValidationError):
        migrate(memory, "json", str(bad), backup=False)
    late = tmp_path / "late.json"  # the bad message comes after two full batches
    late.write_text(json.dumps({"late": [{"role": "user", "content": f"m{i}"} for i in range(1200)] + [{}]}))
    with pytest.raises(ValidationError, match="message 1200"):
        migrate(memory, "json", str(late))
    assert store.buffer("late").get_msg() == [], "nothing written"
    assert not list(tmp_path.glob("*.pre-migrate-*")), "no backup taken for a source that fails its check"


def test_migrated_histories_read_back_through_the_adapters_as_the_originals(
    target: tuple[Memstore, ConversationMemory], tmp_path: Path
) -> None:
    history_module = pytest.importorskip("langchain_community.chat_message_histories")
    pytest.importorskip("aiosqlite")
    from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
    from llama_index.core.llms import ChatMessage as LlamaMessage
    from llama_index.core.llms import ImageBlock, TextBlock
    from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

    from langchain_memstore import MemstoreChatMessageHistory
    from llamaindex_memstore import MemstoreChatStore

    langchain_messages = [
        SystemMessage("be brief"),
        HumanMessage("hi", id="h-1"),
        AIMessage(
            "calling",
            tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "call-1"}],
            response_metadata={"model": "m"},
        ),
        ToolMessage("42", tool_call_id="call-1"),
        ChatMessage("a note", role="critic"),
    ]
    url = f"sqlite:///{tmp_path}/langchain.db"
    history_module.SQLChatMessageHistory(session_id="lc", connection=url).add_messages(langchain_messages)
    llama_messages = [
        LlamaMessage(role="user", content="remind me", additional_kwargs={"k": [1, 2]}),
        LlamaMessage(role="assistant", blocks=[TextBlock(text="one"), TextBlock(text="two")]),
        LlamaMessage(
            role="user", blocks=[TextBlock(text="look"), ImageBlock(url="https://example.com/a.png")]
        ),
    ]
    llama_url = f"sqlite+aiosqlite:///{tmp_path}/llama.db"
    asyncio.run(
        SQLAlchemyChatStore("llama_index_memory", async_database_uri=llama_url).add_messages(
            "li", llama_messages
        )
    )

    store, memory = target
    migrate(memory, "langchain-sql", url, backup=False)
    migrate(memory, "llamaindex-sql", llama_url, backup=False)
    read_back = MemstoreChatMessageHistory("lc", store=store).messages
    assert [m.model_dump() for m in read_back] == [m.model_dump() for m in langchain_messages]
    assert MemstoreChatStore(store).get_messages("li") == llama_messages
    assert [m.type for m in store.buffer("li").get_msg()] == ["text", "text", "blocks"]
