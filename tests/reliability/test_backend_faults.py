"""Backend faults: a PostgreSQL restart, a full SQLite disk and a Chroma server killed mid-write give typed
errors, nothing half-written, then normal service."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from services import ChromaServer, PostgresServer, start_chroma

from memstore import (
    BackendError,
    HashingEmbedder,
    KeyField,
    Memstore,
    Message,
    RecordDefinition,
    VectorField,
)
from memstore.backends.sql.database import Database


def test_postgres_restart_typed_errors_then_recovery(postgres_server: PostgresServer | str) -> None:
    if isinstance(postgres_server, str) or not postgres_server.options:
        pytest.skip(f"needs the PostgreSQL this session started: {postgres_server}")
    schema = "t_restart"
    url = sa.make_url(postgres_server.url).update_query_dict({"options": f"-csearch_path={schema}"})
    admin = sa.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    try:
        with Memstore(url.render_as_string(hide_password=False), vectors="sql") as store:
            buffer = store.buffer("c")
            buffer.add_msg(Message(role="user", content="before"))
            store.checkpoints.put("t", "", "1", document=("json", b"{}"), channel_versions={})
            docs = store.vectors.get_collection(
                "docs", RecordDefinition(KeyField("id"), VectorField("embedding", dimensions=2))
            )
            docs.create()
            docs.upsert({"id": "a", "embedding": [1.0, 0.0]})
            # Several pooled connections, all of which the restart kills.
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: (buffer.get_msg(-1), store.checkpoints.get("t")), range(40)))
            postgres_server.halt()
            try:
                with pytest.raises(BackendError) as raised:
                    buffer.add_msg(Message(role="user", content="during the outage"))
                assert raised.value.backend == "postgresql"
                assert raised.value.__cause__ is not None
                with pytest.raises(BackendError):
                    buffer.get_msg(-1)
                with pytest.raises(BackendError):
                    store.checkpoints.get("t")  # the driver-cursor read path
            finally:
                assert postgres_server.start().returncode == 0
            buffer.add_msg(Message(role="user", content="after"))
            assert [m.content for m in buffer.get_msg()] == ["before", "after"]
            assert [m.position for m in buffer.get_msg()] == [0, 1]
            # A restart nobody noticed: every pooled connection is dead. Each fails its first statement, is
            # discarded, and the operation is retried on a fresh one: no error, on either read path.
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: (buffer.get_msg(-1), store.checkpoints.get("t")), range(40)))
            postgres_server.halt()
            assert postgres_server.start().returncode == 0
            assert [record["id"] for record in docs.scan()] == ["a"]  # two reads in one snapshot
            with ThreadPoolExecutor(4) as pool:
                found = list(pool.map(lambda _: store.checkpoints.get("t"), range(40)))
            assert all(checkpoint is not None for checkpoint in found)
            assert buffer.get_msg(-1)[0].content == "after"
            buffer.add_msg(Message(role="user", content="after the second restart"))
    finally:
        admin = sa.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_one_dropped_connection_retires_the_whole_pool(postgres_server: PostgresServer | str) -> None:
    """After a restart nobody noticed, the first read that meets a dead connection retires every pooled
    connection (as SQLAlchemy's ``Connection`` does for ``Database.run``): one retry, not one each."""
    if isinstance(postgres_server, str) or not postgres_server.options:
        pytest.skip(f"needs the PostgreSQL this session started: {postgres_server}")
    database = Database(postgres_server.url, create_tables=False, max_retries=1)
    probe = sa.select(sa.literal(1))
    try:
        held = [database.engine.connect() for _ in range(4)]  # four connections in the pool at once
        for connection in held:
            connection.close()
        postgres_server.halt()
        assert postgres_server.start().returncode == 0
        assert database.read(probe, {}, operation="probe") == [(1,)]
        assert database.run(lambda conn: conn.execute(probe).scalar(), write=False, operation="probe") == 1
    finally:
        database.close()


def test_sqlite_disk_full_is_a_typed_error_and_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "small.db"
    url = f"sqlite:///{path}"
    with Memstore(url) as store:
        buffer = store.buffer("c")
        buffer.add_msg(Message(role="user", content="fits"))
        assert store.database is not None
        engine = store.database.engine
        pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]

        def cap(dbapi_connection: Any, _record: Any) -> None:
            # A tiny "disk": the file may grow by only a few pages.
            dbapi_connection.execute(f"PRAGMA max_page_count = {int(pages) + 8}")

        sa.event.listen(engine, "connect", cap)
        engine.dispose()
        written = 0
        failure: BackendError | None = None
        for batch in range(1000):
            try:
                buffer.add_msgs(
                    Message(role="user", content="x" * 2000, metadata={"batch": batch}) for _ in range(10)
                )
            except BackendError as exc:
                failure = exc
                break
            written += 1
        assert failure is not None, "the capped database filled up"
        assert "full" in str(failure.__cause__).lower()
        assert written < 1000
        sa.event.remove(engine, "connect", cap)
        engine.dispose()
        connection = sqlite3.connect(path)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        connection.close()
        messages = buffer.get_msg()
        assert len(messages) == 1 + 10 * written, "the failed batch left nothing behind"
        buffer.add_msg(Message(role="user", content="space again"))
        assert buffer.length() == 2 + 10 * written


