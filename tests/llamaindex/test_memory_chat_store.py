"""MemstoreMemoryChatStore: the AsyncDBChatStore contract, against SQLAlchemyChatStore, and under Memory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from li_cases import KEYS_KEPT, KEYS_REJECTED
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
from sqlalchemy.ext.asyncio import create_async_engine

from llamaindex_memstore import MemstoreMemoryChatStore
from memstore import ConflictError, Memstore, Message, NotFoundError, ValidationError
from memstore.backends.memory.chat import MemoryChatBackend
from memstore.backends.sql.chat import SqlChatBackend

ACTIVE, ARCHIVED = MessageStatus.ACTIVE, MessageStatus.ARCHIVED


def _say(text: str, role: str = "user") -> ChatMessage:
    return ChatMessage(role=role, content=text)


def _texts(messages: list[ChatMessage]) -> list[str | None]:
    return [m.content for m in messages]


async def _fill(store: MemstoreMemoryChatStore, key: str, archived: int, active: int) -> list[str]:
    texts = [f"m{i}" for i in range(archived + active)]
    await store.add_messages(key, [_say(text) for text in texts])
    await store.archive_oldest_messages(key, archived)
    return texts


async def test_every_method(memory_store: MemstoreMemoryChatStore) -> None:
    await memory_store.add_message("k", _say("a"))
    await memory_store.add_messages("k", [_say("b"), _say("c", "assistant"), _say("d")])
    assert _texts(await memory_store.get_messages("k")) == ["a", "b", "c", "d"]
    assert _texts(await memory_store.archive_oldest_messages("k", 2)) == ["a", "b"]
    assert await memory_store.count_messages("k") == 2
    assert await memory_store.count_messages("k", ARCHIVED) == 2
    assert await memory_store.count_messages("k", None) == 4
    assert _texts(await memory_store.get_messages("k", ARCHIVED)) == ["a", "b"]
    assert _texts(await memory_store.get_messages("k", None)) == ["a", "b", "c", "d"]
    assert _texts(await memory_store.delete_oldest_messages("k", 1)) == ["c"]
    assert await memory_store.delete_message("k", 0) == _say("d")
    assert await memory_store.delete_message("k", 0) is None
    await memory_store.add_message("k", _say("late archive"), status=ARCHIVED)
    assert _texts(await memory_store.get_messages("k", None)) == ["a", "b", "late archive"]
    await memory_store.set_messages("k", [_say("x"), _say("y")])
    assert _texts(await memory_store.get_messages("k", None)) == ["x", "y"]
    await memory_store.set_messages("k", [_say("old")], status=ARCHIVED)
    assert (await memory_store.count_messages("k"), await memory_store.count_messages("k", ARCHIVED)) == (
        0,
        1,
    )
    await memory_store.add_message("other", _say("o"))
    assert await memory_store.get_keys() == ["k", "other"]
    await memory_store.delete_messages("k", ARCHIVED)
    assert await memory_store.count_messages("k", None) == 0
    assert await memory_store.get_keys() == ["k", "other"], "an emptied key stays until it is deleted"
    await memory_store.delete_messages("k")
    assert await memory_store.get_keys() == ["other"]
    await memory_store.delete_messages("never-existed")


async def test_archive_lives_in_a_linked_conversation(
    memory_store: MemstoreMemoryChatStore, memstore: Memstore
) -> None:
    await memory_store.add_messages("k", [_say(f"m{i}") for i in range(5)])
    moved = await memory_store.archive_oldest_messages("k", 3)
    archive = memstore.buffer("memstore:archive:k").get_msg()
    assert [m.text for m in archive] == ["m0", "m1", "m2"] == _texts(moved)
    assert [m.text for m in memstore.buffer("k").get_msg()] == ["m3", "m4"]
    assert await memory_store.get_keys() == ["k"]
    await memory_store.add_message("only-archived", _say("x"), status=ARCHIVED)
    assert await memory_store.get_keys() == ["k", "only-archived"]


async def test_archive_and_delete_oldest_take_at_most_what_is_there(
    memory_store: MemstoreMemoryChatStore,
) -> None:
    await memory_store.add_messages("k", [_say("a"), _say("b")])
    assert await memory_store.archive_oldest_messages("k", 0) == []
    assert _texts(await memory_store.archive_oldest_messages("k", 10)) == ["a", "b"]
    assert await memory_store.archive_oldest_messages("k", 10) == []
    assert await memory_store.delete_oldest_messages("k", 10) == []
    assert await memory_store.archive_oldest_messages("missing", 3) == []
    for bad in (-1, True, 1.5, None):
        with pytest.raises(ValidationError):
            await memory_store.archive_oldest_messages("k", bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await memory_store.delete_oldest_messages("k", bad)  # type: ignore[arg-type]
    assert await memory_store.count_messages("k", ARCHIVED) == 2


async def test_windows_of_every_list_match_slicing(memory_store: MemstoreMemoryChatStore) -> None:
    texts = await _fill(memory_store, "k", archived=6, active=7)
    lists = {ACTIVE: texts[6:], ARCHIVED: texts[:6], None: texts}
    for status, model in lists.items():
        for limit in (None, 0, 1, 2, 3, 5, 7, 20):
            for offset in (None, 0, 1, 2, 3, 4, 6, 9, 15):
                start = offset or 0
                expected = model[start:] if limit is None else model[start : start + limit]
                found = await memory_store.get_messages("k", status, limit=limit, offset=offset)
                assert _texts(found) == expected, (status, limit, offset)


@pytest.fixture
def loaded_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of every message row a chat backend loads, whichever backend runs."""
    loaded: list[str] = []
    for backend in (SqlChatBackend, MemoryChatBackend):
        for name in ("select", "get_message"):
            real = getattr(backend, name)

            def spy(self: Any, *args: Any, _real: Any = real) -> Any:
                found = _real(self, *args)
                rows = found if isinstance(found, list) else [found] if found is not None else []
                loaded.extend(row.id for row in rows)
                return found

            monkeypatch.setattr(backend, name, spy)
    return loaded


