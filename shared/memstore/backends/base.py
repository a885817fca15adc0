"""What backends implement and exchange: the protocols of every backend concern and their data types.

The stores (``memstore.stores``) hold the logic shared by every backend and call these protocols; each
backend (``memstore.backends.sql``, ``.memory``, ``.chroma``) implements them and imports only this module
from above, so backends never depend on the stores that use them. The stores modules re-export these names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from memstore._validate import (
    check_identifier,
)
from memstore.errors import StaleCollectionError, ValidationError
from memstore.filters import Filter
from memstore.models import Message
from memstore.records import RecordDefinition


@dataclasses.dataclass(frozen=True)
class Platform:
    """Where conversations come from (an app, a channel, a tenant): groups conversations."""

    id: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclasses.dataclass(frozen=True)
class Conversation:
    """One conversation. ``updated_at`` moves whenever a message is added, so lists show the active first."""

    id: str
    platform_id: str | None
    title: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _names(values: Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return tuple(check_identifier(value, what) for value in values)


@dataclasses.dataclass(frozen=True)
class MessageQuery:
    """What to read from one conversation; every field is pushed down to the backend's own query.

    ``after``/``before`` are exclusive position bounds (keyset paging); ``positions`` picks exact positions
    (ConversationMemory reads a hit's neighbouring turns with it); ``descending`` reads newest first.
    """

    types_in: tuple[str, ...] | None = None
    types_out: tuple[str, ...] | None = None
    roles_in: tuple[str, ...] | None = None
    roles_out: tuple[str, ...] | None = None
    meta: Filter | None = None
    after: int | None = None
    before: int | None = None
    positions: tuple[int, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    descending: bool = False
    offset: int = 0
    limit: int | None = None

    @classmethod
    def build(
        cls,
        *,
        type_include: Iterable[str] | None = None,
        type_exclude: Iterable[str] | None = None,
        role_include: Iterable[str] | None = None,
        role_exclude: Iterable[str] | None = None,
        meta: Filter | None = None,
    ) -> MessageQuery:
        """A validated query from the public keyword arguments."""
        return cls(
            types_in=_names(type_include, "type_include"),
            types_out=_names(type_exclude, "type_exclude"),
            roles_in=_names(role_include, "role_include"),
            roles_out=_names(role_exclude, "role_exclude"),
            meta=meta,
        )

    def page(self, **changes: Any) -> MessageQuery:
        return dataclasses.replace(self, **changes)


class ChatBackend(Protocol):
    """What a chat backend implements. Validation, paging rules and cursors stay in the stores above it.

    Every write is one atomic transaction. ``append`` assigns positions (or keeps given ones) so that
    concurrent appenders, even in other processes, never collide; it creates the conversation if missing.
    """

    def append(
        self, conversation_id: str, messages: Sequence[Message], now: datetime, *, replace: bool = False
    ) -> list[Message]:
        """Append (or, with ``replace``, delete every message first, in the same transaction)."""
        ...

    def insert(
        self, conversation_id: str, index: int, messages: Sequence[Message], now: datetime
    ) -> list[Message]:
        """Insert ``messages`` before list index ``index`` (Python's ``list.insert`` rules: negative counts
        from the end, out of range clamps) in one transaction, creating the conversation if missing.

        The new messages and every message from ``index`` on take fresh positions from the counter, in list
        order (positions are never reused); ids, content and created_at of the moved ones stay.
        """
        ...

    def select(self, conversation_id: str, query: MessageQuery) -> list[Message]: ...

    def count(self, conversation_id: str, query: MessageQuery) -> int: ...

    def get_message(self, message_id: str) -> Message | None: ...

    def update_message(self, message: Message) -> None: ...

    def delete_message(self, conversation_id: str, message_id: str) -> Message | None: ...

    def clear(self, conversation_id: str) -> int: ...

    def take_oldest(
        self, conversation_id: str, count: int | None, target_id: str | None, now: datetime
    ) -> list[Message]:
        """Remove the oldest ``count`` messages (fewer if there are fewer) in one transaction, oldest first.

        With ``target_id`` they are appended to that conversation (created if missing) on positions reserved
        from its counter, keeping id, content, metadata and created_at, and returned as stored there;
        without, they are deleted and returned as they were. Serialised with appenders of the source.
        """

    def save_platform(self, platform: Platform, *, create: bool) -> None: ...

    def get_platform(self, platform_id: str) -> Platform | None: ...

    def list_platforms(self) -> list[Platform]: ...

    def delete_platform(self, platform_id: str) -> bool: ...

    def save_conversation(self, conversation: Conversation, *, create: bool) -> None: ...

    def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    def list_conversations(
        self, platform_id: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Conversation]: ...

    def delete_conversation(self, conversation_id: str) -> bool: ...

    def list_conversation_ids(self, prefix: str, after: str | None, limit: int) -> list[str]: ...


StoredValue = tuple[bytes, bool]
"""A value as backends keep it: its bytes and whether it was a str."""


class KVBackend(Protocol):
    """What a KV backend implements; validation, encoding and expiry arithmetic stay in :class:`KVStore`.

    ``now`` is passed in (epoch seconds) so that every backend judges expiry with the same clock reading.
    Entries whose ``expires_at`` is at or before ``now`` are treated as absent by every read.
    """

    def write(
        self,
        namespace: str,
        puts: Sequence[tuple[str, StoredValue]],
        deletes: Sequence[str],
        expires_at: float | None,
    ) -> int:
        """In one atomic write, delete ``deletes`` then upsert ``puts`` (expiring at ``expires_at``, None:
        never); return how many of ``deletes`` were stored."""

    def get(self, namespace: str, keys: Sequence[str], now: float) -> dict[str, StoredValue]:
        """The live entries among ``keys``."""

    def scan(self, namespace: str, prefix: str, now: float) -> list[tuple[str, StoredValue]]:
        """The live entries whose key starts with ``prefix`` (literally: no wildcards), ordered by key."""

    def scan_keys(self, namespace: str, prefix: str, now: float) -> list[str]:
        """The live keys starting with ``prefix``, ordered, without reading their values."""

    def scan_documents(
        self, namespace: str, prefix: str, filter: Filter | None, now: float
    ) -> list[tuple[str, str]]:
        """The live str entries whose key starts with ``prefix`` and whose value, read as a JSON document,
        matches ``filter`` (None: every str entry), ordered by key; the filter runs where the data is."""

    def delete_prefix(self, namespace: str, prefix: str) -> int:
        """Delete every entry whose key starts with ``prefix``; return how many."""

    def claim(
        self, namespace: str, key: str, value: StoredValue, expires_at: float | None, now: float
    ) -> bool:
        """Write ``key`` only if it is absent or expired, atomically across processes; True if written."""

    def touch(self, namespace: str, expiries: Sequence[tuple[str, float | None]], now: float) -> int:
        """Set a new expiry on each live key in one atomic write; return how many were live."""

    def purge_expired(self, namespace: str, now: float) -> int:
        """Delete the expired entries; return how many."""

    def namespaces(self, now: float) -> dict[str, int]:
        """Every namespace holding live entries, with how many, ordered by name."""


if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float32]
    """A vector as backends see it: a 1-d float32 array of the collection's dimensions."""


@dataclass(frozen=True)
class CollectionSpec:
    """A collection as stored: its backend name, the name the user gave (``label``) and its definition."""

    name: str
    label: str
    definition: RecordDefinition

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "definition": self.definition.to_json()}

    @classmethod
    def from_json(cls, name: str, value: Mapping[str, Any]) -> CollectionSpec:
        try:
            return cls(name, str(value["label"]), RecordDefinition.from_json(value["definition"]))
        except (KeyError, TypeError) as exc:
            raise ValidationError(f"collection {name!r} has no readable memstore definition") from exc


