"""Moving (and deleting) the oldest messages of a conversation in one transaction, on every backend."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memstore import BufferStore, Memstore, Message, NotFoundError, ValidationError


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url) as memstore:
        yield memstore


def _fill(buffer: BufferStore, n: int, tag: str = "s") -> list[Message]:
    stamp = datetime(2021, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc)
    return buffer.add_msgs(
        Message(
            role="user" if i % 2 == 0 else "assistant",
            content=f"{tag}{i}" if i % 3 else [{"type": "text", "text": f"{tag}{i}"}, {"type": "image"}],
            type="tool_call" if i % 4 == 3 else "text",
            metadata={"tag": tag, "i": i, "nested": {"k": [i, None, True]}},
            created_at=stamp.replace(second=i % 60) if i % 2 else None,
        )
        for i in range(n)
    )


def _identity(message: Message) -> tuple[Any, ...]:
    return (message.id, message.role, message.type, message.content, message.metadata, message.created_at)


def test_moves_the_oldest_in_order_after_what_the_target_holds(store: Memstore) -> None:
    source, target = store.buffer("source"), store.buffer("target")
    originals = _fill(source, 10)
    already = _fill(target, 3, tag="t")

    moved = source.move_oldest(4, "target")

    assert [_identity(m) for m in moved] == [_identity(m) for m in originals[:4]]
    assert [m.conversation_id for m in moved] == ["target"] * 4
    assert [m.position for m in moved] == [3, 4, 5, 6]
    assert target.get_msg() == already + moved
    assert source.get_msg() == originals[4:]
    assert [m.position for m in source.get_msg()] == list(range(4, 10)), "the rest keep their positions"
    assert target.get_msg_by_id(originals[0].id or "") == moved[0]
    with pytest.raises(NotFoundError):
        source.get_msg_by_id(originals[0].id or "")
    assert store.conversations.get_conversation_by_msg(originals[0].id or "").id == "target"


def test_counters_continue_on_both_sides(store: Memstore) -> None:
    source = store.buffer("source")
    _fill(source, 5)
    source.move_oldest(2, "target")
    assert source.add_msg(Message(role="user", content="next")).position == 5
    assert store.buffer("target").add_msg(Message(role="user", content="next")).position == 2
    assert [m.position for m in source.move_oldest(10, "target")] == [3, 4, 5, 6]


def test_moving_more_than_exist_moves_all(store: Memstore) -> None:
    source = store.buffer("source")
    originals = _fill(source, 3)
    moved = source.move_oldest(50, "target")
    assert [_identity(m) for m in moved] == [_identity(m) for m in originals]
    assert source.length() == 0
    assert store.buffer("target").length() == 3
    store.conversations.get_conversation("source")  # emptied, not deleted


def test_moving_zero_or_from_nothing_writes_nothing(store: Memstore) -> None:
    source = store.buffer("source")
    originals = _fill(source, 3)
    assert source.move_oldest(0, "target") == []
    assert store.buffer("empty").move_oldest(5, "target") == []
    assert source.get_msg() == originals
    with pytest.raises(NotFoundError):
        store.conversations.get_conversation("target")
    with pytest.raises(NotFoundError):
        store.conversations.get_conversation("empty")


@pytest.mark.parametrize("count", [-1, True, 1.5, "2", None])
def test_bad_count_is_rejected_before_writing(store: Memstore, count: Any) -> None:
    source = store.buffer("source")
    originals = _fill(source, 3)
    with pytest.raises(ValidationError):
        source.move_oldest(count, "target")
    if count is not None:  # delete_oldest(None) means "all" (tested in test_buffer.py)
        with pytest.raises(ValidationError):
            source.delete_oldest(count)
    assert source.get_msg() == originals


@pytest.mark.parametrize("target", ["source", "", "a\x00b", "\ud800", "x" * 1025, None, 7])
def test_bad_target_is_rejected_before_writing(store: Memstore, target: Any) -> None:
    source = store.buffer("source")
    originals = _fill(source, 3)
    with pytest.raises(ValidationError):
        source.move_oldest(1, target)
    assert source.get_msg() == originals


def test_moved_messages_move_back_in_order(store: Memstore) -> None:
    a, b = store.buffer("a"), store.buffer("b")
    originals = _fill(a, 6)
    a.move_oldest(4, "b")
    b.move_oldest(2, "a")
    assert [m.id for m in a.get_msg()] == [m.id for m in originals[4:] + originals[:2]]
    assert [m.id for m in b.get_msg()] == [m.id for m in originals[2:4]]
    positions = [m.position for m in a.get_msg()]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)


def test_delete_oldest_returns_what_it_deleted(store: Memstore) -> None:
    source = store.buffer("source")
    originals = _fill(source, 5)
    assert source.delete_oldest(0) == []
    assert source.delete_oldest(2) == originals[:2]
    assert source.get_msg() == originals[2:]
    assert source.delete_oldest(10) == originals[2:]
    assert source.length() == 0
    with pytest.raises(NotFoundError):
        store.conversations.get_conversation_by_msg(originals[0].id or "")
    assert source.add_msg(Message(role="user", content="again")).position == 5


async def test_async_twins(store: Memstore) -> None:
    source = store.buffer("source")
    originals = _fill(source, 4)
    moved = await source.amove_oldest(3, "target")
    assert [m.id for m in moved] == [m.id for m in originals[:3]]
    assert await source.adelete_oldest(5) == originals[3:]
    assert await store.buffer("target").aget_msg() == moved


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.sampled_from("ab"), st.integers(1, 3)),
        st.tuples(st.just("move"), st.sampled_from("ab"), st.integers(0, 4)),
        st.tuples(st.just("delete"), st.sampled_from("ab"), st.integers(0, 2)),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_sequences_match_two_lists(store: Memstore, ops: list[tuple[str, str, int]]) -> None:
    run = uuid.uuid4().hex
    model: dict[str, list[str]] = {"a": [], "b": []}
    counter = 0
    for op, name, n in ops:
        buffer = store.buffer(f"{run}-{name}")
        other = "b" if name == "a" else "a"
        if op == "append":
            texts = [f"m{counter + i}" for i in range(n)]
            counter += n
            buffer.add_msgs(Message(role="user", content=text) for text in texts)
            model[name].extend(texts)
        elif op == "move":
            moved = buffer.move_oldest(n, f"{run}-{other}")
            assert [m.content for m in moved] == model[name][:n]
            model[other].extend(model[name][:n])
            del model[name][:n]
        else:
            deleted = buffer.delete_oldest(n)
            assert [m.content for m in deleted] == model[name][:n]
            del model[name][:n]
    for name in "ab":
        stored = store.buffer(f"{run}-{name}").get_msg()
        assert [m.content for m in stored] == model[name]
        positions = [m.position for m in stored]
        assert positions == sorted(set(positions))  # type: ignore[type-var]


APPENDS = 300


def _append_in_other_process(url: str, start: Any, done: Any) -> None:
    with Memstore(url) as store:
        buffer = store.buffer("source")
        buffer.length()
        start.wait()
        for i in range(APPENDS):
            buffer.add_msg(Message(role="user", content=str(i)))
    done.set()


@pytest.mark.slow
def test_concurrent_appends_while_moving_lose_and_duplicate_nothing(sql_url: str) -> None:
    context = mp.get_context("spawn")
    start, done = context.Barrier(2), context.Event()
    with Memstore(sql_url) as store:
        source = store.buffer("source")
        source.length()
        appender = context.Process(target=_append_in_other_process, args=(sql_url, start, done))
        appender.start()
        start.wait(timeout=120)
        moved: list[Message] = []
        while not done.is_set() or source.length():
            moved.extend(source.move_oldest(7, "target"))
        appender.join(timeout=60)
        assert appender.exitcode == 0
        target = store.buffer("target").get_msg()
    assert [m.content for m in target] == [str(i) for i in range(APPENDS)]
    assert [m.position for m in target] == list(range(APPENDS))
    assert [m.id for m in moved] == [m.id for m in target]
