"""Every table memstore creates, as SQLAlchemy Core metadata (one place to read the whole schema).

Tables carry the ``memstore_`` prefix so they can live beside an application's own tables. The schema version
is stored in ``memstore_meta``; a change to these tables bumps :data:`SCHEMA_VERSION` and ships a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

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

# -- vectors
# Every SQL vector collection shares these two tables (no DDL per collection, no identifier formatting).

vector_collections = Table(
    "memstore_vector_collections",
    metadata,
    Column("name", Text, primary_key=True),
    # {"label": name as given, "definition": RecordDefinition.to_json()}
    Column("spec", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
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
    Column("data", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
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
)
