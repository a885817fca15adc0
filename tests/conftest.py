"""Session-wide fixtures: real backends for every suite.

``sql_url`` runs a test on SQLite (a fresh file) and PostgreSQL (a fresh schema on the server this session
starts); ``store_url`` adds the in-memory backend; ``vector_backend`` runs a test on every vector backend
(those plus embedded Chroma and a Chroma server this session starts). Outside CI, a server that cannot start
skips its tests with the reason; in CI it fails the session.
"""

from __future__ import annotations

import os
import signal
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest
import sqlalchemy as sa
from services import ChromaServer, PostgresServer, ServiceUnavailable, start_chroma, start_postgres

from memstore import Database
from memstore.backends.chroma import ChromaVectorBackend
from memstore.backends.memory.vectors import MemoryVectorBackend
from memstore.backends.sql.vectors import SqlVectorBackend
from memstore.stores.vectors import VectorBackend

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_Server = TypeVar("_Server", PostgresServer, ChromaServer)


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: backend tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def _session_service(start: Callable[[], _Server]) -> Iterator[_Server | str]:
    """Start a server for the session and stop it at the end; yields the reason instead if it cannot start
    (the tests that need it then call :func:`_unavailable`)."""
    try:
        server = start()
    except ServiceUnavailable as exc:
        yield str(exc)
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """The session's PostgreSQL, or the reason it could not start."""
    external = os.environ.get("MEMSTORE_TEST_POSTGRES_URL")
    if external:
        yield PostgresServer(url=external, data_dir=Path("/nonexistent"), bindir=Path(), run_as=[])
        return
    yield from _session_service(start_postgres)


@pytest.fixture
def postgresql_url(postgres_server: PostgresServer | str) -> Iterator[str]:
    """A URL whose connections see only a fresh, empty schema (dropped after the test)."""
    if isinstance(postgres_server, str):
        _unavailable(f"PostgreSQL unavailable: {postgres_server}")
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


# -- vectors -------------------------------------------------------------------------------------------------
# ``vector_backend`` runs a test on every vector backend. A new backend is one module plus one entry in
# VECTOR_BACKENDS below.


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[ChromaServer | str]:
    """The session's Chroma server (``chroma run`` on loopback), or the reason it could not start."""
    # http://host:port of a throwaway server to use instead: tests delete every memstore collection on it.
    external = os.environ.get("MEMSTORE_TEST_CHROMA_URL")
    if external:
        parsed = urllib.parse.urlsplit(external)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 8000
        yield ChromaServer(host=host, port=port, data_dir=Path(), process=None)
        return
    yield from _session_service(start_chroma)


@pytest.fixture
def chroma_server_backend(chroma_server: ChromaServer | str) -> Iterator[VectorBackend]:
    """A backend on the session's Chroma server; every collection is deleted after the test."""
    if isinstance(chroma_server, str):
        _unavailable(f"Chroma server unavailable: {chroma_server}")
    backend = ChromaVectorBackend(host=chroma_server.host, port=chroma_server.port, timeout=60)
    try:
        yield backend
    finally:
        for spec in backend.list_collections():
            backend.delete_collection(spec.name)
        backend.close()


@contextmanager
def _memory_vectors(request: pytest.FixtureRequest) -> Iterator[VectorBackend]:
    yield MemoryVectorBackend()


@contextmanager
def _sql_vectors(request: pytest.FixtureRequest, dialect: str) -> Iterator[VectorBackend]:
    with Database(str(request.getfixturevalue(f"{dialect}_url"))) as database:
        backend = SqlVectorBackend(database)
        yield backend
        backend.close()


@contextmanager
def _chroma_embedded_vectors(request: pytest.FixtureRequest) -> Iterator[VectorBackend]:
    backend = ChromaVectorBackend(path=request.getfixturevalue("tmp_path") / "chroma")
    yield backend
    backend.close()


@contextmanager
def _chroma_server_vectors(request: pytest.FixtureRequest) -> Iterator[VectorBackend]:
    yield request.getfixturevalue("chroma_server_backend")


VECTOR_BACKENDS: dict[str, Callable[[pytest.FixtureRequest], AbstractContextManager[VectorBackend]]] = {
    "memory": _memory_vectors,
    "sqlite": lambda request: _sql_vectors(request, "sqlite"),
    "postgresql": lambda request: _sql_vectors(request, "postgresql"),
    "chroma": _chroma_embedded_vectors,
    "chroma-server": _chroma_server_vectors,
}


@pytest.fixture(params=list(VECTOR_BACKENDS))
def vector_backend(request: pytest.FixtureRequest) -> Iterator[VectorBackend]:
    """Vector-contract tests run on every backend: memory, SQLite, PostgreSQL, embedded Chroma, a server."""
    with VECTOR_BACKENDS[request.param](request) as backend:
        yield backend


@pytest.fixture
def private_chroma_server() -> Iterator[ChromaServer]:
    """A Chroma server for one test alone, for tests that pause, break or stop it."""
    try:
        server = start_chroma()
    except ServiceUnavailable as exc:
        _unavailable(f"Chroma server unavailable: {exc}")
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)  # a paused server cannot act on SIGTERM
        server.stop()
