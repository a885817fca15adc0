"""``Database``: one SQLAlchemy engine, its dialect settings, and the transaction runner of every store."""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Dialect, Engine, Insert, create_engine, event, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.pool import StaticPool

from memstore._closing import Closing
from memstore._files import create_private
from memstore._validate import dumps, mask_password
from memstore.backends.sql import schema
from memstore.errors import BackendError, ConflictError, MemstoreError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["IN_LIST_CHUNK", "Database", "chunks", "insert_many", "select_rows"]

logger = logging.getLogger(__name__)

R = TypeVar("R")

SQLITE_BUSY_TIMEOUT_MS = 30_000
# How a SQLite transaction begins: "IMMEDIATE" (writers), "DEFERRED" (multi-statement reads) or "NONE".
_BEGIN_OPTION = "memstore_sqlite_begin"
# PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock.
_PG_RETRY_CODES = {"40001", "40P01"}


def _normalise_url(url: str | URL) -> URL:
    shown = mask_password(url)
    if isinstance(url, str) and ("\x00" in url or not url.strip()):
        raise ValidationError(f"not a database URL: {shown!r} (empty, or holds a NUL character)")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ValidationError(f"not a database URL: {shown!r}; try sqlite:///path/to/file.db") from exc
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ValidationError(f"not a database URL: {shown!r} (port {parsed.port} is out of range)")
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ValidationError(
            f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
            "use sqlite:///path/to/file.db or postgresql://user@host/db"
        )
    return parsed


