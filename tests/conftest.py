"""Session-wide fixtures: real backends for every suite.

``sql_url`` runs a test on SQLite (a fresh file) and PostgreSQL (a fresh schema on the server this session
starts); ``store_url`` adds the in-memory backend. Outside CI, a PostgreSQL that cannot start skips its
tests with the reason; in CI it fails the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from services import PostgresServer, ServiceUnavailable, start_postgres

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: backend tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """The session's PostgreSQL, or the reason it could not start."""
    external = os.environ.get("MEMSTORE_TEST_POSTGRES_URL")
    if external:
        yield PostgresServer(url=external, data_dir=Path("/nonexistent"), bindir=Path(), run_as=[])
        return
    try:
        server = start_postgres()
    except ServiceUnavailable as exc:
        yield str(exc)
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgresql_url(postgres_server: PostgresServer | str) -> Iterator[str]:
    """A URL whose connections see only a fresh, empty schema (dropped after the test)."""
    if isinstance(postgres_server, str):
        _unavailable(f"PostgreSQL unavailable: {postgres_server}")
        raise AssertionError("unreachable")
    schema_name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
    url = sa.make_url(postgres_server.url).update_query_dict({"options": f"-csearch_path={schema_name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'memstore.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """Each SQL test runs twice: on a SQLite file and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Store-contract tests run on every backend: memory, SQLite, PostgreSQL."""
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue(f"{request.param}_url"))