def check_current(spec: CollectionSpec, stored: RecordDefinition | None) -> None:
    """Raise StaleCollectionError unless ``stored`` (the definition under ``spec.name`` now; None: not a
    memstore collection) is ``spec``'s."""
    if stored != spec.definition:
        raise StaleCollectionError(f"vector collection {spec.label!r} was re-created with another definition")


@dataclass(frozen=True)
class StoredRecord:
    """A record as backends keep it: key text, JSON data (the data fields), the vector (None if not read)."""

    key: str
    data: dict[str, Any]
    vector: Vector | None = None


class VectorBackend(Protocol):
    """What a vector backend implements; everything else is shared in :class:`VectorCollection`.

    Inputs arrive validated: keys are encoded text, vectors are float32 arrays of the right size, ``where``
    only names filterable fields. Every operation on a collection that does not exist raises NotFoundError,
    and on a collection whose stored definition is not ``spec``'s (re-created elsewhere) StaleCollectionError
    (:func:`check_current`); driver failures raise BackendError. Scores follow the module's convention
    (higher = more similar).
    """

    kind: str
    """Backend name used in messages and errors: ``memory``, ``sqlite``, ``postgresql``, ``chroma``."""

    def create_collection(self, spec: CollectionSpec) -> bool:
        """Create the collection; False (and no change) if one with that name exists."""

    def describe_collection(self, name: str) -> CollectionSpec | None:
        """The stored spec of collection ``name``, or None."""

    def delete_collection(self, name: str) -> bool:
        """Delete the collection and its records; False if it did not exist."""

    def list_collections(self) -> list[CollectionSpec]:
        """Every memstore collection of this backend."""

    def upsert(self, spec: CollectionSpec, records: Sequence[StoredRecord]) -> None:
        """Insert or replace ``records`` (unique keys, vectors set) in one write where the backend allows."""

    def get(self, spec: CollectionSpec, keys: Sequence[str], include_vectors: bool) -> list[StoredRecord]:
        """The stored records among ``keys`` (unique), in any order."""

    def delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        """Delete ``keys`` (unique); missing keys are ignored."""

    def delete_where(self, spec: CollectionSpec, where: Filter | None) -> int:
        """Delete the records matching ``where`` (every record if None; the collection stays); how many."""

    def count(self, spec: CollectionSpec, where: Filter | None) -> int:
        """How many records the collection holds, or how many match ``where``."""

    def scan(
        self,
        spec: CollectionSpec,
        where: Filter | None,
        cursor: str | None,
        limit: int,
        include_vectors: bool,
    ) -> tuple[list[StoredRecord], str | None]:
        """A page of up to ``limit`` records matching ``where``, from ``cursor`` (None: the start), and the
        cursor of the next page (None after the last). The order is the backend's own, stable while the
        collection is not written."""

    def search(
        self, spec: CollectionSpec, query: Vector, top_k: int, where: Filter | None, include_vectors: bool
    ) -> list[tuple[StoredRecord, float]]:
        """Up to ``top_k`` records matching ``where``, best first, with their scores."""

    def score(self, spec: CollectionSpec, query: Vector, keys: Sequence[str]) -> dict[str, float]:
        """The exact score of each stored record among ``keys`` (unique) against ``query``, in float64 by
        :func:`memstore.backends.exact.exact_scores`; missing keys are left out. Backends holding the vectors
        in memory score them in place (no record is read or decoded)."""

    def close(self) -> None:
        """Release clients and caches. Idempotent."""