class Database(Closing):
    """Owns one SQLAlchemy engine and runs every SQL statement of the library.

    ``sqlite:///path.db`` (the embedded default) uses the stdlib ``sqlite3`` driver with WAL, a busy timeout
    and foreign keys on; write transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on the
    busy timeout instead of failing on a lock upgrade. ``postgresql://...`` uses psycopg 3; a pooled
    connection the server dropped fails its first statement, is discarded, and the operation is retried on a
    fresh one (no ping round trip before every checkout). Tables are created idempotently on open
    (``create_tables=False`` skips that).

    The stores call :meth:`run` (and :meth:`read` for hot single-statement reads); users may use
    :attr:`engine` directly, or :meth:`get_async_engine` for an ``AsyncEngine`` on the same URL (the stores
    never use it: the core is sync, see ``memstore._sync``).
    """

    def __init__(
        self,
        url: str | URL = "sqlite:///memstore_data/memstore.db",
        *,
        create_tables: bool = True,
        max_retries: int = 8,
        echo: bool = False,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = _normalise_url(url)
        self.max_retries = max_retries
        self._async_engine: AsyncEngine | None = None
        self._lock = threading.Lock()
        # One JSON serializer for every JSON column: SQLite filters depend on how keys are written.
        options: dict[str, Any] = {"echo": echo, "json_serializer": dumps}
        if self.is_sqlite:
            database = self.url.database or ""
            options["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            if database in {"", ":memory:"}:
                options["poolclass"] = StaticPool
        options.update(engine_options or {})
        try:
            self.engine: Engine = create_engine(self.url, **options)
        except ArgumentError as exc:  # an unknown driver (sqlite+nosuch://): the URL is at fault
            raise ValidationError(
                f"unsupported database URL {self.url.render_as_string(hide_password=True)!r}: {exc}"
            ) from exc
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
            path = self.file_path
            if path is not None and not (self.url.database or "").startswith("file:"):
                # Only once the URL is known good (a bad driver must leave no file behind); 0600: chat
                # history is personal data.
                path.parent.mkdir(parents=True, exist_ok=True)
                create_private(path)
        self.insert = sqlite.insert if self.is_sqlite else postgresql.insert
        """The dialect's INSERT construct (both offer ``on_conflict_do_update`` with one signature)."""
        if create_tables:
            self.create_tables()

    @property
    def backend_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.backend_name == "sqlite"

    @property
    def file_path(self) -> Path | None:
        """The SQLite database file (None for PostgreSQL and in-memory SQLite)."""
        if not self.is_sqlite:
            return None
        name = self.url.database or ""
        if name.startswith("file:"):
            parsed = urllib.parse.urlsplit(name)
            name = "" if "mode=memory" in parsed.query else parsed.path
        return None if name in {"", ":memory:"} else Path(name).expanduser()

    def create_tables(self) -> None:
        """Create memstore's tables if missing, under a lock so concurrent processes do not race the DDL."""

        def create(conn: Connection) -> None:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(7301245531)"))
            schema.metadata.create_all(conn, checkfirst=True)
            stored = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.name == "schema_version")
            ).scalar_one_or_none()
            if stored is None:
                conn.execute(
                    schema.meta.insert().values(name="schema_version", value=str(schema.SCHEMA_VERSION))
                )
            elif int(stored) < schema.SCHEMA_VERSION:
                # Every migration so far only adds tables, which create_all just did: record the upgrade.
                conn.execute(
                    update(schema.meta)
                    .where(schema.meta.c.name == "schema_version")
                    .values(value=str(schema.SCHEMA_VERSION))
                )
                logger.info("memstore schema upgraded from %s to %d", stored, schema.SCHEMA_VERSION)
            elif int(stored) > schema.SCHEMA_VERSION:
                raise BackendError(
                    f"the database has memstore schema {stored}, newer than this version understands "
                    f"({schema.SCHEMA_VERSION}); upgrade memstore-ai",
                    backend=self.backend_name,
                    operation="create_tables",
                )

        self.run(create, write=True, operation="create_tables")

    def database_id(self) -> str:
        """A random id this database keeps in ``memstore_meta`` (made by the first call, then read).

        It names what belongs to this database outside it (PostgreSQL's default vector folder), the same
        for every process and every spelling of the URL (another host alias, extra options), and different
        for every database and schema, which a hash of the URL could not promise both ways.
        """

        def read(conn: Connection) -> str | None:
            found = conn.execute(select(schema.meta.c.value).where(schema.meta.c.name == "database_id"))
            return found.scalar_one_or_none()

        def make(conn: Connection) -> str:
            fresh = self.insert(schema.meta).values(name="database_id", value=uuid.uuid4().hex)
            conn.execute(fresh.on_conflict_do_nothing(index_elements=["name"]))  # a racing process may win
            value = read(conn)
            assert value is not None
            return value

        return self.run(read, write=False, operation="database_id") or self.run(
            make, write=True, operation="database_id"
        )

    def run(
        self, work: Callable[[Connection], R], *, write: bool, operation: str, snapshot: bool = False
    ) -> R:
        """Run ``work(conn)`` in one transaction: committed if it returns, rolled back if it raises.

        A read (``write=False``) is a single statement by default: on SQLite it then runs without an explicit
        transaction (one statement is one snapshot already). A read of several statements that must agree
        passes ``snapshot=True``: on SQLite they share one (deferred) transaction's snapshot.

        Transient failures (SQLite busy, PostgreSQL serialization failure or deadlock, a dropped connection)
        are retried with jittered backoff up to ``max_retries`` times; then, like every other driver error,
        they surface as :class:`BackendError` with the driver error as ``__cause__``. A unique-key violation
        surfaces as :class:`ConflictError`. Errors raised by ``work`` itself pass through unchanged.
        """

        def attempt() -> R:
            with self.engine.connect() as conn:
                mode = "IMMEDIATE" if write else "DEFERRED" if snapshot else "NONE"
                conn.execution_options(**{_BEGIN_OPTION: mode})
                with conn.begin():
                    return work(conn)

        return self._retrying(attempt, operation)

    def read(self, statement: Any, params: Mapping[str, Any], *, operation: str) -> list[tuple[Any, ...]]:
        """The rows of one Core SELECT, as the driver returns them: the hot-read twin of :meth:`run`.

        The statement runs on a pooled driver connection (``engine.raw_connection()``) with no
        :class:`~sqlalchemy.engine.Connection`, transaction events or result processing around it: for a read
        that is one statement, those cost more than the query (a checkpoint read: 20 µs of 45). Retries and
        errors are those of :meth:`run`. Pass the same statement object each time: it is compiled once.
        """

        dialect = self.engine.dialect

        def attempt() -> list[tuple[Any, ...]]:
            try:
                connection = self.engine.raw_connection()
            except dialect.loaded_dbapi.Error as exc:  # the pool hands the driver's own error through
                raise _driver_error(exc, dialect, None, None) from exc
            try:
                if self.is_sqlite:  # a lone statement runs in autocommit already (_sqlite_on_connect)
                    return select_rows(connection, dialect, statement, params)
                return _autocommit_select(connection, dialect, statement, params)
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    # SQLAlchemy's Connection does exactly this for run (engine/base.py): discard this
                    # connection, unless already discarded, and every pooled one as old (a server restart
                    # killed them all), so the retry needs one attempt, not one per pooled connection.
                    self.engine.pool._invalidate(connection, exc)
                raise
            finally:
                connection.close()

        return self._retrying(attempt, operation)

    def _retrying(self, attempt: Callable[[], R], operation: str) -> R:
        failures = 0
        while True:
            try:
                return attempt()
            except IntegrityError as exc:
                raise ConflictError(f"{operation}: {exc.orig}") from exc
            except DBAPIError as exc:
                if failures < self.max_retries and self._is_transient(exc):
                    failures += 1
                    delay = min(0.5, 0.005 * 2**failures) * (0.5 + random.random())
                    logger.debug(
                        "%s: transient %s error, retry %d in %.3fs",
                        operation,
                        self.backend_name,
                        failures,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                raise BackendError(
                    f"{self.backend_name} failed during {operation}: {exc.orig}",
                    backend=self.backend_name,
                    operation=operation,
                ) from exc
            except SQLAlchemyError as exc:
                raise BackendError(
                    f"{self.backend_name} failed during {operation}: {exc}",
                    backend=self.backend_name,
                    operation=operation,
                ) from exc

    def _is_transient(self, exc: DBAPIError) -> bool:
        if exc.connection_invalidated:
            return True
        if self.is_sqlite:
            message = str(exc.orig).lower()
            return isinstance(exc, OperationalError) and ("locked" in message or "busy" in message)
        return getattr(exc.orig, "sqlstate", None) in _PG_RETRY_CODES

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection inside one transaction, for callers who compose several statements themselves.

        No retry happens here (the body may not be safe to repeat); prefer :meth:`run` where possible.
        """
        with self.engine.connect() as conn:
            conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE" if write else "DEFERRED"})
            with conn.begin():
                yield conn

    def get_async_engine(self) -> AsyncEngine:
        """An ``AsyncEngine`` on the same database, created on first use (needs ``memstore-ai[asyncio]``)."""
        with self._lock:
            if self._async_engine is None:
                try:
                    from sqlalchemy.ext.asyncio import create_async_engine
                except ImportError as exc:  # pragma: no cover - depends on the installed extras
                    raise MemstoreError("an async engine needs: pip install 'memstore-ai[asyncio]'") from exc
                driver = "sqlite+aiosqlite" if self.is_sqlite else "postgresql+psycopg"
                self._async_engine = create_async_engine(self.url.set(drivername=driver))
            return self._async_engine

    @property
    def async_engine(self) -> AsyncEngine:
        """Shorthand for :meth:`get_async_engine`."""
        return self.get_async_engine()

    def close(self) -> None:
        """Dispose of the engine's pool (and the async engine's, if one was made). Idempotent."""
        self.engine.dispose()
        if self._async_engine is not None:
            self._async_engine.sync_engine.dispose()
            self._async_engine = None

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


@functools.lru_cache(maxsize=32)
def _compiled(
    statement: Insert, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[tuple[int, Any]], list[int] | None]:
    """The SQL text, each column's bind processor by index, and the column index of each positional
    parameter (None for a named paramstyle; ``[]`` when the parameters already come in ``columns`` order)."""
    compiled = statement.compile(dialect=dialect)
    processors = compiled._bind_processors
    by_index = [(index, processors[name]) for index, name in enumerate(columns) if name in processors]
    positions = compiled.positiontup
    order = None if positions is None else [columns.index(name) for name in positions]
    if order == list(range(len(columns))):
        order = []
    return compiled.string, by_index, order


def insert_many(
    conn: Connection, statement: Insert, columns: tuple[str, ...], rows: Sequence[list[Any]]
) -> None:
    """Run the Core ``statement`` (an INSERT whose values are ``bindparam``s named ``columns``) for
    ``rows`` (each a list of values in ``columns`` order, encoded in place) in one driver ``executemany``.

    The statement is compiled once per dialect by SQLAlchemy, and every value goes through its column type's
    own bind processor, as ``conn.execute(statement, rows)`` would do; skipping SQLAlchemy's per-row
    parameter machinery halves the Python cost of a batched append. The SQL text is SQLAlchemy's own
    compilation of a Core construct: user data only ever travels as parameters.
    """
    sql, processors, order = _compiled(statement, columns, conn.dialect)
    for row in rows:
        for index, process in processors:
            row[index] = process(row[index])
    if order is None:
        conn.exec_driver_sql(sql, [dict(zip(columns, row, strict=True)) for row in rows])
    elif not order:
        conn.exec_driver_sql(sql, [tuple(row) for row in rows])
    else:
        conn.exec_driver_sql(sql, [tuple([row[index] for index in order]) for row in rows])


IN_LIST_CHUNK = 500
"""Values per ``IN (...)`` list: far below SQLite's and PostgreSQL's (65,535) bound-parameter limits."""


def chunks(items: Sequence[R], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[R]]:
    """``items`` in slices of ``size``: one ``IN`` list each, however many keys a caller passes."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@functools.lru_cache(maxsize=64)
