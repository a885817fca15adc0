"""``MemstoreGraphStore``: LangGraph's long-term memory store (``BaseStore``) over the memstore KV store.

Each item is one entry of the memstore KV store, in a KV namespace of its own (``kv_namespace``,
``langgraph_store`` by default). The entry's key encodes the item's namespace tuple and key: every label
followed by ``.``, then one more ``.``, then the item key, so ``("users", "42")`` / ``"prefs"`` is
``users.42..prefs``. LangGraph forbids ``.`` and empty labels, so the first ``..`` always ends the
namespace (the item key may hold any text, dots included), and the namespaces under a prefix tuple are
exactly the entries whose key starts with that prefix's encoding: a search is one prefix scan. The entry's
value is the JSON text ``{"value": ..., "created_at": ..., "updated_at": ...}`` (ISO-8601, UTC).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import operator
import threading
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    validate_op_namespace,
)

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from langchain_memstore.errors import ForeignDataError
from memstore import KVStore, KVValue, ValidationError

__all__ = ["DEFAULT_KV_NAMESPACE", "DEFAULT_SWEEP_INTERVAL_MINUTES", "MemstoreGraphStore"]

DEFAULT_KV_NAMESPACE = "langgraph_store"
"""The KV namespace a :class:`MemstoreGraphStore` keeps its items in unless told otherwise."""

DEFAULT_SWEEP_INTERVAL_MINUTES = 5.0
"""How often :meth:`MemstoreGraphStore.start_ttl_sweeper` purges expired items unless told otherwise."""

_TTL_KEYS = {"default_ttl", "refresh_on_read", "sweep_interval_minutes", "omit_expired"}

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_OPERATORS = {"$eq", "$ne", *_COMPARISONS}


class MemstoreGraphStore(StoreOwner, BaseStore):
    """LangGraph long-term memory on SQLite, PostgreSQL or memory: ``graph.compile(store=...)``.

    Items persist across threads, runs and processes, and every process on the same database sees the
    same memories. Semantics follow LangGraph's reference stores:

    - a batch reads (get, search, list_namespaces) the state from before the batch, then applies its puts
      and deletes; the last put of a (namespace, key) in a batch wins;
    - ``created_at`` is kept when an item is overwritten, ``updated_at`` moves;
    - ``search`` scans the namespace prefix, applies ``filter`` to item values (plain values and nested
      dicts match like ``InMemoryStore``; ``$eq $ne $gt $gte $lt $lte``), and returns the most recently
      updated items first (ties by namespace, then key), then ``offset``/``limit``. Equality is JSON
      equality (``True`` is not ``1``); ``$gt``-style comparisons hold between two numbers or two strings
      and are false otherwise (a missing field, a type mismatch) where ``InMemoryStore`` raises;
    - ``list_namespaces`` returns sorted namespace tuples, truncated to ``max_depth``, deduplicated.

    Bad input raises before anything is written: invalid namespace labels raise LangGraph's
    ``InvalidNamespaceError``; a value that is not plain JSON (str keys, finite numbers), an unknown filter
    operator or a negative limit raise :class:`memstore.ValidationError`. Upserts of a batch are one
    transaction and its deletes another. Item keys plus their namespace are limited to 1024 UTF-8 bytes.

    TTL (``supports_ttl`` is True), as in LangGraph's PostgresStore: ``put(..., ttl=minutes)`` (or
    ``ttl={"default_ttl": minutes}`` here for every put without one) makes the item expire that many
    minutes after it was last written or, with ``refresh_ttl`` (the default; ``ttl={"refresh_on_read":
    False}`` changes it), last returned by a get or search. A put without TTL makes the item permanent
    again. Expired items are never returned or listed, even before they are deleted (``omit_expired`` is
    always on); :meth:`sweep_ttl` deletes them, and :meth:`start_ttl_sweeper` does so every
    ``sweep_interval_minutes`` in a background thread until :meth:`stop_ttl_sweeper` or :meth:`close`.
    The expiry is the core KV entry's (``KVStore.write(..., ttl=)``, ``touch``, ``purge_expired``), so
    every process on the database sees it; the item's TTL in minutes is kept in its entry for refreshes.

    Not yet: semantic search (an ``index`` config; ``query`` is ignored, as by LangGraph's stores without
    one).

    ``store`` is a :class:`memstore.Memstore` (shared, never closed here), a SQL URL, or None for the
    embedded default; a store built from a URL or None belongs to this object and :meth:`close` releases
    it. :meth:`abatch` runs :meth:`batch` off the event loop.
    """

    supports_ttl: bool = True

    def __init__(
        self,
        *,
        store: StoreArg = None,
        kv_namespace: str = DEFAULT_KV_NAMESPACE,
        ttl: TTLConfig | None = None,
    ) -> None:
        config = _check_ttl_config(ttl)
        self._store, self._owns_store = open_store(store)
        try:
            self._kv: KVStore = self._store.kv.namespace_store(kv_namespace)
        except BaseException:
            self.close()
            raise
        self.kv_namespace = kv_namespace
        """The core KV namespace holding this store's entries."""
        self.ttl_config = config
        self._sweeper: concurrent.futures.Future[None] | None = None
        self._sweeper_stop = threading.Event()
        self._sweeper_lock = threading.Lock()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` and return one result per op, in order (see the class docstring for semantics)."""
        ops = list(ops)
        for op in ops:
            _validate(op)
        results: list[Result] = [None] * len(ops)
        refresh: dict[str, float] = {}  # entry key -> seconds to live, for items read with refresh_ttl
        gets = {i: _entry_key(op.namespace, op.key) for i, op in enumerate(ops) if isinstance(op, GetOp)}
        if gets:
            for (index, key), raw in zip(gets.items(), self._kv.mget(list(gets.values())), strict=True):
                if raw is None:
                    continue
                item, minutes = _decode_entry(key, raw)
                results[index] = item
                if minutes is not None and typing.cast(GetOp, ops[index]).refresh_ttl:
                    refresh[key] = minutes * 60.0
        for index, op in enumerate(ops):
            if isinstance(op, SearchOp):
                results[index] = self._search(op, refresh)
            elif isinstance(op, ListNamespacesOp):
                results[index] = self._list_namespaces(op)
        if refresh:
            # Reads first, then the refresh, then the writes: a put of a key read here sets its own TTL.
            self._kv.touch(refresh)
        puts = {(tuple(op.namespace), op.key): op for op in ops if isinstance(op, PutOp)}
        if puts:
            self._write(list(puts.values()))
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`: the same operation, run in a worker thread."""
        return await asyncio.to_thread(self.batch, list(ops))

    def _search(self, op: SearchOp, refresh: dict[str, float]) -> list[SearchItem]:
        entries = self._kv.get_by_prefix(_prefix(op.namespace_prefix))
        ttls: dict[tuple[tuple[str, ...], str], float] = {}
        items: list[Item] = []
        for key, raw in entries.items():
            item, minutes = _decode_entry(key, raw)
            items.append(item)
            if minutes is not None:
                ttls[(item.namespace, item.key)] = minutes
        if op.filter:
            conditions = op.filter.items()
            items = [item for item in items if all(_matches(item.value.get(k), c) for k, c in conditions)]
        items.sort(key=lambda item: (item.namespace, item.key))
        items.sort(key=lambda item: item.updated_at, reverse=True)
        page = items[op.offset : op.offset + op.limit]
        if op.refresh_ttl:
            for item in page:
                minutes = ttls.get((item.namespace, item.key))
                if minutes is not None:
                    refresh[_entry_key(item.namespace, item.key)] = minutes * 60.0
        return [
            SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at)
            for item in page
        ]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        conditions = op.match_conditions or ()
        # A prefix condition's labels before its first wildcard narrow the scan itself.
        scan: tuple[str, ...] = ()
        for condition in conditions:
            if condition.match_type == "prefix":
                path = tuple(condition.path)
                literal = path[: path.index("*")] if "*" in path else path
                scan = max(scan, literal, key=len)
        namespaces = {_split(key)[0] for key in self._kv.keys(_prefix(scan))}
        matching = [ns for ns in namespaces if all(_namespace_matches(c, ns) for c in conditions)]
        if op.max_depth is not None:
            matching = list({ns[: op.max_depth] for ns in matching})
        return sorted(matching)[op.offset : op.offset + op.limit]

    def _write(self, puts: list[PutOp]) -> None:
        upserts = [op for op in puts if op.value is not None]
        deletes = [_entry_key(op.namespace, op.key) for op in puts if op.value is None]
        keys = [_entry_key(op.namespace, op.key) for op in upserts]
        # One read gives the created_at of overwritten items and has the core check every key before the
        # first write, so a bad key cannot leave the upserts written and the deletes not.
        existing = self._kv.mget(keys + deletes)
        now = datetime.now(timezone.utc)
        # The core gives one TTL per write: one transaction per distinct TTL, the deletes in the first.
        groups: dict[float | None, list[tuple[str, KVValue]]] = {}
        for op, key, raw in zip(upserts, keys, existing, strict=False):
            created = now if raw is None else _decode(key, raw).created_at
            record: dict[str, Any] = {
                "value": dict(op.value or {}),
                "created_at": created.isoformat(),
                "updated_at": now.isoformat(),
            }
            if op.ttl is not None:
                record["ttl"] = float(op.ttl)
            text = json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            groups.setdefault(None if op.ttl is None else float(op.ttl), []).append((key, text))
        if not groups:
            self._kv.write((), deletes)
            return
        for index, (minutes, records) in enumerate(groups.items()):
            self._kv.write(
                records, deletes if index == 0 else (), ttl=None if minutes is None else minutes * 60
            )

    # -- TTL ------------------------------------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Delete the expired items now; returns how many (reads already leave them out)."""
        return self._kv.purge_expired()

    async def asweep_ttl(self) -> int:
        """Async twin of :meth:`sweep_ttl`."""
        return await self._kv.apurge_expired()

    def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> concurrent.futures.Future[None]:
        """Run :meth:`sweep_ttl` every ``sweep_interval_minutes`` (default: ``ttl["sweep_interval_minutes"]``,
        else 5) in a daemon thread; returns a future done when the sweeper stops. Starting it again returns
        the running one. A failed sweep is retried at the next interval; the last error stays on
        :attr:`last_sweep_error`.
        """
        interval = sweep_interval_minutes
        if interval is None:
            interval = (self.ttl_config or {}).get("sweep_interval_minutes") or DEFAULT_SWEEP_INTERVAL_MINUTES
        _check_minutes(interval, "sweep_interval_minutes")
        with self._sweeper_lock:
            if self._sweeper is not None and not self._sweeper.done():
                return self._sweeper
            self._sweeper_stop = stop = threading.Event()
            future: concurrent.futures.Future[None] = concurrent.futures.Future()
            future.set_running_or_notify_cancel()
            self._sweeper = future
        self.last_sweep_error: BaseException | None = None

        def run() -> None:
            try:
                while not stop.wait(float(interval) * 60.0):
                    try:
                        self.sweep_ttl()
                    except Exception as exc:  # the database may be away for a while: try again later
                        self.last_sweep_error = exc
            finally:
                future.set_result(None)

        threading.Thread(target=run, name="memstore-ttl-sweeper", daemon=True).start()
        return future

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; True if it stopped within ``timeout`` seconds (or none was running)."""
        with self._sweeper_lock:
            future = self._sweeper
            self._sweeper_stop.set()
        if future is None:
            return True
        try:
            future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Stop the TTL sweeper, then release the store if this object created it. Idempotent."""
        if hasattr(self, "_sweeper_stop"):
            self.stop_ttl_sweeper()
        super().close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if hasattr(self, "_sweeper_stop"):
            await asyncio.to_thread(self.stop_ttl_sweeper)
        await super().aclose()

    def __repr__(self) -> str:
        return f"MemstoreGraphStore(kv_namespace={self.kv_namespace!r})"


