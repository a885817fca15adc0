"""Keyword (BM25-style) search over messages, inside the database.

SQLite: an FTS5 table ``memstore_keyword_fts(message_id UNINDEXED, body)`` with the ``porter unicode61``
tokenizer, written in the same transaction as the messages and ranked with ``bm25()``. PostgreSQL: an
expression GIN index on ``to_tsvector('english', left(content_text, 100000))`` of ``memstore_messages``
(maintained by the database itself; bounded so that no message can overflow a ``tsvector``), ranked with
``ts_rank_cd`` and joined with ``memstore_memory_members`` (the ids of the messages a memory added, written
in the same transaction), so that, as on SQLite, only a memory's messages are found. Either way the user's
text only reaches SQL as a bound parameter: it is cut into ``\\w+`` tokens, each quoted (FTS5) or plain
alphanumerics (tsquery), OR-ed. Hits are joined with ``memstore_messages``, so a message deleted by any path
is never returned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, column, delete, func, literal_column, select, table, text

from memstore.backends.sql.database import Database, chunks
from memstore.backends.sql.schema import memory_members, messages
from memstore.keywords import KEYWORD_CHARS, content_tokens, keyword_text
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
PG_INDEX = "ix_memstore_messages_keyword"
MAX_QUERY_TOKENS = 64

# The FTS5 table as a lightweight Core clause (it is DDL SQLAlchemy metadata cannot create: see below).
fts = table(FTS_TABLE, column("message_id"), column("body"))
_FTS: Any = literal_column("memstore_keyword_fts")
_ENGLISH: Any = literal_column("'english'::regconfig")


def _tokens(query: str, pattern: str) -> list[str]:
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

    def create(conn: Connection) -> None:
        if database.is_sqlite:
            conn.execute(
                text(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS memstore_keyword_fts "
                    "USING fts5(message_id UNINDEXED, body, tokenize='porter unicode61')"
                )
            )
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(7301245532)"))
            # Schema 1's unbounded index: one message over ~1 MB of lexemes failed every later write.
            conn.execute(text("DROP INDEX IF EXISTS ix_memstore_messages_fts"))
            # The bound must be KEYWORD_CHARS and the search's expression word for word, or PostgreSQL
            # will not use the index (a test compares them).
            conn.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS ix_memstore_messages_keyword ON memstore_messages "
                    "USING GIN (to_tsvector('english'::regconfig, left(content_text, 100000)))"
                )
            )

    database.run(create, write=True, operation="memory.create_keyword_index")


def write_keyword_rows(conn: Connection, database: Database, stored: Sequence[Message]) -> None:
    """Index ``stored`` messages for keyword search, in the caller's transaction (on PostgreSQL: mark them
    as the memory's; the index itself follows the table)."""
    if not stored:
        return
    if database.is_sqlite:
        conn.execute(fts.insert(), [{"message_id": m.id, "body": keyword_text(m.text)} for m in stored])
    else:
        insert = database.insert(memory_members).on_conflict_do_nothing()
        conn.execute(insert, [{"message_id": m.id} for m in stored])


def delete_keyword_rows(conn: Connection, database: Database, message_ids: Sequence[str]) -> None:
    """Drop the keyword rows of ``message_ids``."""
    target: Any = fts if database.is_sqlite else memory_members
    for chunk in chunks(message_ids):
        conn.execute(delete(target).where(target.c.message_id.in_(list(chunk))))


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
    conditions: list[Any] = []
    if conversation_ids is not None:
        conditions.append(messages.c.conversation_id.in_(list(conversation_ids)))
    if roles is not None:
        conditions.append(messages.c.role.in_(list(roles)))
    if types is not None:
        conditions.append(messages.c.type.in_(list(types)))
    if since is not None:
        conditions.append(messages.c.created_at >= since)
    if until is not None:
        conditions.append(messages.c.created_at < until)
    statement: Any
    if sqlite:
        score = (-func.bm25(_FTS)).label("score")
        statement = (
            select(fts.c.message_id, score)
            .select_from(fts.join(messages, messages.c.id == fts.c.message_id))
            .where(_FTS.op("MATCH")(bindparam("q", expression)), *conditions)
            .order_by(score.desc(), fts.c.message_id)
            .limit(limit)
        )
    else:
        bounded = func.left(messages.c.content_text, bindparam("n", KEYWORD_CHARS, literal_execute=True))
        vector = func.to_tsvector(_ENGLISH, bounded)
        tsquery = func.to_tsquery(_ENGLISH, bindparam("q", expression))
        score = func.ts_rank_cd(vector, tsquery).label("score")
        statement = (
            select(messages.c.id, score)
            .select_from(messages.join(memory_members, memory_members.c.message_id == messages.c.id))
            .where(vector.op("@@")(tsquery), *conditions)
            .order_by(score.desc(), messages.c.id)
            .limit(limit)
        )
    return database.run(
        lambda conn: [(str(row[0]), float(row[1])) for row in conn.execute(statement)],
        write=False,
        operation="memory.keyword_search",
    )
