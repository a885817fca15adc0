"""``MemstoreByteStore``: LangChain's ``ByteStore`` (``BaseStore[str, bytes]``) over the memstore KV store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from langchain_core.stores import BaseStore

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from memstore import KVStore, KVValue, ValidationError

__all__ = ["DEFAULT_KV_NAMESPACE", "MemstoreByteStore"]

DEFAULT_KV_NAMESPACE = "langchain_bytes"
"""The KV namespace a :class:`MemstoreByteStore` uses unless told otherwise."""


class MemstoreByteStore(StoreOwner, BaseStore[str, bytes]):
    """Bytes by str key in one namespace of the memstore KV store: durable, shared across processes.

    Use it wherever LangChain takes a ``ByteStore``: the cache of ``CacheBackedEmbeddings``, the docstore of
    a ``MultiVectorRetriever``... ``kv_namespace`` keeps its keys apart from other users of the same
    database (two stores with different KV namespaces never see each other's keys).

    What callers can rely on: :meth:`mset` and :meth:`mdelete` are atomic (one transaction each; a batch
    with an invalid key or a non-bytes value writes nothing and raises :class:`memstore.ValidationError`);
    :meth:`mget` returns values in the order of the keys, None where missing; :meth:`yield_keys` yields keys
    in code-point order, ``prefix`` taken literally (``%`` and ``_`` are not wildcards). Keys are non-empty
    str of at most 1024 UTF-8 bytes without NUL.

    ``store`` is a :class:`memstore.Memstore` (shared, never closed here), a SQL URL, or None for the
    embedded default; a store built from a URL or None belongs to this object and :meth:`close` releases
    it. The async methods run the same core calls off the event loop.
    """

    def __init__(self, *, store: StoreArg = None, kv_namespace: str = DEFAULT_KV_NAMESPACE) -> None:
        self._store, self._owns_store = open_store(store)
        try:
            self._kv: KVStore = self._store.kv.namespace_store(kv_namespace)
        except BaseException:
            self.close()
            raise
        self.kv_namespace = kv_namespace
        """The core KV namespace holding this store's entries."""

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys``, in order; None for a missing key."""
        return [_as_bytes(value) for value in self._kv.mget(list(keys))]

    async def amget(self, keys: Sequence[str]) -> list[bytes | None]:
        """Async twin of :meth:`mget`."""
        return [_as_bytes(value) for value in await self._kv.amget(list(keys))]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Set every pair in one transaction (the last value of a repeated key wins)."""
        self._kv.mset(_checked(key_value_pairs))

    async def amset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Async twin of :meth:`mset`."""
        await self._kv.amset(_checked(key_value_pairs))

    def mdelete(self, keys: Sequence[str]) -> None:
        """Delete ``keys`` in one transaction; missing keys are ignored."""
        self._kv.mdelete(list(keys))

    async def amdelete(self, keys: Sequence[str]) -> None:
        """Async twin of :meth:`mdelete`."""
        await self._kv.amdelete(list(keys))

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """The keys starting with ``prefix`` (all keys if None), in code-point order."""
        yield from self._kv.keys(prefix or "")

    async def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """Async twin of :meth:`yield_keys`."""
        for key in await self._kv.akeys(prefix or ""):
            yield key

    def __repr__(self) -> str:
        return f"MemstoreByteStore(kv_namespace={self.kv_namespace!r})"


def _checked(pairs: Sequence[tuple[str, bytes]]) -> list[tuple[str, KVValue]]:
    checked: list[tuple[str, KVValue]] = []
    for key, value in pairs:
        if not isinstance(value, bytes):
            raise ValidationError(f"byte store values are bytes, not {type(value).__name__} (key {key!r})")
        checked.append((key, value))
    return checked


def _as_bytes(value: KVValue | None) -> bytes | None:
    # Entries written as str through the core KV API (same namespace) read back as their UTF-8 bytes.
    return value.encode("utf-8") if isinstance(value, str) else value