def test_chroma_server_killed_during_memory_add(private_chroma_server: ChromaServer, sqlite_url: str) -> None:
    """SIGKILL the Chroma server while ConversationMemory.add is indexing: a typed error, every message
    stored whole and either indexed or pending, and reindex() on the restarted server completes the index."""
    server = private_chroma_server
    assert server.process is not None
    embedder = HashingEmbedder(64)
    total = 3000
    batch = [Message("user", f"note {i} about item{i}", metadata={"i": i}) for i in range(total)]
    with Memstore(sqlite_url, vectors=f"{server.url}?timeout=5") as store:
        memory = store.memory("c", embedder=embedder)
        memory.add(Message("user", "indexed before the kill"))
        outcome: list[BaseException | None] = []

        def add() -> None:
            try:
                memory.add(batch)
            except BaseException as exc:  # the outcome is checked in the test thread
                outcome.append(exc)
            else:
                outcome.append(None)

        worker = threading.Thread(target=add)
        worker.start()
        # The batch commits to SQL first (one transaction), then goes to Chroma in slices: kill the server
        # as soon as the messages are in the database, while the slices are being sent.
        deadline = time.monotonic() + 120
        while store.buffer("c").length() < total + 1 and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        worker.join(timeout=120)
        assert not worker.is_alive()
        error = outcome[0]
        assert isinstance(error, BackendError), f"indexing finished before the kill: {error!r}"
        assert error.backend == "chroma"
        # SQL holds every message whole (the source of truth); those Chroma did not confirm are pending.
        stored = store.buffer("c").get_msg()
        assert [m.text for m in stored[1:]] == [m.text for m in batch]
        assert [m.position for m in stored] == list(range(total + 1))
        pending = memory.pending_count()
        assert 0 < pending <= total
        with pytest.raises(BackendError):
            memory.reindex()
        assert memory.pending_count() == pending
    restarted = start_chroma(root=server.data_dir)
    try:
        with Memstore(sqlite_url, vectors=f"{restarted.url}?timeout=30") as store:
            memory = store.memory("c", embedder=embedder, dense_weight=1.0, keyword_weight=0.0)
            assert memory.reindex() == pending
            assert memory.pending_count() == 0
            # Every message is in the vector index exactly once, and found by its own vector.
            assert memory.stats().vectors == total + 1
            hit = memory.recall("note 1234 about item1234", k=1)[0]
            assert hit.message.metadata == {"i": 1234}
    finally:
        restarted.stop()
