"""Backing up and restoring a SQLite database file, with SQLite's online backup API.

A backup is one self-contained file (rollback-journal mode, no ``-wal``/``-shm`` beside it), created ``0600``.
A restore never touches the live database until the backup has been copied aside and checked as a whole:
integrity, schema version, and every memstore table it holds having the columns this version reads. A file
that fails any check raises :class:`~memstore.errors.ValidationError` with the live database unchanged.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from memstore._files import private_file, refuse_protected
from memstore.backends.sql import schema
from memstore.backends.sql.database import Database
from memstore.errors import NotFoundError, ValidationError

__all__ = ["backup_database", "check_backup", "live_files", "restore_database"]

REQUIRED_TABLES = (schema.meta.name, schema.conversations.name, schema.messages.name)


def live_files(database: Database) -> list[Path]:
    """The files of the live SQLite database (itself, its WAL and shared-memory files)."""
    path = database.file_path
    return [] if path is None else [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]


def _open_read_only(path: Path) -> sqlite3.Connection:
    # A URI built from the resolved path, percent-encoded by pathlib: "%41.db" stays "%41.db" and
    # "x#y.db" stays "x#y.db" (a raw f"file:{path}" would decode the first and cut the second at "#").
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def backup_database(
    database: Database, target: Path, *, complete: Callable[[Path], None] | None = None
) -> Path:
    """Copy the live database to ``target`` (a new file: never overwritten, never through a symlink).

    ``complete(path)`` may add to the copy before it is moved into place (the vectors kept elsewhere).
    """
    with private_file(target, overwrite=False, what="backup", protected=live_files(database)) as staged:
        with database.engine.connect() as conn, contextlib.closing(sqlite3.connect(str(staged))) as copy:
            conn.connection.dbapi_connection.backup(copy)  # type: ignore[union-attr]
        if complete is not None:
            complete(staged)
        with contextlib.closing(sqlite3.connect(str(staged))) as copy:
            # The copy inherits WAL mode, and reading a WAL file creates -wal/-shm files beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
    return target


def check_backup(conn: sqlite3.Connection, name: str) -> None:
    """Raise ValidationError unless ``conn`` holds an intact memstore database this version can open."""
    try:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        if integrity != ["ok"]:
            raise ValidationError(f"{name!r} is damaged: {'; '.join(map(str, integrity))}")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [table for table in REQUIRED_TABLES if table not in tables]
        if missing:
            raise ValidationError(f"{name!r} is not a memstore backup: no table {', '.join(missing)}")
        version = conn.execute("SELECT value FROM memstore_meta WHERE name = 'schema_version'").fetchone()
        if version is None or not str(version[0]).isdigit():
            raise ValidationError(f"{name!r} is not a memstore backup: no schema version")
        if int(version[0]) > schema.SCHEMA_VERSION:
            raise ValidationError(
                f"{name!r} has memstore schema {version[0]}, newer than this version understands "
                f"({schema.SCHEMA_VERSION}); upgrade memstore-ai"
            )
        for table in schema.metadata.sorted_tables:
            if table.name not in tables:
                continue  # added by a later schema: create_tables adds it after the restore
            present = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (table.name,))}
            absent = sorted(set(table.columns.keys()) - present)
            if absent:
                raise ValidationError(
                    f"{name!r} is not a memstore backup this version reads: "
                    f"{table.name} lacks {', '.join(absent)}"
                )
    except sqlite3.DatabaseError as exc:
        raise ValidationError(f"{name!r} is not a memstore SQLite backup ({exc})") from exc


def restore_database(database: Database, source_path: Path) -> None:
    """Replace the live database's content with the backup at ``source_path``, checked on a copy first."""
    if not source_path.is_file():
        raise NotFoundError(f"no backup file {str(source_path)!r}")
    refuse_protected(source_path, live_files(database), "backup")
    live = database.file_path
    with tempfile.TemporaryDirectory(
        prefix=".memstore-restore-", dir=None if live is None else live.parent
    ) as folder:
        staged = sqlite3.connect(str(Path(folder) / "restore.db"))
        try:
            try:
                with contextlib.closing(_open_read_only(source_path)) as source:
                    source.backup(staged)
            except sqlite3.DatabaseError as exc:
                raise ValidationError(
                    f"{str(source_path)!r} is not a memstore SQLite backup ({exc})"
                ) from exc
            check_backup(staged, str(source_path))
            with database.engine.connect() as conn:
                staged.backup(conn.connection.dbapi_connection)  # type: ignore[arg-type]
        finally:
            staged.close()
    database.create_tables()