Blob = tuple[str, bytes]
"""A serialised value: the serialiser's type tag and its bytes (stored and returned byte-identical)."""


CheckpointKey = tuple[str, str, str]
"""(thread id, namespace, checkpoint id): what identifies one checkpoint."""


@dataclass(frozen=True)
class CheckpointWrite:
    """One pending write of a task: ``value`` for ``channel``, at position ``idx`` of the task's writes.

    A non-negative ``idx`` is written once (a retried task neither duplicates nor changes it); a negative one
    (LangGraph's error/interrupt/resume slots) is replaced by the next write at that index.
    """

    task_id: str
    idx: int
    channel: str
    value: Blob
    task_path: str = ""


@dataclass(frozen=True)
class CheckpointRow:
    """A checkpoint row as backends keep it (without its channel values and writes)."""

    thread_id: str
    namespace: str
    checkpoint_id: str
    parent_id: str | None
    document: Blob
    channel_versions: dict[str, str]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as read back: its row, the values of its channels, and its pending writes.

    ``values`` holds the blob of every channel in ``channel_versions`` that had a value at that version
    (channels stored empty are absent); ``writes`` are in (task_path, task_id, idx) order, the order a
    super-step applies them.
    """

    thread_id: str
    namespace: str
    checkpoint_id: str
    parent_id: str | None
    document: Blob
    channel_versions: dict[str, str]
    metadata: dict[str, Any]
    values: dict[str, Blob]
    writes: list[CheckpointWrite]

    @property
    def key(self) -> CheckpointKey:
        return (self.thread_id, self.namespace, self.checkpoint_id)


@dataclass(frozen=True)
class CheckpointQuery:
    """Which checkpoints a backend fetches: newest first by (checkpoint id, thread id, namespace).

    ``None`` leaves a field unconstrained. ``before`` keeps ids below it; ``cursor`` (the sort key of the
    last row of the previous page) continues a listing; ``limit`` caps the page.
    """

    thread_id: str | None = None
    namespace: str | None = None
    checkpoint_id: str | None = None
    before: str | None = None
    filter: Filter | None = None
    cursor: CheckpointKey | None = None
    limit: int | None = None


@dataclass
class FetchedCheckpoints:
    """One page as a backend returns it: rows newest first, the blobs they reference, and their writes.

    ``blobs`` maps (thread id, namespace, channel, version) to the blob, or None for a channel stored empty.
    """

    rows: list[CheckpointRow] = field(default_factory=list)
    blobs: dict[tuple[str, str, str, str], Blob | None] = field(default_factory=dict)
    writes: dict[CheckpointKey, list[CheckpointWrite]] = field(default_factory=dict)


class CheckpointBackend(Protocol):
    """Storage only; validation, assembly, paging and write ordering stay in :class:`CheckpointStore`.

    Every method that writes is one atomic transaction. ``fetch`` is one read (one statement on SQL), so a
    page is consistent with itself. Deleting checkpoints also deletes their writes and every blob that no
    remaining checkpoint of that thread and namespace references.
    """

    def put(
        self,
        row: CheckpointRow,
        blobs: Sequence[tuple[str, str, Blob | None]],
        run_id: str | None,
        now: datetime,
    ) -> None:
        """Store ``row`` (replacing a checkpoint with the same key) and the blobs ``(channel, version, blob)``
        (a blob already stored at that version is kept), in one transaction."""

    def put_writes(self, key: CheckpointKey, writes: Sequence[CheckpointWrite]) -> None:
        """Store the writes of ``key``: keep an existing one at a non-negative idx, replace a negative one."""

    def fetch(self, query: CheckpointQuery) -> FetchedCheckpoints:
        """The checkpoints matching ``query``, newest first, with their blobs and writes, in one read."""

    def delete_threads(self, thread_ids: Sequence[str], prefix: str | None) -> int:
        """Delete every checkpoint of ``thread_ids`` (and, with ``prefix``, of every thread whose id starts
        with it), with their blobs and writes; return how many checkpoints were deleted."""

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Delete the checkpoints created by ``run_ids`` with their writes and the blobs nobody references."""

    def copy_thread(self, source: str, target: str, now: datetime) -> int:
        """Copy every row of ``source`` to ``target`` (rows ``target`` already has are kept), as stored at
        ``now``; return how many checkpoints were copied."""

    def prune(self, thread_ids: Sequence[str]) -> int:
        """Keep only the newest checkpoint of each namespace of ``thread_ids`` and what it references."""

    def idle_threads(self, idle_since: datetime) -> list[str]:
        """The threads whose newest checkpoint was stored before ``idle_since``."""


