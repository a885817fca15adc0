"""MemstoreMemoryBlock: LlamaIndex ``Memory`` long-term recall from memstore's ConversationMemory.

Runs on memory, SQLite and PostgreSQL (vectors in the same database), offline: memstore's HashingEmbedder or
LlamaIndex's MockEmbedding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import ChatMessage, ImageBlock
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus

from llamaindex_memstore import (
    LlamaIndexEmbedder,
    MemstoreChatStore,
    MemstoreMemoryBlock,
    MemstoreMemoryChatStore,
)
from memstore import BackendError, HashingEmbedder, Memstore, ValidationError

SECRET = "the vault code is 7419 behind the aquarium"


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url, vectors="memory" if store_url.startswith("memory") else "sql") as opened:
        yield opened


def block_on(store: Memstore, **options: object) -> MemstoreMemoryBlock:
    return MemstoreMemoryBlock(store, embedder=HashingEmbedder(64), **options)  # type: ignore[arg-type]


def say(role: str, text: str) -> ChatMessage:
    return ChatMessage(role=role, content=text)


def recalled(content: str) -> list[str]:
    return [line for line in content.splitlines() if line.startswith("<message")]


@pytest.mark.parametrize("embedder", ["hashing", "llamaindex-mock"])
def test_memory_archives_flushes_and_recalls_after_50_turns(store: Memstore, embedder: str) -> None:
    session = "user-7"
    chat_store = MemstoreMemoryChatStore(store)
    block = MemstoreMemoryBlock(
        store,
        embedder=HashingEmbedder(64) if embedder == "hashing" else MockEmbedding(embed_dim=8),
        collection_name=f"li-block-{embedder}",
    )
    memory = Memory.from_defaults(
        session_id=session, chat_store=chat_store, token_limit=200, token_flush_size=60, memory_blocks=[block]
    )
    for turn in range(50):
        memory.put(say("user", f"turn {turn}: remember that {SECRET}" if turn == 3 else f"turn {turn}: chat"))
        memory.put(say("assistant", f"noted turn {turn}"))

    async def counts() -> tuple[int, int]:
        return (
            await chat_store.count_messages(session, status=MessageStatus.ARCHIVED),
            await chat_store.count_messages(session, status=MessageStatus.ACTIVE),
        )

    archived, active = asyncio.run(counts())
    assert archived > 0
    assert active > 0
    assert archived + active == 100
    active_text = " ".join(str(m.content) for m in memory.get_all(status=MessageStatus.ACTIVE))
    assert SECRET not in active_text

    # Every archived message was flushed into the block's own conversation, in order, session_id stripped.
    remembered = store.buffer("memstore:recall:" + session).get_msg()
    assert [m.text for m in remembered] == [
        str(m.content) for m in memory.get_all(status=MessageStatus.ARCHIVED)
    ]
    assert all("additional_kwargs" not in m.metadata for m in remembered)
    assert asyncio.run(chat_store.get_keys()) == [session]  # the block's conversation is not a chat key

    messages = memory.get(input="what is the vault code behind the aquarium?")
    system = str(messages[0].content)
    assert messages[0].role == "system"
    assert f"<message role='user'>turn 3: remember that {SECRET}</message>" in system
    assert SECRET not in " ".join(str(m.content) for m in messages[1:])  # it came from the block


async def test_put_then_get_directly(store: Memstore) -> None:
    block = block_on(store, conversation_id="direct", similarity_top_k=2)
    assert await block.aget([]) == ""
    assert await block.aget([say("user", "anything about parrots?")]) == ""  # nothing remembered yet
    await block.aput(
        [
            say("user", "my parrot is called Kiwi"),
            say("assistant", "Kiwi is a lovely name for a parrot"),
            say("user", "the boiler was serviced in March"),
            say("assistant", "noted, the boiler service was in March"),
        ]
    )
    content = await block.aget([say("user", "hello"), say("user", "when was the boiler serviced?")])
    lines = recalled(content)
    assert len(lines) == 2
    assert all("boiler" in line for line in lines)
    assert await block.aget([say("user", "")]) == ""  # no text: no query


async def test_query_is_the_latest_window(store: Memstore) -> None:
    block = block_on(store, conversation_id="window", similarity_top_k=1, retrieval_context_window=1)
    await block.aput([say("user", "zebras stripe"), say("user", "giraffes neck")])
    older_then_newer = [say("user", "zebras?"), say("user", "giraffes?")]
    assert "giraffes neck" in await block.aget(older_then_newer)
    wide = block_on(store, conversation_id="window", similarity_top_k=1, retrieval_context_window=2)
    assert recalled(await wide.aget(older_then_newer))  # both texts make the query; one hit


async def test_roles_min_score_and_context(store: Memstore) -> None:
    block = block_on(store, conversation_id="filters", similarity_top_k=5)
    await block.aput(
        [
            say("user", "tell me about the lighthouse"),
            say("assistant", "the lighthouse was built in 1850"),
            say("user", "and the harbour?"),
            say("assistant", "the harbour opened in 1902"),
        ]
    )
    question = [say("user", "lighthouse history")]
    assistants = block_on(store, conversation_id="filters", similarity_top_k=5, roles=["assistant"])
    lines = recalled(await assistants.aget(question))
    assert lines
    assert all(line.startswith("<message role='assistant'>") for line in lines)
    everything = recalled(await block.aget(question))
    assert any(line.startswith("<message role='user'>") for line in everything)
    best = block.memory.recall("lighthouse history", k=5)
    cut = best[1].score  # keeps the hits scoring at least the second best
    strict = block_on(store, conversation_id="filters", similarity_top_k=5, min_score=cut)
    assert 0 < len(recalled(await strict.aget(question))) < len(everything)

    with_context = block_on(store, conversation_id="filters", similarity_top_k=2, context=1, roles=["user"])
    lines = recalled(await with_context.aget([say("user", "the harbour")]))
    assert lines[0] == "<message role='user'>and the harbour?</message>"
    assert lines[1].startswith("<message role='assistant'>")  # a neighbouring turn, unfiltered


async def test_sessions_are_kept_apart(store: Memstore) -> None:
    block = block_on(store, similarity_top_k=5)
    await block.aput([say("user", "alice likes tea")], session_id="alice")
    await block.aput([say("user", "bob likes coffee")], session_id="bob")
    alice = recalled(await block.aget([say("user", "what does she like?")], session_id="alice"))
    assert alice == ["<message role='user'>alice likes tea</message>"]
    assert "coffee" in await block.aget([say("user", "likes")], session_id="bob")
    assert [m.text for m in store.buffer("memstore:recall:bob").get_msg()] == ["bob likes coffee"]
    with pytest.raises(ValidationError, match="session_id"):
        await block.aget([say("user", "no session")])
    with pytest.raises(ValidationError, match="session_id"):
        await block.aput([say("user", "no session")])
    assert MemstoreChatStore(store).get_keys() == []


async def test_what_is_stored(store: Memstore) -> None:
    block = block_on(store, conversation_id="stored")
    message = ChatMessage(role="user", content="with extras", additional_kwargs={"source": "mobile", "n": 2})
    await block.aput(
        [message, ChatMessage(role="user", blocks=[ImageBlock(url="https://example.com/x.png")])],
        session_id="ignored-when-conversation-is-given",
    )
    stored = store.buffer("stored").get_msg()
    assert len(stored) == 1  # no text, nothing to recall by: not stored
    assert stored[0].metadata == {"additional_kwargs": {"source": "mobile", "n": 2}}
    assert message.additional_kwargs["source"] == "mobile"
    assert block.memory.pending_count() == 0  # stored and indexed


async def test_bad_input_writes_nothing(store: Memstore) -> None:
    block = block_on(store, conversation_id="bad")
    good = say("user", "fine")
    with pytest.raises(ValidationError):
        await block.aput([good, ChatMessage(role="user", content="x", additional_kwargs={"when": object()})])
    with pytest.raises(ValidationError):
        await block.aput([good, say("user", "nul \x00 inside")])
    session_block = block_on(store)
    with pytest.raises(ValidationError, match="session_id must be a str"):
        await session_block.aget([good], session_id=7)  # type: ignore[arg-type]
    assert store.buffer("bad").get_msg() == []


@pytest.mark.parametrize(
    "options",
    [
        {"similarity_top_k": 0},
        {"similarity_top_k": True},
        {"retrieval_context_window": 0},
        {"context": -1},
        {"roles": "user"},
        {"roles": [""]},
        {"min_score": "high"},
        {"conversation_id": ""},
        {"conversation_id": "memstore:recall:x"},
        {"conversation_id": "memstore:archive:x"},
    ],
)
def test_bad_options_raise(store: Memstore, options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        block_on(store, **options)


def test_format_template_and_name(store: Memstore) -> None:
    block = block_on(store, conversation_id="fmt", format_template="Earlier:\n{{ text }}", name="Past")
    asyncio.run(block.aput([say("user", "the code word is marmalade")]))
    content = asyncio.run(block.aget([say("user", "code word?")]))
    assert content.startswith("Earlier:\n<message role='user'>the code word is marmalade</message>")
    # On memstore: LlamaIndex's default aiosqlite store would outlive the loops of Memory's sync calls.
    memory = Memory.from_defaults(
        session_id="s", chat_store=MemstoreMemoryChatStore(store), token_limit=500, memory_blocks=[block]
    )
    assert "<Past>" in str(memory.get(input="code word?")[0].content)


def test_a_failed_constructor_closes_the_store_it_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    with pytest.raises(ValidationError):
        MemstoreMemoryBlock(url, embedder=HashingEmbedder(8), collection_name="x")  # too short a name
    with Memstore(url) as reopened:  # not left locked or half-open
        assert reopened.buffer("x").get_msg() == []


async def test_an_embedder_that_changes_size_is_refused(store: Memstore) -> None:
    block = MemstoreMemoryBlock(
        store, embedder=LlamaIndexEmbedder(MockEmbedding(embed_dim=5), dimensions=3), conversation_id="c"
    )
    with pytest.raises(BackendError, match="5 floats, expected 3"):
        await block.aput([say("user", "five floats, not three")])
    assert block.memory.pending_count() == 1  # the core's outbox: stored, kept pending, never silently lost


def test_llamaindex_embedder_wrapper() -> None:
    wrapped = LlamaIndexEmbedder(MockEmbedding(embed_dim=5))
    assert wrapped.dimensions == 5
    assert wrapped.embed_documents(["a", "b"]) == [[0.5] * 5, [0.5] * 5]
    assert wrapped.embed_query("q") == [0.5] * 5
    assert LlamaIndexEmbedder(MockEmbedding(embed_dim=5), dimensions=3).dimensions == 3
    with pytest.raises(ValidationError):
        LlamaIndexEmbedder(HashingEmbedder(4))  # type: ignore[arg-type]
