"""``KVStore``: namespaced keys to str/bytes values, with a cross-process ``exclusive_set`` lease."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from memstore._sync import to_async
from memstore._validate import check_identifier, check_text
from memstore.errors import ValidationError

__all__ = ["KVBackend", "KVStore", "KVValue", "StoredValue"]

KVValue = str | bytes
"""What a KV entry holds. A str comes back as a str and bytes as bytes; both are stored as raw bytes."""

StoredValue = tuple[bytes, bool]
"""A value as backends keep it: its bytes and whether it was a str."""


class KVBackend(Protocol):
    """What a KV backend implements; validation, encoding and expiry arithmetic stay in :class:`KVStore`.

    ``now`` is passed in (epoch seconds) so that every backend judges expiry with the same clock reading.
    Entries whose ``expires_at`` is at or before ``now`` are treated as absent by every read.
    """

    def put(self, namespace: str, items: Sequence[tuple[str, StoredValue]]) -> None:
        """Upsert all items in one atomic write; clears any expiry."""

    def get(self, namespace: str, keys: Sequence[str], now: float) -> dict[str, StoredValue]:
        """The live entries among ``keys``."""

    def delete(self, namespace: str, keys: Sequence[str]) -> int:
        """Delete ``keys`` in one atomic write; return how many existed."""

    def scan(self, namespace: str, prefix: str, now: float) -> list[tuple[str, StoredValue]]:
        """The live entries whose key starts with ``prefix`` (literally: no wildcards), ordered by key."""

    def delete_prefix(self, namespace: str, prefix: str) -> int:
        """Delete every entry whose key starts with ``prefix``; return how many."""

    def claim(
        self, namespace: str, key: str, value: StoredValue, expires_at: float | None, now: float
    ) -> bool:
        """Write ``key`` only if it is absent or expired, atomically across processes; True if written."""


class KVStore:
    """A key-value store in one namespace (several applications can share one database).

    Keys are non-empty str (no NUL, at most 1024 UTF-8 bytes). Values are ``str`` or ``bytes`` and come back
    in the type they were stored as, byte-identical. Batches (:meth:`mset`, :meth:`mdelete`) are atomic.
    Reach it as ``Memstore.kv``; :meth:`namespace` gives the same store in another namespace.
    """

    def __init__(self, backend: KVBackend, namespace: str = "default") -> None:
        self._backend = backend
        self.namespace = check_identifier(namespace, "KV namespace")

    def namespace_store(self, namespace: str) -> KVStore:
        """The same backend seen through another namespace."""
        return KVStore(self._backend, namespace)

    # -- writes -------------------------------------------------------------------------------------------

    def set(self, key: str, value: KVValue) -> None:
        """Store ``value`` under ``key`` (replacing any value and expiry)."""
        self.mset([(key, value)])

    def mset(self, items: Mapping[str, KVValue] | Iterable[tuple[str, KVValue]]) -> None:
        """Store several entries in one transaction: all are written or, on any invalid item, none."""
        pairs = items.items() if isinstance(items, Mapping) else items
        encoded = [(_check_key(key), _encode(value)) for key, value in pairs]
        if encoded:
            self._backend.put(self.namespace, encoded)

    def exclusive_set(self, key: str, value: KVValue, expiry: float | None = None) -> bool:
        """Set ``key`` only if nobody holds it; True for the one caller that won.

        Atomic across threads and processes (one conditional INSERT ... ON CONFLICT in the database). The
        winner holds the key for ``expiry`` seconds (``None``: until deleted); after that, exactly one new
        caller can win it. An expired entry also reads as absent.
        """
        if expiry is not None and (
            isinstance(expiry, bool)
            or not isinstance(expiry, int | float)
            or not math.isfinite(expiry)
            or expiry <= 0
        ):
            raise ValidationError("expiry must be a positive number of seconds or None")
        now = time.time()
        expires_at = None if expiry is None else now + float(expiry)
        return self._backend.claim(self.namespace, _check_key(key), _encode(value), expires_at, now)

    def delete(self, key: str) -> bool:
        """Delete ``key``; True if it existed."""
        return self.mdelete([key]) > 0

    def mdelete(self, keys: Iterable[str]) -> int:
        """Delete several keys in one transaction; return how many existed."""
        checked = [_check_key(key) for key in keys]
        return self._backend.delete(self.namespace, checked) if checked else 0

    def delete_by_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (taken literally: ``%`` and ``_`` are not wildcards)."""
        return self._backend.delete_prefix(self.namespace, check_text(prefix, "key prefix"))

    # -- reads --------------------------------------------------------------------------------------------

    def get(self, key: str) -> KVValue | None:
        """The value of ``key``, or None."""
        return self.mget([key])[0]

    def mget(self, keys: Sequence[str]) -> list[KVValue | None]:
        """Values in the order of ``keys``; None where a key is missing."""
        checked = [_check_key(key) for key in keys]
        if not checked:
            return []
        found = self._backend.get(self.namespace, list(dict.fromkeys(checked)), time.time())
        return [_decode(found[key]) if key in found else None for key in checked]

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a live value."""
        return self.get(key) is not None

    def get_by_prefix(self, prefix: str) -> dict[str, KVValue]:
        """Every entry whose key starts with ``prefix`` (literally), ordered by key."""
        rows = self._backend.scan(self.namespace, check_text(prefix, "key prefix"), time.time())
        return {key: _decode(value) for key, value in rows}

    def keys(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix`` (all keys by default), ordered."""
        return list(self.get_by_prefix(prefix))

    aset = to_async(set)
    amset = to_async(mset)
    aexclusive_set = to_async(exclusive_set)
    adelete = to_async(delete)
    amdelete = to_async(mdelete)
    adelete_by_prefix = to_async(delete_by_prefix)
    aget = to_async(get)
    amget = to_async(mget)
    aexists = to_async(exists)
    aget_by_prefix = to_async(get_by_prefix)
    akeys = to_async(keys)

    def __repr__(self) -> str:
        return f"KVStore(namespace={self.namespace!r})"


def _check_key(key: object) -> str:
    return check_identifier(key, "KV key")


def _encode(value: object) -> StoredValue:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), False
    if isinstance(value, str):
        try:
            return value.encode("utf-8"), True
        except UnicodeEncodeError as exc:
            raise ValidationError("KV value is not valid Unicode (lone surrogate?)") from exc
    raise ValidationError(f"KV values are str or bytes, not {type(value).__name__}")


def _decode(stored: StoredValue) -> KVValue:
    raw, is_text = stored
    return raw.decode("utf-8") if is_text else raw
