"""The KV backend on SQL: one table, one statement per operation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, and_, delete, func, or_, select

from memstore.backends.sql.database import Database
from memstore.backends.sql.schema import kv
from memstore.stores.kv import StoredValue

__all__ = ["SqlKVBackend"]


def _live(now: float) -> ColumnElement[bool]:
    return or_(kv.c.expires_at.is_(None), kv.c.expires_at > now)


def _has_prefix(prefix: str) -> ColumnElement[bool]:
    # substr() compares literally on both dialects; LIKE would need escaping and ignores case on SQLite.
    return func.substr(kv.c.key, 1, len(prefix)) == prefix


class SqlKVBackend:
    """Implements :class:`memstore.stores.kv.KVBackend` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def put(self, namespace: str, items: Sequence[tuple[str, StoredValue]]) -> None:
        rows = {key: value for key, value in items}  # the last write of a key in one batch wins
        values = [
            {"namespace": namespace, "key": key, "value": raw, "is_text": is_text, "expires_at": None}
            for key, (raw, is_text) in rows.items()
        ]
        statement = self._db.insert(kv)
        statement = statement.on_conflict_do_update(
            index_elements=[kv.c.namespace, kv.c.key],
            set_={
                "value": statement.excluded.value,
                "is_text": statement.excluded.is_text,
                "expires_at": None,
            },
        )
        self._db.run(lambda conn: conn.execute(statement, values), write=True, operation="kv.put")

    def get(self, namespace: str, keys: Sequence[str], now: float) -> dict[str, StoredValue]:
        query = select(kv.c.key, kv.c.value, kv.c.is_text).where(
            kv.c.namespace == namespace, kv.c.key.in_(keys), _live(now)
        )

        def read(conn: Connection) -> dict[str, StoredValue]:
            return {row.key: (bytes(row.value), bool(row.is_text)) for row in conn.execute(query)}

        return self._db.run(read, write=False, operation="kv.get")

    def delete(self, namespace: str, keys: Sequence[str]) -> int:
        statement = delete(kv).where(kv.c.namespace == namespace, kv.c.key.in_(keys))
        return self._db.run(lambda conn: conn.execute(statement).rowcount, write=True, operation="kv.delete")

    def scan(self, namespace: str, prefix: str, now: float) -> list[tuple[str, StoredValue]]:
        query = (
            select(kv.c.key, kv.c.value, kv.c.is_text)
            .where(kv.c.namespace == namespace, _has_prefix(prefix), _live(now))
            .order_by(kv.c.key)
        )

        def read(conn: Connection) -> list[tuple[str, StoredValue]]:
            return [(row.key, (bytes(row.value), bool(row.is_text))) for row in conn.execute(query)]

        rows = self._db.run(read, write=False, operation="kv.scan")
        # Databases order text by their collation; the contract is code-point order on every backend.
        return sorted(rows, key=lambda item: item[0])

    def delete_prefix(self, namespace: str, prefix: str) -> int:
        statement = delete(kv).where(kv.c.namespace == namespace, _has_prefix(prefix))
        return self._db.run(
            lambda conn: conn.execute(statement).rowcount, write=True, operation="kv.delete_prefix"
        )

    def claim(
        self, namespace: str, key: str, value: StoredValue, expires_at: float | None, now: float
    ) -> bool:
        raw, is_text = value
        insert = self._db.insert(kv).values(
            namespace=namespace, key=key, value=raw, is_text=is_text, expires_at=expires_at
        )
        # One statement decides the race: insert, or take over only an expired entry. The database row lock
        # (PostgreSQL) or the single writer (SQLite) lets exactly one concurrent caller get a row back.
        statement = insert.on_conflict_do_update(
            index_elements=[kv.c.namespace, kv.c.key],
            set_={"value": raw, "is_text": is_text, "expires_at": expires_at},
            where=and_(kv.c.expires_at.is_not(None), kv.c.expires_at <= now),
        ).returning(kv.c.key)
        won = self._db.run(lambda conn: conn.execute(statement).first(), write=True, operation="kv.claim")
        return won is not None
