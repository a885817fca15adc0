"""``MemstoreGraphStore``: LangGraph's long-term memory store (``BaseStore``) over the memstore KV store.

Each item is one entry of the memstore KV store, in a KV namespace of its own (``kv_namespace``,
``langgraph_store`` by default). The entry's key encodes the item's namespace tuple and key: every label
followed by ``.``, then one more ``.``, then the item key, so ``("users", "42")`` / ``"prefs"`` is
``users.42..prefs``. LangGraph forbids ``.`` and empty labels, so the first ``..`` always ends the
namespace (the item key may hold any text, dots included), and the namespaces under a prefix tuple are
exactly the entries whose key starts with that prefix's encoding: a search is one prefix scan. The entry's
value is the JSON text ``{"value": ..., "created_at": ..., "updated_at": ...}`` (ISO-8601, UTC), plus
``"ttl"`` (minutes) for an item that expires and ``"index"`` (the paths of its vectors) for an item embedded
under an ``index`` config; the vectors live in the vector collection ``<kv_namespace>.index``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import json
import math
import operator
import threading
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
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
from langgraph.store.base.embed import ensure_embeddings, get_text_at_path, tokenize_path

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from langchain_memstore.embeddings import MemstoreEmbeddings
from langchain_memstore.errors import ForeignDataError
from memstore import KVStore, KVValue, ValidationError, as_embedder

if typing.TYPE_CHECKING:
    from memstore import LazyCollection
    from memstore.stores.vectors import Key

__all__ = ["DEFAULT_KV_NAMESPACE", "DEFAULT_SWEEP_INTERVAL_MINUTES", "MemstoreGraphStore"]

DEFAULT_KV_NAMESPACE = "langgraph_store"
"""The KV namespace a :class:`MemstoreGraphStore` keeps its items in unless told otherwise."""

DEFAULT_SWEEP_INTERVAL_MINUTES = 5.0
"""How often :meth:`MemstoreGraphStore.start_ttl_sweeper` purges expired items unless told otherwise."""

_TTL_KEYS = {"default_ttl", "refresh_on_read", "sweep_interval_minutes", "omit_expired"}
_INDEX_KEYS = {"dims", "embed", "fields"}

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
      dicts match like ``InMemoryStore``; ``$eq $ne $gt $gte $lt $lte``, bounds may be ±inf), and returns
      the most recently updated items first (ties by namespace, then key), then ``offset``/``limit``.
      Equality is JSON equality (``True`` is not ``1``); ``$gt``-style comparisons hold between two
      numbers or two strings and are false otherwise (a missing field, a type mismatch) where
      ``InMemoryStore`` raises;
    - ``list_namespaces`` returns sorted namespace tuples, truncated to ``max_depth``, deduplicated.

    Bad input raises before anything is written: invalid namespace labels raise LangGraph's
    ``InvalidNamespaceError``; a value that is not plain JSON (str keys, finite numbers), an unknown filter
    operator or a negative limit raise :class:`memstore.ValidationError`. The puts and deletes of a
    batch are one transaction (one per distinct TTL if its puts carry several). Item keys plus their
    namespace are limited to 1024 UTF-8 bytes.

    TTL (``supports_ttl`` is True), as in LangGraph's PostgresStore: ``put(..., ttl=minutes)`` (or
    ``ttl={"default_ttl": minutes}`` here for every put without one) makes the item expire that many
    minutes after it was last written or, with ``refresh_ttl`` (the default; ``ttl={"refresh_on_read":
    False}`` changes it), last returned by a get or search. A put without TTL makes the item permanent
    again. Expired items are never returned or listed, even before they are deleted (``omit_expired`` is
    always on); :meth:`sweep_ttl` deletes them, and :meth:`start_ttl_sweeper` does so every
    ``sweep_interval_minutes`` in a background thread until :meth:`stop_ttl_sweeper` or :meth:`close`.
    The expiry is the core KV entry's (``KVStore.write(..., ttl=)``, ``touch``, ``purge_expired``), so
    every process on the database sees it; the item's TTL in minutes is kept in its entry for refreshes.

    Semantic search with ``index={"dims": ..., "embed": ..., "fields": [...]}`` (LangGraph's
    ``IndexConfig``; ``embed`` is what LangGraph takes — LangChain ``Embeddings``, a function, a
    ``"provider:model"`` str — or, unwrapped, a memstore ``Embedder`` or a LlamaIndex ``BaseEmbedding``,
    as :func:`memstore.as_embedder` recognises them): each put embeds the item's text at ``fields``
    (default ``["$"]``, the whole value; a put's ``index=`` list overrides them, ``index=False`` skips
    embedding) into a memstore vector collection (``<kv_namespace>.index`` on the Memstore's vector
    backend, cosine), one vector per text;
    ``search(prefix, query=...)`` finds what a plain search finds (every live item under ``prefix`` that
    passes ``filter``) and ranks it as ``InMemoryStore`` does: by the best cosine similarity of the
    vectors each item lists (``SearchItem.score``), computed exactly, so recall is total on every vector
    backend (no approximate index decides what is found; equal scores oldest item first); items without
    vectors follow, unscored, most recently updated first; then ``offset``/``limit`` over that one list,
    so paging walks every item once (``InMemoryStore`` repeats its first unscored items on each page past
    the scored ones). The cost is one read of the candidates' vectors per query. Without ``index``,
    ``query`` is ignored, as by LangGraph's stores.

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
        index: IndexConfig | None = None,
    ) -> None:
        config = _check_ttl_config(ttl)
        index_config, embeddings, fields = _check_index_config(index)
        self._store, self._owns_store = open_store(store)
        try:
            self._kv: KVStore = self._store.kv.namespace_store(kv_namespace)
        except BaseException:
            self.close()
            raise
        self.kv_namespace = kv_namespace
        """The core KV namespace holding this store's entries."""
        self.ttl_config = config
        self.index_config = index_config
        self.embeddings: Embeddings | None = embeddings
        self._fields = fields
        self._vectors: LazyCollection | None = None
        self._vectors_lock = threading.Lock()
        self._sweeper: concurrent.futures.Future[None] | None = None
        self._sweeper_stop = threading.Event()
        self._sweeper_lock = threading.Lock()
        self.last_sweep_error: BaseException | None = None
        """The error of the background sweeper's last failed sweep, if any."""

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
                entry = _decode_entry(key, raw)
                results[index] = entry.item
                if entry.ttl is not None and typing.cast(GetOp, ops[index]).refresh_ttl:
                    refresh[key] = entry.ttl * 60.0
        queries = self._embed_queries(ops)
        for index, op in enumerate(ops):
            if isinstance(op, SearchOp):
                if op.query and op.query in queries:
                    results[index] = self._semantic_search(op, queries[op.query], refresh)
                else:
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

    def _candidates(self, op: SearchOp) -> list[_Entry]:
        """The live entries under the search's prefix whose values pass its filter (one prefix scan)."""
        entries = self._kv.get_by_prefix(_prefix(op.namespace_prefix))
        decoded = (_decode_entry(key, raw) for key, raw in entries.items())
        return [entry for entry in decoded if _passes(entry.item, op.filter)]

    def _page(
        self, ranked: list[tuple[float | None, _Entry]], op: SearchOp, refresh: dict[str, float]
    ) -> list[SearchItem]:
        """``offset``/``limit`` of the ranked entries as SearchItems; their TTLs go to ``refresh``."""
        page = ranked[op.offset : op.offset + op.limit]
        if op.refresh_ttl:
            for _, entry in page:
                if entry.ttl is not None:
                    refresh[entry.key] = entry.ttl * 60.0
        return [
            SearchItem(
                e.item.namespace, e.item.key, e.item.value, e.item.created_at, e.item.updated_at, score
            )
            for score, e in page
        ]

    def _search(self, op: SearchOp, refresh: dict[str, float]) -> list[SearchItem]:
        candidates = self._candidates(op)
        _by_recency(candidates)
        return self._page([(None, entry) for entry in candidates], op, refresh)

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
        old = {
            key: _decode_entry(key, raw).paths
            for key, raw in zip(keys + deletes, existing, strict=True)
            if raw is not None
        }
        texts = self._texts_to_embed(upserts, keys)
        # Vectors first: if the item write fails, the new vectors are listed by no entry and never match.
        if texts:
            self._upsert_vectors(texts)
        now = datetime.now(timezone.utc)
        # The core gives one TTL per write: one transaction per distinct TTL, the deletes in the first.
        groups: dict[float | None, list[tuple[str, KVValue]]] = {}
        stale: list[str] = []
        for op, key, raw in zip(upserts, keys, existing, strict=False):
            created = now if raw is None else _decode(key, raw).created_at
            record: dict[str, Any] = {
                "value": dict(op.value or {}),
                "created_at": created.isoformat(),
                "updated_at": now.isoformat(),
            }
            if op.ttl is not None:
                record["ttl"] = float(op.ttl)
            paths = [path for path, _ in texts.get(key, [])]
            if paths:
                record["index"] = paths
            stale.extend(_vector_key(key, path) for path in old.get(key, ()) if path not in paths)
            text = json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            groups.setdefault(None if op.ttl is None else float(op.ttl), []).append((key, text))
        stale.extend(_vector_key(key, path) for key in deletes for path in old.get(key, ()))
        if not groups:
            self._kv.write((), deletes)
        for index, (minutes, records) in enumerate(groups.items()):
            seconds = None if minutes is None else minutes * 60
            self._kv.write(records, deletes if index == 0 else (), ttl=seconds)
        vectors = self._index()
        if stale and vectors is not None:
            # After the item write: vectors no entry lists never match, so a failure here is harmless.
            vectors.read(lambda collection: collection.delete_batch(stale), None)

    # -- semantic search ------------------------------------------------------------------------------------

    def _index(self) -> LazyCollection | None:
        """The index collection (opened on first use, created by the first vector); None without an index."""
        if self.index_config is None:
            return None
        with self._vectors_lock:
            if self._vectors is None:
                from memstore import DataField, KeyField, RecordDefinition, VectorField, VectorStore

                definition = RecordDefinition(
                    KeyField("id"),
                    VectorField("embedding", dimensions=self.index_config["dims"], distance="cosine"),
                    [DataField("ns", filterable=True), DataField("entry"), DataField("path")],
                )
                vectors = VectorStore(self._store.vectors.backend, names="sanitize")
                self._vectors = vectors.lazy_collection(f"{self.kv_namespace}.index", definition)
            return self._vectors

    def _texts_to_embed(self, upserts: list[PutOp], keys: list[str]) -> dict[str, list[tuple[str, str]]]:
        """Entry key -> [(path, text)] for the items to embed (picked as LangGraph's stores pick them)."""
        if self.index_config is None:
            return {}
        found: dict[str, list[tuple[str, str]]] = {}
        for op, key in zip(upserts, keys, strict=True):
            if op.index is False:
                continue
            fields = self._fields if op.index is None else [(path, tokenize_path(path)) for path in op.index]
            pairs: list[tuple[str, str]] = []
            for path, tokens in fields:
                texts = get_text_at_path(op.value, tokens)
                if len(texts) == 1:
                    pairs.append((path, texts[0]))
                else:
                    pairs.extend((f"{path}.{i}", text) for i, text in enumerate(texts))
            if pairs:
                found[key] = pairs
        return found

    def _upsert_vectors(self, texts: dict[str, list[tuple[str, str]]]) -> None:
        assert self.embeddings is not None
        flat = [(key, path, text) for key, pairs in texts.items() for path, text in pairs]
        vectors = self.embeddings.embed_documents([text for _, _, text in flat])
        if len(vectors) != len(flat):
            raise ValidationError(
                f"the index embeddings returned {len(vectors)} vectors for {len(flat)} texts"
            )
        records = [
            {
                "id": _vector_key(key, path),
                "embedding": list(vector),
                "ns": _namespace_labels(_split(key)[0]),
                "entry": key,
                "path": path,
            }
            for (key, path, _), vector in zip(flat, vectors, strict=True)
        ]
        index = self._index()
        assert index is not None
        index.write(lambda collection: collection.upsert_batch(records))

    def _embed_queries(self, ops: list[Op]) -> dict[str, list[float]]:
        if self.embeddings is None:
            return {}
        queries = list(dict.fromkeys(op.query for op in ops if isinstance(op, SearchOp) and op.query))
        return {query: self.embeddings.embed_query(query) for query in queries}

    def _semantic_search(
        self, op: SearchOp, vector: list[float], refresh: dict[str, float]
    ) -> list[SearchItem]:
        """Every live item under the prefix that passes the filter: scored first, then the unscored.

        As LangGraph's ``InMemoryStore`` does, each candidate is scored exactly by the best cosine of the
        vectors it lists (:meth:`memstore.VectorCollection.scores`), not by an approximate top-k search:
        an ANN index can miss an item (Chroma's HNSW loses an exact duplicate of the query among 200 equal
        vectors), and a top-k pool cut off before an item leaves it neither scored nor in the tail. A vector
        its item no longer lists (left behind when an expired item was put again) is never read, and an item
        whose vectors are gone (a lost vector folder) is still found, unscored.
        """
        candidates = self._candidates(op)
        owners = {_vector_key(entry.key, path): entry.key for entry in candidates for path in entry.paths}
        best: dict[str, float] = {}
        index = self._index() if owners and op.limit > 0 else None
        if index is not None:
            nothing: dict[Key, float] = {}
            scores = index.read(lambda collection: collection.scores(vector, list(owners)), nothing)
            for key, score in scores.items():
                entry = owners[str(key)]
                best[entry] = max(score, best.get(entry, score))
        # Equal scores keep the order InMemoryStore gives them (insertion: oldest first); unscored items
        # follow in the order of a plain search (most recently updated first).
        scored = sorted(
            (e for e in candidates if e.key in best),
            key=lambda e: (-best[e.key], e.item.created_at, e.item.namespace, e.item.key),
        )
        unscored = [e for e in candidates if e.key not in best]
        _by_recency(unscored)
        return self._page([(best[e.key], e) for e in scored] + [(None, e) for e in unscored], op, refresh)

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
        self.last_sweep_error = None

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

    def kv_prefixes(self, *namespaces: tuple[str, ...]) -> dict[str, list[str]]:
        """The ``kv_prefixes`` argument of :meth:`memstore.Memstore.forget` that removes every item under
        ``namespaces`` (and their sub-namespaces), with their vectors::

            store.forget("user-42", kv_prefixes=graph.kv_prefixes(("users", "user-42")))
        """
        for namespace in namespaces:
            if (
                not isinstance(namespace, tuple)
                or not namespace
                or not all(isinstance(label, str) and label and "." not in label for label in namespace)
            ):
                raise InvalidNamespaceError(f"a namespace to forget is a tuple of labels, not {namespace!r}")
        return {self.kv_namespace: [_prefix(namespace) for namespace in namespaces]}

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


