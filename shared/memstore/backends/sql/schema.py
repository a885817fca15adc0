"""Every table memstore creates, as SQLAlchemy Core metadata (one place to read the whole schema).

Tables carry the ``memstore_`` prefix so they can live beside an application's own tables. The schema version
is stored in ``memstore_meta``; a change to these tables bumps :data:`SCHEMA_VERSION` and ships a migration.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSON

from memstore._validate import dumps

SCHEMA_VERSION = 2
"""1: conversations, messages, KV, vectors, keyword search. 2: adds the three checkpoint tables."""

metadata = MetaData()

meta = Table(
    "memstore_meta",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, exact to the microsecond.

    PostgreSQL stores ``timestamptz``. SQLite has no datetime type; instead of ISO text (parsed by a regex
    on every row read) it stores integer microseconds since the epoch, which compare and index as numbers.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(BigInteger() if dialect.name == "sqlite" else DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name != "sqlite":
            return value.astimezone(timezone.utc)
        return (value.astimezone(timezone.utc) - _EPOCH) // timedelta(microseconds=1)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return _EPOCH + timedelta(microseconds=value)
        stamp: datetime = value
        return stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)


class JsonDocument(TypeDecorator[Any]):
    """A JSON column: ``json`` on PostgreSQL, JSON text on SQLite (both read by ``backends.sql.filters``).

    PostgreSQL's ``json`` keeps the document's text, where ``jsonb`` normalises numbers (``5.3e16`` would come
    back as the int ``53000000000000000``): documents round-trip exactly, as on SQLite. On SQLite the text is
    written with ``_validate.dumps`` (the SQLite filters rely on how keys are written) and read with
    ``json.loads`` directly, which costs a fraction of SQLAlchemy's generic JSON processing on the hot path of
    every read. Python ``None`` is SQL NULL.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSON(none_as_null=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return dumps(value) if value else ("{}" if isinstance(value, dict) else dumps(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or not isinstance(value, str) or dialect.name == "postgresql":
            return value
        return {} if value == "{}" else json.loads(value)  # most metadata is empty


# -- conversations ----------------------------------------------------------------------------------------

platforms = Table(
    "memstore_platforms",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("metadata", JsonDocument(), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

conversations = Table(
    "memstore_conversations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("platform_id", Text, ForeignKey("memstore_platforms.id", ondelete="SET NULL"), nullable=True),
    Column("title", Text, nullable=True),
    Column("metadata", JsonDocument(), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The next free position. Appenders bump it in their own transaction, which serialises them per
    # conversation (row lock on PostgreSQL, the single writer on SQLite): positions never collide or gap.
    Column("next_position", BigInteger, nullable=False),
)
Index("ix_memstore_conversations_recent", conversations.c.updated_at, conversations.c.id)
Index("ix_memstore_conversations_platform", conversations.c.platform_id, conversations.c.updated_at)

messages = Table(
    "memstore_messages",
    metadata,
    Column("id", Text, primary_key=True),
    Column(
        "conversation_id",
        Text,
        ForeignKey("memstore_conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", BigInteger, nullable=False),
    Column("role", Text, nullable=False),
    Column("type", Text, nullable=False),
    # Plain text of the message (the content itself when it is a str): what keyword search indexes.
    Column("content_text", Text, nullable=False),
    # The content's list of parts when it is not a plain str; NULL otherwise.
    Column("content_parts", JsonDocument(), nullable=True),
    Column("metadata", JsonDocument(), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ux_memstore_messages_position", messages.c.conversation_id, messages.c.position, unique=True)
Index("ix_memstore_messages_created", messages.c.conversation_id, messages.c.created_at)

# -- key-value ----------------------------------------------------------------------------------------------

kv = Table(
    "memstore_kv",
    metadata,
    Column("namespace", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    # True when the caller stored a str: values come back in the type they went in.
    Column("is_text", Boolean, nullable=False),
    # Epoch seconds after which the entry is gone; NULL = never. Set only by exclusive_set.
    Column("expires_at", Float, nullable=True),
    PrimaryKeyConstraint("namespace", "key", name="pk_memstore_kv"),
)

# -- vectors
# Every SQL vector collection shares these two tables (no DDL per collection, no identifier formatting).

vector_collections = Table(
    "memstore_vector_collections",
    metadata,
    Column("name", Text, primary_key=True),
    # {"label": name as given, "definition": RecordDefinition.to_json()}
    Column("spec", JsonDocument(), nullable=False),
    # Random per creation: a cache built for a deleted-and-recreated collection is never reused.
    Column("uid", Text, nullable=False),
    # Bumped in the same transaction as every write to the collection; readers compare it to their cache.
    Column("version", BigInteger, nullable=False),
)

vector_records = Table(
    "memstore_vector_records",
    metadata,
    Column("collection", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("data", JsonDocument(), nullable=False),
    # The collection version that last wrote the row: readers fetch only rows newer than their cache.
    Column("version", BigInteger, nullable=False),
    # float32, little-endian, dimensions * 4 bytes. Last: a row outgrows a SQLite page by its vector, and the
    # columns before it stay on the row's own page, so reading a hit's data never walks the overflow chain.
    Column("vector", LargeBinary, nullable=False),
    PrimaryKeyConstraint("collection", "key", name="pk_memstore_vector_records"),
    ForeignKeyConstraint(
        ["collection"],
        ["memstore_vector_collections.name"],
        ondelete="CASCADE",
        name="fk_memstore_vector_records_collection",
    ),
    Index("ix_memstore_vector_records_version", "collection", "version"),
    # SQLite: filters read the JSON from this covering index instead of walking table pages that are mostly
    # vector bytes (a filtered search over 4k records: 8.6 -> 2.1 ms). It stores the data a second time.
    # PostgreSQL has no B-tree for ``json`` and keeps large values out of line anyway.
    Index("ix_memstore_vector_records_filter", "collection", "key", "data").ddl_if(dialect="sqlite"),
)

# -- keyword search
# ConversationMemory's outbox: messages written but not yet in the vector layer. Rows are inserted in the
# transaction that inserts the messages and deleted once the vector upsert succeeded. The keyword index
# itself (an FTS5 table on SQLite, an expression GIN index on PostgreSQL) is DDL that SQLAlchemy metadata
# cannot describe: ``backends/sql/keyword.py`` creates it.

# PostgreSQL: which messages ConversationMemory added (its full-text index covers every message of the table,
# so keyword recall joins this to stay within the memory's messages, as the FTS5 table does on SQLite).
memory_members = Table(
    "memstore_memory_members",
    metadata,
    Column("message_id", Text, primary_key=True),
)

memory_pending = Table(
    "memstore_memory_pending",
    metadata,
    Column("collection", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    PrimaryKeyConstraint("collection", "message_id", name="pk_memstore_memory_pending"),
)


# -- checkpoints (LangGraph's short-term memory; docs/architecture.md, D15)
# A checkpoint row holds no channel values: each value is a blob stored once per (thread, namespace,
# channel, version), and a checkpoint names the version of each of its channels in ``channel_versions``.

checkpoints = Table(
    "memstore_checkpoints",
    metadata,
    Column("thread_id", Text, nullable=False),
    Column("checkpoint_ns", Text, nullable=False),
    Column("checkpoint_id", Text, nullable=False),
    Column("parent_id", Text, nullable=True),
    # metadata["run_id"] when it is a str: what delete_runs matches (indexed).
    Column("run_id", Text, nullable=True),
    Column("type", Text, nullable=False),
    # The serialised checkpoint without its channel values.
    Column("document", LargeBinary, nullable=False),
    # {channel: version}: which blob holds each channel's value at this checkpoint.
    Column("channel_versions", JsonDocument(), nullable=False),
    Column("metadata", JsonDocument(), nullable=False),
    # When this row was stored: retention deletes threads whose newest checkpoint is old.
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("thread_id", "checkpoint_ns", "checkpoint_id", name="pk_memstore_checkpoints"),
    Index("ix_memstore_checkpoints_run", "run_id"),
)

checkpoint_blobs = Table(
    "memstore_checkpoint_blobs",
    metadata,
    Column("thread_id", Text, nullable=False),
    Column("checkpoint_ns", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("version", Text, nullable=False),
    # NULL type and value: the channel was empty at this version.
    Column("type", Text, nullable=True),
    Column("value", LargeBinary, nullable=True),
    PrimaryKeyConstraint(
        "thread_id", "checkpoint_ns", "channel", "version", name="pk_memstore_checkpoint_blobs"
    ),
)

checkpoint_writes = Table(
    "memstore_checkpoint_writes",
    metadata,
    Column("thread_id", Text, nullable=False),
    Column("checkpoint_ns", Text, nullable=False),
    Column("checkpoint_id", Text, nullable=False),
    Column("task_id", Text, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("channel", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("task_path", Text, nullable=False),
    PrimaryKeyConstraint(
        "thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx", name="pk_memstore_checkpoint_writes"
    ),
)
