"""``MemstoreKVStore``: LlamaIndex's ``BaseKVStore`` on memstore's KV store.

Give it to ``KVDocumentStore`` and ``KVIndexStore`` (or ``StorageContext.from_defaults(docstore=...,
index_store=...)``) and an index's nodes and structure are durable in the same database as the chat history,
shared across processes.
"""

from __future__ import annotations

import json
from typing import Any

from llama_index.core.storage.kvstore.types import DEFAULT_BATCH_SIZE, DEFAULT_COLLECTION, BaseKVStore

from llamaindex_memstore._store import StoreArg, StoreOwner
from memstore import KVStore, ValidationError
from memstore.validation import check_count

__all__ = ["DEFAULT_NAMESPACE_PREFIX", "MemstoreKVStore"]

DEFAULT_NAMESPACE_PREFIX = "llamaindex/"
"""Collections live in the KV namespaces ``prefix + collection``, apart from other users of the KV store."""


def _encode(value: object) -> str:
    if not isinstance(value, dict):
        raise ValidationError(f"KV values are dicts (JSON objects), not {type(value).__name__}")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"KV value is not JSON: {exc}") from exc
    if json.loads(text) != value:
        # json.dumps turns int keys into str and tuples into lists: refuse instead of storing something else.
        raise ValidationError("KV value does not survive JSON unchanged (non-str keys or tuples?)")
    return text


def _decode(stored: str | bytes) -> dict[str, Any]:
    value = json.loads(stored)
    if not isinstance(value, dict):
        raise ValidationError(f"stored KV value is not a JSON object: {type(value).__name__}")
    return value


class MemstoreKVStore(BaseKVStore, StoreOwner):
    """Key-value store for LlamaIndex docstores and index stores, durable in memstore.

    Values are dicts stored as JSON and read back equal; a value JSON cannot hold exactly (NaN, non-str
    keys, tuples, objects, lone surrogates) raises ``memstore.ValidationError`` (a ``ValueError``) and
    nothing is written. A ``collection`` is the memstore KV namespace ``namespace_prefix + collection``
    (default ``"llamaindex/docstore/data"`` and so on), so collections never see each other's keys nor
    those of other applications on the same database. Keys are non-empty str of at most 1024 UTF-8 bytes.

    ``put_all`` writes all pairs in one transaction, whatever ``batch_size`` says: all or nothing.
    ``store`` is a ``memstore.Memstore`` (you keep owning it), a SQL URL, or None for the embedded default;
    :meth:`close` releases a store this object opened itself.
    """

    def __init__(self, store: StoreArg = None, *, namespace_prefix: str = DEFAULT_NAMESPACE_PREFIX) -> None:
        self._attach_store(store)
        if not isinstance(namespace_prefix, str):
            raise ValidationError("namespace_prefix must be a str")
        self.namespace_prefix = namespace_prefix

    def _collection(self, collection: str) -> KVStore:
        if not isinstance(collection, str) or not collection:
            raise ValidationError("collection must be a non-empty str")
        return self._store.kv.namespace_store(self.namespace_prefix + collection)

    @staticmethod
    def _check_batch_size(batch_size: int) -> None:
        check_count(batch_size, "batch_size", minimum=1)

    def put(self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION) -> None:
        """Store ``val`` under ``key``, replacing any previous value."""
        self._collection(collection).set(key, _encode(val))

    async def aput(self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION) -> None:
        """Async twin of :meth:`put`."""
        await self._collection(collection).aset(key, _encode(val))

    def put_all(
        self,
        kv_pairs: list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Store every pair in one transaction: all are written, or on any invalid pair none."""
        self._check_batch_size(batch_size)
        self._collection(collection).mset([(key, _encode(val)) for key, val in kv_pairs])

    async def aput_all(
        self,
        kv_pairs: list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Async twin of :meth:`put_all`."""
        self._check_batch_size(batch_size)
        await self._collection(collection).amset([(key, _encode(val)) for key, val in kv_pairs])

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """The value of ``key``, or None."""
        stored = self._collection(collection).get(key)
        return None if stored is None else _decode(stored)

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """Async twin of :meth:`get`."""
        stored = await self._collection(collection).aget(key)
        return None if stored is None else _decode(stored)

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Every key and value of ``collection``, ordered by key."""
        return {key: _decode(value) for key, value in self._collection(collection).get_by_prefix("").items()}

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Async twin of :meth:`get_all`."""
        found = await self._collection(collection).aget_by_prefix("")
        return {key: _decode(value) for key, value in found.items()}

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Delete ``key``; True if it existed."""
        return self._collection(collection).delete(key)

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Async twin of :meth:`delete`."""
        return await self._collection(collection).adelete(key)

    def __repr__(self) -> str:
        return f"MemstoreKVStore({self._store!r}, namespace_prefix={self.namespace_prefix!r})"
