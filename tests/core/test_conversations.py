"""The conversation-manager contract: one suite, run on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from memstore import ConflictError, Memstore, Message, NotFoundError, ValidationError


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url) as memstore:
        yield memstore


def test_platform_crud(store: Memstore) -> None:
    manager = store.conversations
    web = manager.add_platform("web", id="web", metadata={"region": "eu"})
    slack = manager.add_platform("slack")
    assert manager.get_platform("web") == web
    assert [p.id for p in manager.get_platforms()] == ["web", slack.id]
    renamed = manager.update_platform("web", name="website")
    assert manager.get_platform("web").name == "website" == renamed.name
    assert manager.get_platform("web").metadata == {"region": "eu"}
    with pytest.raises(ConflictError):
        manager.add_platform("again", id="web")
    conversation = manager.add_conversation(platform_id="web")
    manager.delete_platform("web")
    with pytest.raises(NotFoundError):
        manager.get_platform("web")
    with pytest.raises(NotFoundError):
        manager.delete_platform("web")
    assert manager.get_conversation(conversation.id).platform_id is None, "conversations stay, detached"


def test_conversation_crud(store: Memstore) -> None:
    manager = store.conversations
    manager.add_platform("web", id="web")
    created = manager.add_conversation(id="c1", platform_id="web", title="First", metadata={"user": "ada"})
    assert manager.get_conversation("c1") == created
    with pytest.raises(ConflictError):
        manager.add_conversation(id="c1")
    with pytest.raises(NotFoundError):
        manager.add_conversation(id="c2", platform_id="no-such-platform")
    updated = manager.update_conversation("c1", title="Renamed", metadata={"user": "grace"})
    assert (updated.title, updated.metadata, updated.platform_id) == ("Renamed", {"user": "grace"}, "web")
    assert updated.updated_at >= created.updated_at
    assert manager.update_conversation("c1", platform_id=None).platform_id is None
    assert manager.update_conversation("c1", title=None).title is None
    with pytest.raises(NotFoundError):
        manager.update_conversation("nope", title="x")
    with pytest.raises(ValidationError):
        manager.update_conversation("c1", metadata={"x": {1, 2}})  # type: ignore[dict-item]
    assert manager.get_conversation("c1").metadata == {"user": "grace"}


def test_delete_conversation_cascades_to_its_messages_only(store: Memstore) -> None:
    manager = store.conversations
    doomed = store.buffer("doomed")
    kept = store.buffer("kept")
    messages = doomed.add_msgs([Message(role="user", content=str(i)) for i in range(5)])
    kept.add_msg(Message(role="user", content="keep me"))
    manager.delete_conversation("doomed")
    with pytest.raises(NotFoundError):
        manager.get_conversation("doomed")
    with pytest.raises(NotFoundError):
        manager.get_conversation_by_msg(messages[0].id or "")
    assert doomed.length() == 0
    assert [m.content for m in kept.get_msg()] == ["keep me"]
    with pytest.raises(NotFoundError):
        manager.delete_conversation("doomed")


def test_buffer_creates_its_conversation_on_first_write(store: Memstore) -> None:
    buffer = store.buffer("auto")
    with pytest.raises(NotFoundError):
        store.conversations.get_conversation("auto")
    message = buffer.add_msg(Message(role="user", content="hi"))
    conversation = store.conversations.get_conversation("auto")
    assert conversation.title is None
    assert store.conversations.get_conversation_by_msg(message.id or "") == conversation


def test_get_conversations_pages_most_recent_first(store: Memstore) -> None:
    manager = store.conversations
    manager.add_platform("p", id="p")
    for i in range(7):
        manager.add_conversation(id=f"c{i}", platform_id="p" if i % 2 == 0 else None)
        time.sleep(0.002)
    store.buffer("c2").add_msg(Message(role="user", content="bump"))  # c2 becomes the most recent
    seen: list[str] = []
    cursor = None
    while True:
        page = manager.get_conversations(cursor, 3)
        seen.extend(c.id for c in page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["c2", "c6", "c5", "c4", "c3", "c1", "c0"]
    assert [c.id for c in manager.get_conversations(count=10, platform_id="p")] == ["c2", "c6", "c4", "c0"]
    with pytest.raises(ValidationError):
        manager.get_conversations("not-a-cursor")
    with pytest.raises(ValidationError):
        manager.get_conversations(count=0)


def test_messages_through_the_manager(store: Memstore) -> None:
    manager = store.conversations
    buffer = store.buffer("c1")
    stored = buffer.add_msgs(
        [Message(role="user" if i % 2 else "assistant", content=str(i), metadata={"i": i}) for i in range(10)]
    )
    assert [m.content for m in manager.get_conversation_messages("c1", 2, 3)] == ["3", "4", "5"]
    assert [m.content for m in manager.get_conversation_messages("c1", -1, 4)] == ["6", "7", "8", "9"]
    assert [m.content for m in manager.get_conversation_messages("c1", 1, 3, role_include=["user"])] == [
        "1",
        "3",
        "5",
    ]
    assert [
        m.content for m in manager.get_conversation_messages("c1", 1, 9, filter_meta={"i": {"$gt": 7}})
    ] == [
        "8",
        "9",
    ]
    assert manager.get_latest_message("c1") == stored[-1]
    page = manager.get_messages_by_cursor("c1", None, 4, "backward")
    assert [m.content for m in page.messages] == ["6", "7", "8", "9"]
    following = manager.get_messages_by_cursor("c1", page.next_cursor, 4, "backward")
    assert [m.content for m in following.messages] == ["2", "3", "4", "5"]
    manager.add_conversation(id="empty")
    assert manager.get_latest_message("empty") is None
    for missing in (
        lambda: manager.get_conversation_messages("nope"),
        lambda: manager.get_latest_message("nope"),
        lambda: manager.get_messages_by_cursor("nope"),
    ):
        with pytest.raises(NotFoundError):
            missing()


async def test_async_twins(store: Memstore) -> None:
    manager = store.conversations
    platform = await manager.aadd_platform("web", id="web")
    assert await manager.aget_platforms() == [platform]
    conversation = await manager.aadd_conversation(id="c1", platform_id="web")
    assert await manager.aget_conversation("c1") == conversation
    await store.buffer("c1").aadd_msg(Message(role="user", content="x"))
    assert (await manager.aget_latest_message("c1")) is not None
    assert [c.id for c in await manager.aget_conversations()] == ["c1"]
    await manager.aupdate_conversation("c1", title="t")
    await manager.adelete_conversation("c1")
    await manager.adelete_platform("web")
    assert await manager.aget_platforms() == []
