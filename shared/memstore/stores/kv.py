"""``KVStore``: namespaced keys to str/bytes values, with expiry and a cross-process lease."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from memstore._sync import to_async
from memstore._validate import check_identifier, check_number, check_text
from memstore.backends.base import KVBackend, StoredValue
from memstore.errors import ValidationError
from memstore.filters import Filter, parse_filter

__all__ = ["KVBackend", "KVStore", "KVValue", "StoredValue"]

KVValue = str | bytes
"""What a KV entry holds. A str comes back as a str and bytes as bytes; both are stored as raw bytes."""


class KVStore:
    """A key-value store in one namespace (several applications can share one database).

    Keys are non-empty str (no NUL, at most 1024 UTF-8 bytes). Values are ``str`` or ``bytes`` and come back
    in the type they were stored as, byte-identical. Every batch is atomic. An entry may expire (``ttl``
    seconds after it was written or touched); an expired entry reads as absent everywhere and is removed by
    :meth:`purge_expired` or overwritten by the next write. Reach it as ``Memstore.kv``;
    :meth:`namespace_store` gives the same store in another namespace.
    """

    def __init__(self, backend: KVBackend, namespace: str = "default") -> None:
        self._backend = backend
        self.namespace = check_identifier(namespace, "KV namespace")

    def namespace_store(self, namespace: str) -> KVStore:
        """The same backend seen through another namespace."""
        return KVStore(self._backend, namespace)

    # -- writes -------------------------------------------------------------------------------------------

    def set(self, key: str, value: KVValue, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key`` (replacing it); it expires after ``ttl`` seconds, or never (None)."""
        self.write([(key, value)], ttl=ttl)

    def mset(
        self, items: Mapping[str, KVValue] | Iterable[tuple[str, KVValue]], *, ttl: float | None = None
    ) -> None:
        """Store several entries in one transaction: all are written or, on any invalid item, none."""
        self.write(items, ttl=ttl)

    def write(
        self,
        puts: Mapping[str, KVValue] | Iterable[tuple[str, KVValue]] = (),
        deletes: Iterable[str] = (),
        *,
        ttl: float | None = None,
    ) -> int:
        """Delete ``deletes`` and store ``puts`` in one transaction (a key in both ends up stored).

        Everything is validated before anything is written. Returns how many of ``deletes`` were stored.
        """
        pairs = puts.items() if isinstance(puts, Mapping) else puts
        encoded = [(_check_key(key), _encode(value)) for key, value in pairs]
        doomed = [_check_key(key) for key in deletes]
        expires_at = _expires_at(ttl, time.time())
        if not encoded and not doomed:
            return 0
        return self._backend.write(self.namespace, encoded, doomed, expires_at)

    def exclusive_set(self, key: str, value: KVValue, expiry: float | None = None) -> bool:
        """Set ``key`` only if nobody holds it; True for the one caller that won.

        Atomic across threads and processes (one conditional INSERT ... ON CONFLICT in the database). The
        winner holds the key for ``expiry`` seconds (``None``: until deleted); after that, exactly one new
        caller can win it. An expired entry also reads as absent.
        """
        now = time.time()
        expires_at = _expires_at(expiry, now)
        return self._backend.claim(self.namespace, _check_key(key), _encode(value), expires_at, now)

    def touch(self, expiries: Mapping[str, float | None]) -> int:
        """Give live keys a new time to live (seconds from now; None: never expire), in one transaction.

        Keys that are missing or already expired are left alone. Returns how many keys were live.
        """
        now = time.time()
        checked = [(_check_key(key), _expires_at(ttl, now)) for key, ttl in expiries.items()]
        return self._backend.touch(self.namespace, checked, now) if checked else 0

    def purge_expired(self) -> int:
        """Delete the expired entries of this namespace; returns how many (reads already skip them)."""
        return self._backend.purge_expired(self.namespace, time.time())

    def delete(self, key: str) -> bool:
        """Delete ``key``; True if it was stored."""
        return self.mdelete([key]) > 0

    def mdelete(self, keys: Iterable[str]) -> int:
        """Delete several keys in one transaction; return how many were stored."""
        return self.write(deletes=keys)

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

    def scan_documents(
        self, prefix: str = "", filter: Filter | Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """The str entries under ``prefix`` whose value is a JSON document matching ``filter``, by key.

        ``filter`` is the filter language (:mod:`memstore.filters`, or its dict form) over the document: a
        field ``("value", "lang")`` reads ``document["value"]["lang"]``. It runs in the database on SQL
        (``json_extract`` on SQLite, ``json_extract_path`` on PostgreSQL, over the stored text) and through
        :func:`memstore.filters.matches` in memory, so only matching entries are read back. ``bytes`` entries
        never match; with ``filter=None`` every str entry under the prefix is returned, JSON or not. With a
        filter, every str entry under the prefix must hold JSON text: one that does not makes the scan raise
        :class:`~memstore.errors.BackendError` (the database's JSON parse error) on every backend.
        """
        node = parse_filter(filter)
        rows = self._backend.scan_documents(
            self.namespace, check_text(prefix, "key prefix"), node, time.time()
        )
        return dict(rows)

    def keys(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix`` (all keys by default), ordered; values are not read."""
        return self._backend.scan_keys(self.namespace, check_text(prefix, "key prefix"), time.time())

    def namespaces(self) -> dict[str, int]:
        """Every namespace of this store's backend holding live entries, with how many (for stats and
        audits: the adapters keep their data in namespaces of their own)."""
        return self._backend.namespaces(time.time())

    aset = to_async(set)
    amset = to_async(mset)
    awrite = to_async(write)
    aexclusive_set = to_async(exclusive_set)
    atouch = to_async(touch)
    apurge_expired = to_async(purge_expired)
    adelete = to_async(delete)
    amdelete = to_async(mdelete)
    adelete_by_prefix = to_async(delete_by_prefix)
    aget = to_async(get)
    amget = to_async(mget)
    aexists = to_async(exists)
    aget_by_prefix = to_async(get_by_prefix)
    ascan_documents = to_async(scan_documents)
    akeys = to_async(keys)
    anamespaces = to_async(namespaces)

    def __repr__(self) -> str:
        return f"KVStore(namespace={self.namespace!r})"


def _expires_at(ttl: object, now: float) -> float | None:
    if ttl is None:
        return None
    return now + float(check_number(ttl, "a time to live (ttl / expiry, seconds, or None)", positive=True))


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