StatsGroup = tuple[str, str, str, int, datetime | None, datetime | None]
"""One group of :meth:`MemoryIndex.stats`: conversation id, role, type, message count, oldest and newest
``created_at``."""


class MemoryIndex(Protocol):
    """What a backend implements for conversation memory. Each write is one atomic transaction.

    ``collection`` names the vector collection an outbox entry waits for: two memories over different
    collections index the same messages independently. Message ids are global (as in the chat backend).
    """

    def prepare(self) -> None:
        """Create whatever the index needs that the schema does not (idempotent; called once per memory)."""
        ...

    def append_indexed(
        self, collection: str, conversation_id: str, messages: Sequence[Message], now: datetime
    ) -> list[Message]:
        """Append ``messages`` (already prepared by the buffer store) to ``conversation_id`` and, in the same
        transaction, make them members, index their text and put them in ``collection``'s outbox; returns
        them as stored."""
        ...

    def pending(self, collection: str, limit: int) -> list[str]:
        """Up to ``limit`` ids from ``collection``'s outbox, in id order."""
        ...

    def clear_pending(self, collection: str, message_ids: Sequence[str]) -> None:
        """Take ``message_ids`` out of ``collection``'s outbox (ids not in it are ignored)."""
        ...

    def pending_count(self, collection: str) -> int:
        """How many ids ``collection``'s outbox holds."""
        ...

    def mark_history(self, collection: str, conversation_ids: Sequence[str] | None) -> None:
        """Make every message of ``conversation_ids`` (None: every conversation) that is not a member yet a
        member, keyword-indexed and in ``collection``'s outbox, in one transaction."""
        ...

    def reindex_all(self, collection: str) -> None:
        """Replace ``collection``'s outbox by every stored member (after the whole store was restored)."""
        ...

    def keyword_search(
        self,
        query: str,
        limit: int,
        *,
        conversation_ids: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[str, float]]:
        """Up to ``limit`` ``(message id, score)`` pairs among stored members, best first (higher is better),
        matching the filters (``since`` inclusive, ``until`` exclusive on ``created_at``)."""
        ...

    def fetch(self, message_ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among ``message_ids``, by id (missing ones left out)."""
        ...

    def delete_older_than(self, cutoff: datetime, conversation_ids: Sequence[str] | None) -> list[str]:
        """Delete the messages created before ``cutoff`` (in ``conversation_ids``, None: everywhere) with
        their member, keyword and outbox entries (every collection), in one transaction; returns their ids."""
        ...

    def forget(self, conversation_ids: Sequence[str], message_ids: Sequence[str]) -> None:
        """Delete ``conversation_ids`` with their messages, and the member, keyword and outbox entries of
        ``message_ids`` (their messages), in one transaction."""
        ...

    def stats(self, conversation_ids: Sequence[str] | None) -> list[StatsGroup]:
        """Message counts and ``created_at`` range grouped by (conversation, role, type)."""
        ...

    def storage_bytes(self) -> int | None:
        """The size of the whole database (file or server database); None when nothing is on disk."""
        ...

    def storage_files(self) -> list[Path]:
        """The live files the store is kept in (an export must never overwrite them)."""
        ...


def __getattr__(name: str) -> Any:
    # ``Vector`` at run time without importing numpy when this module loads: ``import memstore`` stays light
    # (chat- and KV-only code never loads numpy); the vector backends that use it load numpy anyway.
    if name == "Vector":
        import numpy as np
        import numpy.typing as npt

        return npt.NDArray[np.float32]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
