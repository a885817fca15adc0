"""The ``memstore`` command, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

SUBCOMMANDS = [
    "stats",
    "search",
    "export",
    "import",
    "migrate",
    "backup",
    "restore",
    "index",
    "delete",
    "prune",
    "prune-threads",
]


def run(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "memstore.memory.cli"]
    if url is not None:
        command += ["--url", url, "--vectors", "sql", "--embedder", "hashing"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, check=False)


def test_help_everywhere() -> None:
    top = run("--help")
    assert top.returncode == 0
    for name in SUBCOMMANDS:
        assert name in top.stdout
    for name in SUBCOMMANDS:
        sub = run(name, "--help")
        assert sub.returncode == 0, sub.stderr
        assert f"usage: memstore {name}" in sub.stdout
    assert run().returncode == 2
    assert run("frobnicate").returncode == 2


def _source(tmp_path: Path) -> Path:
    old = (datetime.now(timezone.utc) - timedelta(days=90)).isoformat()
    path = tmp_path / "memory.json"
    path.write_text(
        json.dumps(
            {
                "home": [
                    {
                        "role": "user",
                        "content": "the spare key is under the blue flowerpot",
                        "created_at": old,
                    },
                    {"role": "assistant", "content": "noted, blue flowerpot", "metadata": {"k": [1, 2]}},
                    {"role": "user", "content": "my bike is a green Peugeot"},
                ],
                "work": [{"role": "user", "content": "standup moved to 9:30", "type": "note"}],
            }
        )
    )
    return path


def test_full_flow(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    migrated = run("migrate", "--from", "json", str(_source(tmp_path)), url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated 4 messages in 2 conversations" in migrated.stdout

    stats = run("stats", "--json", url=url)
    assert stats.returncode == 0, stats.stderr
    values = json.loads(stats.stdout)
    assert values["messages"] == 4
    assert values["conversations"] == {"home": 3, "work": 1}
    assert values["types"] == {"note": 1, "text": 3}
    assert values["pending"] == 0
    assert "messages" in run("stats", url=url).stdout

    search = run("search", "where is the spare key", "-k", "1", "--json", url=url)
    assert search.returncode == 0, search.stderr
    hit = json.loads(search.stdout)
    assert hit["text"] == "the spare key is under the blue flowerpot"
    assert hit["conversation_id"] == "home"
    filtered = run("search", "flowerpot", "--role", "assistant", url=url)
    assert filtered.stdout.strip().endswith("noted, blue flowerpot")
    assert len(filtered.stdout.strip().splitlines()) == 1
    scoped = run(
        "-c",
        "work",
        "search",
        "standup",
        "--json",
        url=url,
    )
    assert [json.loads(line)["conversation_id"] for line in scoped.stdout.splitlines()] == ["work"]

    export = run("export", str(tmp_path / "out.jsonl"), url=url)
    assert export.returncode == 0, export.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 4
    other = f"sqlite:///{tmp_path}/other.db"
    imported = run("import", str(tmp_path / "out.jsonl"), url=other)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(run("stats", "--json", url=other).stdout)["conversations"] == values["conversations"]

    backup = run("backup", str(tmp_path / "backup.db"), url=url)
    assert backup.returncode == 0, backup.stderr
    pruned = run("prune", "--older-than", "30", url=url)
    assert pruned.returncode == 0, pruned.stderr
    assert "deleted 1 messages" in pruned.stdout
    assert json.loads(run("stats", "--json", url=url).stdout)["messages"] == 3
    restored = run("restore", str(tmp_path / "backup.db"), url=url)
    assert restored.returncode == 0, restored.stderr
    assert json.loads(run("stats", "--json", url=url).stdout)["messages"] == 4


def test_errors_and_exit_codes(tmp_path: Path) -> None:
    missing_db = run("stats", url=f"sqlite:///{tmp_path}/nope.db")
    assert missing_db.returncode == 3
    assert "no database" in missing_db.stderr
    assert not (tmp_path / "nope.db").exists()
    wrong = run("stats", url="mysql://user@host/db")
    assert wrong.returncode == 1
    assert "unsupported database URL" in wrong.stderr
    url = f"sqlite:///{tmp_path}/e.db"
    missing_file = run("import", str(tmp_path / "missing.jsonl"), url=url)
    assert missing_file.returncode == 3
    assert "no file" in missing_file.stderr
    assert run("migrate", "--from", "json", str(tmp_path / "missing.json"), url=url).returncode == 3
    assert run("restore", str(tmp_path / "missing.db"), url=url).returncode == 3
    assert run("prune", url=url).returncode == 2  # --older-than is required
    assert run("search", "x", "--since", "not-a-date", url=url).returncode == 2


def test_export_creates_its_folder_and_a_bad_path_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    assert run("migrate", "--from", "json", str(_source(tmp_path)), url=url).returncode == 0
    nested = run("export", str(tmp_path / "new" / "folder" / "out.jsonl"), url=url)
    assert nested.returncode == 0, nested.stderr
    assert len((tmp_path / "new" / "folder" / "out.jsonl").read_text().splitlines()) == 4
    (tmp_path / "a-file").write_text("")
    blocked = run("export", str(tmp_path / "a-file" / "out.jsonl"), url=url)
    assert blocked.returncode == 1
    assert blocked.stderr.startswith("memstore: error:")
    assert "Traceback" not in blocked.stderr


@pytest.mark.postgres
def test_backup_on_postgresql_points_to_pg_dump(postgresql_url: str, tmp_path: Path) -> None:
    result = run("backup", str(tmp_path / "x.db"), url=postgresql_url)
    assert result.returncode == 4
    assert "pg_dump" in result.stderr


def _main(db: Path, *args: str) -> int:
    from memstore.memory.cli import main

    return main(["--url", f"sqlite:///{db}", "--vectors", "sql", "--embedder", "hashing", *args])


def test_stats_lists_kv_namespaces_and_vector_collections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from memstore import HashingEmbedder, KeyField, Memstore, Message, RecordDefinition, VectorField

    db = tmp_path / "s.db"
    with Memstore(f"sqlite:///{db}", vectors="sql") as store:
        store.kv.namespace_store("langgraph").mset([("a", "1"), ("b", "2")])
        store.kv.set("k", "v")
        docs = store.vectors.get_collection("docs", RecordDefinition(KeyField("id"), VectorField("v", 2), []))
        docs.create()
        docs.upsert_batch([{"id": f"d{i}", "v": [1, i]} for i in range(3)])
        store.memory("c", embedder=HashingEmbedder()).add(Message("user", "hi"))
    assert _main(db, "stats", "--json") == 0
    values = json.loads(capsys.readouterr().out)
    assert values["kv_namespaces"] == {"default": 1, "langgraph": 2}
    assert values["vector_collections"] == {"docs": 3, "memstore-memory": 1}
    assert _main(db, "stats") == 0
    assert "langgraph=2" in capsys.readouterr().out


def test_importing_the_same_file_twice_adds_nothing_the_second_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _source(tmp_path)
    db = tmp_path / "i.db"
    assert _main(db, "migrate", "--from", "json", "--no-backup", str(source)) == 0
    assert _main(db, "export", str(tmp_path / "all.jsonl")) == 0
    other = tmp_path / "other.db"
    assert _main(other, "import", str(tmp_path / "all.jsonl")) == 0
    capsys.readouterr()
    assert _main(other, "import", str(tmp_path / "all.jsonl")) == 0
    assert "imported 0 messages" in capsys.readouterr().out
    assert _main(other, "migrate", "--from", "json", "--no-backup", str(source)) == 0
    assert "migrated 0 messages" in capsys.readouterr().out


def test_a_missing_source_database_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    assert _main(tmp_path / "t.db", "migrate", "--from", "langchain-sql", f"sqlite:///{missing}") == 3
    assert not missing.exists()


def test_a_migration_that_writes_nothing_leaves_no_backup(tmp_path: Path) -> None:
    from memstore import KeyField, Memstore, RecordDefinition, VectorField

    db = tmp_path / "m.db"
    with Memstore(f"sqlite:///{db}", vectors="sql") as store:  # the memory's collection, with another size
        store.vectors.get_collection(
            "memstore-memory", RecordDefinition(KeyField("id"), VectorField("embedding", 3), [])
        ).create()
    assert _main(db, "migrate", "--from", "json", str(_source(tmp_path))) == 1
    assert sorted(path.name for path in tmp_path.glob("m.pre-migrate-*")) == []


def test_delete_forgets_a_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from memstore import Memstore, Message

    db = tmp_path / "d.db"
    with Memstore(f"sqlite:///{db}", vectors="sql") as store:
        store.buffer("u42").add_msg(Message("user", "hello"))
        store.buffer("memstore:archive:u42").add_msg(Message("user", "older"))
        store.kv.namespace_store("langgraph_store").mset([("users.u42..prefs", "{}"), ("users.u7..p", "{}")])
    assert _main(db, "delete", "u42", "--kv", "langgraph_store=users.u42.") == 0
    assert "deleted 2 conversations, 2 messages" in capsys.readouterr().out
    with Memstore(f"sqlite:///{db}", vectors="sql") as store:
        assert store.conversations.list_conversation_ids("") == []
        assert store.kv.namespace_store("langgraph_store").keys() == ["users.u7..p"]
    assert _main(db, "delete", "u42", "--kv", "no-equals-sign") == 1


def test_index_search_and_export_cover_app_written_and_archived_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from memstore import Memstore, Message

    db = tmp_path / "h.db"
    with Memstore(f"sqlite:///{db}", vectors="sql") as store:  # written by an app, not through a memory
        store.buffer("k1").add_msgs([Message("user", "my cat is called Miso"), Message("assistant", "cute")])
        store.buffer("memstore:archive:k1").add_msg(Message("user", "the dog is called Pixel"))
        store.buffer("k2").add_msg(Message("user", "another cat named Tom"))
    assert _main(db, "search", "cat") == 0
    assert capsys.readouterr().out == "", "nothing indexed yet: recall covers what a memory indexed"
    assert _main(db, "-c", "k1", "index") == 0
    assert "indexed 3 messages" in capsys.readouterr().out
    assert _main(db, "-c", "k1", "index") == 0
    assert "indexed 0 messages" in capsys.readouterr().out, "running it again indexes nothing twice"
    assert _main(db, "-c", "k1", "search", "dog Pixel", "-k", "1") == 0
    assert "[k1 (archive)#0 user] the dog is called Pixel" in capsys.readouterr().out
    assert _main(db, "-c", "k1", "search", "cat", "--json") == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {hit["conversation"] for hit in found} <= {"k1", "k1 (archive)"}
    assert any(hit["text"] == "my cat is called Miso" for hit in found)
    assert _main(db, "-c", "k1", "export", str(tmp_path / "k1.jsonl")) == 0
    exported = [
        json.loads(line)["conversation_id"] for line in (tmp_path / "k1.jsonl").read_text().splitlines()
    ]
    assert sorted(exported) == ["k1", "k1", "memstore:archive:k1"]
    assert _main(db, "index") == 0
    assert "indexed 1 messages" in capsys.readouterr().out  # k2, the rest was indexed already


def test_prune_threads_deletes_checkpoint_threads_idle_for_days(sql_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from memstore import Memstore
    from memstore.backends.sql.schema import checkpoints

    with Memstore(sql_url) as store:
        for thread_id in ["old-a", "old-b", "recent"]:
            for checkpoint_id in ["c1", "c2"]:
                store.checkpoints.put(
                    thread_id,
                    "",
                    checkpoint_id,
                    document=("json", b"{}"),
                    channel_versions={"a": "1"},
                    blobs={"a": ("1", ("str", b"x"))},
                )
        assert store.database is not None
        with store.database.engine.begin() as conn:
            long_ago = datetime.now(timezone.utc) - timedelta(days=40)
            conn.execute(
                sa.update(checkpoints)
                .where(checkpoints.c.thread_id.like("old-%"))
                .values(created_at=long_ago)
            )
            # A thread written to recently is not idle, however old its first checkpoint.
            conn.execute(
                sa.update(checkpoints)
                .where(checkpoints.c.thread_id == "recent", checkpoints.c.checkpoint_id == "c1")
                .values(created_at=long_ago)
            )

    dry = run("prune-threads", "--idle-days", "30", "--dry-run", url=sql_url)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "old-a",
        "old-b",
        "2 threads idle for more than 30 days (dry run: nothing deleted)",
    ]
    assert run("prune-threads", "--idle-days", "50", url=sql_url).stdout.strip() == (
        "deleted 0 threads idle for more than 50 days"
    )
    done = run("prune-threads", "--idle-days", "30", url=sql_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deleted 2 threads idle for more than 30 days"
    with Memstore(sql_url) as store:
        assert sorted({c.thread_id for c in store.checkpoints.list()}) == ["recent"]
        assert store.checkpoints.get("old-a") is None

    assert run("prune-threads", "--idle-days", "-1", url=sql_url).returncode == 1
    assert run("prune-threads", url=sql_url).returncode == 2
    missing = run("prune-threads", "--idle-days", "1", url=f"sqlite:///{tmp_path / 'nope.db'}")
    assert missing.returncode == 3
    assert not (tmp_path / "nope.db").exists()
