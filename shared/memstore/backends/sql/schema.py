"""Every table memstore creates, as SQLAlchemy Core metadata (one place to read the whole schema).

Tables carry the ``memstore_`` prefix so they can live beside an application's own tables. The schema version
is stored in ``memstore_meta``; a change to these tables bumps :data:`SCHEMA_VERSION` and ships a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

SCHEMA_VERSION = 1

metadata = MetaData()

meta = Table(
    "memstore_meta",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

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
