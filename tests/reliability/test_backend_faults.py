"""Backend faults: a PostgreSQL restart and a full SQLite disk give typed errors, then normal service."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from services import PostgresServer

from memstore import BackendError, Memstore, Message


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
        with Memstore(url.render_as_string(hide_password=False)) as store:
            buffer = store.buffer("c")
            buffer.add_msg(Message(role="user", content="before"))
            postgres_server.halt()
            try:
                with pytest.raises(BackendError) as raised:
                    buffer.add_msg(Message(role="user", content="during the outage"))
                assert raised.value.backend == "postgresql"
                assert raised.value.__cause__ is not None
                with pytest.raises(BackendError):
                    buffer.get_msg(-1)
            finally:
                assert postgres_server.start().returncode == 0
            # The pool's pre-ping replaces the dead connections: no error after the restart.
            buffer.add_msg(Message(role="user", content="after"))
            assert [m.content for m in buffer.get_msg()] == ["before", "after"]
            assert [m.position for m in buffer.get_msg()] == [0, 1]
    finally:
        admin = sa.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
