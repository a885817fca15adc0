"""Recall and recent reads of :class:`~memstore.memory.ConversationMemory`: the scope of a query, the dense
and keyword retrievers, fusion, the neighbour boost and context turns.

The ranking itself is pure (:mod:`memstore.memory.ranking`); this module gathers its inputs from the memory's
vector collection and its store's :class:`~memstore.stores.memory_index.MemoryIndex`, and reads every hit
back from the messages, so a message deleted by any path is never returned. The functions take the memory
as their first argument; :class:`~memstore.memory.ConversationMemory`'s methods call them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from memstore._validate import check_count, check_identifier, check_text
from memstore.errors import BackendError, MemstoreError, NotFoundError, ValidationError
from memstore.filters import And, Filter, In, Range
from memstore.memory import ranking
from memstore.models import Message
from memstore.stores.buffer import BufferStore
from memstore.stores.chat import MessageQuery

if TYPE_CHECKING:
    from memstore.memory.conversation import ConversationMemory

__all__ = ["ScoredMessage"]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True)
class ScoredMessage:
    """One recalled message (as stored, metadata intact) and its fused score in [0, 1], higher is better."""

    message: Message
    score: float


def micros(value: datetime) -> int:
    """``value`` as integer microseconds since the epoch (how vector records hold ``created_at``)."""
    return (value.astimezone(timezone.utc) - EPOCH) // timedelta(microseconds=1)


def names(values: Iterable[str] | str | None, what: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return [check_identifier(value, what) for value in values]


def utc(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@dataclasses.dataclass(frozen=True)
class Scope:
    """What a read is limited to (None: no limit on that field), validated once."""

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
                    gte=None if self.since is None else micros(self.since),
                    lt=None if self.until is None else micros(self.until),
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


def recent(memory: ConversationMemory, k: int = 20) -> list[Message]:
    """The body of :meth:`ConversationMemory.recent`."""
    check_count(k, "k", minimum=0)
    if k == 0:
        return []
    if memory.conversation_id is not None:
        return BufferStore(memory._chat, memory.conversation_id).get_msg(-k)
    newest: list[Message] = []
    for cid in memory._conversation_ids():
        newest.extend(memory._chat.select(cid, MessageQuery(descending=True, limit=k)))
    newest.sort(key=lambda m: (m.created_at, m.conversation_id, m.position), reverse=True)
    return newest[:k][::-1]


def make_scope(
    memory: ConversationMemory,
    conversation_ids: Iterable[str] | str | None,
    roles: Iterable[str] | str | None,
    types: Iterable[str] | str | None,
    since: datetime | None,
    until: datetime | None,
) -> Scope:
    """The validated scope of a read; a memory bound to a conversation never reads outside it (asking for
    other conversations only yields an empty scope)."""
    cids = names(conversation_ids, "conversation_ids")
    if memory.conversation_id is not None:
        cids = [memory.conversation_id] if cids is None or memory.conversation_id in cids else []
    return Scope(cids, names(roles, "roles"), names(types, "types"), utc(since, "since"), utc(until, "until"))


def _dense(memory: ConversationMemory, vector: list[float], scope: Scope, limit: int) -> dict[str, float]:
    try:
        hits = memory._collection.search(vector, limit, filter=scope.vector_filter())
    except NotFoundError:
        return {}
    return {str(hit.record["id"]): float(hit.score) for hit in hits}


def _rescore(memory: ConversationMemory, vector: list[float], keys: list[str]) -> dict[str, float]:
    """Cosine similarities of ``keys`` (keyword candidates the dense search did not return)."""
    if not keys:
        return {}
    try:
        records = memory._collection.get_batch(keys, include_vectors=True)
    except NotFoundError:
        return {}
    if not records:
        return {}
    similarities = ranking.cosines(vector, [record["embedding"] for record in records])
    return {str(record["id"]): float(score) for record, score in zip(records, similarities, strict=True)}


def _keyword(memory: ConversationMemory, query: str, scope: Scope, limit: int) -> dict[str, float]:
    return dict(
        memory._memory_index.keyword_search(
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
    memory: ConversationMemory,
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
    """The body of :meth:`ConversationMemory.recall`."""
    check_text(query, "query")
    check_count(k, "k", minimum=0)
    check_count(context, "context", minimum=0)
    if min_score is not None and not isinstance(min_score, int | float):
        raise ValidationError("min_score must be a number")
    scope = make_scope(memory, conversation_ids, roles, types, since, until)
    if k == 0 or scope.conversation_ids == []:
        return []
    limit = max(memory.candidates, k)
    dense: dict[str, float] = {}
    keyword = _keyword(memory, query, scope, limit) if memory.keyword_weight > 0 else {}
    if memory.dense_weight > 0:
        try:
            vector = memory.embedder.embed_query(query)
        except MemstoreError:
            raise
        except Exception as exc:  # as add() reports an embedder failure: typed, with the cause chained
            raise BackendError(
                f"the embedder failed on the query ({exc})", backend="embedder", operation="memory.recall"
            ) from exc
        dense = _dense(memory, vector, scope, limit)
        if memory.rescore:
            dense.update(_rescore(memory, vector, [key for key in keyword if key not in dense]))
    fused = ranking.fuse(
        dense,
        keyword,
        dense_weight=memory.dense_weight,
        keyword_weight=memory.keyword_weight,
        method=memory.fusion,
    )
    found = {key: m for key, m in memory._fetch(list(fused)).items() if scope.admits(m)}
    fused = {key: value for key, value in fused.items() if key in found}
    if memory.neighbour_weight > 0 and memory.neighbour_radius > 0:
        # Only turns around the k best candidates can climb into the first k (checked on LoCoMo: the
        # same hits as fetching around every candidate), so only those are read.
        best = [found[key] for key, _ in ranking.ordered(fused)[:k]]
        found.update(_indexed(memory, _neighbours(memory, best, scope), known=found))
        slots = {key: (m.conversation_id or "", m.position or 0) for key, m in found.items()}
        fused = ranking.neighbour_boost(fused, slots, memory.neighbour_weight, memory.neighbour_radius)
    if memory.half_life_days is not None:
        created = {key: found[key].created_at or EPOCH for key in fused}
        fused = ranking.recency_decay(fused, created, memory.half_life_days)
    hits = [
        ScoredMessage(found[key], score)
        for key, score in ranking.ordered(fused)
        if min_score is None or score >= min_score
    ]
    if context == 0:
        return hits[:k]
    return _with_context(memory, hits, k, context)


def _indexed(
    memory: ConversationMemory, messages: dict[str, Message], known: Mapping[str, Message]
) -> dict[str, Message]:
    """Those of ``messages`` this memory indexed (a turn written through the buffer alone stays out of
    recall, as everywhere else); ``known`` are hits already, indexed by construction."""
    unknown = [key for key in messages if key not in known]
    try:
        indexed = {str(r["id"]) for r in memory._collection.get_batch(unknown, include_vectors=False)}
    except NotFoundError:
        indexed = set()
    return {key: m for key, m in messages.items() if key in known or key in indexed}


def _neighbours(memory: ConversationMemory, candidates: list[Message], scope: Scope) -> dict[str, Message]:
    """The turns within ``neighbour_radius`` of ``candidates`` that pass the scope's filters."""
    wanted: dict[str, set[int]] = {}
    for message in candidates:
        around = wanted.setdefault(message.conversation_id or "", set())
        for distance in range(1, memory.neighbour_radius + 1):
            around.update(((message.position or 0) - distance, (message.position or 0) + distance))
    query = scope.message_query()
    found: dict[str, Message] = {}
    for cid, positions in wanted.items():
        selected = dataclasses.replace(query, positions=tuple(sorted(p for p in positions if p >= 0)))
        found.update((m.id or "", m) for m in memory._chat.select(cid, selected))
    return found


def _with_context(
    memory: ConversationMemory, hits: list[ScoredMessage], k: int, context: int
) -> list[ScoredMessage]:
    result: list[ScoredMessage] = []
    seen: set[str] = set()
    for hit in hits:
        if len(result) >= k:
            break
        message = hit.message
        position = message.position or 0
        around = memory._chat.select(
            message.conversation_id or "",
            MessageQuery(after=position - context - 1, before=position + context + 1),
        )
        for neighbour in [message] + [m for m in around if m.id != message.id]:
            if neighbour.id not in seen and len(result) < k:
                seen.add(neighbour.id or "")
                result.append(ScoredMessage(neighbour, hit.score))
    return result