def _compiled_select(statement: Any, dialect: Dialect) -> tuple[Any, list[tuple[str, Any]]]:
    compiled = statement.compile(dialect=dialect)
    processors = list(compiled._bind_processors.items())
    return compiled, processors


def select_rows(
    connection: Any, dialect: Dialect, statement: Any, params: Mapping[str, Any], **driver_options: Any
) -> list[tuple[Any, ...]]:
    """Run the Core SELECT ``statement`` with ``params`` on the DB-API ``connection``; rows as the driver
    returns them (no SQLAlchemy result processing: the caller decodes its columns). ``driver_options`` go
    to the driver's ``cursor.execute``.

    The statement is compiled once per dialect by SQLAlchemy (the caller passes the same statement object
    each time) and every value is a bound parameter, passed through its type's bind processor. Driver errors
    are raised as SQLAlchemy's ``DBAPIError``, so :meth:`Database.read` retries and translates them as
    :meth:`Database.run` does every other error.
    """
    compiled, processors = _compiled_select(statement, dialect)
    values = compiled.construct_params(dict(params))
    for name, process in processors:
        if name in values:
            values[name] = process(values[name])
    positions = compiled.positiontup
    arguments: Any = values if positions is None else tuple(values[name] for name in positions)
    cursor = connection.cursor()
    try:
        cursor.execute(compiled.string, arguments, **driver_options)
        return list(cursor.fetchall())
    except dialect.loaded_dbapi.Error as exc:
        raise _driver_error(exc, dialect, compiled.string, arguments, connection, cursor) from exc
    finally:
        cursor.close()


