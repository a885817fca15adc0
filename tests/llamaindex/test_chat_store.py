"""MemstoreChatStore: every BaseChatStore method, sync and async, against SimpleChatStore as the reference."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from li_cases import KEYS_KEPT, KEYS_REJECTED
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.storage.chat_store import SimpleChatStore

from llamaindex_memstore import MemstoreChatStore
from memstore import ConflictError, Memstore, Message, ValidationError

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
KWARGS = st.dictionaries(
    st.sampled_from(["tool_call_id", "name", "x"]), st.integers(-5, 5) | st.booleans() | TEXT, max_size=2
)
MESSAGES = st.builds(
    lambda role, text, kwargs: ChatMessage(role=role, content=text, additional_kwargs=kwargs),
    st.sampled_from(list(MessageRole)),
    TEXT,
    KWARGS,
)
KEY_NAMES = st.sampled_from(["a", "b", "it's"])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set_messages"), KEY_NAMES, st.lists(MESSAGES, max_size=4)),
        st.tuples(st.just("add_message"), KEY_NAMES, MESSAGES),
        st.tuples(st.just("add_message"), KEY_NAMES, MESSAGES, st.integers(-6, 6)),
        st.tuples(st.just("get_messages"), KEY_NAMES),
        st.tuples(st.just("delete_messages"), KEY_NAMES),
        st.tuples(st.just("delete_message"), KEY_NAMES, st.integers(-5, 5)),
        st.tuples(st.just("delete_last_message"), KEY_NAMES),
        st.tuples(st.just("get_keys")),
    ),
    max_size=20,
)
ASYNC_NAMES = {
    "set_messages": "aset_messages",
    "add_message": "async_add_message",
    "get_messages": "aget_messages",
    "delete_messages": "adelete_messages",
    "delete_message": "adelete_message",
    "delete_last_message": "adelete_last_message",
    "get_keys": "aget_keys",
}


def _outcome(method: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", method(*args)
    except IndexError as exc:
        return "IndexError", str(exc)


def _blocking(coroutine_method: Any) -> Any:
    return lambda *args: asyncio.run(coroutine_method(*args))


def _texts(messages: list[ChatMessage]) -> list[str | None]:
    return [m.content for m in messages]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS, use_async=st.booleans())
def test_random_sequences_match_simple_chat_store(
    chat_store: MemstoreChatStore, operations: list[tuple[Any, ...]], use_async: bool
) -> None:
    run = uuid.uuid4().hex
    reference = SimpleChatStore()
    for name, *args in operations:
        if args:
            args[0] = f"{run}/{args[0]}"
        expected = _outcome(getattr(reference, name), *args)
        if use_async:
            actual = _outcome(_blocking(getattr(chat_store, ASYNC_NAMES[name])), *args)
        else:
            actual = _outcome(getattr(chat_store, name), *args)
        if name == "get_keys":
            expected = ("ok", sorted(expected[1]))
            actual = ("ok", [key for key in actual[1] if key.startswith(run)])
        assert actual == expected, (name, args)
    for key in reference.get_keys():
        assert chat_store.get_messages(key) == reference.get_messages(key)


def test_edge_cases_of_simple_chat_store(chat_store: MemstoreChatStore) -> None:
    assert chat_store.get_messages("missing") == []
    assert chat_store.delete_messages("missing") is None
    assert chat_store.delete_message("missing", 0) is None
    assert chat_store.delete_message("missing", -1) is None
    assert chat_store.delete_last_message("missing") is None
    chat_store.set_messages("empty", [])
    assert chat_store.get_keys() == ["empty"]
    assert chat_store.delete_message("empty", 0) is None
    with pytest.raises(IndexError, match="pop from empty list"):
        chat_store.delete_message("empty", -1)
    with pytest.raises(IndexError, match="pop from empty list"):
        chat_store.delete_last_message("empty")
    chat_store.add_message("empty", ChatMessage(role="user", content="one"))
    with pytest.raises(IndexError, match="pop index out of range"):
        chat_store.delete_message("empty", -2)
    assert chat_store.delete_messages("empty") == [ChatMessage(role="user", content="one")]
    assert chat_store.get_keys() == []


def test_every_method(chat_store: MemstoreChatStore) -> None:
    first = [ChatMessage(role="user", content=f"m{i}") for i in range(5)]
    chat_store.set_messages("k", first)
    chat_store.add_message("k", ChatMessage(role="assistant", content="m5"))
    assert _texts(chat_store.get_messages("k")) == ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert chat_store.delete_message("k", 1) == first[1]
    assert chat_store.delete_message("k", -2) == first[4]
    assert chat_store.delete_last_message("k") == ChatMessage(role="assistant", content="m5")
    assert _texts(chat_store.get_messages("k")) == ["m0", "m2", "m3"]
    chat_store.set_messages("k", first[:1])
    assert chat_store.get_messages("k") == first[:1]
    chat_store.add_message("other", first[0])
    assert chat_store.get_keys() == ["k", "other"]
    assert chat_store.delete_messages("k") == first[:1]
    assert chat_store.get_keys() == ["other"]


async def test_add_message_at_an_index_matches_simple_chat_store(chat_store: MemstoreChatStore) -> None:
    # Issue 16.9: SimpleChatStore.add_message(key, message, idx) inserts (list.insert); it was a TypeError.
    reference = SimpleChatStore()
    for store in (reference, chat_store):
        store.set_messages("k", [ChatMessage(role="user", content=f"m{i}") for i in range(4)])
    for idx in [0, 2, -1, -3, 99, -99]:
        message = ChatMessage(role="assistant", content=f"at {idx}")
        reference.add_message("k", message, idx=idx)
        chat_store.add_message("k", message, idx=idx)
        assert chat_store.get_messages("k") == reference.get_messages("k"), idx
    await chat_store.async_add_message("k", ChatMessage(role="user", content="async"), idx=1)
    reference.add_message("k", ChatMessage(role="user", content="async"), idx=1)
    assert await chat_store.aget_messages("k") == reference.get_messages("k")
    chat_store.add_message("new", ChatMessage(role="user", content="first"), idx=5)  # creates the key
    assert _texts(chat_store.get_messages("new")) == ["first"]
    await chat_store.async_add_message("k", ChatMessage(role="user", content="end"))
    assert _texts(chat_store.get_messages("k"))[-1] == "end"


@pytest.mark.parametrize("bad", [1.0, "0", True])
def test_add_message_rejects_a_bad_index(chat_store: MemstoreChatStore, bad: Any) -> None:
    chat_store.set_messages("k", [ChatMessage(role="user", content="m0")])
    with pytest.raises(ValidationError, match="idx"):
        chat_store.add_message("k", ChatMessage(role="user", content="x"), idx=bad)
    assert _texts(chat_store.get_messages("k")) == ["m0"]


async def test_every_async_twin(chat_store: MemstoreChatStore) -> None:
    first = [ChatMessage(role="user", content=f"m{i}") for i in range(4)]
    await chat_store.aset_messages("k", first)
    await chat_store.async_add_message("k", ChatMessage(role="assistant", content="m4"))
    assert _texts(await chat_store.aget_messages("k")) == ["m0", "m1", "m2", "m3", "m4"]
    assert await chat_store.adelete_message("k", 0) == first[0]
    assert await chat_store.adelete_last_message("k") == ChatMessage(role="assistant", content="m4")
    assert await chat_store.aget_keys() == ["k"]
    assert await chat_store.adelete_messages("k") == first[1:]
    assert await chat_store.aget_keys() == []
    assert await chat_store.adelete_last_message("k") is None


def test_keys_are_conversations_shared_with_the_core(
    chat_store: MemstoreChatStore, memstore: Memstore
) -> None:
    chat_store.add_message("k", ChatMessage(role="user", content="from llamaindex"))
    memstore.buffer("k").add_msg(Message(role="assistant", content="from the core"))
    assert _texts(chat_store.get_messages("k")) == ["from llamaindex", "from the core"]
    assert memstore.buffer("k").length() == 2


@pytest.mark.parametrize("key", KEYS_KEPT)
def test_hostile_keys_round_trip_exactly(chat_store: MemstoreChatStore, key: str) -> None:
    message = ChatMessage(role="user", content=key)
    chat_store.add_message(key, message)
    assert chat_store.get_keys() == [key]
    assert chat_store.get_messages(key) == [message]
    assert chat_store.delete_messages(key) == [message]
    assert chat_store.get_keys() == []


@pytest.mark.parametrize("key", KEYS_REJECTED)
def test_hostile_keys_are_rejected_before_writing(chat_store: MemstoreChatStore, key: Any) -> None:
    message = ChatMessage(role="user", content="x")
    calls = [
        lambda: chat_store.set_messages(key, [message]),
        lambda: chat_store.set_messages(key, []),
        lambda: chat_store.add_message(key, message),
        lambda: chat_store.get_messages(key),
        lambda: chat_store.delete_messages(key),
        lambda: chat_store.delete_message(key, 0),
        lambda: chat_store.delete_last_message(key),
    ]
    for call in calls:
        with pytest.raises(ValidationError):
            call()
    assert chat_store.get_keys() == []


def test_a_bad_batch_leaves_the_old_list_whole(chat_store: MemstoreChatStore) -> None:
    old = [ChatMessage(role="user", content="old")]
    chat_store.set_messages("k", old)
    with pytest.raises(ValidationError):
        chat_store.set_messages("k", [ChatMessage(role="user", content="new"), "not a message"])  # type: ignore[list-item]
    assert chat_store.get_messages("k") == old


@pytest.mark.parametrize("idx", ["0", 1.0, True, None])
def test_delete_message_rejects_non_int_indexes(chat_store: MemstoreChatStore, idx: Any) -> None:
    chat_store.add_message("k", ChatMessage(role="user", content="x"))
    with pytest.raises(ValidationError):
        chat_store.delete_message("k", idx)
    assert len(chat_store.get_messages("k")) == 1


def test_delete_message_looks_again_when_its_target_is_deleted_first(
    chat_store: MemstoreChatStore, memstore: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_store.set_messages("k", [ChatMessage(role="user", content=f"m{i}") for i in range(3)])
    buffer_type = type(memstore.buffer("k"))
    real_delete = buffer_type.delete_msg
    raced: list[str] = []

    def delete_after_a_rival(self: Any, message_id: str) -> Message:
        if not raced:  # a rival deletes the same message between our read and our delete
            raced.append(real_delete(self, message_id).text)
        return real_delete(self, message_id)

    monkeypatch.setattr(buffer_type, "delete_msg", delete_after_a_rival)
    assert chat_store.delete_message("k", 0) == ChatMessage(role="user", content="m1")
    assert raced == ["m0"]
    assert _texts(chat_store.get_messages("k")) == ["m2"]


def test_delete_message_gives_up_with_a_typed_error_under_endless_races(
    chat_store: MemstoreChatStore, memstore: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_store.set_messages("k", [ChatMessage(role="user", content=f"m{i}") for i in range(10)])
    buffer_type = type(memstore.buffer("k"))
    real_delete = buffer_type.delete_msg

    def always_beaten(self: Any, message_id: str) -> Message:
        real_delete(self, message_id)
        return real_delete(self, message_id)

    monkeypatch.setattr(buffer_type, "delete_msg", always_beaten)
    with pytest.raises(ConflictError):
        chat_store.delete_message("k", 0)


def test_window_reads_only_the_newest(memstore: Memstore) -> None:
    windowed = MemstoreChatStore(memstore, window=3)
    windowed.set_messages("k", [ChatMessage(role="user", content=f"m{i}") for i in range(10)])
    assert _texts(windowed.get_messages("k")) == ["m7", "m8", "m9"]
    assert windowed.delete_message("k", 0) == ChatMessage(role="user", content="m0"), "indexes see it all"
    assert len(MemstoreChatStore(memstore).get_messages("k")) == 9
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        MemstoreChatStore(memstore, window=0)


def _tool_turns() -> list[ChatMessage]:
    call = {"id": "call-1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    return [
        ChatMessage(role="user", content="Weather in Paris?"),
        ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]}),
        ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "call-1"}),
        ChatMessage(role="tool", content="22 degrees", additional_kwargs={"tool_call_id": "call-1"}),
        ChatMessage(role="assistant", content="Sunny, 22 degrees."),
    ]


async def test_count_window_keeps_a_tool_call_with_its_results(memstore: Memstore) -> None:
    MemstoreChatStore(memstore).set_messages("k", _tool_turns())
    for k, expected in [(1, 1), (2, 1), (3, 1), (4, 4), (5, 5), (9, 5)]:
        windowed = MemstoreChatStore(memstore, window=k)
        assert windowed.get_messages("k") == _tool_turns()[-expected:], k
        assert await windowed.aget_messages("k") == _tool_turns()[-expected:], k


async def test_token_window(memstore: Memstore) -> None:
    history = [ChatMessage(role="user", content=f"m{i} " + "w" * 20) for i in range(50)] + _tool_turns()
    MemstoreChatStore(memstore).set_messages("k", history)

    def words(message: ChatMessage) -> int:
        return len((message.content or "").split()) + 1

    for budget in range(1, 40, 3):
        windowed = MemstoreChatStore(memstore, window_tokens=budget, token_counter=words)
        got = windowed.get_messages("k")
        assert got == await windowed.aget_messages("k")
        assert got == history[len(history) - len(got) :]
        assert sum(words(m) for m in got) <= budget
        assert not got or got[0].role != MessageRole.TOOL
        start = len(history) - len(got)
        leader = max(i for i in range(start) if history[i].role != MessageRole.TOOL)
        assert sum(words(m) for m in history[leader:]) > budget, "the largest window that fits"
    # The default counter: 4 characters a token plus 3 a message; no tokenizer download.
    default = MemstoreChatStore(memstore, window_tokens=10)
    assert default.get_messages("k") == _tool_turns()[-1:]
    both = MemstoreChatStore(memstore, window=2, window_tokens=1000)
    assert both.get_messages("k") == _tool_turns()[-1:]
    assert MemstoreChatStore(memstore, window_tokens=5).get_messages("missing") == []


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "7"])
def test_bad_window_tokens_is_rejected(memstore: Memstore, bad: Any) -> None:
    with pytest.raises(ValidationError, match="window_tokens"):
        MemstoreChatStore(memstore, window_tokens=bad)


def test_token_counter_needs_a_budget(memstore: Memstore) -> None:
    with pytest.raises(ValidationError, match="token_counter"):
        MemstoreChatStore(memstore, token_counter=len)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="token_counter"):
        MemstoreChatStore(memstore, window_tokens=4, token_counter="len")  # type: ignore[arg-type]


def test_chat_memory_buffer_on_the_store(memstore: Memstore) -> None:
    store = MemstoreChatStore(memstore)
    memory = ChatMemoryBuffer.from_defaults(
        chat_store=store, chat_store_key="user-1", token_limit=40, tokenizer_fn=str.split
    )
    for turn in range(30):
        memory.put(ChatMessage(role="user", content=f"question {turn} " + "word " * 5))
        memory.put(ChatMessage(role="assistant", content=f"answer {turn}"))
    window = memory.get()
    assert 0 < len(window) < 60
    assert sum(len(m.content.split()) for m in window) <= 40  # type: ignore[union-attr]
    assert window == memory.get_all()[-len(window) :]
    assert len(memory.get_all()) == 60
    assert len(store.get_messages("user-1")) == 60

    reopened = ChatMemoryBuffer.from_defaults(
        chat_store=MemstoreChatStore(memstore),
        chat_store_key="user-1",
        token_limit=40,
        tokenizer_fn=str.split,
    )
    assert reopened.get() == window
    reopened.reset()
    assert store.get_keys() == []


def test_chat_memory_buffer_with_a_window(memstore: Memstore) -> None:
    memory = ChatMemoryBuffer.from_defaults(
        chat_store=MemstoreChatStore(memstore, window=8),
        chat_store_key="long",
        token_limit=10_000,
        chat_history=[ChatMessage(role="user", content=f"m{i}") for i in range(200)],
    )
    assert _texts(memory.get()) == [f"m{i}" for i in range(192, 200)]


def test_owns_only_the_store_it_opened(
    tmp_path: Path, memstore: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[Memstore] = []
    real_close = Memstore.close
    monkeypatch.setattr(Memstore, "close", lambda self: closed.append(self) or real_close(self))
    url = f"sqlite:///{tmp_path / 'own.db'}"
    owned = MemstoreChatStore(url)
    owned.add_message("k", ChatMessage(role="user", content="persisted"))
    owned.close()
    assert closed == [owned.store]
    assert MemstoreChatStore(url).get_messages("k") == [ChatMessage(role="user", content="persisted")]

    borrowed = MemstoreChatStore(memstore)
    borrowed.close()
    assert borrowed.store is memstore
    assert closed == [owned.store]

    monkeypatch.chdir(tmp_path)
    default = MemstoreChatStore()
    default.add_message("k", ChatMessage(role="user", content="embedded"))
    default.close()
    assert (tmp_path / "memstore_data" / "memstore.db").exists()
    assert closed == [owned.store, default.store]
    with pytest.raises(TypeError, match="store must be"):  # memstore.open_store, as every adapter
        MemstoreChatStore(42)  # type: ignore[arg-type]


def test_serialises_its_configuration_only(memstore: Memstore) -> None:
    assert MemstoreChatStore(memstore, window=5).model_dump() == {
        "window": 5,
        "window_tokens": None,
        "class_name": "MemstoreChatStore",
    }
