"""The vector backend in memory: a dict of JSON data and an exact numpy index per collection."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from memstore._validate import dumps
from memstore.backends.base import CollectionSpec, StoredRecord, Vector, check_current
from memstore.backends.exact import ExactIndex
from memstore.errors import NotFoundError
from memstore.filters import Filter, matches

__all__ = ["MemoryVectorBackend"]


@dataclass
class _Collection:
    spec: CollectionSpec
    index: ExactIndex
    data: dict[str, dict[str, object]] = field(default_factory=dict)


class MemoryVectorBackend:
    """Implements :class:`memstore.stores.vectors.VectorBackend` in process memory (nothing is persisted).

    Search is exact; filters are evaluated with :func:`memstore.filters.matches`, the reference semantics.
    One lock makes every operation atomic within the process.
    """

    kind = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._collections: dict[str, _Collection] = {}

    def _get(self, spec: CollectionSpec) -> _Collection:
        found = self._collections.get(spec.name)
        if found is None:
            raise NotFoundError(f"vector collection {spec.label!r} does not exist")
        check_current(spec, found.spec.definition)
        return found

    def create_collection(self, spec: CollectionSpec) -> bool:
        with self._lock:
            if spec.name in self._collections:
                return False
            vector = spec.definition.vector
            self._collections[spec.name] = _Collection(spec, ExactIndex(vector.dimensions, vector.distance))
            return True

    def describe_collection(self, name: str) -> CollectionSpec | None:
        with self._lock:
            found = self._collections.get(name)
            return None if found is None else found.spec

    def delete_collection(self, name: str) -> bool:
        with self._lock:
            return self._collections.pop(name, None) is not None

    def list_collections(self) -> list[CollectionSpec]:
        with self._lock:
            return [collection.spec for collection in self._collections.values()]

    def upsert(self, spec: CollectionSpec, records: Sequence[StoredRecord]) -> None:
        vectors = np.stack([record.vector for record in records if record.vector is not None])
        with self._lock:
            collection = self._get(spec)
            collection.index.upsert([record.key for record in records], vectors)
            for record in records:
                # Through JSON like the other backends: tuples come back as lists, nothing aliases the caller.
                collection.data[record.key] = json.loads(dumps(record.data))

    def get(self, spec: CollectionSpec, keys: Sequence[str], include_vectors: bool) -> list[StoredRecord]:
        with self._lock:
            collection = self._get(spec)
            return [self._record(collection, key, include_vectors) for key in keys if key in collection.data]

    @staticmethod
    def _record(collection: _Collection, key: str, include_vectors: bool) -> StoredRecord:
        vector = collection.index.vector(key) if include_vectors else None
        return StoredRecord(key, copy.deepcopy(collection.data[key]), vector)

    def delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        with self._lock:
            collection = self._get(spec)
            collection.index.delete(keys)
            for key in keys:
                collection.data.pop(key, None)

    def delete_where(self, spec: CollectionSpec, where: Filter | None) -> int:
        with self._lock:
            collection = self._get(spec)
            keys = [key for key, data in collection.data.items() if where is None or matches(where, data)]
            collection.index.delete(keys)
            for key in keys:
                del collection.data[key]
            return len(keys)

    def count(self, spec: CollectionSpec, where: Filter | None) -> int:
        with self._lock:
            data = self._get(spec).data
            if where is None:
                return len(data)
            return sum(1 for values in data.values() if matches(where, values))

    def scan(
        self,
        spec: CollectionSpec,
        where: Filter | None,
        cursor: str | None,
        limit: int,
        include_vectors: bool,
    ) -> tuple[list[StoredRecord], str | None]:
        """Key order; the cursor is the last key returned."""
        with self._lock:
            collection = self._get(spec)
            keys = sorted(
                key
                for key, data in collection.data.items()
                if (cursor is None or key > cursor) and (where is None or matches(where, data))
            )
            page = [self._record(collection, key, include_vectors) for key in keys[:limit]]
        return page, (page[-1].key if len(keys) > limit else None)

    def search(
        self, spec: CollectionSpec, query: Vector, top_k: int, where: Filter | None, include_vectors: bool
    ) -> list[tuple[StoredRecord, float]]:
        with self._lock:
            collection = self._get(spec)
            candidates = None
            if where is not None:
                candidates = [key for key, data in collection.data.items() if matches(where, data)]
            hits = collection.index.search(query, top_k, candidates)
            return [(self._record(collection, key, include_vectors), score) for key, score in hits]

    def score(self, spec: CollectionSpec, query: Vector, keys: Sequence[str]) -> dict[str, float]:
        with self._lock:
            return self._get(spec).index.score(keys, query)

    def close(self) -> None:
        """Nothing to release: the data lives as long as this backend object."""
