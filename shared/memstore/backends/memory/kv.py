"""The KV backend in memory."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from memstore.stores.kv import StoredValue

__all__ = ["MemoryKVBackend"]


class MemoryKVBackend:
    """Implements :class:`memstore.stores.kv.KVBackend` with a dict under a lock (atomic in-process)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._data: dict[tuple[str, str], tuple[StoredValue, float | None]] = {}

    def _live(self, entry: tuple[StoredValue, float | None], now: float) -> bool:
        return entry[1] is None or entry[1] > now

    def put(self, namespace: str, items: Sequence[tuple[str, StoredValue]]) -> None:
        with self._lock:
            for key, value in items:
                self._data[(namespace, key)] = (value, None)

    def get(self, namespace: str, keys: Sequence[str], now: float) -> dict[str, StoredValue]:
        with self._lock:
            found: dict[str, StoredValue] = {}
            for key in keys:
                entry = self._data.get((namespace, key))
                if entry is not None and self._live(entry, now):
                    found[key] = entry[0]
            return found

    def delete(self, namespace: str, keys: Sequence[str]) -> int:
        with self._lock:
            return sum(self._data.pop((namespace, key), None) is not None for key in set(keys))

    def scan(self, namespace: str, prefix: str, now: float) -> list[tuple[str, StoredValue]]:
        with self._lock:
            return sorted(
                (key, entry[0])
                for (ns, key), entry in self._data.items()
                if ns == namespace and key.startswith(prefix) and self._live(entry, now)
            )

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
            if entry is not None and (entry[1] is None or entry[1] > now):
                return False
            self._data[(namespace, key)] = (value, expires_at)
            return True
