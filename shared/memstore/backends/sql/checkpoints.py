"""The checkpoint backend on SQL: three tables, every read one statement, every write one transaction.

A page of checkpoints comes back from one ``UNION ALL`` over a common table expression ``page`` (the
checkpoints wanted, newest first, limited): the ``page`` rows themselves, the blobs they reference (each
distinct blob once, however many checkpoints of the page share it, found by expanding each row's
``channel_versions`` JSON with the dialect's ``json_each``), and their pending writes. Which query runs never
depends on how many checkpoints a page holds.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from memstore.backends.base import (
    Blob,
    CheckpointKey,
    CheckpointQuery,
    CheckpointRow,
    CheckpointWrite,
    FetchedCheckpoints,
)
from memstore.backends.sql.database import Database, chunks
from memstore.backends.sql.filters import compile_filter
from memstore.backends.sql.schema import UtcDateTime, checkpoint_blobs, checkpoint_writes, checkpoints

__all__ = ["SqlCheckpointBackend"]

_ROW, _BLOB, _WRITE = 0, 1, 2  # the "kind" column of each branch of the fetch statement


def _versions_sqlite(column: ColumnElement[Any]) -> TableValuedAlias:
    return func.json_each(column).table_valued("key", "value", joins_implicitly=True)


def _versions_postgresql(column: ColumnElement[Any]) -> TableValuedAlias:
    # The columns are ``json`` (not ``jsonb``, D2): json_each_text yields each version as text.
    return func.json_each_text(column).table_valued("key", "value", joins_implicitly=True)


_VERSIONS: dict[str, Callable[[ColumnElement[Any]], TableValuedAlias]] = {
    "sqlite": _versions_sqlite,
    "postgresql": _versions_postgresql,
}
"""(channel, version) rows of a ``channel_versions`` JSON object: the one per-dialect piece of this module."""


def _page(shape: frozenset[str], where: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
    c = checkpoints.c
    conditions = list(where)
    if "thread" in shape:
        conditions.append(c.thread_id == bindparam("thread_id"))
    if "namespace" in shape:
        conditions.append(c.checkpoint_ns == bindparam("namespace"))
    if "checkpoint" in shape:
        conditions.append(c.checkpoint_id == bindparam("checkpoint_id"))
    if "before" in shape:
        conditions.append(c.checkpoint_id < bindparam("before"))
    if "cursor" in shape:
        if "thread" in shape and "namespace" in shape:
            conditions.append(c.checkpoint_id < bindparam("cursor_id"))
        else:
            conditions.append(
                tuple_(c.checkpoint_id, c.thread_id, c.checkpoint_ns)
                < tuple_(bindparam("cursor_id"), bindparam("cursor_thread"), bindparam("cursor_ns"))
            )
    statement = (
        select(
            c.thread_id,
            c.checkpoint_ns,
            c.checkpoint_id,
            c.parent_id,
            c.type,
            c.document,
            c.channel_versions,
            c.metadata,
        )
        .where(*conditions)
        .order_by(c.checkpoint_id.desc(), c.thread_id.desc(), c.checkpoint_ns.desc())
    )
    if "limit" in shape:
        statement = statement.limit(bindparam("limit"))
    return statement


def _fetch_statement(page_select: Select[Any], dialect: str, single: bool) -> Any:
    page = page_select.cte("page")
    p = page.c
    rows = select(
        literal_column("0", Integer).label("kind"),
        p.thread_id,
        p.checkpoint_ns,
        p.checkpoint_id.label("checkpoint_id"),
        p.parent_id.label("a"),
        cast(p.channel_versions, Text).label("b"),
        cast(p.metadata, Text).label("c"),
        cast(null(), BigInteger).label("idx"),
        p.type,
        p.document.label("data"),
    )
    versions = _VERSIONS[dialect](p.channel_versions)
    referenced = (
        select(
            p.thread_id.label("thread_id"),
            p.checkpoint_ns.label("checkpoint_ns"),
            versions.c.key.label("channel"),
            versions.c.value.label("version"),
        )
        .select_from(page)
        .join(versions, true())
    )
    # The checkpoints of a page share most values (a static channel is one blob for all): each is read
    # once. A single checkpoint references each value once already, and the DISTINCT would only cost.
    wanted = (referenced if single else referenced.distinct()).subquery("wanted")
    b = checkpoint_blobs.c
    # A LEFT JOIN fixes the join order (checkpoint, its versions, then one index probe per blob) where an
    # inner join let SQLite's planner read every blob of the thread first. A version without a stored value
    # comes back with a NULL value, as a channel stored empty does.
    blobs = select(
        literal_column("1", Integer),
        wanted.c.thread_id,
        wanted.c.checkpoint_ns,
        cast(null(), Text),
        wanted.c.channel,
        wanted.c.version,
        cast(null(), Text),
        cast(null(), BigInteger),
        b.type,
        b.value,
    ).select_from(
        wanted.outerjoin(
            checkpoint_blobs,
            and_(
                b.thread_id == wanted.c.thread_id,
                b.checkpoint_ns == wanted.c.checkpoint_ns,
                b.channel == wanted.c.channel,
                b.version == wanted.c.version,
            ),
        )
    )
    w = checkpoint_writes.c
    writes = select(
        literal_column("2", Integer),
        w.thread_id,
        w.checkpoint_ns,
        w.checkpoint_id,
        w.task_id,
        w.channel,
        w.task_path,
        w.idx,
        w.type,
        w.value,
    ).select_from(
        page.join(
            checkpoint_writes,
            and_(
                w.thread_id == p.thread_id,
                w.checkpoint_ns == p.checkpoint_ns,
                w.checkpoint_id == p.checkpoint_id,
            ),
        )
    )
    return union_all(rows, blobs, writes)


@functools.lru_cache(maxsize=64)
def _cached_fetch(shape: frozenset[str], dialect: str) -> Any:
    # Building the statement costs more than running it on SQLite: each shape is built once.
    return _fetch_statement(_page(shape), dialect, "single" in shape)


def _json(text: Any) -> Any:
    return text if not isinstance(text, str) else json.loads(text)


class SqlCheckpointBackend:
    """Implements :class:`memstore.stores.checkpoints.CheckpointBackend` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._dialect = database.backend_name
        self._versions = _VERSIONS[self._dialect]
        insert = database.insert
        blob_insert = insert(checkpoint_blobs)
        self._insert_blobs = blob_insert.on_conflict_do_nothing(
            index_elements=[
                checkpoint_blobs.c.thread_id,
                checkpoint_blobs.c.checkpoint_ns,
                checkpoint_blobs.c.channel,
                checkpoint_blobs.c.version,
            ]
        )
        row_insert = insert(checkpoints)
        self._upsert_row = row_insert.on_conflict_do_update(
            index_elements=[
                checkpoints.c.thread_id,
                checkpoints.c.checkpoint_ns,
                checkpoints.c.checkpoint_id,
            ],
            set_={
                name: row_insert.excluded[name]
                for name in (
                    "parent_id",
                    "run_id",
                    "type",
                    "document",
                    "channel_versions",
                    "metadata",
                    "created_at",
                )
            },
        )
        write_insert = insert(checkpoint_writes)
        write_key = [
            checkpoint_writes.c.thread_id,
            checkpoint_writes.c.checkpoint_ns,
            checkpoint_writes.c.checkpoint_id,
            checkpoint_writes.c.task_id,
            checkpoint_writes.c.idx,
        ]
        self._insert_writes = write_insert.on_conflict_do_nothing(index_elements=write_key)
        self._replace_writes = write_insert.on_conflict_do_update(
            index_elements=write_key,
            set_={name: write_insert.excluded[name] for name in ("channel", "type", "value", "task_path")},
        )

    # -- writes -------------------------------------------------------------------------------------------

    def put(
        self,
        row: CheckpointRow,
        blobs: Sequence[tuple[str, str, Blob | None]],
        run_id: str | None,
        now: datetime,
    ) -> None:
        blob_rows = [
            {
                "thread_id": row.thread_id,
                "checkpoint_ns": row.namespace,
                "channel": channel,
                "version": version,
                "type": None if blob is None else blob[0],
                "value": None if blob is None else blob[1],
            }
            for channel, version, blob in blobs
        ]
        values = {
            "thread_id": row.thread_id,
            "checkpoint_ns": row.namespace,
            "checkpoint_id": row.checkpoint_id,
            "parent_id": row.parent_id,
            "run_id": run_id,
            "type": row.document[0],
            "document": row.document[1],
            "channel_versions": row.channel_versions,
            "metadata": row.metadata,
            "created_at": now,
        }

        def work(conn: Connection) -> None:
            if blob_rows:
                conn.execute(self._insert_blobs, blob_rows)
            conn.execute(self._upsert_row, values)

        self._db.run(work, write=True, operation="checkpoints.put")

    def put_writes(self, key: CheckpointKey, writes: Sequence[CheckpointWrite]) -> None:
        thread_id, namespace, checkpoint_id = key
        rows = [
            {
                "thread_id": thread_id,
                "checkpoint_ns": namespace,
                "checkpoint_id": checkpoint_id,
                "task_id": write.task_id,
                "idx": write.idx,
                "channel": write.channel,
                "type": write.value[0],
                "value": write.value[1],
                "task_path": write.task_path,
            }
            for write in writes
        ]
        kept = [row for row, write in zip(rows, writes, strict=True) if write.idx >= 0]
        replaced = [row for row, write in zip(rows, writes, strict=True) if write.idx < 0]

        def work(conn: Connection) -> None:
            if kept:
                conn.execute(self._insert_writes, kept)
            if replaced:
                conn.execute(self._replace_writes, replaced)

        self._db.run(work, write=True, operation="checkpoints.put_writes")

    # -- reads --------------------------------------------------------------------------------------------

    def fetch(self, query: CheckpointQuery) -> FetchedCheckpoints:
        shape = {
            name
            for name, present in (
                ("thread", query.thread_id is not None),
                ("namespace", query.namespace is not None),
                ("checkpoint", query.checkpoint_id is not None),
                ("before", query.before is not None),
                ("cursor", query.cursor is not None),
                ("limit", query.limit is not None),
                ("single", query.limit == 1),
            )
            if present
        }
        params: dict[str, Any] = {
            "thread_id": query.thread_id,
            "namespace": query.namespace,
            "checkpoint_id": query.checkpoint_id,
            "before": query.before,
            "limit": query.limit,
        }
        if query.cursor is not None:
            params.update(cursor_id=query.cursor[0], cursor_thread=query.cursor[1], cursor_ns=query.cursor[2])
        params = {name: value for name, value in params.items() if value is not None}
        if query.filter is None:
            # The hot path (every graph step reads its checkpoint): a fixed shape, compiled once, run on the
            # driver's cursor (SQLAlchemy's result machinery cost three times the query here).
            statement = _cached_fetch(frozenset(shape), self._dialect)
            return self._decode(self._db.read(statement, params, operation="checkpoints.fetch"))
        # A filter tree has no fixed shape: built per call, executed (and cached) by SQLAlchemy.
        where = compile_filter(query.filter, checkpoints.c.metadata, self._dialect)
        filtered = _fetch_statement(_page(frozenset(shape), [where]), self._dialect, "single" in shape)
        return self._db.run(
            lambda conn: self._decode(conn.execute(filtered, params).all()),
            write=False,
            operation="checkpoints.fetch",
        )

    @staticmethod
    def _decode(result: Sequence[Any]) -> FetchedCheckpoints:
        fetched = FetchedCheckpoints()
        for kind, thread_id, namespace, checkpoint_id, a, b, c, idx, type_, data in result:
            if kind == _ROW:
                fetched.rows.append(
                    CheckpointRow(
                        thread_id=thread_id,
                        namespace=namespace,
                        checkpoint_id=checkpoint_id,
                        parent_id=a,
                        document=(type_, bytes(data)),
                        channel_versions=_json(b),
                        metadata=_json(c),
                    )
                )
            elif kind == _BLOB:
                fetched.blobs[(thread_id, namespace, a, b)] = None if type_ is None else (type_, bytes(data))
            else:
                write = CheckpointWrite(
                    task_id=a, idx=idx, channel=b, value=(type_, bytes(data)), task_path=c
                )
                fetched.writes.setdefault((thread_id, namespace, checkpoint_id), []).append(write)
        # UNION ALL keeps no order: newest first, as the page was chosen.
        fetched.rows.sort(key=lambda r: (r.checkpoint_id, r.thread_id, r.namespace), reverse=True)
        return fetched

    # -- deletes and copies -------------------------------------------------------------------------------

    def _collect_blobs(self, conn: Connection, thread_ids: Sequence[str]) -> None:
        """Delete the blobs of ``thread_ids`` that no remaining checkpoint references."""
        b = checkpoint_blobs.c
        for chunk in chunks(sorted(set(thread_ids))):
            versions = self._versions(checkpoints.c.channel_versions)
            referenced = select(
                checkpoints.c.thread_id, checkpoints.c.checkpoint_ns, versions.c.key, versions.c.value
            ).where(checkpoints.c.thread_id.in_(chunk))
            conn.execute(
                delete(checkpoint_blobs).where(
                    b.thread_id.in_(chunk),
                    tuple_(b.thread_id, b.checkpoint_ns, b.channel, b.version).not_in(referenced),
                )
            )

    def delete_threads(self, thread_ids: Sequence[str], prefix: str | None) -> int:
        def condition(table: Any, chunk: Sequence[str]) -> ColumnElement[bool]:
            clauses = [table.c.thread_id.in_(chunk)] if chunk else []
            if prefix is not None:
                # substr() compares literally on both dialects (LIKE would need escaping), as in the KV store.
                clauses.append(func.substr(table.c.thread_id, 1, len(prefix)) == prefix)
            return or_(*clauses)

        batches: list[Sequence[str]] = list(chunks(list(thread_ids))) or [[]]

        def work(conn: Connection) -> int:
            deleted = 0
            for chunk in batches:
                conn.execute(delete(checkpoint_writes).where(condition(checkpoint_writes, chunk)))
                conn.execute(delete(checkpoint_blobs).where(condition(checkpoint_blobs, chunk)))
                deleted += conn.execute(delete(checkpoints).where(condition(checkpoints, chunk))).rowcount
            return deleted

        return self._db.run(work, write=True, operation="checkpoints.delete_threads")

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        c, w = checkpoints.c, checkpoint_writes.c

        def work(conn: Connection) -> int:
            doomed: list[tuple[str, str, str]] = []
            for chunk in chunks(run_ids):
                found = conn.execute(
                    select(c.thread_id, c.checkpoint_ns, c.checkpoint_id).where(c.run_id.in_(chunk))
                )
                doomed.extend(tuple(row) for row in found)
            for keys in chunks(doomed):
                conn.execute(
                    delete(checkpoint_writes).where(
                        tuple_(w.thread_id, w.checkpoint_ns, w.checkpoint_id).in_(list(keys))
                    )
                )
                conn.execute(
                    delete(checkpoints).where(
                        tuple_(c.thread_id, c.checkpoint_ns, c.checkpoint_id).in_(list(keys))
                    )
                )
            self._collect_blobs(conn, [key[0] for key in doomed])
            return len(doomed)

        return self._db.run(work, write=True, operation="checkpoints.delete_runs")

    def copy_thread(self, source: str, target: str, now: datetime) -> int:
        target_id = bindparam("target", type_=Text())
        stored_at = bindparam("now", type_=UtcDateTime())
        params = {"source": source, "target": target}

        def copy(conn: Connection, table: Any, replace: dict[str, Any], **extra: Any) -> int:
            names = [column.name for column in table.columns]
            rows = select(
                *[replace[name].label(name) if name in replace else table.c[name] for name in names]
            ).where(table.c.thread_id == bindparam("source"))
            statement = self._db.insert(table).from_select(names, rows).on_conflict_do_nothing()
            # Count by RETURNING: psycopg reports no rowcount for INSERT ... SELECT ... ON CONFLICT.
            copied = conn.execute(statement.returning(table.c.thread_id), {**params, **extra})
            return len(copied.all())

        def work(conn: Connection) -> int:
            copy(conn, checkpoint_blobs, {"thread_id": target_id})
            copy(conn, checkpoint_writes, {"thread_id": target_id})
            # The copy is a new thread: its rows are stored now, as far as retention is concerned.
            return copy(conn, checkpoints, {"thread_id": target_id, "created_at": stored_at}, now=now)

        return self._db.run(work, write=True, operation="checkpoints.copy_thread")

    def prune(self, thread_ids: Sequence[str]) -> int:
        newest = checkpoints.alias("newest")

        def latest(table: Any) -> Any:
            return (
                select(func.max(newest.c.checkpoint_id))
                .where(
                    newest.c.thread_id == table.c.thread_id, newest.c.checkpoint_ns == table.c.checkpoint_ns
                )
                .scalar_subquery()
            )

        def work(conn: Connection) -> int:
            deleted = 0
            for chunk in chunks(list(thread_ids)):
                w = checkpoint_writes
                conn.execute(
                    delete(w).where(
                        w.c.thread_id.in_(chunk), w.c.checkpoint_id != func.coalesce(latest(w), "")
                    )
                )
                c = checkpoints
                deleted += conn.execute(
                    delete(c).where(c.c.thread_id.in_(chunk), c.c.checkpoint_id < latest(c))
                ).rowcount
            self._collect_blobs(conn, thread_ids)
            return deleted

        return self._db.run(work, write=True, operation="checkpoints.prune")

    def idle_threads(self, idle_since: datetime) -> list[str]:
        c = checkpoints.c
        statement = (
            select(c.thread_id)
            .group_by(c.thread_id)
            .having(func.max(c.created_at) < bindparam("since", idle_since, type_=UtcDateTime()))
        )
        return self._db.run(
            lambda conn: list(conn.execute(statement).scalars()),
            write=False,
            operation="checkpoints.idle_threads",
        )
