"""The buffer-store contract: one suite, run on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Literal

import pytest

from memstore import BufferStore, ConflictError, Memstore, Message, NotFoundError, ValidationError
from memstore.filters import Eq, Not, Range


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url) as memstore:
        yield memstore


def _fill(buffer: BufferStore, n: int) -> list[Message]:
    return buffer.add_msgs(
        Message(
            role="user" if i % 2 == 0 else "assistant",
            content=f"message {i}",
            type="tool_call" if i % 5 == 4 else "text",
            metadata={"i": i, "even": i % 2 == 0, "tag": {"name": f"t{i % 3}"}},
        )
        for i in range(n)
    )


def _texts(messages: list[Message]) -> list[str]:
    return [m.content for m in messages]  # type: ignore[misc]


def _numbers(messages: list[Message]) -> list[int]:
    return [int(m.metadata["i"]) for m in messages]


def test_add_assigns_id_position_and_time(store: Memstore) -> None:
    buffer = store.buffer("c1")
    before = datetime.now(timezone.utc)
    first = buffer.add_msg(Message(role="user", content="hello"))
    second, third = buffer.add_msgs(
        [Message(role="assistant", content="hi"), Message(role="user", content="?")]
    )
    assert (first.position, second.position, third.position) == (0, 1, 2)
    assert first.id
    assert second.id
    assert first.id != second.id
    assert first.conversation_id == "c1"
    assert first.created_at is not None
    assert first.created_at >= before.replace(microsecond=0)
    assert buffer.get_msg() == [first, second, third]
    assert buffer.length() == 3


def test_given_ids_and_times_are_kept(store: Memstore) -> None:
    buffer = store.buffer("c1")
    stamp = datetime(2020, 5, 17, 12, 30, 15, 123456, tzinfo=timezone.utc)
    stored = buffer.add_msg(Message(role="user", content="old", id="my-id", created_at=stamp))
    assert stored.id == "my-id"
    assert buffer.get_msg_by_id("my-id").created_at == stamp
    with pytest.raises(ConflictError):
        store.buffer("c2").add_msg(Message(role="user", content="dup", id="my-id"))
    assert store.buffer("c2").length() == 0


def test_lossless_content_and_metadata(store: Memstore) -> None:
    parts = [
        {"type": "text", "text": "look at this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "tool_use", "id": "call_1", "name": "search", "input": {"q": "cats", "k": 3, "x": None}},
    ]
    metadata = {
        "tool_calls": [{"id": "call_1", "args": {"a": [1, 2.5, True, None]}}],
        "nested": {"deep": {"x": "y"}},
    }
    buffer = store.buffer("c1")
    buffer.add_msgs(
        [
            Message(role="assistant", content=parts, type="tool_call", metadata=metadata),
            Message(role="tool", content="", metadata={"tool_call_id": "call_1"}),
            Message(role="user", content="émoji 🧠 'quotes' \"double\" \\ back", metadata={}),
        ]
    )
    first, second, third = buffer.get_msg()
    assert first.content == parts
    assert first.metadata == metadata
    assert first.type == "tool_call"
    assert second.content == ""
    assert third.content == "émoji 🧠 'quotes' \"double\" \\ back"


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (None, list(range(12))),
        (0, []),
        (3, [0, 1, 2]),
        (50, list(range(12))),
        (-3, [9, 10, 11]),
        (-50, list(range(12))),
        ([1, 5], [0, 1, 2, 3, 4]),
        ([2, 5], [5, 6, 7, 8, 9]),
        ([3, 5], [10, 11]),
        ([4, 5], []),
        ((1, 5), [0, 1, 2, 3, 4]),
        ([-1, 5], [7, 8, 9, 10, 11]),
        ([-2, 5], [2, 3, 4, 5, 6]),
        ([-3, 5], [0, 1]),
        ([-4, 5], []),
    ],
)
def test_every_count_form(store: Memstore, count: object, expected: list[int]) -> None:
    buffer = store.buffer("c1")
    _fill(buffer, 12)
    assert _numbers(buffer.get_msg(count)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [[0, 5], [1, 0], [1, -1], [1], [1, 2, 3], "all", 1.5, True, [True, 5]])
def test_bad_count_raises_validation_error(store: Memstore, count: object) -> None:
    with pytest.raises(ValidationError):
        store.buffer("c1").get_msg(count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"type_include": ["tool_call"]}, [4, 9]),
        ({"type_exclude": ["tool_call"]}, [0, 1, 2, 3, 5, 6, 7, 8, 10, 11]),
        ({"role_include": ["assistant"]}, [1, 3, 5, 7, 9, 11]),
        ({"role_exclude": ["assistant"], "type_exclude": ["tool_call"]}, [0, 2, 6, 8, 10]),
        ({"role_include": "user"}, [0, 2, 4, 6, 8, 10]),
        ({"type_include": []}, []),
        ({"filter_meta": {"even": True}}, [0, 2, 4, 6, 8, 10]),
        ({"filter_meta": {"tag": {"name": "t1"}}}, [1, 4, 7, 10]),
        ({"filter_meta": Eq(("tag", "name"), "t2")}, [2, 5, 8, 11]),
        ({"filter_meta": {"i": {"$gte": 9}}}, [9, 10, 11]),
        ({"filter_meta": Not(Range("i", lt=10))}, [10, 11]),
        ({"filter_meta": {"i": {"$in": [1, 3, 99]}}}, [1, 3]),
        ({"filter_meta": {"missing": "x"}}, []),
        ({"filter_meta": lambda meta: meta["i"] % 4 == 0}, [0, 4, 8]),
        ({"filter_meta": lambda meta: meta["i"] > 5, "role_include": ["user"]}, [6, 8, 10]),
    ],
)
def test_filters(store: Memstore, kwargs: dict[str, object], expected: list[int]) -> None:
    buffer = store.buffer("c1")
    _fill(buffer, 12)
    assert _numbers(buffer.get_msg(**kwargs)) == expected  # type: ignore[arg-type]
    assert buffer.length(**kwargs) == len(expected)  # type: ignore[arg-type]
    assert _numbers(buffer.get_msg(-2, **kwargs)) == expected[-2:]  # type: ignore[arg-type]
    assert _numbers(buffer.get_msg([1, 2], **kwargs)) == expected[:2]  # type: ignore[arg-type]
    assert _numbers(buffer.get_msg([-1, 2], **kwargs)) == expected[-2:]  # type: ignore[arg-type]


def _cursor_walk(
    buffer: BufferStore, size: int, direction: Literal["forward", "backward"]
) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor = None
    while True:
        page = buffer.get_msg_by_cursor(cursor, size, direction)
        pages.append(_numbers(page.messages))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_cursor_paging_to_the_end_and_back(store: Memstore) -> None:
    buffer = store.buffer("c1")
    _fill(buffer, 23)
    assert _cursor_walk(buffer, 5, "backward") == [
        [18, 19, 20, 21, 22],
        [13, 14, 15, 16, 17],
        [8, 9, 10, 11, 12],
        [3, 4, 5, 6, 7],
        [0, 1, 2],
    ]
    assert _cursor_walk(buffer, 10, "forward") == [list(range(10)), list(range(10, 20)), [20, 21, 22]]
    exact = buffer.get_msg_by_cursor(None, 23, "forward")
    assert exact.next_cursor is None
    assert len(exact.messages) == 23


def test_cursor_is_stable_under_appends(store: Memstore) -> None:
    buffer = store.buffer("c1")
    _fill(buffer, 10)
    first = buffer.get_msg_by_cursor(None, 4, "backward")
    buffer.add_msg(Message(role="user", content="new", metadata={"i": 100}))
    second = buffer.get_msg_by_cursor(first.next_cursor, 4, "backward")
    assert _numbers(second.messages) == [2, 3, 4, 5]


@pytest.mark.parametrize("cursor", ["garbage", "p", "p-1", "12", ""])
def test_bad_cursor_raises_validation_error(store: Memstore, cursor: str) -> None:
    with pytest.raises(ValidationError):
        store.buffer("c1").get_msg_by_cursor(cursor, 5)


def test_generators_stream_from_the_middle(store: Memstore) -> None:
    buffer = store.buffer("c1")
    messages = _fill(buffer, 30)
    middle = messages[12].id
    assert middle is not None
    assert _numbers(list(buffer.get_msgs_forward(middle, page_size=4))) == list(range(13, 30))
    assert _numbers(list(buffer.get_msgs_forward(middle, inclusive=True, page_size=4))) == list(range(12, 30))
    assert _numbers(list(buffer.get_msgs_backward(middle, page_size=4))) == list(range(11, -1, -1))
    assert _numbers(list(buffer.get_msgs_backward(middle, inclusive=True, page_size=5))) == list(
        range(12, -1, -1)
    )
    assert _numbers(list(buffer.get_msgs_forward(page_size=7))) == list(range(30))
    assert _numbers(list(buffer.get_msgs_backward())) == list(range(29, -1, -1))
    with pytest.raises(NotFoundError):
        list(buffer.get_msgs_forward("no-such-id"))


async def test_async_generators_stream_in_pages(store: Memstore) -> None:
    buffer = store.buffer("c1")
    messages = await buffer.aadd_msgs(
        [Message(role="user", content=str(i), metadata={"i": i}) for i in range(9)]
    )
    forward = [m async for m in buffer.aget_msgs_forward(messages[2].id, page_size=2)]
    backward = [m async for m in buffer.aget_msgs_backward(page_size=2)]
    assert _numbers(forward) == list(range(3, 9))
    assert _numbers(backward) == list(range(8, -1, -1))


def test_edit_delete_clear(store: Memstore) -> None:
    buffer = store.buffer("c1")
    messages = _fill(buffer, 5)
    target = messages[2]
    assert target.id is not None
    edited = buffer.edit_msg(target.id, content=[{"type": "text", "text": "edited"}], metadata={"new": 1})
    assert edited.position == target.position
    assert edited.created_at == target.created_at
    assert edited.role == target.role
    assert buffer.get_msg_by_id(target.id) == edited
    buffer.edit_msg(target.id, role="system", type="note")
    again = buffer.get_msg_by_id(target.id)
    assert (again.role, again.type, again.metadata) == ("system", "note", {"new": 1})
    with pytest.raises(ValidationError):
        buffer.edit_msg(target.id, metadata={"bad": float("nan")})
    assert buffer.get_msg_by_id(target.id) == again

    deleted = buffer.delete_msg(target.id)
    assert deleted == again
    assert _numbers(buffer.get_msg()) == [0, 1, 3, 4]
    with pytest.raises(NotFoundError):
        buffer.delete_msg(target.id)
    with pytest.raises(NotFoundError):
        buffer.edit_msg(target.id, content="x")
    assert buffer.clear() == 4
    assert buffer.get_msg() == []
    assert buffer.add_msg(Message(role="user", content="after clear")).position == 5, "positions never reused"


def test_messages_of_another_conversation_are_invisible(store: Memstore) -> None:
    mine, theirs = store.buffer("mine"), store.buffer("theirs")
    _fill(mine, 3)
    their_message = theirs.add_msg(Message(role="user", content="secret"))
    assert their_message.id is not None
    for operation in (
        lambda: mine.get_msg_by_id(their_message.id),
        lambda: mine.delete_msg(their_message.id),
        lambda: mine.edit_msg(their_message.id, content="hacked"),
        lambda: list(mine.get_msgs_forward(their_message.id)),
    ):
        with pytest.raises(NotFoundError):
            operation()
    assert theirs.get_msg() == [their_message]
    assert mine.clear() == 3
    assert theirs.length() == 1


def test_batch_with_one_invalid_message_writes_nothing(store: Memstore) -> None:
    buffer = store.buffer("c1")
    _fill(buffer, 2)
    with pytest.raises(ValidationError):
        buffer.add_msgs([Message(role="user", content="ok"), {"role": "user", "content": "not a Message"}])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        buffer.add_msgs(
            [Message(role="user", content="ok"), Message(role="user", content="x", conversation_id="c2")]
        )
    with pytest.raises(ValidationError):
        buffer.add_msgs(
            [Message(role="user", content="a", id="same"), Message(role="user", content="b", id="same")]
        )
    with pytest.raises(ValidationError):
        buffer.add_msgs([Message(role="user", content="a", position=7), Message(role="user", content="b")])
    with pytest.raises(ValidationError):
        Message(role="user", content="x", metadata={"fn": object()})
    with pytest.raises(ValidationError):
        Message(role="user", content="x", metadata={1: "non-str key"})  # type: ignore[dict-item]
    assert buffer.length() == 2
    assert [m.position for m in buffer.get_msg()] == [0, 1]


def test_batch_with_a_conflicting_id_writes_nothing(store: Memstore) -> None:
    buffer = store.buffer("c1")
    buffer.add_msg(Message(role="user", content="first", id="taken"))
    with pytest.raises(ConflictError):
        buffer.add_msgs(
            [Message(role="user", content="new"), Message(role="user", content="dup", id="taken")]
        )
    assert _texts(buffer.get_msg()) == ["first"]
    assert buffer.add_msg(Message(role="user", content="next")).position == 1


def test_a_refused_batch_leaves_no_new_conversation_behind(store: Memstore) -> None:
    store.buffer("c1").add_msg(Message(role="user", content="first", id="taken"))
    with pytest.raises(ConflictError):
        store.buffer("new").add_msg(Message(role="user", content="dup", id="taken"))
    with pytest.raises(ConflictError):
        store.buffer("newer").add_msgs([Message(role="user", content=str(p), position=1) for p in range(2)])
    assert store.conversations.list_conversation_ids() == ["c1"]


def test_given_positions_are_kept_and_continue_the_count(store: Memstore) -> None:
    buffer = store.buffer("c1")
    buffer.add_msgs([Message(role="user", content=str(p), position=p) for p in (3, 7, 5)])
    assert [m.position for m in buffer.get_msg()] == [3, 5, 7]
    assert buffer.add_msg(Message(role="user", content="next")).position == 8
    with pytest.raises(ConflictError):
        buffer.add_msg(Message(role="user", content="clash", position=5))
    assert buffer.length() == 4


HOSTILE = [
    "'; DROP TABLE memstore_messages; --",
    "' OR '1'='1",
    '"; DELETE FROM memstore_conversations; --',
    "%",
    "_",
    "\\",
    "ünïcødé 🧠",
    "مرحبا",
    " ",
    '{"$ne": null}',
    "../../etc/passwd",
]


def test_hostile_ids_and_filter_values_round_trip_or_are_rejected(store: Memstore) -> None:
    canary = store.buffer("canary")
    canary.add_msg(Message(role="user", content="canary", metadata={"k": "v"}))
    for index, text in enumerate(HOSTILE):
        buffer = store.buffer(text)
        stored = buffer.add_msg(Message(role=text, type=text, content=text, metadata={text: text, "k": text}))
        assert buffer.get_msg() == [stored]
        assert buffer.get_msg(filter_meta={"k": text}) == [stored]
        if (
            '"' in text
        ):  # the one key character the filter language rejects (SQLite JSON paths cannot quote it)
            with pytest.raises(ValidationError):
                buffer.get_msg(filter_meta={text: text})
        else:
            assert buffer.get_msg(filter_meta={text: text}) == [stored]
        assert buffer.get_msg(role_include=[text], type_include=[text]) == [stored]
        assert store.conversations.get_conversation(text).id == text
        assert canary.get_msg(filter_meta={"k": text}) == []
        assert buffer.length() == 1, index
    for bad in ["", "nul\x00", "\udc80", "x" * 2000]:
        with pytest.raises(ValidationError):
            store.buffer(bad)
        with pytest.raises(ValidationError):
            Message(role=bad or "\x00", content="x")
    assert [m.content for m in canary.get_msg()] == ["canary"]
    assert canary.get_msg(filter_meta={"k": "v"})[0].content == "canary"


async def test_async_twins(store: Memstore) -> None:
    buffer = store.buffer("c1")
    stored = await buffer.aadd_msg(Message(role="user", content="a"))
    await buffer.aadd_msgs([Message(role="assistant", content="b")])
    assert await buffer.alength() == 2
    assert _texts(await buffer.aget_msg(-1)) == ["b"]
    assert stored.id is not None
    await buffer.aedit_msg(stored.id, content="a2")
    assert (await buffer.aget_msg_by_id(stored.id)).content == "a2"
    page = await buffer.aget_msg_by_cursor(None, 1)
    assert _texts(page.messages) == ["b"]
    assert (await buffer.alatest()) == page.messages[0]
    await buffer.adelete_msg(stored.id)
    assert await buffer.aclear() == 1


def test_replace_swaps_the_whole_list_in_one_transaction(store: Memstore) -> None:
    buffer = store.buffer("c1")
    old = _fill(buffer, 4)
    with pytest.raises(ValidationError):
        buffer.replace([Message(role="user", content="ok"), "not a message"])  # type: ignore[list-item]
    assert buffer.get_msg() == old, "an invalid batch leaves the old list untouched"
    store.buffer("c2").add_msg(Message(role="user", content="theirs", id="taken"))
    with pytest.raises(ConflictError):
        buffer.replace([Message(role="user", content="x"), Message(role="user", content="y", id="taken")])
    assert buffer.get_msg() == old, "a conflicting batch leaves the old list untouched"
    new = buffer.replace(
        [Message(role="user", content="new", id=old[0].id), Message(role="user", content="2")]
    )
    assert [m.content for m in buffer.get_msg()] == ["new", "2"]
    assert [m.position for m in new] == [4, 5], "positions continue; ids of replaced messages may be reused"
    assert buffer.replace([]) == []
    assert buffer.length() == 0


def test_offset_windows(store: Memstore) -> None:
    buffer = store.buffer("c1")
    _fill(buffer, 10)
    assert _numbers(buffer.get_msg(3, offset=2)) == [2, 3, 4]
    assert _numbers(buffer.get_msg(-3, offset=2)) == [5, 6, 7]
    assert _numbers(buffer.get_msg(None, offset=8)) == [8, 9]
    assert _numbers(buffer.get_msg(5, offset=8, role_include=["user"])) == []
    assert _numbers(buffer.get_msg(2, offset=1, role_include=["user"])) == [2, 4]
    for bad in ({"count": [1, 2], "offset": 1}, {"count": 2, "offset": -1}):
        with pytest.raises(ValidationError):
            buffer.get_msg(**bad)  # type: ignore[arg-type]


def test_delete_oldest_none_deletes_and_returns_everything(store: Memstore) -> None:
    buffer = store.buffer("c1")
    stored = _fill(buffer, 6)
    assert buffer.delete_oldest(2) == stored[:2]
    assert buffer.delete_oldest(None) == stored[2:]
    assert buffer.length() == 0


def test_list_conversation_ids_pages_in_id_order(store: Memstore) -> None:
    for name in ["b", "a_1", "a%2", "a3", "A4", "c"]:
        store.buffer(name).add_msg(Message(role="user", content="x"))
    assert store.conversations.list_conversation_ids() == sorted(["b", "a_1", "a%2", "a3", "A4", "c"])
    assert store.conversations.list_conversation_ids("a") == ["a%2", "a3", "a_1"]
    assert store.conversations.list_conversation_ids("a_") == ["a_1"]
    first = store.conversations.list_conversation_ids(limit=2)
    rest = store.conversations.list_conversation_ids(after=first[-1], limit=10)
    assert first + rest == sorted(["b", "a_1", "a%2", "a3", "A4", "c"])


def test_numbers_round_trip_exactly(store: Memstore) -> None:
    metadata = {"big": 5.342727723733549e16, "huge": 1e300, "tiny": 5e-324, "int": 2**62, "neg": -0.0}
    stored = store.buffer("c1").add_msg(Message(role="user", content="x", metadata=metadata))
    read = store.buffer("c1").get_msg_by_id(stored.id or "")
    assert read.metadata == metadata
    assert [type(v) for v in read.metadata.values()] == [float, float, float, int, float]


def test_stored_messages_share_no_mutable_state_with_callers(store: Memstore) -> None:
    buffer = store.buffer("c1")
    sent = Message(role="user", content=[{"type": "text", "text": "a"}], metadata={"a": {"b": 1}})
    buffer.add_msg(sent)
    sent.metadata["a"]["b"] = "changed after add"
    buffer.get_msg()[0].metadata["a"]["b"] = "changed after read"
    buffer.get_msg()[0].content[0]["text"] = "changed"  # type: ignore[index]
    assert buffer.get_msg()[0].metadata == {"a": {"b": 1}}
    assert buffer.get_msg()[0].content == [{"type": "text", "text": "a"}]


# -- insert at a list index (one transaction) -------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 3, 5, 99, -1, -2, -5, -99])
def test_insert_follows_list_insert(store: Memstore, index: int) -> None:
    buffer = store.buffer("c")
    stored = _fill(buffer, 5)
    expected = _numbers(stored)
    reference = list(expected)
    reference.insert(index, 200)
    cut = reference.index(200)  # where list.insert puts one message; a batch goes there, in order
    expected[cut:cut] = [200, 100]
    new = buffer.insert_msgs(
        index, [Message("user", "a", metadata={"i": 200}), Message("user", "b", metadata={"i": 100})]
    )
    assert [m.conversation_id for m in new] == ["c", "c"]
    found = buffer.get_msg()
    assert _numbers(found) == expected
    positions = [m.position or 0 for m in found]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    kept = {m.id: (m.content, m.created_at, m.metadata) for m in found}
    assert all(kept[m.id] == (m.content, m.created_at, m.metadata) for m in stored)
    # Positions are never reused: a later append lands after everything.
    last = buffer.add_msg(Message("user", "after", metadata={"i": 300}))
    assert _numbers(buffer.get_msg()) == [*expected, 300]
    assert (last.position or 0) > max(positions)


async def test_insert_async_and_on_a_new_conversation(store: Memstore) -> None:
    buffer = store.buffer("fresh")
    one = await buffer.ainsert_msg(-1, Message("user", "only"))
    assert one.position == 0
    assert await buffer.ainsert_msgs(0, []) == []
    await buffer.ainsert_msg(0, Message("user", "front"))
    assert _texts(await buffer.aget_msg()) == ["front", "only"]
    assert store.conversations.get_conversation("fresh").id == "fresh"


def test_a_failed_insert_changes_nothing(store: Memstore) -> None:
    buffer = store.buffer("c")
    stored = _fill(buffer, 4)
    before = buffer.get_msg()
    with pytest.raises(ConflictError):  # a duplicate id: the tail must not have moved either
        buffer.insert_msgs(1, [Message("user", "new"), Message("user", "dup", id=stored[3].id)])
    assert buffer.get_msg() == before
    with pytest.raises(ValidationError):
        buffer.insert_msgs(1, [Message("user", "new"), "not a message"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        buffer.insert_msg(1, Message("user", "x", position=7))
    with pytest.raises(ValidationError):
        buffer.insert_msg(True, Message("user", "x"))
    assert buffer.get_msg() == before