# -- keys and records ---------------------------------------------------------------------------------------


def _prefix(namespace: tuple[str, ...]) -> str:
    return "".join(label + "." for label in namespace)


def _entry_key(namespace: tuple[str, ...], key: str) -> str:
    return _prefix(namespace) + "." + key


def _split(entry_key: str) -> tuple[tuple[str, ...], str]:
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


def _decode(entry_key: str, raw: KVValue) -> Item:
    return _decode_entry(entry_key, raw)[0]


def _decode_entry(entry_key: str, raw: KVValue) -> tuple[Item, float | None]:
    """The item of an entry and its TTL in minutes (None: it never expires)."""
    namespace, key = _split(entry_key)
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
    except (ValueError, KeyError, TypeError) as exc:
        raise ForeignDataError(
            f"KV entry {entry_key!r} is not an item written by MemstoreGraphStore: {exc}"
        ) from exc
    item = Item(value=value, key=key, namespace=namespace, created_at=created, updated_at=updated)
    return item, None if minutes is None else float(minutes)


# -- validation ---------------------------------------------------------------------------------------------


def _validate(op: Op) -> None:
    if not isinstance(op, GetOp | SearchOp | ListNamespacesOp | PutOp):
        raise ValidationError(f"unknown LangGraph store operation: {type(op).__name__}")
    validate_op_namespace(op)
    if isinstance(op, SearchOp):
        _check_page(op.limit, op.offset)
        if op.filter is not None:
            if not isinstance(op.filter, Mapping):
                raise ValidationError(f"search filter must be a dict, not {type(op.filter).__name__}")
            for field, condition in op.filter.items():
                if not isinstance(field, str):
                    raise ValidationError(f"filter fields are str, not {field!r}")
                _check_condition(condition, f"filter[{field!r}]")
    elif isinstance(op, ListNamespacesOp):
        _check_page(op.limit, op.offset)
        for condition in op.match_conditions or ():
            if condition.match_type not in ("prefix", "suffix"):
                raise ValidationError(f"match_type is 'prefix' or 'suffix', not {condition.match_type!r}")
        if op.max_depth is not None:
            _check_int(op.max_depth, "max_depth", 1)
    elif isinstance(op, PutOp):
        if not op.namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        if op.ttl is not None:
            _check_minutes(op.ttl, "ttl")
        if op.value is not None:
            if not isinstance(op.value, Mapping):
                raise ValidationError(f"an item value is a dict, not {type(op.value).__name__}")
            _check_json(op.value, "item value")
    if not isinstance(op, SearchOp | ListNamespacesOp) and not isinstance(op.key, str):
        raise ValidationError(f"an item key is a str, not {type(op.key).__name__}")


