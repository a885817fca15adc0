"""The KV backend in memory."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence

from memstore.backends.base import StoredValue
from memstore.errors import BackendError
from memstore.filters import Filter, matches

__all__ = ["MemoryKVBackend"]


class MemoryKVBackend:
    """Implements :class:`memstore.stores.kv.KVBackend` with a dict under a lock (atomic in-process)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._data: dict[tuple[str, str], tuple[StoredValue, float | None]] = {}

    @staticmethod
    def _live(entry: tuple[StoredValue, float | None], now: float) -> bool:
        return entry[1] is None or entry[1] > now

    def write(
        self,
        namespace: str,
        puts: Sequence[tuple[str, StoredValue]],
        deletes: Sequence[str],
        expires_at: float | None,
    ) -> int:
        with self._lock:
            deleted = sum(self._data.pop((namespace, key), None) is not None for key in set(deletes))
            for key, value in puts:
                self._data[(namespace, key)] = (value, expires_at)
            return deleted

    def namespaces(self, now: float) -> dict[str, int]:
        with self._lock:
            counts = Counter(
                namespace for (namespace, _), entry in self._data.items() if self._live(entry, now)
            )
        return dict(sorted(counts.items()))

    def get(self, namespace: str, keys: Sequence[str], now: float) -> dict[str, StoredValue]:
        with self._lock:
            found: dict[str, StoredValue] = {}
            for key in keys:
                entry = self._data.get((namespace, key))
                if entry is not None and self._live(entry, now):
                    found[key] = entry[0]
            return found

    def scan(self, namespace: str, prefix: str, now: float) -> list[tuple[str, StoredValue]]:
        with self._lock:
            return sorted(
                (key, entry[0])
                for (ns, key), entry in self._data.items()
                if ns == namespace and key.startswith(prefix) and self._live(entry, now)
            )

    def scan_keys(self, namespace: str, prefix: str, now: float) -> list[str]:
        return [key for key, _ in self.scan(namespace, prefix, now)]

    def scan_documents(
        self, namespace: str, prefix: str, filter: Filter | None, now: float
    ) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for key, (raw, is_text) in self.scan(namespace, prefix, now):
            if not is_text:
                continue
            text = raw.decode("utf-8")
            if filter is not None:
                try:
                    document = json.loads(text)
                except ValueError as exc:  # as the databases' JSON parse errors
                    raise BackendError(
                        "memory failed during kv.scan_documents: an entry is not JSON text",
                        backend="memory",
                        operation="kv.scan_documents",
                    ) from exc
                if not isinstance(document, dict) or not matches(filter, document):
                    continue
            found.append((key, text))
        return found

    def delete_prefix(self, namespace: str, prefix: str) -> int:
        with self._lock:
            doomed = [item for item in self._data if item[0] == namespace and item[1].startswith(prefix)]
            for item in doomed:
                del self._data[item]
            return len(doomed)

    def claim(
        self, namespace: str, key: str, value: StoredValue, expires_at: float | None, now: float
    ) -> bool:
        with self._lock:
            entry = self._data.get((namespace, key))
            if entry is not None and self._live(entry, now):
                return False
            self._data[(namespace, key)] = (value, expires_at)
            return True

    def touch(self, namespace: str, expiries: Sequence[tuple[str, float | None]], now: float) -> int:
        with self._lock:
            touched = 0
            for key, expires_at in expiries:
                entry = self._data.get((namespace, key))
                if entry is not None and self._live(entry, now):
                    self._data[(namespace, key)] = (entry[0], expires_at)
                    touched += 1
            return touched

    def purge_expired(self, namespace: str, now: float) -> int:
        with self._lock:
            doomed = [
                k for k, entry in self._data.items() if k[0] == namespace and not self._live(entry, now)
            ]
            for item in doomed:
                del self._data[item]
            return len(doomed)