async def test_reads_load_only_rows_they_return(
    memory_store: MemstoreMemoryChatStore, loaded_ids: list[str], memstore: Memstore
) -> None:
    await _fill(memory_store, "k", archived=6, active=7)
    ids = {m.text: m.id for name in ("k", "memstore:archive:k") for m in memstore.buffer(name).get_msg()}
    for status in (ACTIVE, ARCHIVED, None):
        for limit, offset in [(None, None), (3, None), (2, 4), (5, 1), (4, 8), (1, 12), (None, 3), (3, 5)]:
            loaded_ids.clear()
            found = await memory_store.get_messages("k", status, limit=limit, offset=offset)
            returned = {ids[m.content] for m in found}  # type: ignore[index]
            assert set(loaded_ids) <= returned, (status, limit, offset)
    loaded_ids.clear()
    assert await memory_store.count_messages("k", None) == 13
    assert loaded_ids == []


async def test_a_windowed_read_starts_again_if_its_anchor_leaves(
    memory_store: MemstoreMemoryChatStore, memstore: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await memory_store.add_messages("k", [_say(f"m{i}") for i in range(8)])
    buffer_type = type(memstore.buffer("k"))
    real_forward = buffer_type.aget_msgs_forward
    archived_meanwhile: list[int] = []

    def forward_after_a_rival(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not archived_meanwhile:  # Memory archives the oldest between our anchor read and our stream
            archived_meanwhile.append(len(self.move_oldest(3, "memstore:archive:k")))
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(buffer_type, "aget_msgs_forward", forward_after_a_rival)
    assert _texts(await memory_store.get_messages("k", limit=3, offset=1)) == ["m4", "m5", "m6"]
    assert archived_meanwhile == [3]

    async def always_moving(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Message]:
        raise NotFoundError("the anchor moved")
        yield  # an async generator, like the real one

    monkeypatch.setattr(buffer_type, "aget_msgs_forward", always_moving)
    with pytest.raises(ConflictError):
        await memory_store.get_messages("k", limit=2, offset=1)


@pytest.mark.parametrize(
    ("limit", "offset"), [(-1, None), (None, -2), (1.5, None), (None, "3"), (True, None)]
)
async def test_bad_limits_and_offsets_raise(
    memory_store: MemstoreMemoryChatStore, limit: Any, offset: Any
) -> None:
    with pytest.raises(ValidationError):
        await memory_store.get_messages("k", limit=limit, offset=offset)


async def test_bad_status_raises(memory_store: MemstoreMemoryChatStore) -> None:
    with pytest.raises(ValidationError):
        await memory_store.add_message("k", _say("x"), status="deleted")  # type: ignore[arg-type]
    assert await memory_store.get_keys() == []


async def test_delete_message_is_by_index_in_the_active_list(memory_store: MemstoreMemoryChatStore) -> None:
    await _fill(memory_store, "k", archived=2, active=4)
    assert await memory_store.delete_message("k", 1) == _say("m3")
    assert await memory_store.delete_message("k", -1) == _say("m5")
    assert await memory_store.delete_message("k", 5) is None
    assert await memory_store.delete_message("k", -9) is None
    assert await memory_store.delete_message("missing", 0) is None
    assert _texts(await memory_store.get_messages("k", None)) == ["m0", "m1", "m2", "m4"]
    with pytest.raises(ValidationError):
        await memory_store.delete_message("k", "0")  # type: ignore[arg-type]


async def test_batches_are_all_or_nothing(memory_store: MemstoreMemoryChatStore) -> None:
    await memory_store.add_messages("k", [_say("kept")])
    bad = ChatMessage(role="user", content="x")
    bad.additional_kwargs["when"] = object()
    for call in (
        memory_store.add_messages("k", [_say("a"), bad]),
        memory_store.set_messages("k", [_say("a"), bad]),
        memory_store.add_message("k", bad, status=ARCHIVED),
    ):
        with pytest.raises(ValidationError):
            await call
    assert _texts(await memory_store.get_messages("k", None)) == ["kept"]


async def test_delete_oldest_never_drops_what_llamaindex_cannot_read(
    memory_store: MemstoreMemoryChatStore, memstore: Memstore
) -> None:
    memstore.buffer("k").add_msgs([Message(role="critic", content="odd"), Message(role="user", content="ok")])
    with pytest.raises(ValidationError, match="critic"):
        await memory_store.delete_oldest_messages("k", 1)
    assert memstore.buffer("k").length() == 2
    with pytest.raises(ValidationError, match="critic"):
        await memory_store.archive_oldest_messages("k", 1)
    assert memstore.buffer("memstore:archive:k").length() == 1, "archived whole, then the read failed"


@pytest.mark.parametrize("key", KEYS_KEPT)
async def test_hostile_keys_round_trip_exactly(memory_store: MemstoreMemoryChatStore, key: str) -> None:
    await memory_store.add_messages(key, [_say("a"), _say("b")])
    await memory_store.archive_oldest_messages(key, 1)
    assert await memory_store.get_keys() == [key]
    assert _texts(await memory_store.get_messages(key, None)) == ["a", "b"]
    await memory_store.delete_messages(key)
    assert await memory_store.get_keys() == []


@pytest.mark.parametrize("key", [*KEYS_REJECTED, "b" * 1010])
async def test_hostile_keys_are_rejected_before_writing(
    memory_store: MemstoreMemoryChatStore, key: Any
) -> None:
    calls = [
        memory_store.add_message(key, _say("x")),
        memory_store.add_messages(key, [_say("x")]),
        memory_store.set_messages(key, [_say("x")]),
        memory_store.get_messages(key),
        memory_store.count_messages(key, None),
        memory_store.delete_message(key, 0),
        memory_store.delete_messages(key),
        memory_store.delete_oldest_messages(key, 1),
        memory_store.archive_oldest_messages(key, 1),
    ]
    for call in calls:
        with pytest.raises(ValidationError):
            await call
    assert await memory_store.get_keys() == []


def _conversation(turns: int) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    for turn in range(turns):
        messages.append(_say(f"user turn {turn}: " + "tell me more " * 4))
        messages.append(_say(f"assistant turn {turn}: " + "here is more " * 6, "assistant"))
    return messages


async def test_memory_archives_old_messages_like_its_default_store(
    memory_store: MemstoreMemoryChatStore,
) -> None:
    # One event loop and an engine disposed at the end: the reference's aiosqlite connection must not outlive
    # the loop it was opened on (Memory's sync methods run each call on a loop of its own).
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    reference_store = SQLAlchemyChatStore(table_name="reference", async_engine=engine)
    ours = Memory.from_defaults(session_id="session", chat_store=memory_store, token_limit=300)
    reference = Memory.from_defaults(session_id="session", chat_store=reference_store, token_limit=300)
    try:
        turns = _conversation(25)
        for message in turns:
            await ours.aput(message)
            await reference.aput(message)
        archived = await memory_store.count_messages("session", ARCHIVED)
        active = await memory_store.count_messages("session", ACTIVE)
        assert archived > 0
        assert active + archived == len(turns)
        assert await ours.aget_all(ACTIVE) == await reference.aget_all(ACTIVE)
        assert await ours.aget_all(ARCHIVED) == await reference.aget_all(ARCHIVED)
        assert await ours.aget_all() == turns
        assert await ours.aget() == await reference.aget()
        await ours.areset()
        assert await ours.aget_all() == []
    finally:
        await engine.dispose()


def test_memory_sync_methods_reach_the_store(memory_store: MemstoreMemoryChatStore) -> None:
    memory = Memory.from_defaults(session_id="sync", chat_store=memory_store, token_limit=300)
    turns = _conversation(25)
    for message in turns:
        memory.put(message)
    assert asyncio.run(memory_store.count_messages("sync", ARCHIVED)) > 0
    assert memory.get_all() == turns
    memory.reset()
    assert memory.get_all() == []


async def test_memory_async_and_chat_history(memory_store: MemstoreMemoryChatStore) -> None:
    history = _conversation(3)
    memory = Memory.from_defaults(
        session_id="s", chat_store=memory_store, token_limit=100, chat_history=history
    )
    assert await memory.aget_all() == history
    for message in _conversation(10):
        await memory.aput(message)
    assert await memory_store.count_messages("s", ARCHIVED) > 0
    assert await memory.aget_all() == history + _conversation(10)
    await memory.aset([_say("fresh")])
    assert await memory.aget_all() == [_say("fresh")]


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add_message"), st.integers(0, 99)),
        st.tuples(st.just("add_messages"), st.integers(1, 4)),  # the reference fails on []
        st.tuples(st.just("set_messages"), st.integers(0, 3), st.sampled_from([ACTIVE, ARCHIVED])),
        st.tuples(st.just("archive_oldest_messages"), st.integers(0, 4)),
        st.tuples(st.just("delete_oldest_messages"), st.integers(0, 3)),
        st.tuples(st.just("delete_messages"), st.sampled_from([ACTIVE, ARCHIVED, None])),
        st.tuples(
            st.just("get_messages"),
            st.sampled_from([ACTIVE, ARCHIVED, None]),
            st.none() | st.integers(0, 5),
            st.none() | st.integers(0, 6),
        ),
        st.tuples(st.just("count_messages"), st.sampled_from([ACTIVE, ARCHIVED, None])),
    ),
    max_size=15,
)


