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
import threading
import typing
from collections.abc import Iterable
from datetime import datetime, timezone

from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from langchain_memstore.graph._codec import (
    VALUE_PATH,
    Entry,
    by_recency,
    decode_entry,
    decode_item,
    encode_entry,
    entry_key,
    entry_prefix,
    namespace_labels,
    split_key,
    vector_key,
)
from langchain_memstore.graph._filter import namespace_matches, passes, to_core_filter
from langchain_memstore.graph._ttl import Sweeper
from langchain_memstore.graph._validate import (
    check_index_config,
    check_minutes,
    check_ttl_config,
    validate_op,
)
from memstore import KVStore, KVValue, ValidationError

if typing.TYPE_CHECKING:
    from memstore import LazyCollection
    from memstore.stores.vectors import Key

__all__ = ["DEFAULT_KV_NAMESPACE", "DEFAULT_SWEEP_INTERVAL_MINUTES", "MemstoreGraphStore"]

DEFAULT_KV_NAMESPACE = "langgraph_store"
"""The KV namespace a :class:`MemstoreGraphStore` keeps its items in unless told otherwise."""

DEFAULT_SWEEP_INTERVAL_MINUTES = 5.0
"""How often :meth:`MemstoreGraphStore.start_ttl_sweeper` purges expired items unless told otherwise."""


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
      Conditions the core filter language says exactly run in the database (``KVStore.scan_documents``);
      the others (None, lists, string or ±inf bounds...) in Python on what it returns, with the same
      results. Equality is JSON equality (``True`` is not ``1``); ``$gt``-style comparisons hold between two
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
        config = check_ttl_config(ttl)
        index_config, embeddings, fields = check_index_config(index)
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
        self._sweeper = Sweeper(self.sweep_ttl)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` and return one result per op, in order (see the class docstring for semantics)."""
        ops = list(ops)
        for op in ops:
            validate_op(op)
        results: list[Result] = [None] * len(ops)
        refresh: dict[str, float] = {}  # entry key -> seconds to live, for items read with refresh_ttl
        gets = {i: entry_key(op.namespace, op.key) for i, op in enumerate(ops) if isinstance(op, GetOp)}
        if gets:
            for (index, key), raw in zip(gets.items(), self._kv.mget(list(gets.values())), strict=True):
                if raw is None:
                    continue
                entry = decode_entry(key, raw)
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

    def _candidates(self, op: SearchOp) -> list[Entry]:
        """The live entries under the search's prefix whose values pass its filter (one prefix scan).

        The filter's conditions the core language says exactly run in the core (in SQL on a database);
        the rest (``graph._filter``'s list) are checked here on what it returns."""
        prefix = entry_prefix(op.namespace_prefix)
        core, residual = to_core_filter(op.filter, VALUE_PATH)
        if core is None:
            entries: dict[str, KVValue] = dict(self._kv.get_by_prefix(prefix))
        else:
            entries = dict(self._kv.scan_documents(prefix, core))
        decoded = (decode_entry(key, raw) for key, raw in entries.items())
        return [entry for entry in decoded if passes(entry.item, residual)]

    def _page(
        self, ranked: list[tuple[float | None, Entry]], op: SearchOp, refresh: dict[str, float]
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
        by_recency(candidates)
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
        namespaces = {split_key(key)[0] for key in self._kv.keys(entry_prefix(scan))}
        matching = [ns for ns in namespaces if all(namespace_matches(c, ns) for c in conditions)]
        if op.max_depth is not None:
            matching = list({ns[: op.max_depth] for ns in matching})
        return sorted(matching)[op.offset : op.offset + op.limit]

    def _write(self, puts: list[PutOp]) -> None:
        upserts = [op for op in puts if op.value is not None]
        deletes = [entry_key(op.namespace, op.key) for op in puts if op.value is None]
        keys = [entry_key(op.namespace, op.key) for op in upserts]
        # One read gives the created_at of overwritten items and has the core check every key before the
        # first write, so a bad key cannot leave the upserts written and the deletes not.
        existing = self._kv.mget(keys + deletes)
        old = {
            key: decode_entry(key, raw).paths
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
            created = now if raw is None else decode_item(key, raw).created_at
            minutes = None if op.ttl is None else float(op.ttl)
            paths = [path for path, _ in texts.get(key, [])]
            stale.extend(vector_key(key, path) for path in old.get(key, ()) if path not in paths)
            text = encode_entry(dict(op.value or {}), created, now, minutes, paths)
            groups.setdefault(minutes, []).append((key, text))
        stale.extend(vector_key(key, path) for key in deletes for path in old.get(key, ()))
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
                "id": vector_key(key, path),
                "embedding": list(vector),
                "ns": namespace_labels(split_key(key)[0]),
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
        owners = {vector_key(entry.key, path): entry.key for entry in candidates for path in entry.paths}
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
        by_recency(unscored)
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
        check_minutes(interval, "sweep_interval_minutes")
        return self._sweeper.start(float(interval))

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; True if it stopped within ``timeout`` seconds (or none was running)."""
        return self._sweeper.stop(timeout)

    @property
    def last_sweep_error(self) -> BaseException | None:
        """The error of the background sweeper's last failed sweep, if any."""
        return self._sweeper.last_error

    def close(self) -> None:
        """Stop the TTL sweeper, then release the store if this object created it. Idempotent."""
        if hasattr(self, "_sweeper"):
            self.stop_ttl_sweeper()
        super().close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if hasattr(self, "_sweeper"):
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
        return {self.kv_namespace: [entry_prefix(namespace) for namespace in namespaces]}

    def __repr__(self) -> str:
        return f"MemstoreGraphStore(kv_namespace={self.kv_namespace!r})"
