"""Data loss and corruption: export, backup and restore never destroy what they were pointed at by mistake.

Each test here reproduces a defect found by independent testing (issue 16, "data loss / corruption") and
failed before its fix.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from memstore import HashingEmbedder, Memstore, Message
from memstore.errors import ValidationError
from memstore.memory.cli import main


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "live.db"
    with Memstore(f"sqlite:///{path}", vectors="sql") as store:
        store.memory("c1", embedder=HashingEmbedder(dimensions=16)).add(
            [Message(role="user", content=f"message {i} about sailing") for i in range(5)]
        )
    return path


def _cli(db: Path, *args: str) -> int:
    return main(["--url", f"sqlite:///{db}", "--vectors", "sql", "--embedder", "hashing", *args])


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM memstore_messages").fetchone()[0])


# -- 1. export never truncates what it was pointed at -------------------------------------------------------


def test_export_onto_the_live_database_is_refused_even_with_force(db: Path) -> None:
    assert _cli(db, "export", str(db)) == 1
    assert _cli(db, "export", "--force", str(db)) == 1
    assert _cli(db, "export", "--force", str(db) + "-wal") == 1
    assert _count(db) == 5


def test_export_refuses_an_existing_file_unless_forced(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("precious")
    assert _cli(db, "export", str(target)) == 1
    assert target.read_text() == "precious"
    assert _cli(db, "export", "--force", str(target)) == 0
    assert len(target.read_text().splitlines()) == 5


def test_export_never_follows_a_symlink(db: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.jsonl"
    link.symlink_to(victim)
    assert _cli(db, "export", "--force", str(link)) == 1
    assert victim.read_text() == "precious"
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "nowhere.jsonl")
    assert _cli(db, "export", str(dangling)) == 1
    assert not (tmp_path / "nowhere.jsonl").exists()


def test_export_backup_and_the_database_are_private_files(db: Path, tmp_path: Path) -> None:
    assert _cli(db, "export", str(tmp_path / "out.jsonl")) == 0
    assert _cli(db, "backup", str(tmp_path / "copy.db")) == 0
    fresh = tmp_path / "fresh.db"
    Memstore(f"sqlite:///{fresh}", vectors="sql").close()
    for path in (tmp_path / "out.jsonl", tmp_path / "copy.db", fresh):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_backup_never_writes_through_a_symlink(db: Path, tmp_path: Path) -> None:
    link = tmp_path / "backup.db"
    link.symlink_to(tmp_path / "elsewhere.db")
    with Memstore(f"sqlite:///{db}", vectors="sql") as store:
        memory = store.memory("c1", embedder=HashingEmbedder(dimensions=16))
        with pytest.raises(ValidationError, match="symbolic link"):
            memory.backup(link)
    assert not (tmp_path / "elsewhere.db").exists()


# -- 2. restore checks the whole backup on a copy before touching the live database -------------------------


def _backup(db: Path, tmp_path: Path, name: str = "good.db") -> Path:
    target = tmp_path / name
    assert _cli(db, "backup", str(target)) == 0
    return target


def _refused(db: Path, backup: Path) -> None:
    before = _count(db)
    assert _cli(db, "restore", str(backup)) == 1
    assert _count(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_restore_refuses_a_truncated_backup(db: Path, tmp_path: Path) -> None:
    backup = _backup(db, tmp_path)
    data = backup.read_bytes()
    backup.write_bytes(data[: len(data) // 2])
    _refused(db, backup)


def test_restore_refuses_a_backup_missing_a_column(db: Path, tmp_path: Path) -> None:
    backup = _backup(db, tmp_path)
    with sqlite3.connect(backup) as conn:
        conn.execute("ALTER TABLE memstore_kv DROP COLUMN expires_at")
    _refused(db, backup)


def test_restore_refuses_a_newer_schema_and_a_foreign_database(db: Path, tmp_path: Path) -> None:
    backup = _backup(db, tmp_path)
    with sqlite3.connect(backup) as conn:
        conn.execute("UPDATE memstore_meta SET value = '999' WHERE name = 'schema_version'")
    _refused(db, backup)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE memstore_messages (id TEXT)")
    _refused(db, foreign)


def test_restore_of_the_live_database_itself_is_refused(db: Path) -> None:
    _refused(db, db)


# -- 3. restore opens exactly the file it was given ---------------------------------------------------------


@pytest.mark.parametrize("name", ["%41.db", "x#y.db", "q?mode=rw.db"])
def test_restore_opens_the_named_file_however_it_is_spelled(db: Path, tmp_path: Path, name: str) -> None:
    backup = _backup(db, tmp_path, name)
    decoy = tmp_path / "A.db"  # what "%41.db" decodes to
    decoy.write_bytes(b"not a database")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM memstore_messages WHERE position >= 2")
    assert _count(db) == 2
    assert _cli(db, "restore", str(backup)) == 0
    assert _count(db) == 5
    assert not (tmp_path / "x").exists()
    assert sorted(os.listdir(tmp_path)) == sorted(["live.db", "live.db-wal", "live.db-shm", name, "A.db"])


# -- 4. one huge message neither fails its own write nor any later one -------------------------------------


@pytest.mark.postgres
def test_a_huge_message_does_not_break_keyword_indexing_on_postgresql(postgresql_url: str) -> None:
    huge = " ".join(f"lexeme{i:07d}" for i in range(200_000))  # 2.6 MB of distinct words
    assert len(huge) > 2 * 1024 * 1024
    with Memstore(postgresql_url, vectors="sql") as store:
        with store.database.connect(write=True) as conn:  # type: ignore[union-attr]
            # Schema 1's unbounded index, as a database created by an earlier version has it.
            conn.exec_driver_sql(
                "CREATE INDEX ix_memstore_messages_fts ON memstore_messages "
                "USING GIN (to_tsvector('english'::regconfig, content_text))"
            )
        memory = store.memory("c1", embedder=HashingEmbedder(dimensions=16))
        memory.add(Message(role="user", content=huge))
        memory.add(Message(role="user", content="later message about kayaks"))
        reopened = store.memory("c2", embedder=HashingEmbedder(dimensions=16))
        reopened.add(Message(role="user", content="another conversation"))
        found = [hit.message.text[:14] for hit in memory.recall("lexeme0000042", 3)]
        assert found[0] == "lexeme0000000 "
        assert [hit.message.text for hit in memory.recall("kayaks", 1)] == ["later message about kayaks"]


# -- 5. embedded Chroma serves one process; a second is refused with the way out ----------------------------

WORKER = """
import sys, time
from memstore import HashingEmbedder, Memstore, Message
from memstore.errors import ConflictError
url, name, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
try:
    with Memstore(url) as store:
        memory = store.memory(name, embedder=HashingEmbedder(dimensions=16))
        deadline = time.monotonic() + hold
        rounds = 0
        while rounds < 5 or time.monotonic() < deadline:
            memory.add(Message(role="user", content=f"{name} note {rounds} about sailing"))
            assert memory.recall("sailing", 3), "recall found nothing"
            rounds += 1
    print("ok", rounds)