@dataclasses.dataclass(frozen=True)
class _Entry:
    key: str
    item: Item
    ttl: float | None
    """The TTL in minutes (None: never expires)."""
    paths: tuple[str, ...]
    """The paths of the item's vectors in the index collection."""


def _decode(entry_key: str, raw: KVValue) -> Item:
    return _decode_entry(entry_key, raw).item


def _vector_key(entry_key: str, path: str) -> str:
    return hashlib.sha256(f"{entry_key}\x00{path}".encode()).hexdigest()


def _namespace_labels(namespace: tuple[str, ...]) -> dict[str, str]:
    return {f"l{i}": label for i, label in enumerate(namespace)}


def _by_recency(entries: list[_Entry]) -> None:
    """Sort in place as a plain search orders items: most recently updated first, then namespace, key."""
    entries.sort(key=lambda entry: (entry.item.namespace, entry.item.key))
    entries.sort(key=lambda entry: entry.item.updated_at, reverse=True)


def _passes(item: Item, conditions: Mapping[str, Any] | None) -> bool:
    return not conditions or all(_matches(item.value.get(k), c) for k, c in conditions.items())


def _decode_entry(entry_key: str, raw: KVValue) -> _Entry:
    """The item of an entry, its TTL and its index paths."""
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
        paths = record.get("index", [])
        if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            raise TypeError("the item's index paths are not a list of str")
    except (ValueError, KeyError, TypeError) as exc:
        raise ForeignDataError(
            f"KV entry {entry_key!r} is not an item written by MemstoreGraphStore: {exc}"
        ) from exc
    item = Item(value=value, key=key, namespace=namespace, created_at=created, updated_at=updated)
    return _Entry(entry_key, item, None if minutes is None else float(minutes), tuple(paths))


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
        index: object = op.index  # typed list[str] | False | None, but callers pass anything
        if (
            index is not None
            and index is not False
            and (
                isinstance(index, str)
                or not isinstance(index, Iterable)
                or not all(isinstance(path, str) for path in index)
            )
        ):
            raise ValidationError(f"a put's index is False, None or a list of str paths, not {op.index!r}")
        if op.value is not None:
            if not isinstance(op.value, Mapping):
                raise ValidationError(f"an item value is a dict, not {type(op.value).__name__}")
            _check_json(op.value, "item value")
    if not isinstance(op, SearchOp | ListNamespacesOp) and not isinstance(op.key, str):
        raise ValidationError(f"an item key is a str, not {type(op.key).__name__}")


