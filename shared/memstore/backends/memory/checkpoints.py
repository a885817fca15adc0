"""The checkpoint backend in memory: the SQL backend's contract on dicts under one lock."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from memstore.backends.base import (
    Blob,
    CheckpointKey,
    CheckpointQuery,
    CheckpointRow,
    CheckpointWrite,
    FetchedCheckpoints,
)
from memstore.filters import matches

__all__ = ["MemoryCheckpointBackend"]

_BlobKey = tuple[str, str, str, str]  # thread, namespace, channel, version


@dataclass(frozen=True)
class _Stored:
    row: CheckpointRow
    run_id: str | None
    created_at: datetime


def _sort_key(key: CheckpointKey) -> tuple[str, str, str]:
    thread_id, namespace, checkpoint_id = key
    return (checkpoint_id, thread_id, namespace)


class MemoryCheckpointBackend:
    """Implements :class:`memstore.stores.checkpoints.CheckpointBackend` with dicts under a lock.

    Rows are kept and returned as deep copies of their metadata, so no caller can change stored data.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._rows: dict[CheckpointKey, _Stored] = {}
        self._blobs: dict[_BlobKey, Blob | None] = {}
        self._writes: dict[CheckpointKey, dict[tuple[str, int], CheckpointWrite]] = {}

    @staticmethod
    def _copy(row: CheckpointRow) -> CheckpointRow:
        return CheckpointRow(
            thread_id=row.thread_id,
            namespace=row.namespace,
            checkpoint_id=row.checkpoint_id,
            parent_id=row.parent_id,
            document=row.document,
            channel_versions=dict(row.channel_versions),
            metadata=copy.deepcopy(row.metadata),
        )

    def put(
        self,
        row: CheckpointRow,
        blobs: Sequence[tuple[str, str, Blob | None]],
        run_id: str | None,
        now: datetime,
    ) -> None:
        stored = _Stored(self._copy(row), run_id, now)
        with self._lock:
            for channel, version, blob in blobs:
                self._blobs.setdefault((row.thread_id, row.namespace, channel, version), blob)
            self._rows[(row.thread_id, row.namespace, row.checkpoint_id)] = stored

    def put_writes(self, key: CheckpointKey, writes: Sequence[CheckpointWrite]) -> None:
        with self._lock:
            stored = self._writes.setdefault(key, {})
            for write in writes:
                slot = (write.task_id, write.idx)
                if write.idx >= 0 and slot in stored:
                    continue
                stored[slot] = write

    def fetch(self, query: CheckpointQuery) -> FetchedCheckpoints:
        with self._lock:
            keys = sorted(
                (key for key, stored in self._rows.items() if self._wanted(query, key, stored.row)),
                key=_sort_key,
                reverse=True,
            )
            if query.limit is not None:
                keys = keys[: query.limit]
            fetched = FetchedCheckpoints()
            for key in keys:
                row = self._copy(self._rows[key].row)
                fetched.rows.append(row)
                for channel, version in row.channel_versions.items():
                    blob_key = (row.thread_id, row.namespace, channel, version)
                    if blob_key in self._blobs:
                        fetched.blobs[blob_key] = self._blobs[blob_key]
                if key in self._writes:
                    fetched.writes[key] = list(self._writes[key].values())
            return fetched

    @staticmethod
    def _wanted(query: CheckpointQuery, key: CheckpointKey, row: CheckpointRow) -> bool:
        thread_id, namespace, checkpoint_id = key
        if query.thread_id is not None and thread_id != query.thread_id:
            return False
        if query.namespace is not None and namespace != query.namespace:
            return False
        if query.checkpoint_id is not None and checkpoint_id != query.checkpoint_id:
            return False
        if query.before is not None and not checkpoint_id < query.before:
            return False
        if query.cursor is not None and not _sort_key(key) < query.cursor:
            return False
        return query.filter is None or matches(query.filter, row.metadata)

    def _delete_keys(self, keys: Sequence[CheckpointKey]) -> None:
        for key in keys:
            del self._rows[key]
            self._writes.pop(key, None)
        self._collect_blobs({key[0] for key in keys})

    def _collect_blobs(self, thread_ids: set[str]) -> None:
        referenced = {
            (key[0], key[1], channel, version)
            for key, stored in self._rows.items()
            if key[0] in thread_ids
            for channel, version in stored.row.channel_versions.items()
        }
        for blob_key in [k for k in self._blobs if k[0] in thread_ids and k not in referenced]:
            del self._blobs[blob_key]

    def delete_threads(self, thread_ids: Sequence[str], prefix: str | None) -> int:
        wanted = set(thread_ids)

        def doomed(thread_id: str) -> bool:
            return thread_id in wanted or (prefix is not None and thread_id.startswith(prefix))

        with self._lock:
            keys = [key for key in self._rows if doomed(key[0])]
            for key in keys:
                del self._rows[key]
            for key in [key for key in self._writes if doomed(key[0])]:
                del self._writes[key]
            for blob_key in [key for key in self._blobs if doomed(key[0])]:
                del self._blobs[blob_key]
            return len(keys)

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        wanted = set(run_ids)
        with self._lock:
            keys = [key for key, stored in self._rows.items() if stored.run_id in wanted]
            self._delete_keys(keys)
            return len(keys)

    def copy_thread(self, source: str, target: str, now: datetime) -> int:
        with self._lock:
            copied = 0
            for (thread_id, namespace, checkpoint_id), stored in list(self._rows.items()):
                key = (target, namespace, checkpoint_id)
                if thread_id != source or key in self._rows:
                    continue
                row = self._copy(stored.row)
                moved = CheckpointRow(
                    thread_id=target,
                    namespace=namespace,
                    checkpoint_id=checkpoint_id,
                    parent_id=row.parent_id,
                    document=row.document,
                    channel_versions=row.channel_versions,
                    metadata=row.metadata,
                )
                self._rows[key] = _Stored(moved, stored.run_id, now)
                copied += 1
            for (thread_id, namespace, checkpoint_id), writes in list(self._writes.items()):
                if thread_id == source:
                    target_writes = self._writes.setdefault((target, namespace, checkpoint_id), {})
                    for slot, write in writes.items():
                        target_writes.setdefault(slot, write)
            for (thread_id, namespace, channel, version), blob in list(self._blobs.items()):
                if thread_id == source:
                    self._blobs.setdefault((target, namespace, channel, version), blob)
            return copied

    def prune(self, thread_ids: Sequence[str]) -> int:
        wanted = set(thread_ids)
        with self._lock:
            newest: dict[tuple[str, str], str] = {}
            for thread_id, namespace, checkpoint_id in self._rows:
                if thread_id in wanted:
                    current = newest.get((thread_id, namespace))
                    if current is None or checkpoint_id > current:
                        newest[(thread_id, namespace)] = checkpoint_id
            doomed = [key for key in self._rows if key[0] in wanted and newest[(key[0], key[1])] != key[2]]
            for key in [k for k in self._writes if k[0] in wanted and newest.get((k[0], k[1])) != k[2]]:
                del self._writes[key]
            self._delete_keys(doomed)
            self._collect_blobs(wanted)
            return len(doomed)

    def idle_threads(self, idle_since: datetime) -> list[str]:
        with self._lock:
            newest: dict[str, datetime] = {}
            for (thread_id, _, _), stored in self._rows.items():
                if thread_id not in newest or stored.created_at > newest[thread_id]:
                    newest[thread_id] = stored.created_at
            return [thread_id for thread_id, stamp in newest.items() if stamp < idle_since]
