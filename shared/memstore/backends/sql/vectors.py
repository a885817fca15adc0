"""The vector backend on SQL: two shared tables, exact search over a cached numpy matrix per collection.

Records live in ``memstore_vector_records`` (collection, key, float32 blob, JSON data); each collection's
row in ``memstore_vector_collections`` holds its definition and a **version** bumped in the same transaction
as every write. Search runs in this process over an :class:`~memstore.backends.exact.ExactIndex` built
from the table once and then kept current:

- this backend's own writes are applied to the cache right after they commit (no reload);
- the cache keeps each record's data as JSON text beside its vector, so a search is one indexed read (the
  version check, below) plus numpy: hits are decoded from the cache, never fetched again;
- before each search, one indexed read compares the stored version with the cache's. If another connection
  or process wrote in between, only rows with a newer version are fetched, and a ``count(*)`` tells whether
  anything was deleted (then the key list, without vectors, says what); a re-created collection (new uid) is
  reloaded whole.

Filters run in SQL (:func:`~memstore.backends.sql.filters.compile_filter`) and pick the candidate keys.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Text, bindparam, cast, delete, func, select, update

from memstore._validate import dumps
from memstore.backends.base import CollectionSpec, StoredRecord, Vector, check_current
from memstore.backends.exact import ExactIndex
from memstore.backends.sql.database import Database, chunks
from memstore.backends.sql.filters import compile_filter
from memstore.backends.sql.schema import vector_collections as collections_table
from memstore.backends.sql.schema import vector_records as records_table
from memstore.errors import NotFoundError
from memstore.filters import Filter
from memstore.records import RecordDefinition

__all__ = ["SqlVectorBackend"]

# Read statements built once (bound parameters only): building a select per call costs more than running it.
_HEAD = select(collections_table.c.uid, collections_table.c.version).where(
    collections_table.c.name == bindparam("name")
)
_SPEC = select(collections_table.c.spec).where(collections_table.c.name == bindparam("name"))
_WHERE_KEYS = (
    records_table.c.collection == bindparam("collection"),
    records_table.c.key.in_(bindparam("keys", expanding=True)),
)
_ROWS = select(records_table.c.key, records_table.c.data).where(*_WHERE_KEYS)
_ROWS_WITH_VECTORS = select(records_table.c.key, records_table.c.data, records_table.c.vector).where(
    *_WHERE_KEYS
)


def _encode(vector: Vector) -> bytes:
    return vector.astype("<f4", copy=False).tobytes()


def _decode(blob: bytes) -> Vector:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


@dataclass
class _Cache:
    uid: str
    index: ExactIndex
    # Each record's data as JSON text: decoded per hit, so callers never share (and mutate) a cached dict.
    data: dict[str, str] = field(default_factory=dict)
    version: int = -1  # -1: nothing loaded yet
    lock: threading.Lock = field(default_factory=threading.Lock)

    def upsert(self, records: Sequence[StoredRecord], vectors: Vector) -> None:
        self.index.upsert([record.key for record in records], vectors)
        self.data.update((record.key, dumps(record.data)) for record in records)

    def delete(self, keys: Sequence[str]) -> None:
        self.index.delete(keys)
        for key in keys:
            self.data.pop(key, None)

    def clear(self) -> None:
        self.index.clear()
        self.data.clear()

    def record(self, key: str, include_vector: bool) -> StoredRecord:
        return StoredRecord(
            key, json.loads(self.data[key]), self.index.vector(key) if include_vector else None
        )


class SqlVectorBackend:
    """Implements :class:`memstore.stores.vectors.VectorBackend` on a SQLite or PostgreSQL Database."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.kind = database.backend_name
        self._caches: dict[str, _Cache] = {}
        self._caches_lock = threading.Lock()
        # The definition of each collection creation (uid) seen: read once per creation, checked every call.
        self._definitions: dict[str, tuple[str, RecordDefinition]] = {}

    # -- collections --------------------------------------------------------------------------------------

    def create_collection(self, spec: CollectionSpec) -> bool:
        statement = (
            self._db.insert(collections_table)
            .values(name=spec.name, spec=spec.to_json(), uid=uuid.uuid4().hex, version=0)
            .on_conflict_do_nothing(index_elements=[collections_table.c.name])
            .returning(collections_table.c.name)
        )
        created = self._db.run(
            lambda conn: conn.execute(statement).first(), write=True, operation="vectors.create_collection"
        )
        return created is not None

    def describe_collection(self, name: str) -> CollectionSpec | None:
        query = select(collections_table.c.spec).where(collections_table.c.name == name)
        stored = self._db.run(
            lambda conn: conn.execute(query).scalar_one_or_none(),
            write=False,
            operation="vectors.describe_collection",
        )
        return None if stored is None else CollectionSpec.from_json(name, stored)

    def delete_collection(self, name: str) -> bool:
        def work(conn: Connection) -> int:
            conn.execute(delete(records_table).where(records_table.c.collection == name))
            return conn.execute(delete(collections_table).where(collections_table.c.name == name)).rowcount

        deleted = self._db.run(work, write=True, operation="vectors.delete_collection")
        with self._caches_lock:
            self._caches.pop(name, None)
        return bool(deleted)

    def list_collections(self) -> list[CollectionSpec]:
        query = select(collections_table.c.name, collections_table.c.spec)
        rows = self._db.run(lambda conn: conn.execute(query).all(), write=False, operation="vectors.list")
        return [CollectionSpec.from_json(row.name, row.spec) for row in rows]

    # -- writes -------------------------------------------------------------------------------------------

    def _bump(self, conn: Connection, spec: CollectionSpec) -> tuple[int, str]:
        """Take the collection's next version (and its row lock on PostgreSQL) inside a write transaction."""
        statement = (
            update(collections_table)
            .where(collections_table.c.name == spec.name)
            .values(version=collections_table.c.version + 1)
            .returning(collections_table.c.version, collections_table.c.uid)
        )
        row = conn.execute(statement).first()
        if row is None:
            raise NotFoundError(f"vector collection {spec.label!r} does not exist")
        self._check(conn, spec, str(row.uid))  # raising rolls the bump back
        return int(row.version), str(row.uid)

    def upsert(self, spec: CollectionSpec, records: Sequence[StoredRecord]) -> None:
        vectors = np.stack([record.vector for record in records if record.vector is not None])
        statement = self._db.insert(records_table)
        statement = statement.on_conflict_do_update(
            index_elements=[records_table.c.collection, records_table.c.key],
            set_={
                "vector": statement.excluded.vector,
                "data": statement.excluded.data,
                "version": statement.excluded.version,
            },
        )

        def work(conn: Connection) -> tuple[int, str]:
            version, uid = self._bump(conn, spec)
            rows = [
                {
                    "collection": spec.name,
                    "key": record.key,
                    "vector": _encode(vectors[position]),
                    "data": record.data,
                    "version": version,
                }
                for position, record in enumerate(records)
            ]
            conn.execute(statement, rows)
            return version, uid

        version, uid = self._db.run(work, write=True, operation="vectors.upsert")
        self._after_write(spec, uid, version, lambda cache: cache.upsert(records, vectors))

    def delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        def work(conn: Connection) -> tuple[int, str]:
            version, uid = self._bump(conn, spec)
            for chunk in chunks(keys):
                conn.execute(
                    delete(records_table).where(
                        records_table.c.collection == spec.name, records_table.c.key.in_(chunk)
                    )
                )
            return version, uid

        version, uid = self._db.run(work, write=True, operation="vectors.delete")
        self._after_write(spec, uid, version, lambda cache: cache.delete(keys))

    def delete_where(self, spec: CollectionSpec, where: Filter | None) -> int:
        """One ``DELETE ... RETURNING key`` in the version-bumping transaction: the keys returned keep this
        process's cache exact, and the bumped version tells other processes' caches to catch up."""
        matching = delete(records_table).where(records_table.c.collection == spec.name)
        if where is not None:
            matching = matching.where(compile_filter(where, records_table.c.data, self._db.backend_name))
        statement = matching.returning(records_table.c.key)

        def work(conn: Connection) -> tuple[int, str, list[str]]:
            version, uid = self._bump(conn, spec)
            return version, uid, list(conn.execute(statement).scalars())

        version, uid, keys = self._db.run(work, write=True, operation="vectors.delete_where")
        self._after_write(spec, uid, version, lambda cache: cache.delete(keys))
        return len(keys)

    def _after_write(self, spec: CollectionSpec, uid: str, version: int, change: Any) -> None:
        # Apply our committed write to the cache only if the cache was exactly one version behind; otherwise
        # another writer came in between and the next search catches up from the table.
        with self._caches_lock:
            cache = self._caches.get(spec.name)
        if cache is None or cache.uid != uid:
            return
        with cache.lock:
            if cache.version == version - 1:
                change(cache)
                cache.version = version

    # -- reads --------------------------------------------------------------------------------------------

    def _require(self, conn: Connection, spec: CollectionSpec) -> tuple[str, int]:
        row = conn.execute(_HEAD, {"name": spec.name}).first()
        if row is None:
            raise NotFoundError(f"vector collection {spec.label!r} does not exist")
        self._check(conn, spec, str(row.uid))
        return str(row.uid), int(row.version)

    def _check(self, conn: Connection, spec: CollectionSpec, uid: str) -> None:
        """StaleCollectionError if the collection, as created under ``uid``, has another definition."""
        known = self._definitions.get(spec.name)
        if known is None or known[0] != uid:
            stored = conn.execute(_SPEC, {"name": spec.name}).scalar_one()
            known = (uid, CollectionSpec.from_json(spec.name, stored).definition)
            self._definitions[spec.name] = known
        check_current(spec, known[1])

    def _fetch(
        self, conn: Connection, spec: CollectionSpec, keys: Sequence[str], include_vectors: bool
    ) -> dict[str, StoredRecord]:
        query = _ROWS_WITH_VECTORS if include_vectors else _ROWS
        found: dict[str, StoredRecord] = {}
        for chunk in chunks(keys):
            for row in conn.execute(query, {"collection": spec.name, "keys": list(chunk)}):
                vector = _decode(row.vector) if include_vectors else None
                found[row.key] = StoredRecord(row.key, row.data, vector)
        return found

    def get(self, spec: CollectionSpec, keys: Sequence[str], include_vectors: bool) -> list[StoredRecord]:
        def work(conn: Connection) -> list[StoredRecord]:
            uid, version = self._require(conn, spec)
            with self._caches_lock:
                cache = self._caches.get(spec.name)
            if cache is not None and cache.uid == uid:
                with cache.lock:
                    if cache.version == version:  # current: no need to read the rows again
                        return [cache.record(key, include_vectors) for key in keys if key in cache.data]
            return list(self._fetch(conn, spec, keys, include_vectors).values())

        return self._db.run(work, write=False, operation="vectors.get")

    def count(self, spec: CollectionSpec, where: Filter | None) -> int:
        query = select(func.count()).select_from(records_table).where(records_table.c.collection == spec.name)
        if where is not None:
            query = query.where(compile_filter(where, records_table.c.data, self._db.backend_name))

        def work(conn: Connection) -> int:
            self._require(conn, spec)
            return int(conn.execute(query).scalar_one())

        return self._db.run(work, write=False, operation="vectors.count")

    def scan(
        self,
        spec: CollectionSpec,
        where: Filter | None,
        cursor: str | None,
        limit: int,
        include_vectors: bool,
    ) -> tuple[list[StoredRecord], str | None]:
        """Key order (the primary key's), one indexed query per page; the cursor is the last key returned."""
        columns = [records_table.c.key, records_table.c.data]
        query = select(*columns, *([records_table.c.vector] if include_vectors else []))
        query = query.where(records_table.c.collection == spec.name)
        if cursor is not None:
            query = query.where(records_table.c.key > cursor)
        if where is not None:
            query = query.where(compile_filter(where, records_table.c.data, self._db.backend_name))
        query = query.order_by(records_table.c.key).limit(limit + 1)

        def work(conn: Connection) -> list[StoredRecord]:
            self._require(conn, spec)
            return [
                StoredRecord(row.key, row.data, _decode(row.vector) if include_vectors else None)
                for row in conn.execute(query)
            ]

        # Two reads (the collection's head, the page) in one snapshot.
        rows = self._db.run(work, write=False, snapshot=True, operation="vectors.scan")
        page = rows[:limit]
        return page, (page[-1].key if len(rows) > limit else None)

    def search(
        self, spec: CollectionSpec, query: Vector, top_k: int, where: Filter | None, include_vectors: bool
    ) -> list[tuple[StoredRecord, float]]:
        def work(conn: Connection) -> list[tuple[StoredRecord, float]]:
            uid, version = self._require(conn, spec)
            candidates: set[str] | None = None
            if where is not None:
                clause = compile_filter(where, records_table.c.data, self._db.backend_name)
                keys = select(records_table.c.key).where(records_table.c.collection == spec.name, clause)
                candidates = set(conn.execute(keys).scalars().all())
            cache = self._cache(spec, uid)
            with cache.lock:
                self._refresh(conn, spec, cache, version)
                hits = cache.index.search(query, top_k, candidates)
                return [(cache.record(key, include_vectors), score) for key, score in hits]

        return self._db.run(work, write=False, operation="vectors.search")

    def score(self, spec: CollectionSpec, query: Vector, keys: Sequence[str]) -> dict[str, float]:
        """Scores from the cached matrix (brought current as a search does): one indexed read of the
        collection's version, then a numpy gather of the keys' rows; no record row is read."""

        def work(conn: Connection) -> dict[str, float]:
            uid, version = self._require(conn, spec)
            cache = self._cache(spec, uid)
            with cache.lock:
                self._refresh(conn, spec, cache, version)
                return cache.index.score(keys, query)

        return self._db.run(work, write=False, operation="vectors.score")

    # -- the cache ----------------------------------------------------------------------------------------

    def _cache(self, spec: CollectionSpec, uid: str) -> _Cache:
        vector = spec.definition.vector
        with self._caches_lock:
            cache = self._caches.get(spec.name)
            if (
                cache is None
                or cache.uid != uid
                or cache.index.dimensions != vector.dimensions
                or cache.index.distance != vector.distance
            ):
                cache = _Cache(uid, ExactIndex(vector.dimensions, vector.distance))
                self._caches[spec.name] = cache
            return cache

    def _load(self, conn: Connection, cache: _Cache, spec: CollectionSpec, newer_than: int | None) -> None:
        query = select(records_table.c.key, records_table.c.vector, cast(records_table.c.data, Text)).where(
            records_table.c.collection == spec.name
        )
        if newer_than is not None:
            query = query.where(records_table.c.version > newer_than)
        result = conn.execute(query)
        dimensions = cache.index.dimensions
        while rows := result.fetchmany(10_000):
            matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4")
            cache.index.upsert(
                [row[0] for row in rows], matrix.reshape(len(rows), dimensions).astype(np.float32)
            )
            cache.data.update((row[0], row[2]) for row in rows)

    def _refresh(self, conn: Connection, spec: CollectionSpec, cache: _Cache, version: int) -> None:
        """Bring ``cache`` (lock held) to the table's state at ``version``."""
        if cache.version >= version:  # current, or ahead: our own write committed after this read began
            return
        if cache.version < 0:
            cache.clear()
            self._load(conn, cache, spec, None)
        else:
            self._load(conn, cache, spec, cache.version)
            total_query = (
                select(func.count()).select_from(records_table).where(records_table.c.collection == spec.name)
            )
            if int(conn.execute(total_query).scalar_one()) != len(cache.index):
                keys = select(records_table.c.key).where(records_table.c.collection == spec.name)
                present = set(conn.execute(keys).scalars())
                cache.delete([key for key in cache.index.key_list() if key not in present])
        cache.version = version

    def close(self) -> None:
        """Drop the caches (the Database is closed by its owner)."""
        with self._caches_lock:
            self._caches.clear()