def _check_minutes(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValidationError(f"{what} is a positive number of minutes, not {value!r}")


def _check_index_config(
    config: object,
) -> tuple[IndexConfig | None, Embeddings | None, list[tuple[str, Any]]]:
    if config is None:
        return None, None, []
    if not isinstance(config, Mapping):
        raise ValidationError(f"index is an IndexConfig dict, not {type(config).__name__}")
    unknown = sorted(str(name) for name in config if name not in _INDEX_KEYS)
    if unknown:
        raise ValidationError(f"unknown index settings: {', '.join(unknown)}")
    _check_int(config.get("dims"), "index dims", 1)
    if config.get("embed") is None:
        raise ValidationError(
            "index needs embed: a LangChain Embeddings, a function or a 'provider:model' str"
        )
    fields = config.get("fields") or ["$"]
    if isinstance(fields, str) or not all(isinstance(field, str) for field in fields):
        raise ValidationError("index fields are a list of str paths")
    embed = config["embed"]
    embeddings: Embeddings
    if isinstance(embed, Embeddings | str):
        embeddings = ensure_embeddings(embed)
    else:
        try:  # a memstore Embedder, a LlamaIndex BaseEmbedding: whatever the core recognises
            embeddings = MemstoreEmbeddings(as_embedder(embed))
        except ValidationError:  # a plain function, as LangGraph's stores take
            embeddings = ensure_embeddings(embed)
    tokenized = [(path, path if path == "$" else tokenize_path(path)) for path in fields]
    return typing.cast(IndexConfig, {**config, "fields": list(fields)}), embeddings, tokenized


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
            if name in _COMPARISONS:
                # An infinite bound is a plain comparison (stored numbers are finite), as InMemoryStore
                # accepts it; NaN compares false with everything, so it would silently match nothing.
                if not (_is_number(operand) or isinstance(operand, str)) or operand != operand:
                    raise ValidationError(
                        f"{where}: {name} compares with a number (±inf allowed) or a string, not {operand!r}"
                    )
                if isinstance(operand, str):
                    _check_json(operand, f"{where}[{name!r}]")
            else:
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
