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

This module holds the class, its configuration and the write path (``add`` and the outbox flush). The other
methods are one-line calls into a module per concern: reads in :mod:`memstore.memory.recall`, retention,
statistics and ``index_history`` in :mod:`memstore.memory.maintenance`, export, import and restore in
:mod:`memstore.memory.io`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstore._sync import to_async
from memstore._validate import check_count, check_identifier, check_number
from memstore.errors import BackendError, UnsupportedOperation, ValidationError
from memstore.memory import io, maintenance, ranking
from memstore.memory import recall as recall_
from memstore.memory.maintenance import MemoryStats
from memstore.memory.recall import EPOCH, ScoredMessage, micros
from memstore.models import Message
from memstore.records import DataField, KeyField, RecordDefinition, VectorField
from memstore.stores.buffer import BufferStore
from memstore.stores.chat import ChatBackend
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
                    "created_at": micros(m.created_at or EPOCH),
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
        return maintenance.index_history(self, conversation_ids)

    # -- reads (memory/recall.py) ---------------------------------------------------------------------------

    def _fetch(self, ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among ``ids`` (missing ones left out)."""
        return self._memory_index.fetch(ids) if ids else {}

    def _conversation_ids(self) -> list[str]:
        return list(self.store.conversations.iter_ids())

    def recent(self, k: int = 20) -> list[Message]:
        """The ``k`` newest messages, oldest first (across conversations when the memory spans them all)."""
        return recall_.recent(self, k)

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
        return recall_.recall(
            self,
            query,
            k,
            conversation_ids=conversation_ids,
            roles=roles,
            types=types,
            since=since,
            until=until,
            min_score=min_score,
            context=context,
        )

    # -- upkeep (memory/maintenance.py) ---------------------------------------------------------------------

    def delete_older_than(self, days: float, *, conversation_id: str | None = None) -> int:
        """Delete messages created more than ``days`` days ago (in this memory's conversation, or in
        ``conversation_id``, or everywhere for a memory spanning all), with their vectors, keyword-index rows
        and pending rows; returns how many messages were deleted.

        The messages, keyword rows and pending rows go in one transaction; the vectors right after. Should
        that last step fail (BackendError), the orphan vectors are never returned: recall reads every hit
        back from the messages table.
        """
        return maintenance.delete_older_than(self, days, conversation_id=conversation_id)

    def stats(self) -> MemoryStats:
        """Counts per conversation, role and type, the date range, pending and vector counts, storage size."""
        return maintenance.stats(self)

    # -- export, import, backup (memory/io.py) --------------------------------------------------------------

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
        return io.export(
            self, path, conversation_ids=conversation_ids, overwrite=overwrite, progress=progress
        )

    def import_(self, path: str | Path, *, batch_size: int = 500, progress: bool = False) -> int:
        """Add the messages of a JSONL file written by :meth:`export` (ids, positions, metadata and times
        kept), indexing them for recall; streamed in batches. Returns how many were imported.

        The whole file is read and checked first: a malformed line raises ValidationError before anything
        is written. Messages whose id is already stored are skipped, so importing a file again is harmless.
        A failure while writing (a backend error) leaves the batches written before it.
        """
        return io.import_(self, path, batch_size=batch_size, progress=progress)

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
        return io.restore(self, path)

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