def _driver_error(
    exc: Any,
    dialect: Dialect,
    statement: str | None,
    params: Any,
    connection: Any = None,
    cursor: Any = None,
) -> StatementError:
    """The driver's ``exc`` as SQLAlchemy's ``DBAPIError`` (what :meth:`Database._retrying` understands),
    flagged ``connection_invalidated`` when the dialect recognises a dropped connection."""
    error: StatementError = DBAPIError.instance(
        statement,
        params,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=dialect.is_disconnect(exc, connection, cursor),
        dialect=dialect,
    )
    return error


def _autocommit_select(
    connection: Any, dialect: Dialect, statement: Any, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    # psycopg opens a transaction before the first statement (a BEGIN round trip, and a ROLLBACK one when
    # the pool takes the connection back); a lone SELECT needs neither: under READ COMMITTED it reads one
    # snapshot either way. Rows come in PostgreSQL's binary format: bytea as its bytes, not as hex text
    # twice their size to parse (a 100 kB value: 1.0 ms to read as text, 0.6 ms in binary).
    driver = connection.driver_connection
    driver.autocommit = True
    try:
        return select_rows(connection, dialect, statement, params, binary=True)
    finally:
        try:
            driver.autocommit = False
        except dialect.loaded_dbapi.Error:
            connection.invalidate()  # its state is unknown: it must not go back to the pool


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module so that BEGIN is ours (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 30000")  # == SQLITE_BUSY_TIMEOUT_MS
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # A writer takes the write lock up front: two deferred transactions that both upgrade to writing would
    # deadlock, and SQLite reports that as SQLITE_BUSY without waiting on the busy timeout. A read through
    # Database.run is one statement, which SQLite already runs on one snapshot: no BEGIN/COMMIT round trip.
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    if mode == "IMMEDIATE":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif mode == "DEFERRED":
        conn.exec_driver_sql("BEGIN")
