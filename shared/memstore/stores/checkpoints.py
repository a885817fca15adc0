"""``CheckpointStore``: durable snapshots of a workflow's state, compact and listed in one query.

A checkpoint belongs to a thread and a namespace (``""`` is the root) and has an id that sorts in creation
order. It is stored as three kinds of rows: the checkpoint itself (an opaque serialised *document*, its
metadata as a JSON object, and the version of each channel it holds), one *blob* per (thread, namespace,
channel, version) holding that channel's value, and the *pending writes* of tasks run from it. A channel
value is stored once per version however many checkpoints share it, so a large value that rarely changes
costs its size once, not once per step. The store never looks inside a document or a blob (``Blob`` is the
serialiser's type tag and bytes): frameworks bring their own serialiser.

Reads are one query each: a checkpoint, or a page of them, comes back with its blobs and writes. Every write
is one transaction. ``langchain_memstore.MemstoreCheckpointSaver`` is the LangGraph face of this store.
"""

from __future__ import annotations

import builtins
import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from memstore._sync import to_async, to_async_iter
from memstore._validate import (
    INT64_MAX,
    INT64_MIN,
    MAX_IDENTIFIER_BYTES,
    check_identifier,
    check_json_object,
    check_number,
    check_text,
)
from memstore.backends.base import (
    Blob,
    CheckpointBackend,
    CheckpointKey,
    CheckpointQuery,
    CheckpointRow,
    CheckpointWrite,
    FetchedCheckpoints,
    StoredCheckpoint,
)
from memstore.errors import ValidationError
from memstore.filters import Filter, parse_filter

__all__ = [
    "Blob",
    "CheckpointBackend",
    "CheckpointKey",
    "CheckpointQuery",
    "CheckpointRow",
    "CheckpointStore",
    "CheckpointWrite",
    "FetchedCheckpoints",
    "StoredCheckpoint",
]


MAX_KEY_BYTES = 2 * MAX_IDENTIFIER_BYTES
"""The ids that make up one row's primary key, together, in UTF-8 bytes (PostgreSQL's b-tree row limit)."""

PAGE_SIZE = 50
"""Checkpoints read per query by :meth:`CheckpointStore.list` when it streams without a small limit."""


@dataclass(frozen=True)
class _Listing:
    query: CheckpointQuery
    predicate: Callable[[dict[str, Any]], bool] | None
    limit: int | None


def _check_key_parts(*parts: str) -> None:
    if sum(len(part.encode("utf-8")) for part in parts) > MAX_KEY_BYTES:
        raise ValidationError(
            f"thread id, namespace, checkpoint id and the other ids of one row are at most {MAX_KEY_BYTES} "
            "UTF-8 bytes together"
        )


def _thread(value: object) -> str:
    return check_identifier(value, "thread id")


