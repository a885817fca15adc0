"""``ConversationMemory``: chat messages stored durably and recalled by meaning and by keyword.

Messages go to the buffer store (the source of truth) and are indexed in the vector layer in the same call.

Failure policy (an outbox): on SQL, the messages, their keyword-index rows and one "pending index" row per
message (``memstore_memory_pending``) are written in one transaction. Then the pending messages are embedded
and upserted into the vector collection and their pending rows deleted. If the embedder or the vector backend
fails, :meth:`ConversationMemory.add` raises :class:`~memstore.errors.BackendError` and the rows stay pending:
the messages are stored, keyword search already finds them, and :meth:`ConversationMemory.reindex` (or the
next ``add``, which flushes every pending message first) makes them searchable by meaning. No message is ever
stored and silently left out of the index. The outbox, the keyword index and the set of messages a memory
added are the store's :class:`~memstore.stores.memory_index.MemoryIndex` (``Memstore.memory_index``: tables
on SQL, in-process sets for ``memory://``), shared by every ConversationMemory of that store.

Recall is hybrid: dense candidates from the vector collection (conversation, role, type and time filters
pushed down as record data fields) and keyword candidates ranked by BM25 in the database (FTS5 ``bm25()`` on
SQLite, ``ts_rank_cd`` on PostgreSQL, a small Python BM25 for ``memory://``), fused by
:func:`memstore.memory.ranking.fuse`. Every hit is read back from the messages table, so a message deleted
by any path is never returned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstore._sync import to_async
from memstore._validate import check_count, check_identifier, check_number, check_text, dumps
from memstore.errors import BackendError, MemstoreError, NotFoundError, UnsupportedOperation, ValidationError
from memstore.filters import And, Filter, In, Range
from memstore.memory import ranking
from memstore.models import Message
from memstore.records import DataField, KeyField, RecordDefinition, VectorField
from memstore.stores.buffer import BufferStore
from memstore.stores.chat import ChatBackend, MessageQuery
from memstore.stores.memory_index import MemoryIndex

if TYPE_CHECKING:
    from memstore.embeddings.base import Embedder, EmbedderLike
    from memstore.facade import Memstore
    from memstore.stores.vectors import VectorCollection

__all__ = [
    "DEFAULT_COLLECTION",
    "ConversationMemory",
    "MemoryStats",
    "ScoredMessage",
    "UnsupportedOperation",
]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "memstore-memory"
DEFAULT_DENSE_WEIGHT = 0.4
DEFAULT_KEYWORD_WEIGHT = 0.6
DEFAULT_CANDIDATES = 50
DEFAULT_NEIGHBOUR_WEIGHT = 0.4
DEFAULT_NEIGHBOUR_RADIUS = 2
INDEX_BATCH = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True)
class ScoredMessage:
    """One recalled message (as stored, metadata intact) and its fused score in [0, 1], higher is better."""

    message: Message
    score: float


def _micros(value: datetime) -> int:
    return (value.astimezone(timezone.utc) - _EPOCH) // timedelta(microseconds=1)


def _names(values: Iterable[str] | str | None, what: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return [check_identifier(value, what) for value in values]


def _utc(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@dataclasses.dataclass(frozen=True)
class _Scope:
    conversation_ids: list[str] | None
    roles: list[str] | None
    types: list[str] | None
    since: datetime | None
    until: datetime | None

    def vector_filter(self) -> Filter | None:
        parts: list[Filter] = []
        if self.conversation_ids is not None:
            parts.append(In("conversation_id", self.conversation_ids))
        if self.roles is not None:
            parts.append(In("role", self.roles))
        if self.types is not None:
            parts.append(In("type", self.types))
        if self.since is not None or self.until is not None:
            parts.append(
                Range(
                    "created_at",
                    gte=None if self.since is None else _micros(self.since),
                    lt=None if self.until is None else _micros(self.until),
                )
            )
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(*parts)

    def admits(self, message: Message) -> bool:
        """Whether ``message`` as stored now passes the filters (its index entry may predate an edit or a
        move made through the buffer)."""
        created = message.created_at
        return (
            (self.conversation_ids is None or message.conversation_id in self.conversation_ids)
            and (self.roles is None or message.role in self.roles)
            and (self.types is None or message.type in self.types)
            and (self.since is None or (created is not None and created >= self.since))
            and (self.until is None or (created is not None and created < self.until))
        )

    def message_query(self) -> MessageQuery:
        return MessageQuery(
            roles_in=None if self.roles is None else tuple(self.roles),
            types_in=None if self.types is None else tuple(self.types),
            since=self.since,
            until=self.until,
        )


def _to_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "position": message.position,
        "role": message.role,
        "type": message.type,
        "content": message.content,
        "metadata": message.metadata,
        "created_at": None if message.created_at is None else message.created_at.isoformat(),
    }


def _from_json(value: dict[str, Any]) -> Message:
    if not isinstance(value, dict):
        raise TypeError(f"a message is a JSON object, not {type(value).__name__}")
    created = value.get("created_at")
    return Message(
        role=value["role"],
        content=value["content"],
        type=value.get("type", "text"),
        metadata=value.get("metadata") or {},
        id=value.get("id"),
        conversation_id=value.get("conversation_id"),
        position=value.get("position"),
        created_at=None if created is None else datetime.fromisoformat(created),
    )


def _batches(messages: Iterable[Message], size: int) -> Iterator[list[Message]]:
    """``messages`` in lists of ``size`` (the last one shorter)."""
    stream = iter(messages)
    while batch := list(itertools.islice(stream, size)):
        yield batch


def _jsonl_messages(source: Path) -> Iterator[Message]:
    """The messages of an :meth:`ConversationMemory.export` file, line by line (ValidationError names the
    first bad line)."""
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield _from_json(json.loads(line))
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                reason = "nested too deep" if isinstance(exc, RecursionError) else exc
                raise ValidationError(f"{source}:{number}: not a memstore message line ({reason})") from exc


@dataclasses.dataclass(frozen=True)
class MemoryStats:
    """What :meth:`ConversationMemory.stats` reports. ``storage_bytes``: the whole database file (SQLite) or
    database (PostgreSQL); None in memory."""

    messages: int
    conversations: dict[str, int]
    roles: dict[str, int]
    types: dict[str, int]
    first_at: datetime | None
    last_at: datetime | None
    pending: int
    vectors: int
    storage_bytes: int | None


class ConversationMemory:
    """Long-term memory over chat messages: :meth:`add`, :meth:`recent`, :meth:`recall`, :meth:`reindex`.

    Get one from :meth:`memstore.Memstore.memory`. Bound to ``conversation_id`` it reads and writes that
    conversation; with None it spans every conversation, and each added message names its own
    ``conversation_id`` (or ``default_conversation_id`` is used).

    Ranking (see :mod:`memstore.memory.ranking`): min-max normalised dense and keyword scores, weighted
    ``dense_weight``/``keyword_weight`` (0.4/0.6 by default, chosen on LoCoMo dev), optional recency decay
    (``half_life_days``), a neighbour boost (``neighbour_weight``, ``neighbour_radius``: a turn also scores
    on the turns around it; 0 turns it off), optional neighbouring turns as context. ``candidates`` is how
    many hits each retriever contributes; with ``rescore`` (the default) keyword candidates missing from the
    dense list get their true cosine similarity instead of counting as the dense list's worst.
    """

    def __init__(
        self,
        store: Memstore,
        conversation_id: str | None = None,
        *,
        embedder: EmbedderLike | None = None,
        collection: str = DEFAULT_COLLECTION,
        default_conversation_id: str | None = None,
        dense_weight: float = DEFAULT_DENSE_WEIGHT,
        keyword_weight: float = DEFAULT_KEYWORD_WEIGHT,
        fusion: ranking.FusionMethod = "minmax",
        half_life_days: float | None = None,
        candidates: int = DEFAULT_CANDIDATES,
        rescore: bool = True,
        neighbour_weight: float = DEFAULT_NEIGHBOUR_WEIGHT,
        neighbour_radius: int = DEFAULT_NEIGHBOUR_RADIUS,
    ) -> None:
        from memstore.embeddings import as_embedder, get_default_embedder

        chosen = get_default_embedder() if embedder is None else as_embedder(embedder)
        dimensions = chosen.dimensions
        for name, weight in (
            ("dense_weight", dense_weight),
            ("keyword_weight", keyword_weight),
            ("neighbour_weight", neighbour_weight),
        ):
            check_number(weight, name)
        if half_life_days is not None:
            check_number(half_life_days, "half_life_days", positive=True)
        ranking.fuse({}, {}, dense_weight=dense_weight, keyword_weight=keyword_weight, method=fusion)
        check_count(candidates, "candidates", minimum=1)
        check_count(neighbour_radius, "neighbour_radius", minimum=0)
        self.store = store
        self.conversation_id = (
            None if conversation_id is None else check_identifier(conversation_id, "conversation_id")
        )
        self.default_conversation_id = (
            None
            if default_conversation_id is None
            else check_identifier(default_conversation_id, "default_conversation_id")
        )
        self.embedder: Embedder = chosen
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self.fusion: ranking.FusionMethod = fusion
        self.half_life_days = half_life_days
        self.candidates = candidates
        self.rescore = rescore
        self.neighbour_weight = float(neighbour_weight)
        self.neighbour_radius = neighbour_radius
        self._chat: ChatBackend = store.conversations._backend
        self._memory_index: MemoryIndex = store.memory_index
        self.definition = RecordDefinition(
            KeyField("id"),
            VectorField("embedding", dimensions=dimensions, distance="cosine"),
            [
                DataField("conversation_id", filterable=True),
                DataField("role", filterable=True),
                DataField("type", filterable=True),
                DataField("created_at", filterable=True),
            ],
        )
        self.collection_name = collection
        self._collection: VectorCollection[dict[str, Any]] = store.vectors.get_collection(
            collection, self.definition
        )
        self._collection_ready = False
        self._memory_index.prepare()

    # -- writes -------------------------------------------------------------------------------------------

    def _target(self, message: Message) -> str:
        if self.conversation_id is not None:
            return self.conversation_id
        target = message.conversation_id or self.default_conversation_id
        if target is None:
            raise ValidationError(
                "this memory spans every conversation: give each message a conversation_id "
                "(or the memory a default_conversation_id)"
            )
        return target

    def add(self, messages: Message | Iterable[Message]) -> list[Message]:
        """Store ``messages`` (one transaction per conversation) and index them for recall; returns them as
        stored. Caller-given ids, positions and ``created_at`` are kept.

        If indexing fails the messages stay stored and pending, and BackendError is raised: call
        :meth:`reindex` (the next ``add`` also retries them).
        """
        batch = [messages] if isinstance(messages, Message) else list(messages)
        ordered, prepared = self._prepared(batch)
        self._ensure_collection()  # a vector store this process cannot use fails here, before any write
        written: dict[str, Message] = {}
        now = datetime.now(timezone.utc)
        for cid, group in prepared.items():
            written.update((m.id or "", m) for m in self._append(cid, group, now))
        self._flush()
        return [written[m.id or ""] for m in ordered]

    def _prepared(self, batch: list[Message]) -> tuple[list[Message], dict[str, list[Message]]]:
        """Check a batch as :meth:`add` writes it (every rule, no write): the messages with their ids, in
        input order and grouped by conversation."""
        targets: list[str] = []
        groups: dict[str, list[Message]] = {}
        for message in batch:
            if not isinstance(message, Message):
                raise ValidationError(f"expected memstore.Message objects, not {type(message).__name__}")
            targets.append(self._target(message))
            groups.setdefault(targets[-1], []).append(message)
        prepared = {cid: BufferStore(self._chat, cid)._prepare(group) for cid, group in groups.items()}
        cursors = {cid: iter(group) for cid, group in prepared.items()}
        return [next(cursors[cid]) for cid in targets], prepared

    def _append(self, conversation_id: str, batch: list[Message], now: datetime) -> list[Message]:
        return self._memory_index.append_indexed(self.collection_name, conversation_id, batch, now)

    def pending_count(self) -> int:
        """How many stored messages wait to be indexed in the vector layer (0 after a successful add)."""
        return self._memory_index.pending_count(self.collection_name)

    def _flush(self) -> int:
        """Index every pending message; BackendError (pending rows kept) if embedding or the upsert fails."""
        done = 0
        while True:
            ids = self._memory_index.pending(self.collection_name, INDEX_BATCH)
            if not ids:
                return done
            found = self._fetch(ids)
            try:
                if found:
                    self._index([found[i] for i in ids if i in found])
            except Exception as exc:
                vectors = getattr(self._collection, "_backend", None)
                raise BackendError(
                    f"stored message(s) could not be indexed for recall ({exc}); they are kept and "
                    "pending: call reindex() to retry",
                    backend=exc.backend if isinstance(exc, BackendError) else getattr(vectors, "kind", ""),
                    operation="memory.index",
                ) from exc
            # ids whose message is gone are cleared too
            self._memory_index.clear_pending(self.collection_name, ids)
            done += len(found)

    def _ensure_collection(self) -> None:
        if not self._collection_ready:
            self._collection.create_if_not_exists()
            self._collection_ready = True

    def _index(self, messages: list[Message]) -> None:
        self._ensure_collection()
        vectors = self.embedder.embed_documents([m.text for m in messages])
        if len(vectors) != len(messages):
            raise ValidationError(f"the embedder returned {len(vectors)} vectors for {len(messages)} texts")
        self._collection.upsert_batch(
            [
                {
                    "id": m.id,
                    "embedding": vector,
                    "conversation_id": m.conversation_id,
                    "role": m.role,
                    "type": m.type,
                    "created_at": _micros(m.created_at or _EPOCH),
                }
                for m, vector in zip(messages, vectors, strict=True)
            ]
        )

    def reindex(self) -> int:
        """Index every pending message (after a failed add); returns how many were indexed."""
        return self._flush()

    def index_history(self, conversation_ids: Iterable[str] | str | None = None) -> int:
        """Index for recall the messages written without this memory (through a buffer, a chat history
        without ``recall=True``, a LlamaIndex chat store, before the app used a memory), in this memory's
        conversation, or in ``conversation_ids`` (every conversation for a memory spanning all). Messages
        already indexed are left alone, so it is safe to run again; returns how many were indexed."""
        cids = _names(conversation_ids, "conversation_ids")
        if self.conversation_id is not None:
            if cids is not None and cids != [self.conversation_id]:
                raise ValidationError(f"this memory is bound to conversation {self.conversation_id!r}")
            cids = [self.conversation_id]
        self._ensure_collection()
        self._memory_index.mark_history(self.collection_name, cids)
        return self._flush()

    # -- reads --------------------------------------------------------------------------------------------

    def _fetch(self, ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among ``ids`` (missing ones left out)."""
        return self._memory_index.fetch(ids) if ids else {}

    def _conversation_ids(self) -> list[str]:
        return list(self.store.conversations.iter_ids())

    def recent(self, k: int = 20) -> list[Message]:
        """The ``k`` newest messages, oldest first (across conversations when the memory spans them all)."""
        check_count(k, "k", minimum=0)
        if k == 0:
            return []
        if self.conversation_id is not None:
            return BufferStore(self._chat, self.conversation_id).get_msg(-k)
        newest: list[Message] = []
        for cid in self._conversation_ids():
            newest.extend(self._chat.select(cid, MessageQuery(descending=True, limit=k)))
        newest.sort(key=lambda m: (m.created_at, m.conversation_id, m.position), reverse=True)
        return newest[:k][::-1]

    def _scope(
        self,
        conversation_ids: Iterable[str] | str | None,
        roles: Iterable[str] | str | None,
        types: Iterable[str] | str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> _Scope:
        cids = _names(conversation_ids, "conversation_ids")
        if self.conversation_id is not None:
            cids = [self.conversation_id] if cids is None or self.conversation_id in cids else []
        return _Scope(
            cids, _names(roles, "roles"), _names(types, "types"), _utc(since, "since"), _utc(until, "until")
        )

    def _dense(self, vector: list[float], scope: _Scope, limit: int) -> dict[str, float]:
        try:
            hits = self._collection.search(vector, limit, filter=scope.vector_filter())
        except NotFoundError:
            return {}
        return {str(hit.record["id"]): float(hit.score) for hit in hits}

    def _rescore(self, vector: list[float], keys: list[str]) -> dict[str, float]:
        """Cosine similarities of ``keys`` (keyword candidates the dense search did not return)."""
        if not keys:
            return {}
        try:
            records = self._collection.get_batch(keys, include_vectors=True)
        except NotFoundError:
            return {}
        if not records:
            return {}
        similarities = ranking.cosines(vector, [record["embedding"] for record in records])
        return {str(record["id"]): float(score) for record, score in zip(records, similarities, strict=True)}

    def _keyword(self, query: str, scope: _Scope, limit: int) -> dict[str, float]:
        return dict(
            self._memory_index.keyword_search(
                query,
                limit,
                conversation_ids=scope.conversation_ids,
                roles=scope.roles,
                types=scope.types,
                since=scope.since,
                until=scope.until,
            )
        )

    def recall(
        self,
        query: str,
        k: int = 10,
        *,
        conversation_ids: Iterable[str] | str | None = None,
        roles: Iterable[str] | str | None = None,
        types: Iterable[str] | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_score: float | None = None,
        context: int = 0,
    ) -> list[ScoredMessage]:
        """The ``k`` messages best matching ``query``, best first, as :class:`ScoredMessage`.

        Filters: ``conversation_ids``, ``roles``, ``types`` (any of), ``since`` (inclusive) and ``until``
        (exclusive) on ``created_at``. ``min_score`` drops hits whose fused score (in [0, 1]) is below it.
        ``context=n`` adds up to ``n`` turns before and after each hit (same conversation, unfiltered), right
        after it with its score; they count toward ``k``.
        """
        check_text(query, "query")
        check_count(k, "k", minimum=0)
        check_count(context, "context", minimum=0)
        if min_score is not None and not isinstance(min_score, int | float):
            raise ValidationError("min_score must be a number")
        scope = self._scope(conversation_ids, roles, types, since, until)
        if k == 0 or scope.conversation_ids == []:
            return []
        limit = max(self.candidates, k)
        dense: dict[str, float] = {}
        keyword = self._keyword(query, scope, limit) if self.keyword_weight > 0 else {}
        if self.dense_weight > 0:
            try:
                vector = self.embedder.embed_query(query)
            except MemstoreError:
                raise
            except Exception as exc:  # as add() reports an embedder failure: typed, with the cause chained
                raise BackendError(
                    f"the embedder failed on the query ({exc})", backend="embedder", operation="memory.recall"
                ) from exc
            dense = self._dense(vector, scope, limit)
            if self.rescore:
                dense.update(self._rescore(vector, [key for key in keyword if key not in dense]))
        fused = ranking.fuse(
            dense,
            keyword,
            dense_weight=self.dense_weight,
            keyword_weight=self.keyword_weight,
            method=self.fusion,
        )
        found = {key: m for key, m in self._fetch(list(fused)).items() if scope.admits(m)}
        fused = {key: value for key, value in fused.items() if key in found}
        if self.neighbour_weight > 0 and self.neighbour_radius > 0:
            # Only turns around the k best candidates can climb into the first k (checked on LoCoMo: the
            # same hits as fetching around every candidate), so only those are read.
            best = [found[key] for key, _ in ranking.ordered(fused)[:k]]
            found.update(self._indexed(self._neighbours(best, scope), known=found))
            slots = {key: (m.conversation_id or "", m.position or 0) for key, m in found.items()}
            fused = ranking.neighbour_boost(fused, slots, self.neighbour_weight, self.neighbour_radius)
        if self.half_life_days is not None:
            created = {key: found[key].created_at or _EPOCH for key in fused}
            fused = ranking.recency_decay(fused, created, self.half_life_days)
        hits = [
            ScoredMessage(found[key], score)
            for key, score in ranking.ordered(fused)
            if min_score is None or score >= min_score
        ]
        if context == 0:
            return hits[:k]
        return self._with_context(hits, k, context)

    def _indexed(self, messages: dict[str, Message], known: Mapping[str, Message]) -> dict[str, Message]:
        """Those of ``messages`` this memory indexed (a turn written through the buffer alone stays out of
        recall, as everywhere else); ``known`` are hits already, indexed by construction."""
        unknown = [key for key in messages if key not in known]
        try:
            indexed = {str(r["id"]) for r in self._collection.get_batch(unknown, include_vectors=False)}
        except NotFoundError:
            indexed = set()
        return {key: m for key, m in messages.items() if key in known or key in indexed}

    def _neighbours(self, candidates: list[Message], scope: _Scope) -> dict[str, Message]:
        """The turns within ``neighbour_radius`` of ``candidates`` that pass the scope's filters."""
        wanted: dict[str, set[int]] = {}
        for message in candidates:
            around = wanted.setdefault(message.conversation_id or "", set())
            for distance in range(1, self.neighbour_radius + 1):
                around.update(((message.position or 0) - distance, (message.position or 0) + distance))
        query = scope.message_query()
        found: dict[str, Message] = {}
        for cid, positions in wanted.items():
            selected = dataclasses.replace(query, positions=tuple(sorted(p for p in positions if p >= 0)))
            found.update((m.id or "", m) for m in self._chat.select(cid, selected))
        return found

    def _with_context(self, hits: list[ScoredMessage], k: int, context: int) -> list[ScoredMessage]:
        result: list[ScoredMessage] = []
        seen: set[str] = set()
        for hit in hits:
            if len(result) >= k:
                break
            message = hit.message
            position = message.position or 0
            around = self._chat.select(
                message.conversation_id or "",
                MessageQuery(after=position - context - 1, before=position + context + 1),
            )
            for neighbour in [message] + [m for m in around if m.id != message.id]:
                if neighbour.id not in seen and len(result) < k:
                    seen.add(neighbour.id or "")
                    result.append(ScoredMessage(neighbour, hit.score))
        return result

    # -- retention, stats ------------------------------------------------------------------------------------

    def _scope_ids(self, conversation_id: str | None) -> list[str] | None:
        if conversation_id is not None:
            cid = check_identifier(conversation_id, "conversation_id")
            if self.conversation_id is not None and cid != self.conversation_id:
                raise ValidationError(f"this memory is bound to conversation {self.conversation_id!r}")
            return [cid]
        return None if self.conversation_id is None else [self.conversation_id]

    def delete_older_than(self, days: float, *, conversation_id: str | None = None) -> int:
        """Delete messages created more than ``days`` days ago (in this memory's conversation, or in
        ``conversation_id``, or everywhere for a memory spanning all), with their vectors, keyword-index rows
        and pending rows; returns how many messages were deleted.

        The messages, keyword rows and pending rows go in one transaction; the vectors right after. Should
        that last step fail (BackendError), the orphan vectors are never returned: recall reads every hit
        back from the messages table.
        """
        check_number(days, "days")
        try:
            cutoff = datetime.now(timezone.utc) - timedelta(days=days)
        except OverflowError:  # further back than datetime reaches: nothing is that old
            return 0
        doomed = self._memory_index.delete_older_than(cutoff, self._scope_ids(conversation_id))
        if doomed:
            with contextlib.suppress(NotFoundError):  # no collection yet: no vectors to delete
                self._collection.delete_batch(doomed)
        return len(doomed)

    def stats(self) -> MemoryStats:
        """Counts per conversation, role and type, the date range, pending and vector counts, storage size."""
        cids = self._scope_ids(None)
        groups = self._memory_index.stats(cids)
        size = self._memory_index.storage_bytes()
        by_conversation: dict[str, int] = {}
        by_role: dict[str, int] = {}
        by_type: dict[str, int] = {}
        lows = [g[4] for g in groups if g[4] is not None]
        highs = [g[5] for g in groups if g[5] is not None]
        for cid, role, type_, count, _, _ in groups:
            by_conversation[cid] = by_conversation.get(cid, 0) + count
            by_role[role] = by_role.get(role, 0) + count
            by_type[type_] = by_type.get(type_, 0) + count
        try:
            vectors = self._collection.count(filter=None if cids is None else In("conversation_id", cids))
        except NotFoundError:
            vectors = 0
        return MemoryStats(
            messages=sum(by_conversation.values()),
            conversations=dict(sorted(by_conversation.items())),
            roles=dict(sorted(by_role.items())),
            types=dict(sorted(by_type.items())),
            first_at=min(lows) if lows else None,
            last_at=max(highs) if highs else None,
            pending=self.pending_count(),
            vectors=vectors,
            storage_bytes=size,
        )

    # -- export, import, backup -----------------------------------------------------------------------------

    def export(
        self,
        path: str | Path,
        *,
        conversation_ids: Iterable[str] | str | None = None,
        overwrite: bool = False,
        progress: bool = False,
    ) -> int:
        """Write this memory's messages (``conversation_ids``, or every conversation for a memory spanning
        all) to a JSONL file, one message per line with id, conversation, position, role, type, content,
        metadata and created_at; streamed conversation by conversation in pages. Returns how many were
        written.

        The file is written aside and moved into place when complete (mode 0600). An existing ``path`` is
        refused unless ``overwrite``; a symlink or the live database never is written.
        """
        from tqdm import tqdm  # type: ignore[import-untyped]

        from memstore._files import private_file

        cids = self._scope(conversation_ids, None, None, None, None).conversation_ids
        written = 0
        protected = self._memory_index.storage_files()
        with (
            private_file(Path(path), overwrite=overwrite, what="export", protected=protected) as staged,
            staged.open("w", encoding="utf-8") as out,
            tqdm(desc="export", unit="msg", disable=not progress) as bar,
        ):
            for cid in cids if cids is not None else self._conversation_ids():
                for message in BufferStore(self._chat, cid).get_msgs_forward():
                    out.write(dumps(_to_json(message)) + "\n")
                    written += 1
                    bar.update(1)
        return written

    def import_(self, path: str | Path, *, batch_size: int = 500, progress: bool = False) -> int:
        """Add the messages of a JSONL file written by :meth:`export` (ids, positions, metadata and times
        kept), indexing them for recall; streamed in batches. Returns how many were imported.

        The whole file is read and checked first: a malformed line raises ValidationError before anything
        is written. Messages whose id is already stored are skipped, so importing a file again is harmless.
        A failure while writing (a backend error) leaves the batches written before it.
        """
        check_count(batch_size, "batch_size", minimum=1)
        source = Path(path)
        if not source.is_file():
            raise NotFoundError(f"no file {str(source)!r}")
        total = self._check_stream(_jsonl_messages(source), batch_size)
        return self._add_stream(_jsonl_messages(source), total, batch_size, "import", progress)[0]

    def _check_stream(self, messages: Iterable[Message], batch_size: int) -> int:
        """Run every check :meth:`add` makes on ``messages``, in the batches :meth:`_add_stream` will write,
        without writing; returns how many there are."""
        total = 0
        for batch in _batches(messages, batch_size):
            self._prepared(batch)
            total += len(batch)
        return total

    def _add_stream(
        self,
        messages: Iterable[Message],
        total: int,
        batch_size: int,
        label: str,
        progress: bool,
        conversations: set[str] | None = None,
    ) -> tuple[int, set[str]]:
        """:meth:`add` ``messages`` in batches under a tqdm bar of ``total``, skipping those whose id is
        already stored (so running an import or a migration again adds nothing twice); returns the count and
        the conversation ids written (also added to ``conversations`` as they are written)."""
        from tqdm import tqdm

        written = skipped = 0
        conversations = set() if conversations is None else conversations  # the caller's sees partial work
        with tqdm(desc=label, unit="msg", total=total, disable=not progress) as bar:
            for batch in _batches(messages, batch_size):
                present = self._fetch([m.id for m in batch if m.id is not None])
                fresh = [m for m in batch if m.id is None or m.id not in present]
                if fresh:
                    conversations.update(message.conversation_id or "" for message in self.add(fresh))
                written += len(fresh)
                skipped += len(batch) - len(fresh)
                bar.update(len(batch))
        if skipped:
            logger.info("%s: %d message(s) already present (same id) were skipped", label, skipped)
        return written, conversations

    def backup(self, path: str | Path) -> Path:
        """Back up the whole store: :meth:`memstore.Memstore.backup` (SQLite files; the vectors go in too,
        wherever they live). PostgreSQL and ``memory://`` raise :class:`UnsupportedOperation`."""
        return self.store.backup(path)

    def restore(self, path: str | Path) -> int:
        """Replace the whole store with the backup at ``path`` (:meth:`memstore.Memstore.restore`: checked on
        a copy first, the live database untouched if it is unusable); returns how many messages were indexed.

        A backup that carries its vectors needs only the messages its outbox still held. An older one
        without them has every memory message re-indexed, so recall matches the restored messages.
        """
        report = self.store.restore(path)
        self._collection_ready = False
        if report.vectors is not None or self.store._vectors_choice.kind == "sql":
            return self._flush()
        return self._reindex_everything()

    def _reindex_everything(self) -> int:
        """Index again every message a memory added, in every conversation: the whole database was replaced,
        not only this memory's conversation."""
        self._memory_index.reindex_all(self.collection_name)
        return self._flush()

    aadd = to_async(add)
    arecent = to_async(recent)
    arecall = to_async(recall)
    areindex = to_async(reindex)
    aindex_history = to_async(index_history)
    apending_count = to_async(pending_count)
    adelete_older_than = to_async(delete_older_than)
    astats = to_async(stats)
    aexport = to_async(export)
    aimport_ = to_async(import_)
    abackup = to_async(backup)
    arestore = to_async(restore)

    def __repr__(self) -> str:
        return (
            f"ConversationMemory(conversation_id={self.conversation_id!r}, "
            f"collection={self.collection_name!r}, embedder={self.embedder!r})"
        )
