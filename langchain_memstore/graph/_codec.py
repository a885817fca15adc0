"""Items <-> KV entries: the key encoding and the entry's JSON document (see ``graph_store``'s docstring).

An entry's key is every namespace label followed by ``.``, then one more ``.``, then the item key; its
value is the JSON text ``{"value": ..., "created_at": ..., "updated_at": ..., "ttl": ..., "index": [...]}``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime
from typing import Any

from langgraph.store.base import Item

from langchain_memstore.errors import ForeignDataError
from memstore import KVValue

__all__ = [
    "VALUE_PATH",
    "Entry",
    "by_recency",
    "decode_entry",
    "decode_item",
    "encode_entry",
    "entry_key",
    "entry_prefix",
    "namespace_labels",
    "split_key",
    "vector_key",
]

VALUE_PATH = ("value",)
"""Where an item's value sits in its entry's document (the core filter's fields start here)."""


def entry_prefix(namespace: tuple[str, ...]) -> str:
    return "".join(label + "." for label in namespace)


def entry_key(namespace: tuple[str, ...], key: str) -> str:
    return entry_prefix(namespace) + "." + key


def split_key(entry_key: str) -> tuple[tuple[str, ...], str]:
    labels: list[str] = []
    start = 0
    while True:
        end = entry_key.find(".", start)
        if end < 0:
            raise ForeignDataError(f"KV key {entry_key!r} is not an item written by MemstoreGraphStore")
        if end == start:
            return tuple(labels), entry_key[end + 1 :]
        labels.append(entry_key[start:end])
        start = end + 1


@dataclasses.dataclass(frozen=True)
class Entry:
    key: str
    item: Item
    ttl: float | None
    """The TTL in minutes (None: never expires)."""
    paths: tuple[str, ...]
    """The paths of the item's vectors in the index collection."""


def decode_item(entry_key: str, raw: KVValue) -> Item:
    return decode_entry(entry_key, raw).item


def vector_key(entry_key: str, path: str) -> str:
    return hashlib.sha256(f"{entry_key}\x00{path}".encode()).hexdigest()


def namespace_labels(namespace: tuple[str, ...]) -> dict[str, str]:
    return {f"l{i}": label for i, label in enumerate(namespace)}


def by_recency(entries: list[Entry]) -> None:
    """Sort in place as a plain search orders items: most recently updated first, then namespace, key."""
    entries.sort(key=lambda entry: (entry.item.namespace, entry.item.key))
    entries.sort(key=lambda entry: entry.item.updated_at, reverse=True)


def decode_entry(entry_key: str, raw: KVValue) -> Entry:
    """The item of an entry, its TTL and its index paths."""
    namespace, key = split_key(entry_key)
    try:
        if not isinstance(raw, str):
            raise TypeError("the entry holds bytes, not JSON text")
        record = json.loads(raw)
        value = record["value"]
        if not isinstance(value, dict):
            raise TypeError("the item value is not a JSON object")
        created = datetime.fromisoformat(record["created_at"])
        updated = datetime.fromisoformat(record["updated_at"])
        minutes = record.get("ttl")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int | float)):
            raise TypeError("the item TTL is not a number")
        paths = record.get("index", [])
        if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            raise TypeError("the item's index paths are not a list of str")
    except (ValueError, KeyError, TypeError) as exc:
        raise ForeignDataError(
            f"KV entry {entry_key!r} is not an item written by MemstoreGraphStore: {exc}"
        ) from exc
    item = Item(value=value, key=key, namespace=namespace, created_at=created, updated_at=updated)
    return Entry(entry_key, item, None if minutes is None else float(minutes), tuple(paths))


def encode_entry(
    value: dict[str, Any],
    created: datetime,
    updated: datetime,
    ttl_minutes: float | None,
    paths: list[str],
) -> str:
    """The entry text of an item: compact JSON, non-ASCII kept."""
    record: dict[str, Any] = {
        "value": value,
        "created_at": created.isoformat(),
        "updated_at": updated.isoformat(),
    }
    if ttl_minutes is not None:
        record["ttl"] = ttl_minutes
    if paths:
        record["index"] = paths
    return json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