def _namespace(value: object) -> str:
    text = check_text(value, "checkpoint namespace")
    if len(text.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ValidationError(f"checkpoint namespace is longer than {MAX_IDENTIFIER_BYTES} UTF-8 bytes")
    return text


def _blob(value: object, what: str) -> Blob:
    if not isinstance(value, tuple) or len(value) != 2:
        raise ValidationError(f"{what} is a (type tag, bytes) pair, not {type(value).__name__}")
    tag, data = value
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValidationError(f"{what} holds {type(data).__name__}, not bytes")
    return check_identifier(tag, f"{what}'s type tag"), bytes(data)


def _write(value: object) -> CheckpointWrite:
    if not isinstance(value, CheckpointWrite):
        raise ValidationError(f"writes are CheckpointWrite objects, not {type(value).__name__}")
    idx = value.idx
    if isinstance(idx, bool) or not isinstance(idx, int) or not INT64_MIN <= idx <= INT64_MAX:
        raise ValidationError(f"a write index is a 64-bit int, not {idx!r}")
    return CheckpointWrite(
        task_id=check_identifier(value.task_id, "task id"),
        idx=idx,
        channel=check_identifier(value.channel, "channel"),
        value=_blob(value.value, "a write's value"),
        task_path=check_text(value.task_path, "task path"),
    )


def _assemble(page: FetchedCheckpoints) -> list[StoredCheckpoint]:
    result = []
    for row in page.rows:
        values: dict[str, Blob] = {}
        for channel, version in row.channel_versions.items():
            blob = page.blobs.get((row.thread_id, row.namespace, channel, version))
            if blob is not None:
                values[channel] = blob
        key = (row.thread_id, row.namespace, row.checkpoint_id)
        writes = sorted(page.writes.get(key, ()), key=lambda w: (w.task_path, w.task_id, w.idx))
        result.append(
            StoredCheckpoint(
                thread_id=row.thread_id,
                namespace=row.namespace,
                checkpoint_id=row.checkpoint_id,
                parent_id=row.parent_id,
                document=row.document,
                channel_versions=row.channel_versions,
                metadata=row.metadata,
                values=values,
                writes=writes,
            )
        )
    return result


class CheckpointStore:
    """Checkpoints of workflow threads (LangGraph's short-term memory) on SQLite, PostgreSQL or memory.

    Reach it as ``Memstore.checkpoints``. What a caller may rely on:

    - :meth:`put` stores a checkpoint and the channel values that changed in it (``blobs``) in one
      transaction: after a crash the previous checkpoint is intact and the new one wholly present or absent.
      A channel's value is kept once per version, so unchanged channels cost nothing per step.
    - :meth:`get` and each page of :meth:`list` are one query that returns checkpoints with their channel
      values and pending writes (no query per checkpoint); metadata filters run in the database.
    - Deleting checkpoints (:meth:`delete_thread`, :meth:`delete_by_prefix`, :meth:`delete_runs`,
      :meth:`prune`, :meth:`delete_idle_threads`) deletes their writes and every channel value no remaining
      checkpoint references, in one transaction.

    Ids are validated like every memstore id (docs/architecture.md, D4): thread ids, checkpoint ids,
    channels, versions and task ids are non-empty text without NUL of at most 1024 UTF-8 bytes, a namespace
    may be empty, and the ids of one row together are at most 2048 bytes; metadata is a plain JSON object.
    Bad input raises :class:`~memstore.errors.ValidationError` before anything is written.
    """

    def __init__(self, backend: CheckpointBackend) -> None:
        self._backend = backend

    # -- writes -------------------------------------------------------------------------------------------

    def put(
        self,
        thread_id: str,
        namespace: str,
        checkpoint_id: str,
        *,
        document: Blob,
        channel_versions: Mapping[str, str],
        blobs: Mapping[str, tuple[str, Blob | None]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
    ) -> None:
        """Store a checkpoint: its ``document``, the version of each channel it holds, and the channel values
        new in it (``blobs``: channel -> (version, value, or None for a channel that is empty)).

        A checkpoint with the same (thread, namespace, id) is replaced; a value already stored for a
        (channel, version) is kept. ``metadata["run_id"]``, when a str, is what :meth:`delete_runs` matches.
        """
        thread_id, namespace = _thread(thread_id), _namespace(namespace)
        checkpoint_id = check_identifier(checkpoint_id, "checkpoint id")
        _check_key_parts(thread_id, namespace, checkpoint_id)
        if parent_id is not None:
            parent_id = check_identifier(parent_id, "parent checkpoint id")
        if not isinstance(channel_versions, Mapping):
            raise ValidationError("channel_versions is a mapping of channel to version")
        versions = {}
        for channel, version in channel_versions.items():
            channel = check_identifier(channel, "channel")
            version = check_identifier(version, "channel version")
            _check_key_parts(thread_id, namespace, channel, version)
            versions[channel] = version
        new_blobs: list[tuple[str, str, Blob | None]] = []
        for channel, entry in (blobs or {}).items():
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise ValidationError("each blob is a (version, value or None) pair")
            version, value = entry
            channel = check_identifier(channel, "channel")
            version = check_identifier(version, "channel version")
            _check_key_parts(thread_id, namespace, channel, version)
            new_blobs.append((channel, version, None if value is None else _blob(value, "a channel value")))
        meta = check_json_object({} if metadata is None else metadata, "checkpoint metadata")
        run_id = meta.get("run_id")
        row = CheckpointRow(
            thread_id=thread_id,
            namespace=namespace,
            checkpoint_id=checkpoint_id,
            parent_id=parent_id,
            document=_blob(document, "the checkpoint document"),
            channel_versions=versions,
            metadata=meta,
        )
        valid_run = isinstance(run_id, str) and run_id and len(run_id.encode("utf-8")) <= MAX_IDENTIFIER_BYTES
        self._backend.put(row, new_blobs, run_id if valid_run else None, _now())

    def put_writes(
        self, thread_id: str, namespace: str, checkpoint_id: str, writes: Iterable[CheckpointWrite]
    ) -> None:
        """Store the pending writes of a task run from a checkpoint, in one transaction.

        A write at a non-negative ``idx`` already stored for that (task, idx) is kept as it is (so a retried
        task cannot duplicate its writes); one at a negative ``idx`` is replaced.
        """
        key = (_thread(thread_id), _namespace(namespace), check_identifier(checkpoint_id, "checkpoint id"))
        checked = [_write(write) for write in writes]
        for write in checked:
            _check_key_parts(*key, write.task_id)
        if checked:
            self._backend.put_writes(key, checked)

    # -- reads --------------------------------------------------------------------------------------------

    def get(
        self, thread_id: str, namespace: str = "", checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        """The checkpoint ``checkpoint_id`` of a thread and namespace, or its newest one; None if absent.

        One query returns the checkpoint with its channel values and pending writes.
        """
        query = CheckpointQuery(
            thread_id=_thread(thread_id),
            namespace=_namespace(namespace),
            checkpoint_id=None if checkpoint_id is None else check_identifier(checkpoint_id, "checkpoint id"),
            limit=1,
        )
        found = _assemble(self._backend.fetch(query))
        return found[0] if found else None

    def list(
        self,
        thread_id: str | None = None,
        namespace: str | None = None,
        *,
        checkpoint_id: str | None = None,
        filter: Filter | Mapping[str, Any] | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        before: str | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredCheckpoint]:
        """Checkpoints newest first (by checkpoint id), optionally of one thread and namespace.

        ``filter`` (the filter language, on metadata) runs in the database; ``before`` keeps checkpoint ids
        below it; ``limit`` caps the count. Each page of up to 50 checkpoints (or ``limit``, if smaller) is
        one query with their values and writes. ``predicate`` is the slow path for what the filter language
        cannot say: a Python test on the metadata, applied to the pages streamed from the database.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValidationError(f"limit must be an int >= 0, not {limit!r}")
        query = CheckpointQuery(
            thread_id=None if thread_id is None else _thread(thread_id),
            namespace=None if namespace is None else _namespace(namespace),
            checkpoint_id=None if checkpoint_id is None else check_identifier(checkpoint_id, "checkpoint id"),
            before=None if before is None else check_identifier(before, "before checkpoint id"),
            filter=parse_filter(filter),
        )
        return self._stream(_Listing(query, predicate, limit))

    def _stream(self, listing: _Listing) -> Iterator[StoredCheckpoint]:
        remaining = listing.limit
        cursor: CheckpointKey | None = None
        while remaining is None or remaining > 0:
            size = PAGE_SIZE if remaining is None or listing.predicate else min(remaining, PAGE_SIZE)
            query = dataclasses.replace(listing.query, cursor=cursor, limit=size)
            page = _assemble(self._backend.fetch(query))
            for checkpoint in page:
                if listing.predicate is not None and not listing.predicate(checkpoint.metadata):
                    continue
                yield checkpoint
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return
            if len(page) < size:
                return
            last = page[-1]
            cursor = (last.checkpoint_id, last.thread_id, last.namespace)

    # -- deletes and copies -------------------------------------------------------------------------------

    def delete_thread(self, thread_id: str) -> int:
        """Delete every checkpoint of a thread (all namespaces), its values and writes; returns how many."""
        return self._backend.delete_threads([_thread(thread_id)], None)

    def delete_threads(self, thread_ids: Iterable[str]) -> int:
        """Delete every checkpoint of several threads in one transaction; returns how many."""
        checked = list(dict.fromkeys(_thread(t) for t in thread_ids))
        return self._backend.delete_threads(checked, None) if checked else 0

    def delete_by_prefix(self, prefix: str) -> int:
        """Delete every checkpoint of every thread whose id starts with ``prefix`` (literally: no wildcards),
        in one transaction; returns how many. The prefix must not be empty: this forgets, say, one user's
        threads (``"user-42:"``), and an empty prefix would forget everyone's."""
        return self._backend.delete_threads([], check_identifier(prefix, "thread id prefix"))

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        """Delete the checkpoints whose metadata ``run_id`` is one of ``run_ids``; returns how many."""
        checked = list(dict.fromkeys(check_identifier(r, "run id") for r in run_ids))
        return self._backend.delete_runs(checked) if checked else 0

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> int:
        """Copy every checkpoint of a thread, with its values and writes, to another thread, in one
        transaction (checkpoints the target already holds are kept); returns how many were copied."""
        source, target = _thread(source_thread_id), _thread(target_thread_id)
        if source == target:
            return 0
        return self._backend.copy_thread(source, target, _now())

    def prune(self, thread_ids: Iterable[str], *, keep_latest: bool = True) -> int:
        """Delete old checkpoints of ``thread_ids``; returns how many.

        ``keep_latest=True`` keeps the newest checkpoint of each namespace, its pending writes and every
        channel value it references (values written at earlier steps that it still holds stay); everything
        else of those threads goes. ``keep_latest=False`` deletes the threads' checkpoints entirely.
        """
        checked = list(dict.fromkeys(_thread(t) for t in thread_ids))
        if not checked:
            return 0
        if keep_latest:
            return self._backend.prune(checked)
        return self._backend.delete_threads(checked, None)

    def idle_threads(self, days: float) -> builtins.list[str]:
        """The threads whose newest checkpoint is older than ``days`` days, in id order."""
        return sorted(self._backend.idle_threads(_cutoff(days)))

    def delete_idle_threads(self, days: float) -> int:
        """Delete the threads (every checkpoint, value and write) idle for more than ``days`` days, judged by
        when their newest checkpoint was stored (this machine's clock); returns how many threads."""
        idle = self._backend.idle_threads(_cutoff(days))
        if idle:
            self._backend.delete_threads(idle, None)
        return len(idle)

    aput = to_async(put)
    aput_writes = to_async(put_writes)
    aget = to_async(get)
    alist = to_async_iter(list)
    adelete_thread = to_async(delete_thread)
    adelete_threads = to_async(delete_threads)
    adelete_by_prefix = to_async(delete_by_prefix)
    adelete_runs = to_async(delete_runs)
    acopy_thread = to_async(copy_thread)
    aprune = to_async(prune)
    aidle_threads = to_async(idle_threads)
    adelete_idle_threads = to_async(delete_idle_threads)

    def __repr__(self) -> str:
        return f"CheckpointStore({type(self._backend).__name__})"


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), timezone.utc)


def _cutoff(days: object) -> datetime:
    age = float(check_number(days, "days"))
    try:
        return _now() - timedelta(days=age)
    except OverflowError as exc:
        raise ValidationError(f"days is too large: {days!r}") from exc
