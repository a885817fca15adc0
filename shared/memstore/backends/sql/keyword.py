"""Keyword (BM25-style) search over messages, inside the database.

SQLite: an FTS5 table ``memstore_keyword_fts(message_id UNINDEXED, body)`` with the ``porter unicode61``
tokenizer, written in the same transaction as the messages and ranked with ``bm25()``. PostgreSQL: an
expression GIN index on ``to_tsvector('english', content_text)`` of ``memstore_messages`` (maintained by the
database itself), ranked with ``ts_rank_cd``. Either way the user's text only reaches SQL as a bound
parameter: it is cut into ``\\w+`` tokens, each quoted (FTS5) or plain alphanumerics (tsquery), OR-ed.
Hits are joined with ``memstore_messages``, so a message deleted by any path is never returned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from memstore.backends.sql.database import Database
from memstore.backends.sql.schema import UtcDateTime
from memstore.models import Message

__all__ = [
    "delete_keyword_rows",
    "ensure_keyword_index",
    "fts5_query",
    "keyword_search",
    "tsquery_text",
    "write_keyword_rows",
]

FTS_TABLE = "memstore_keyword_fts"
PG_INDEX = "ix_memstore_messages_fts"
MAX_QUERY_TOKENS = 64

_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} "
    "USING fts5(message_id UNINDEXED, body, tokenize='porter unicode61')"
)
_PG_DDL = (
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON memstore_messages "
    "USING GIN (to_tsvector('english', content_text))"
)


def _tokens(query: str, pattern: str) -> list[str]:
    from memstore.memory.ranking import content_tokens

    seen: dict[str, None] = {}
    for token in re.findall(pattern, query.lower()):
        seen.setdefault(token, None)
    return content_tokens(list(seen))[:MAX_QUERY_TOKENS]


def fts5_query(query: str) -> str | None:
    """An FTS5 MATCH expression: every ``\\w+`` token but stopwords double-quoted, OR-ed (None if none)."""
    tokens = _tokens(query, r"\w+")
    return " OR ".join(f'"{token}"' for token in tokens) or None


def tsquery_text(query: str) -> str | None:
    """A ``to_tsquery`` input: alphanumeric tokens OR-ed (None when there is none)."""
    tokens = _tokens(query, r"[^\W_]+")
    return " | ".join(tokens) or None


def ensure_keyword_index(database: Database) -> None:
    """Create the keyword index if missing (idempotent)."""
    ddl = _SQLITE_DDL if database.is_sqlite else _PG_DDL

    def create(conn: Connection) -> None:
        if not database.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(7301245532)"))
        conn.execute(text(ddl))

    database.run(create, write=True, operation="memory.create_keyword_index")


def write_keyword_rows(conn: Connection, database: Database, stored: Sequence[Message]) -> None:
    """Index ``stored`` messages for keyword search, in the caller's transaction (no-op on PostgreSQL)."""
    if not database.is_sqlite or not stored:
        return
    conn.execute(
        text(f"INSERT INTO {FTS_TABLE} (message_id, body) VALUES (:message_id, :body)"),  # noqa: S608
        [{"message_id": m.id, "body": m.text} for m in stored],
    )


def delete_keyword_rows(conn: Connection, database: Database, message_ids: Sequence[str]) -> None:
    """Drop the keyword rows of ``message_ids`` (no-op on PostgreSQL: its index follows the table)."""
    if not database.is_sqlite or not message_ids:
        return
    statement = text(f"DELETE FROM {FTS_TABLE} WHERE message_id IN :ids").bindparams(  # noqa: S608
        bindparam("ids", expanding=True)
    )
    for start in range(0, len(message_ids), 500):
        conn.execute(statement, {"ids": list(message_ids[start : start + 500])})


def keyword_search(
    database: Database,
    query: str,
    limit: int,
    *,
    conversation_ids: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[str, float]]:
    """Up to ``limit`` ``(message id, score)`` pairs, best first (higher is better), matching the filters."""
    sqlite = database.is_sqlite
    expression = fts5_query(query) if sqlite else tsquery_text(query)
    if expression is None or limit < 1:
        return []
    conditions: list[str] = []
    params: dict[str, Any] = {"q": expression, "limit": limit}
    binds: list[Any] = [bindparam("q"), bindparam("limit")]
    for name, values, column in (
        ("cids", conversation_ids, "m.conversation_id"),
        ("roles", roles, "m.role"),
        ("types", types, "m.type"),
    ):
        if values is not None:
            conditions.append(f"{column} IN :{name}")
            params[name] = list(values)
            binds.append(bindparam(name, expanding=True))
    for name, value, op in (("since", since, ">="), ("until", until, "<")):
        if value is not None:
            conditions.append(f"m.created_at {op} :{name}")
            params[name] = value
            binds.append(bindparam(name, type_=UtcDateTime()))
    # Only constant column names and parameter names are formatted into the SQL; every value is bound.
    extra = "".join(f" AND {condition}" for condition in conditions)
    if sqlite:
        sql = (
            f"SELECT f.message_id, -bm25({FTS_TABLE}) AS score FROM {FTS_TABLE} f "  # noqa: S608
            f"JOIN memstore_messages m ON m.id = f.message_id "
            f"WHERE {FTS_TABLE} MATCH :q{extra} ORDER BY score DESC, f.message_id LIMIT :limit"
        )
    else:
        sql = (
            "SELECT m.id, ts_rank_cd(to_tsvector('english', m.content_text), q.query) AS score "  # noqa: S608
            "FROM memstore_messages m, to_tsquery('english', :q) AS q(query) "
            f"WHERE to_tsvector('english', m.content_text) @@ q.query{extra} "
            "ORDER BY score DESC, m.id LIMIT :limit"
        )
    statement = text(sql).bindparams(*binds)
    return database.run(
        lambda conn: [(str(row[0]), float(row[1])) for row in conn.execute(statement, params)],
        write=False,
        operation="memory.keyword_search",
    )
