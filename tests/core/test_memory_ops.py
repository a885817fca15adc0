"""ConversationMemory retention, stats, JSONL export/import and SQLite backup/restore."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from memstore import MEMORY_URL, ConversationMemory, HashingEmbedder, Memstore, Message, ValidationError
from memstore.memory import UnsupportedOperation

NOW = datetime.now(timezone.utc)


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url, vectors="memory" if store_url == MEMORY_URL else "sql") as opened:
        yield opened


def _memory(store: Memstore, conversation_id: str | None = "c1", **options: Any) -> ConversationMemory:
    return store.memory(conversation_id, embedder=HashingEmbedder(128), **options)


def _aged(conversation_id: str | None = None) -> list[Message]:
    return [
        Message("user", "ancient note about the violin lesson", created_at=NOW - timedelta(days=40),
                conversation_id=conversation_id, metadata={"age": "old"}),
        Message("assistant", "old reply about violin practice", created_at=NOW - timedelta(days=31),
                conversation_id=conversation_id, metadata={"age": "old"}),
        Message("user", "fresh note about the violin concert", created_at=NOW - timedelta(days=2),
                conversation_id=conversation_id, metadata={"age": "new"}),
    ]  # fmt: skip


def _fts_ids(store: Memstore) -> set[str]:
    assert store.database is not None
    with store.database.engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT message_id FROM memstore_keyword_fts"))}


def test_delete_older_than_removes_rows_vectors_and_keyword_rows(store: Memstore) -> None:
    memory = _memory(store)
    stored = memory.add(_aged())
    old_ids = {m.id for m in stored[:2]}
    assert memory.stats().vectors == 3
    assert memory.delete_older_than(30) == 2
    assert [m.text for m in store.buffer("c1").get_msg()] == ["fresh note about the violin concert"]
    for options in (
        {"dense_weight": 1.0, "keyword_weight": 0.0},
        {"dense_weight": 0.0, "keyword_weight": 1.0},
    ):
        hits = _memory(store, **options).recall("violin", k=10)
        assert [hit.message.metadata["age"] for hit in hits] == ["new"]
    assert memory.stats().vectors == 1
    assert memory._collection.get_batch(list(old_ids)) == []  # the vectors themselves are gone
    if store.database is not None and store.database.is_sqlite:
        assert _fts_ids(store) == {stored[2].id}
    assert memory.delete_older_than(30) == 0
    assert memory.delete_older_than(0) == 1
    with pytest.raises(ValidationError):
        memory.delete_older_than(-1)


def test_delete_older_than_one_conversation(store: Memstore) -> None:
    everywhere = _memory(store, None)
    everywhere.add(_aged("a") + _aged("b"))
    assert everywhere.delete_older_than(30, conversation_id="a") == 2
    assert everywhere.stats().conversations == {"a": 1, "b": 3}
    bound = _memory(store, "a")
    with pytest.raises(ValidationError):
        bound.delete_older_than(30, conversation_id="b")


def test_stats(store: Memstore) -> None:
    everywhere = _memory(store, None)
    empty = everywhere.stats()
    assert (empty.messages, empty.first_at, empty.last_at, empty.pending) == (0, None, None, 0)
    tool = Message("tool", "t", type="tool_result", conversation_id="b", created_at=NOW)
    everywhere.add([*_aged("a"), *_aged("b")[:1], tool])
    stats = everywhere.stats()
    assert stats.messages == 5
    assert stats.conversations == {"a": 3, "b": 2}
    assert stats.roles == {"assistant": 1, "tool": 1, "user": 3}
    assert stats.types == {"text": 4, "tool_result": 1}
    assert stats.first_at == NOW - timedelta(days=40)
    assert stats.last_at == NOW
    assert stats.vectors == 5
    assert stats.pending == 0
    if store.database is None:
        assert stats.storage_bytes is None
    else:
        assert stats.storage_bytes is not None
        assert stats.storage_bytes > 0
    bound = _memory(store, "b").stats()
    assert (bound.messages, bound.conversations, bound.vectors) == (2, {"b": 2}, 2), "vectors of b only"


def _rows(store: Memstore, conversation_id: str) -> list[tuple[Any, ...]]:
    return [
        (m.id, m.conversation_id, m.position, m.role, m.type, m.content, m.metadata, m.created_at)
        for m in store.buffer(conversation_id).get_msg()
    ]


def test_export_import_round_trip(store: Memstore, tmp_path: Path) -> None:
    everywhere = _memory(store, None)
    everywhere.add(_aged("a"))
    everywhere.add(
        [
            Message("user", [{"type": "text", "text": "multimodal violin"}, {"type": "image", "url": "u"}],
                    conversation_id="b", metadata={"nested": {"x": [1, 2.5, None]}}, position=7),
            Message("assistant", "unicode ✓ violin", conversation_id="b", position=9, id="fixed-id"),
        ]
    )  # fmt: skip
    path = tmp_path / "memory.jsonl"
    assert everywhere.export(path) == 5
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5
    assert json.loads(lines[-1])["id"] == "fixed-id"
    for target_url in (MEMORY_URL, f"sqlite:///{tmp_path}/fresh.db"):
        with Memstore(target_url, vectors="memory") as fresh:
            imported = _memory(fresh, None)
            assert imported.import_(path, batch_size=2) == 5
            for cid in ("a", "b"):
                assert _rows(fresh, cid) == _rows(store, cid)
            assert imported.stats().pending == 0
            assert imported.recall("multimodal violin", k=1)[0].message.position == 7
    with pytest.raises(KeyError):
        everywhere.import_(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"role": "user"}\n')
    with pytest.raises(ValidationError, match=r"bad\.jsonl:1"):
        everywhere.import_(tmp_path / "bad.jsonl")
    good = [{"role": "user", "content": f"m{i}", "conversation_id": "A", "position": i} for i in range(3)]
    unplaced = [{key: value for key, value in line.items() if key != "position"} for line in good]
    for name, lines in {
        "orphan": [*unplaced, {"role": "user", "content": "no conversation"}],
        "mixed": [*good, {"role": "user", "content": "no position", "conversation_id": "A"}],
    }.items():
        target = tmp_path / f"{name}.jsonl"  # lines that only add()'s own checks refuse, after a full batch
        target.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        with Memstore(MEMORY_URL, vectors="memory") as fresh:
            with pytest.raises(ValidationError):
                _memory(fresh, None).import_(target, batch_size=2)
            assert _memory(fresh, None).stats().messages == 0, f"{name}: nothing written"
    late = tmp_path / "late.jsonl"  # the bad line comes after two full batches
    late.write_text(path.read_text(encoding="utf-8") + "not json\n", encoding="utf-8")
    with Memstore(MEMORY_URL, vectors="memory") as fresh:
        with pytest.raises(ValidationError, match=r"late\.jsonl:6"):
            _memory(fresh, None).import_(late, batch_size=2)
        assert _memory(fresh, None).stats().messages == 0, "nothing written"


def test_backup_and_restore_sqlite(tmp_path: Path) -> None:
    with Memstore(f"sqlite:///{tmp_path}/live.db", vectors="sql") as store:
        memory = _memory(store)
        memory.add(_aged())
        before = _rows(store, "c1")
        backup = memory.backup(tmp_path / "backups" / "one.db")
        with pytest.raises(ValidationError, match="exists"):
            memory.backup(backup)
        memory.add([Message("user", "after the backup: cello")])
        memory.delete_older_than(30)
        assert _rows(store, "c1") != before
        assert memory.restore(backup) == 0  # vectors live in the database: restored with it
        assert _rows(store, "c1") == before
        assert "after the backup: cello" not in [hit.message.text for hit in memory.recall("cello", k=10)]
        assert memory.recall("ancient note about the violin lesson", k=1)[0].message.metadata == {
            "age": "old"
        }
        assert memory.stats().vectors == 3
        assert sorted(path.name for path in backup.parent.iterdir()) == ["one.db"], "one self-contained file"
        with store.database.engine.connect() as conn:  # type: ignore[union-attr]
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal", "the live file stays WAL"
        with pytest.raises(KeyError):
            memory.restore(tmp_path / "missing.db")
        (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
        with pytest.raises(ValidationError):
            memory.restore(tmp_path / "junk.db")


def _strip_vectors(backup: Path) -> None:
    """Make ``backup`` look like one written before backups carried vectors."""
    with sqlite3.connect(backup) as conn:
        conn.execute("DELETE FROM memstore_meta WHERE name = 'backup_vectors'")
        conn.execute("DELETE FROM memstore_vector_records")
        conn.execute("DELETE FROM memstore_vector_collections")


def test_restore_brings_back_vectors_kept_outside_the_database(tmp_path: Path) -> None:
    with Memstore(f"sqlite:///{tmp_path}/live.db", vectors="memory") as store:
        memory = _memory(store, dense_weight=1.0, keyword_weight=0.0)
        memory.add(_aged())
        backup = memory.backup(tmp_path / "b.db")
    with Memstore(f"sqlite:///{tmp_path}/other.db", vectors="memory") as other:
        memory = _memory(other, dense_weight=1.0, keyword_weight=0.0)
        assert memory.restore(backup) == 0, "the backup carried its vectors: nothing embedded again"
        assert memory.recall("fresh note about the violin concert", k=1)[0].message.metadata == {"age": "new"}
        assert memory.stats().vectors == 3
        # A backup without vectors (written by an earlier version): every memory message is embedded again.
        _strip_vectors(backup)
        other.vectors.get_collection("memstore-memory").delete_collection()
        assert memory.restore(backup) == 3
        assert memory.recall("fresh note about the violin concert", k=1)[0].message.metadata == {"age": "new"}


def test_restore_through_a_bound_memory_reindexes_every_conversation(tmp_path: Path) -> None:
    """restore() of a backup without vectors replaces the whole database, so every memory message is indexed
    again, not only the bound conversation's; plain buffer messages stay out of recall as before."""
    with Memstore(f"sqlite:///{tmp_path}/src.db", vectors="memory") as source:
        source.memory("A", embedder=HashingEmbedder(64)).add([Message("user", "alpha apples")])
        source.memory("B", embedder=HashingEmbedder(64)).add([Message("user", "bravo bananas")])
        source.buffer("B").add_msg(Message("user", "bravo buffer only"))
        backup = source.memory("A", embedder=HashingEmbedder(64)).backup(tmp_path / "backup.db")
    _strip_vectors(backup)
    with Memstore(f"sqlite:///{tmp_path}/dst.db", vectors="memory") as target:
        assert target.memory("A", embedder=HashingEmbedder(64)).restore(backup) == 2
        dense_b = target.memory("B", embedder=HashingEmbedder(64), keyword_weight=0, neighbour_weight=0)
        assert [hit.message.text for hit in dense_b.recall("bravo bananas", k=5)] == ["bravo bananas"]
        assert dense_b.stats().pending == 0


@pytest.mark.parametrize("backend", ["memory", "postgresql"])
def test_backup_elsewhere_is_a_typed_error(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = MEMORY_URL if backend == "memory" else str(request.getfixturevalue("postgresql_url"))
    store = Memstore(url, vectors="memory" if backend == "memory" else "sql")
    request.addfinalizer(store.close)
    memory = _memory(store)
    with pytest.raises(UnsupportedOperation, match="pg_dump" if store.database is not None else "export"):
        memory.backup(tmp_path / "x.db")
    with pytest.raises(UnsupportedOperation):
        memory.restore(tmp_path / "x.db")
