"""The KV backend on SQL: one table, one statement per operation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    or_,
    select,
    update,
)

from memstore.backends.base import StoredValue
from memstore.backends.sql.database import Database, chunks
from memstore.backends.sql.filters import compile_filter, json_from_bytes
from memstore.backends.sql.schema import kv
from memstore.filters import Filter

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

    def write(
        self,
        namespace: str,
        puts: Sequence[tuple[str, StoredValue]],
        deletes: Sequence[str],
        expires_at: float | None,
    ) -> int:
        rows = dict(puts)  # the last write of a key in one batch wins
        values = [
            {"namespace": namespace, "key": key, "value": raw, "is_text": is_text, "expires_at": expires_at}
            for key, (raw, is_text) in rows.items()
        ]
        upsert = self._db.insert(kv)
        upsert = upsert.on_conflict_do_update(
            index_elements=[kv.c.namespace, kv.c.key],
            set_={
                "value": upsert.excluded.value,
                "is_text": upsert.excluded.is_text,
                "expires_at": upsert.excluded.expires_at,
            },
        )
        remove = delete(kv).where(
            kv.c.namespace == namespace, kv.c.key.in_(bindparam("keys", expanding=True))
        )
        unique_deletes = list(set(deletes))

        def work(conn: Connection) -> int:
            deleted = sum(
                conn.execute(remove, {"keys": list(part)}).rowcount for part in chunks(unique_deletes)
            )
            if values:
                conn.execute(upsert, values)
            return int(deleted)

        return self._db.run(work, write=True, operation="kv.write")

    def get(self, namespace: str, keys: Sequence[str], now: float) -> dict[str, StoredValue]:
        query = select(kv.c.key, kv.c.value, kv.c.is_text).where(
            kv.c.namespace == namespace, kv.c.key.in_(bindparam("keys", expanding=True)), _live(now)
        )
        found: dict[str, StoredValue] = {}
        for part in chunks(keys):  # one read per IN list: keys are independent, as in separate gets

            def read(conn: Connection, part: Sequence[str] = part) -> dict[str, StoredValue]:
                rows = conn.execute(query, {"keys": list(part)})
                return {row.key: (bytes(row.value), bool(row.is_text)) for row in rows}

            found.update(self._db.run(read, write=False, operation="kv.get"))
        return found

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

    def scan_keys(self, namespace: str, prefix: str, now: float) -> list[str]:
        query = select(kv.c.key).where(kv.c.namespace == namespace, _has_prefix(prefix), _live(now))
        keys = self._db.run(
            lambda conn: list(conn.execute(query).scalars()), write=False, operation="kv.keys"
        )
        return sorted(keys)

    def scan_documents(
        self, namespace: str, prefix: str, filter: Filter | None, now: float
    ) -> list[tuple[str, str]]:
        dialect = self._db.backend_name
        if filter is None:
            matching: ColumnElement[bool] = kv.c.is_text
        else:
            document = json_from_bytes(kv.c.value, dialect)
            # CASE fixes the order (a WHERE's AND may be reordered): a bytes value is never read as JSON.
            matching = case((kv.c.is_text, compile_filter(filter, document, dialect)), else_=false())
        query = select(kv.c.key, kv.c.value).where(
            kv.c.namespace == namespace, _has_prefix(prefix), _live(now), matching
        )

        def read(conn: Connection) -> list[tuple[str, str]]:
            return [(row.key, bytes(row.value).decode("utf-8")) for row in conn.execute(query)]

        rows = self._db.run(read, write=False, operation="kv.scan_documents")
        return sorted(rows, key=lambda item: item[0])

    def touch(self, namespace: str, expiries: Sequence[tuple[str, float | None]], now: float) -> int:
        statement = (
            update(kv)
            .where(kv.c.namespace == namespace, kv.c.key == bindparam("touched_key"), _live(now))
            .values(expires_at=bindparam("new_expiry"))
        )

        def work(conn: Connection) -> int:
            return sum(
                conn.execute(statement, {"touched_key": key, "new_expiry": expiry}).rowcount
                for key, expiry in expiries
            )

        return self._db.run(work, write=True, operation="kv.touch")

    def namespaces(self, now: float) -> dict[str, int]:
        query = (
            select(kv.c.namespace, func.count())
            .where(_live(now))
            .group_by(kv.c.namespace)
            .order_by(kv.c.namespace)
        )
        return self._db.run(
            lambda conn: {str(name): int(count) for name, count in conn.execute(query)},
            write=False,
            operation="kv.namespaces",
        )

    def purge_expired(self, namespace: str, now: float) -> int:
        statement = delete(kv).where(kv.c.namespace == namespace, kv.c.expires_at <= now)
        return self._db.run(lambda conn: conn.execute(statement).rowcount, write=True, operation="kv.purge")

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