except ConflictError as exc:
    print("refused", exc)
"""


def _workers(url: str, count: int, hold: float) -> list[str]:
    import subprocess
    import sys

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, f"worker{i}", str(hold)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        results.append(out.strip())
    return results


@pytest.mark.slow
def test_embedded_chroma_refuses_a_second_process_instead_of_failing_recalls(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    results = _workers(url, 4, hold=4.0)
    served = [r for r in results if r.startswith("ok")]
    refused = [r for r in results if r.startswith("refused")]
    assert len(served) >= 1
    assert len(served) + len(refused) == 4, results
    for message in refused:
        assert "chroma+http://" in message
        assert "another process" in message
    # The folder is free again once its holder closed: processes one after another all work.
    for _ in range(2):
        assert _workers(url, 1, hold=0.0)[0].startswith("ok")


def test_one_process_shares_its_embedded_client(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    with Memstore(url) as first, Memstore(url) as second:
        first.vectors.list_collection_names()
        second.vectors.list_collection_names()
    with Memstore(url) as again:
        again.vectors.list_collection_names()


# -- 6. a backup holds the vectors too, wherever they live ---------------------------------------------------


def test_backup_carries_embedded_chroma_collections_to_a_restore_elsewhere(tmp_path: Path) -> None:
    from memstore import DataField, KeyField, RecordDefinition, VectorField

    definition = RecordDefinition(
        KeyField("id"), VectorField("v", dimensions=3), [DataField("source", filterable=True)]
    )
    docs = [{"id": f"d{i}", "v": [1.0, float(i), 0.5], "source": f"page{i % 7}"} for i in range(1200)]
    with Memstore(f"sqlite:///{tmp_path / 'app.db'}") as app:  # default vectors: embedded Chroma app.chroma
        collection = app.vectors.get_collection("rag-docs", definition)
        collection.create()
        collection.upsert_batch(docs)
        app.memory("c1", embedder=HashingEmbedder(dimensions=16)).add(Message("user", "hello sailing"))
        backup = app.backup(tmp_path / "app-backup.db")
    elsewhere = tmp_path / "restored"
    elsewhere.mkdir()
    with Memstore(f"sqlite:///{elsewhere / 'app.db'}") as restored:
        report = restored.restore(backup)
        assert report.vectors == {"rag-docs": 1200, "memstore-memory": 1}
        found = restored.vectors.get_collection("rag-docs", definition)
        assert found.count() == 1200
        assert found.count(filter={"source": "page3"}) == sum(1 for d in docs if d["source"] == "page3")
        hit = found.search([1.0, 5.0, 0.5], 1)[0]
        assert hit.record["id"] == "d5"
        memory = restored.memory("c1", embedder=HashingEmbedder(dimensions=16))
        assert [h.message.text for h in memory.recall("sailing", 1)] == ["hello sailing"]
        # The copy lives in Chroma again, not in the database's own vector tables.
        with sqlite3.connect(elsewhere / "app.db") as conn:
            assert conn.execute("SELECT count(*) FROM memstore_vector_records").fetchone()[0] == 0
    assert (elsewhere / "app.chroma").is_dir()


def test_the_postgresql_keyword_index_bound_is_keyword_chars() -> None:
    import inspect

    from memstore.backends.sql.keyword import ensure_keyword_index
    from memstore.memory.ranking import KEYWORD_CHARS

    assert f"left(content_text, {KEYWORD_CHARS})" in inspect.getsource(ensure_keyword_index)


def test_a_bad_driver_leaves_no_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "never.db"
    with pytest.raises(ValidationError):
        Memstore(f"sqlite+nosuchdriver:///{target}")
    assert not target.exists()