async def _apply(store: Any, key: str, operation: tuple[Any, ...], counter: int) -> Any:
    name, *args = operation
    role = MessageRole.USER if counter % 2 else MessageRole.ASSISTANT
    if name == "add_message":
        return await store.add_message(key, ChatMessage(role=role, content=f"one {counter}"))
    if name in ("add_messages", "set_messages"):
        batch = [ChatMessage(role=role, content=f"batch {counter}.{i}") for i in range(args[0])]
        return await getattr(store, name)(key, batch, *args[1:])
    return await getattr(store, name)(key, *args)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_random_sequences_match_sqlalchemy_chat_store(
    memory_store: MemstoreMemoryChatStore, operations: list[tuple[Any, ...]]
) -> None:
    async def compare() -> None:
        key = uuid.uuid4().hex
        reference = SQLAlchemyChatStore(
            table_name="reference", async_database_uri="sqlite+aiosqlite:///:memory:"
        )
        try:
            for counter, operation in enumerate(operations):
                expected = await _apply(reference, key, operation, counter)
                actual = await _apply(memory_store, key, operation, counter)
                assert actual == expected, operation
            for status in (ACTIVE, ARCHIVED, None):
                assert await memory_store.get_messages(key, status) == await reference.get_messages(
                    key, status
                )
            listed = key in await memory_store.get_keys()
            has_rows = key in await reference.get_keys()
            assert listed or not has_rows
        finally:
            if reference._async_engine is not None:
                await reference._async_engine.dispose()

    asyncio.run(compare())


def test_constructor_and_serialisation(memstore: Memstore) -> None:
    store = MemstoreMemoryChatStore(memstore)
    assert store.store is memstore
    assert store.class_name() == "MemstoreMemoryChatStore"
    assert store.model_dump() == {}
