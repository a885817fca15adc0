"""``MemstoreCheckpointSaver``: LangGraph's checkpointer (``BaseCheckpointSaver``) over memstore.

The storage is the core's :class:`memstore.CheckpointStore` (``Memstore.checkpoints``): this module only
turns LangGraph's configs, checkpoints and writes into core calls and back, serialising values with the
saver's ``serde`` (LangGraph's own ``JsonPlusSerializer`` unless given another). A checkpoint is stored as
its document (the checkpoint without its channel values), its metadata (a JSON object, so filters run in
SQL), and one blob per channel *version*: only the channels in ``new_versions`` are written at each step.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from memstore import And, CheckpointWrite, Eq, Filter, StoredCheckpoint, ValidationError

__all__ = ["MemstoreCheckpointSaver"]

_PRUNE_STRATEGIES = {"keep_latest": True, "delete": False}


def _thread_id(configurable: Mapping[str, Any]) -> str:
    thread_id = configurable.get("thread_id")
    if thread_id is None:
        raise ValidationError('a checkpointer needs config["configurable"]["thread_id"]')
    return str(thread_id)


def _version_key(version: object) -> str:
    """The text a channel version is stored under (LangGraph versions are str, int or float)."""
    if isinstance(version, str):
        return version
    if isinstance(version, int | float) and not isinstance(version, bool):
        return repr(version)
    raise ValidationError(f"channel versions are str, int or float, not {type(version).__name__}")


def _split_filter(spec: Mapping[str, Any] | None) -> tuple[Filter | None, Any]:
    """LangGraph's ``{key: value}`` metadata filter as equalities the database runs, plus a Python test for
    what the filter language cannot say (None, lists and dicts as values, keys it does not accept)."""
    if not spec:
        return None, None
    native: list[Filter] = []
    rest: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, str | int | float) and isinstance(key, str):
            try:
                native.append(Eq(key, value))
                continue
            except ValidationError:
                pass
        rest[key] = value
    where: Filter | None = None
    if native:
        where = native[0] if len(native) == 1 else And(*native)

    def predicate(metadata: dict[str, Any]) -> bool:
        return all(metadata.get(key) == value for key, value in rest.items())

    return where, predicate if rest else None


class MemstoreCheckpointSaver(StoreOwner, BaseCheckpointSaver[str]):
    """LangGraph's checkpointer on SQLite, PostgreSQL or memory: ``graph.compile(checkpointer=...)``.

    Threads survive restarts and are shared by every process on the same database, so interrupts can be
    resumed and history replayed (``get_state_history``, ``update_state``) from another process. Beside the
    base contract it implements every extended capability: :meth:`delete_thread`, :meth:`delete_for_runs`,
    :meth:`copy_thread` and :meth:`prune`; sync and async faces run the same core operations.

    Compact: a channel's value is stored once per version, so a large channel that does not change costs its
    size once per thread, not once per step. Each read (``get_tuple``, each page of ``list``) is one query.
    ``put`` and ``put_writes`` are one transaction each: a crash leaves the previous checkpoint readable.

    ``list(filter=...)`` matches metadata by JSON equality in the database (``True`` is not ``1``); None,
    list and dict values are compared in Python on the pages read. ``prune(strategy="keep_latest")`` keeps
    each namespace's newest checkpoint, its writes and every channel value it references. Graphs using the
    beta ``DeltaChannel`` should not be pruned: older checkpoints hold the history such channels rebuild from.

    ``store`` is a :class:`memstore.Memstore` (shared, never closed here), a SQL URL, or None for the
    embedded default; ``serde`` defaults to LangGraph's serializer. Metadata must be plain JSON, ids and
    namespaces valid memstore ids (``memstore.ValidationError`` otherwise, before anything is written).
    """

    def __init__(self, store: StoreArg = None, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._store, self._owns_store = open_store(store)
        self._checkpoints = self._store.checkpoints

    @property
    def store(self) -> Any:
        """The :class:`memstore.Memstore` this saver writes to."""
        return self._store

    # -- translation (LangGraph <-> core), shared by both faces ------------------------------------------

    def _put_args(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[dict[str, Any], RunnableConfig]:
        configurable = config["configurable"]
        thread_id = _thread_id(configurable)
        namespace = configurable.get("checkpoint_ns", "")
        versions = checkpoint["channel_versions"]
        document = {key: value for key, value in checkpoint.items() if key != "channel_values"}
        if all(isinstance(version, str) for version in versions.values()):
            # Stored in the row (the join key of each blob), so not twice; kept here when a version is not
            # a str, so that ints and floats come back as they went in.
            document.pop("channel_versions")
        values = checkpoint["channel_values"]
        blobs = {
            channel: (
                _version_key(version),
                self.serde.dumps_typed(values[channel]) if channel in values else None,
            )
            for channel, version in new_versions.items()
        }
        args = {
            "thread_id": thread_id,
            "namespace": namespace,
            "checkpoint_id": checkpoint["id"],
            "document": self.serde.dumps_typed(document),
            "channel_versions": {channel: _version_key(v) for channel, v in versions.items()},
            "blobs": blobs,
            "metadata": get_serializable_checkpoint_metadata(config, metadata),
            "parent_id": configurable.get("checkpoint_id"),
        }
        stored: RunnableConfig = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": namespace,
                "checkpoint_id": checkpoint["id"],
            }
        }
        return args, stored

    def _writes_args(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> dict[str, Any]:
        configurable = config["configurable"]
        return {
            "thread_id": _thread_id(configurable),
            "namespace": configurable.get("checkpoint_ns", ""),
            "checkpoint_id": configurable.get("checkpoint_id"),
            "writes": [
                CheckpointWrite(
                    task_id=task_id,
                    idx=WRITES_IDX_MAP.get(channel, idx),
                    channel=channel,
                    value=self.serde.dumps_typed(value),
                    task_path=task_path,
                )
                for idx, (channel, value) in enumerate(writes)
            ],
        }

    @staticmethod
    def _get_args(config: RunnableConfig) -> dict[str, Any]:
        configurable = config["configurable"]
        return {
            "thread_id": _thread_id(configurable),
            "namespace": configurable.get("checkpoint_ns", ""),
            "checkpoint_id": get_checkpoint_id(config),
        }

    @staticmethod
    def _list_args(
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> dict[str, Any]:
        configurable = (config or {}).get("configurable") or {}
        thread_id = configurable.get("thread_id")
        where, predicate = _split_filter(filter)
        return {
            "thread_id": None if thread_id is None else str(thread_id),
            "namespace": configurable.get("checkpoint_ns"),
            "checkpoint_id": configurable.get("checkpoint_id"),
            "filter": where,
            "predicate": predicate,
            "before": None if before is None else get_checkpoint_id(before),
            "limit": limit,
        }

    def _tuple(self, stored: StoredCheckpoint) -> CheckpointTuple:
        loads = self.serde.loads_typed
        document = loads(stored.document)
        document.setdefault("channel_versions", dict(stored.channel_versions))
        document["channel_values"] = {channel: loads(blob) for channel, blob in stored.values.items()}
        parent = stored.parent_id
        return CheckpointTuple(
            config={
                "configurable": {
                    "thread_id": stored.thread_id,
                    "checkpoint_ns": stored.namespace,
                    "checkpoint_id": stored.checkpoint_id,
                }
            },
            checkpoint=document,
            metadata=stored.metadata,  # type: ignore[arg-type]
            parent_config=None
            if parent is None
            else {
                "configurable": {
                    "thread_id": stored.thread_id,
                    "checkpoint_ns": stored.namespace,
                    "checkpoint_id": parent,
                }
            },
            pending_writes=[(w.task_id, w.channel, loads(w.value)) for w in stored.writes],
        )

    @staticmethod
    def _keep_latest(strategy: str) -> bool:
        if strategy not in _PRUNE_STRATEGIES:
            raise ValidationError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
        return _PRUNE_STRATEGIES[strategy]

    # -- sync face -------------------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (its ``checkpoint_id``, else the thread's newest); one query."""
        stored = self._checkpoints.get(**self._get_args(config))
        return None if stored is None else self._tuple(stored)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first; ``filter`` matches metadata in the database; one query per page."""
        for stored in self._checkpoints.list(**self._list_args(config, filter, before, limit)):
            yield self._tuple(stored)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the channel values of ``new_versions`` (only those) in one transaction."""
        args, stored = self._put_args(config, checkpoint, metadata, new_versions)
        self._checkpoints.put(**args)
        return stored

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes in one transaction (a retried task does not duplicate them)."""
        self._checkpoints.put_writes(**self._writes_args(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, value and write of a thread, in every namespace."""
        self._checkpoints.delete_thread(str(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints whose metadata ``run_id`` is in ``run_ids``, with their writes."""
        self._checkpoints.delete_runs([str(run_id) for run_id in run_ids])

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread's whole history (every namespace, value and write) to another thread."""
        self._checkpoints.copy_thread(str(source_thread_id), str(target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """keep_latest: keep each namespace's newest checkpoint and what it references; delete: all."""
        keep_latest = self._keep_latest(strategy)
        self._checkpoints.prune([str(t) for t in thread_ids], keep_latest=keep_latest)

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        """A version that sorts after ``current``: a zero-padded counter plus a random fraction, so the
        versions of two branches forked from one checkpoint never collide (as LangGraph's PostgresSaver)."""
        if current is None:
            number = 0
        elif isinstance(current, int):
            number = current
        else:
            number = int(str(current).split(".")[0])
        return f"{number + 1:032}.{random.random():016}"

    # -- async face: the same translation around the core's async twins ----------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async :meth:`get_tuple`."""
        stored = await self._checkpoints.aget(**self._get_args(config))
        return None if stored is None else self._tuple(stored)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async :meth:`list`."""
        async for stored in self._checkpoints.alist(**self._list_args(config, filter, before, limit)):
            yield self._tuple(stored)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async :meth:`put`."""
        args, stored = self._put_args(config, checkpoint, metadata, new_versions)
        await self._checkpoints.aput(**args)
        return stored

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Async :meth:`put_writes`."""
        await self._checkpoints.aput_writes(**self._writes_args(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """Async :meth:`delete_thread`."""
        await self._checkpoints.adelete_thread(str(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async :meth:`delete_for_runs`."""
        await self._checkpoints.adelete_runs([str(run_id) for run_id in run_ids])

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        await self._checkpoints.acopy_thread(str(source_thread_id), str(target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async :meth:`prune`."""
        keep_latest = self._keep_latest(strategy)
        await self._checkpoints.aprune([str(t) for t in thread_ids], keep_latest=keep_latest)

    def __repr__(self) -> str:
        return f"MemstoreCheckpointSaver({self._store!r})"