def _check_minutes(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValidationError(f"{what} is a positive number of minutes, not {value!r}")


def _check_ttl_config(config: object) -> TTLConfig | None:
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise ValidationError(f"ttl is a TTLConfig dict, not {type(config).__name__}")
    unknown = sorted(str(name) for name in config if name not in _TTL_KEYS)
    if unknown:
        raise ValidationError(f"unknown TTL settings: {', '.join(unknown)}")
    for name in ("default_ttl", "sweep_interval_minutes"):
        if config.get(name) is not None:
            _check_minutes(config[name], name)
    for name in ("refresh_on_read", "omit_expired"):
        if name in config and not isinstance(config[name], bool):
            raise ValidationError(f"{name} is a bool, not {config[name]!r}")
    if config.get("omit_expired") is False:
        raise ValidationError("omit_expired=False is not supported: expired items are never returned")
    return typing.cast(TTLConfig, dict(config))


def _check_int(value: object, what: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{what} must be an int >= {minimum}, not {value!r}")


def _check_page(limit: object, offset: object) -> None:
    _check_int(limit, "limit", 0)
    _check_int(offset, "offset", 0)


def _check_json(value: Any, where: str) -> None:
    """Plain JSON only, so an item reads back equal to what was put (tuples come back as lists)."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} holds {value!r}, which JSON cannot store")
        return
    if isinstance(value, list | tuple):
        for index, part in enumerate(value):
            _check_json(part, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, part in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{where} has the non-str key {key!r}; JSON keys are strings")
            _check_json(part, f"{where}[{key!r}]")
        return
    raise ValidationError(f"{where} holds a {type(value).__name__}, which is not JSON")


def _check_condition(condition: Any, where: str) -> None:
    if isinstance(condition, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in condition):
        for name, operand in condition.items():
            if name not in _OPERATORS:
                known = ", ".join(sorted(_OPERATORS))
                raise ValidationError(f"{where}: unknown operator {name!r} (known: {known})")
            if name in _COMPARISONS and not (_is_number(operand) or isinstance(operand, str)):
                raise ValidationError(f"{where}: {name} compares with a number or a string, not {operand!r}")
            _check_json(operand, f"{where}[{name!r}]")
    elif isinstance(condition, Mapping):
        for key, part in condition.items():
            if not isinstance(key, str):
                raise ValidationError(f"{where} has the non-str key {key!r}")
            _check_condition(part, f"{where}[{key!r}]")
    elif isinstance(condition, list | tuple):
        for index, part in enumerate(condition):
            _check_condition(part, f"{where}[{index}]")
    else:
        _check_json(condition, where)


# -- matching (pure) ----------------------------------------------------------------------------------------


def _matches(value: Any, condition: Any) -> bool:
    """Whether a stored JSON value satisfies a filter condition (validated by :func:`_check_condition`)."""
    if isinstance(condition, Mapping):
        if any(key.startswith("$") for key in condition):
            return all(_apply(value, name, operand) for name, operand in condition.items())
        return isinstance(value, dict) and all(_matches(value.get(k), c) for k, c in condition.items())
    if isinstance(condition, list | tuple):
        return (
            isinstance(value, list)
            and len(value) == len(condition)
            and all(_matches(v, c) for v, c in zip(value, condition, strict=True))
        )
    return _json_equal(value, condition)


def _apply(value: Any, name: str, operand: Any) -> bool:
    if name == "$eq":
        return _json_equal(value, operand)
    if name == "$ne":
        return not _json_equal(value, operand)
    comparable = (_is_number(value) and _is_number(operand)) or (
        isinstance(value, str) and isinstance(operand, str)
    )
    return comparable and _COMPARISONS[name](value, operand)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    if isinstance(stored, dict):
        return (
            isinstance(wanted, Mapping)
            and stored.keys() == wanted.keys()
            and all(_json_equal(stored[key], wanted[key]) for key in stored)
        )
    if isinstance(stored, list):
        return (
            isinstance(wanted, list | tuple)
            and len(stored) == len(wanted)
            and all(_json_equal(s, w) for s, w in zip(stored, wanted, strict=True))
        )
    return not isinstance(wanted, Mapping | list | tuple) and bool(stored == wanted)


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        window = namespace[: len(path)]
    else:
        window = namespace[len(namespace) - len(path) :]
    return all(want in ("*", label) for want, label in zip(path, window, strict=True))
