"""The vector backend on Chroma: embedded (``PersistentClient``) or a server (``HttpClient``).

Storage layout of one record in a Chroma collection:

- id: the key text; embedding: the vector (Chroma never embeds anything itself: ``embedding_function=None``);
- one metadata entry per scalar leaf of each **filterable** field, under the field's path with ``\\ . : # $``
  backslash-escaped and nested keys joined by ``.`` (``("tags", "topic")`` -> ``tags.topic``): strings and
  booleans as themselves, numbers as an order-preserving 64-bit integer image of their float value. Lists and
  nulls are not stored as leaves: the filter language compares scalars only, so a comparison on them is
  false, as a missing field's is;
- metadata ``memstore:data``: the record's data fields as JSON text, written only when the leaves cannot
  rebuild the data exactly (nesting, lists, nulls, unfiltered fields, integral floats such as ``2.0``, whose
  image reads back as an int). Flat records, the common case, cost Chroma nothing beyond their own fields:
  ingest runs within a few percent of raw ``collection.add`` (see benchmarks/bench_vectors.py).

Chroma's upsert merges metadata into an existing record, so an upsert first reads the batch's old metadata
(one ``get`` by id) and clears every key the new record does not set: a replaced record keeps no stale leaf
that a filter could still match. (Two processes replacing the same key at the same instant can still leave
the union of their leaves: Chroma offers no transaction to close that window.)

Why numbers are not stored as Chroma numbers: Chroma 1.5 changes about one float in five by one unit in the
last place when it stores it (so 0.9999999999999999 equals 1.0), and compares a float with a stored integer
after truncating the float (0.5 equals 0). 64-bit integers are stored and compared exactly, and the image
keeps the float order, so equality and ranges are exactly the reference semantics
(``memstore.filters.matches``): ``1 == 1.0``, ``True`` is not ``1``, ``"1"`` is not ``1``, ranges only match
numbers, ``$ne``/``$nin`` also match records without the field (plain negation).

What Chroma cannot say raises ValidationError naming it, before any I/O:

- the negation of a range (``Not(Range(...))``, also inside a negated And/Or): it must match non-numbers and
  missing fields, and Chroma has no "is not a number" test; write the opposite bounds instead;
- an integer that a 64-bit float does not hold exactly (beyond 2**53, such as 2**60 + 1), in a filterable
  field or a filter: comparing it through floats could call two different numbers equal.

Scores: Chroma returns distances (``1 - cos``, ``1 - dot``, squared L2); they are turned into the library's
scores (cosine similarity, dot product, negative Euclidean distance).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings
from chromadb.errors import NotFoundError as ChromaNotFoundError

from memstore._validate import check_number, dumps
from memstore.backends.base import CollectionSpec, StoredRecord, Vector, check_current
from memstore.errors import BackendError, ConflictError, MemstoreError, NotFoundError, ValidationError
from memstore.filters import And, Eq, Field, Filter, In, Not, Or, Range, Scalar
from memstore.records import Distance, RecordDefinition

__all__ = ["ChromaVectorBackend", "chroma_metadata", "metadata_key", "record_data", "to_chroma_where"]

logger = logging.getLogger(__name__)

_R = TypeVar("_R")

DATA_KEY = "memstore:data"
SPEC_KEY = "memstore:spec"

SPACES: dict[Distance, str] = {"cosine": "cosine", "dot": "ip", "euclidean": "l2"}

DEFAULT_TIMEOUT = 30.0
"""Seconds a Chroma server may take to answer one request before BackendError."""


# -- pure translation (no I/O) ----------------------------------------------------------------------------

_ESCAPED = re.compile(r"[\\.:#$]")


@functools.lru_cache(maxsize=4096)
def metadata_key(field: Field) -> str:
    """The Chroma metadata key of a field path (collision-free: separators are the only bare dots)."""
    return ".".join(_ESCAPED.sub(lambda match: "\\" + match.group(), part) for part in field)


def number_order(value: float) -> int | None:
    """A signed 64-bit integer ordered like ``float(value)`` (None beyond the float range)."""
    try:
        bits: int = struct.unpack("<q", struct.pack("<d", float(value)))[0]
    except OverflowError:
        return None
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)  # -0.0 maps to 0, like 0.0


def _exact_order(value: float, where: str) -> int:
    order = number_order(value)
    if order is None or (isinstance(value, int) and float(value) != value):
        raise ValidationError(
            f"chroma compares numbers as 64-bit floats, which do not hold {where} {value} exactly "
            "(integers are exact up to 2**53)"
        )
    return order


def order_number(order: int) -> float:
    """The float whose :func:`number_order` is ``order`` (its inverse)."""
    bits = order if order >= 0 else -order | 0x8000_0000_0000_0000
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


def _flatten(value: Any, field: Field, out: dict[str, Any]) -> None:
    if isinstance(value, bool | str):
        out[metadata_key(field)] = value
    elif isinstance(value, int | float):
        out[metadata_key(field)] = _exact_order(value, f"field {'.'.join(field)!r}:")
    elif isinstance(value, Mapping):
        for name, item in value.items():
            _flatten(item, (*field, name), out)


def _reads_back(value: Any) -> bool:
    """Whether a top-level leaf reads back as itself (:func:`_leaf_value`): its type is not lost."""
    return isinstance(value, bool | str | int) or (isinstance(value, float) and not value.is_integer())


def _leaf_value(stored: Any) -> Any:
    if isinstance(stored, bool | str):
        return stored
    number = order_number(stored)
    return int(number) if number.is_integer() else number


def chroma_metadata(data: Mapping[str, Any], definition: RecordDefinition) -> dict[str, Any]:
    """The Chroma metadata of a record's data: the filterable scalar leaves, plus the JSON text if needed.

    The JSON copy is left out when the leaves rebuild the data exactly (:func:`record_data`): every field is
    a filterable string, boolean, integer or non-integral float.
    """
    metadata: dict[str, Any] = {}
    filterable = definition.filterable
    for name in filterable:
        if name in data:
            _flatten(data[name], (name,), metadata)
    if not metadata or not all(name in filterable and _reads_back(value) for name, value in data.items()):
        metadata[DATA_KEY] = dumps(data)
    return metadata


def record_data(metadata: Mapping[str, Any] | None, definition: RecordDefinition) -> dict[str, Any]:
    """A record's data from its Chroma metadata (the inverse of :func:`chroma_metadata`)."""
    if metadata is None:
        return {}
    if DATA_KEY in metadata:
        loaded: dict[str, Any] = json.loads(metadata[DATA_KEY])
        return loaded
    found = ((name, metadata.get(metadata_key((name,)))) for name in definition.data_names)
    return {name: _leaf_value(stored) for name, stored in found if stored is not None}


def replacing(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
    """The metadata that replaces ``old`` by ``new``: Chroma's upsert merges, so old keys are set to None."""
    if not old:
        return dict(new)
    return {**dict.fromkeys(old), **new}


def _operand(value: Scalar) -> Scalar:
    """A filter value as stored: strings and booleans as themselves, numbers as their integer image."""
    return value if isinstance(value, bool | str) else _exact_order(value, "filter value")


def _combine(parts: list[dict[str, Any] | bool], conjunction: bool) -> dict[str, Any] | bool:
    """``$and``/``$or`` of ``parts``, folding the constants True (match all) and False (match none)."""
    absorbing, neutral = (False, True) if conjunction else (True, False)
    if any(part is absorbing for part in parts):
        return absorbing
    kept = [part for part in parts if part is not neutral]
    if not kept:
        return neutral
    if len(kept) == 1:
        return kept[0]
    return {"$and" if conjunction else "$or": kept}


_RANGE_OPERATORS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def _translate(node: Filter, negate: bool) -> dict[str, Any] | bool:
    if isinstance(node, Not):
        return _translate(node.filter, not negate)
    if isinstance(node, And | Or):
        conjunction = isinstance(node, And) != negate  # De Morgan: Not(Or(...)) is And(Not ...)
        return _combine([_translate(child, negate) for child in node.filters], conjunction)
    key = metadata_key(node.field)
    if isinstance(node, Eq):
        return {key: {"$ne" if negate else "$eq": _operand(node.value)}}
    if isinstance(node, In):
        # Chroma wants one type per $in list: strings, booleans and numbers (integer images) apart.
        groups: dict[type, list[Scalar]] = {}
        for value in node.values:
            operand = _operand(value)
            groups.setdefault(type(operand), []).append(operand)
        parts: list[dict[str, Any] | bool] = [
            {key: {"$nin" if negate else "$in": list(dict.fromkeys(operands))}}
            for operands in groups.values()
        ]
        return _combine(parts, conjunction=negate)
    assert isinstance(node, Range)
    if negate:
        raise ValidationError(
            "chroma does not support the negation of a range (it would have to match non-numbers and missing "
            f"fields): write the opposite bounds instead of Not({node!r})"
        )
    bounds = []
    for op, value in node.bounds():
        order = number_order(value)
        if order is None:
            raise ValidationError(
                f"chroma compares numbers as floats; range bound {value} is beyond their range"
            )
        bounds.append({key: {_RANGE_OPERATORS[op]: order}})
    return _combine(list(bounds), conjunction=True)


def to_chroma_where(node: Filter) -> dict[str, Any] | bool:
    """The Chroma ``where`` dict for ``node``; True means "no filter", False means "matches nothing".

    The result selects exactly the records :func:`memstore.filters.matches` accepts, given metadata written by
    :func:`chroma_metadata`. Raises ValidationError for what Chroma cannot express (see the module doc).
    """
    return _translate(node, negate=False)


@functools.lru_cache(maxsize=256)
def _stored_definition(raw: str | None) -> RecordDefinition | None:
    """The definition in a collection's ``memstore:spec`` metadata (parsed once per distinct text)."""
    return None if raw is None else CollectionSpec.from_json("", json.loads(raw)).definition


def _score(distance: float, metric: Distance) -> float:
    if metric == "euclidean":
        return -math.sqrt(max(distance, 0.0))
    return 1.0 - distance


# -- clients ----------------------------------------------------------------------------------------------


def _settings() -> Settings:
    return Settings(anonymized_telemetry=False, allow_reset=False)


_EMBEDDED_LOCK = threading.Lock()
_EMBEDDED: dict[str, _Embedded] = {}
"""One PersistentClient per resolved path in this process, with the number of backends using it."""

LOCK_FILE = "memstore.lock"


@dataclass
class _Embedded:
    client: Any
    users: int
    pid: int
    lock_fd: int | None


def _lock_folder(path: str) -> int | None:
    """Take the folder's exclusive process lock, or raise ConflictError naming the way out.

    Embedded Chroma keeps its index in process memory and does not see another process's writes: four
    processes adding and recalling on one folder failed 7-45% of recalls with "Error finding id". So one
    process holds a folder at a time; a server is the way to share one.
    """
    if sys.platform == "win32":  # pragma: no cover - no flock: the documented rule stands
        return None
    import fcntl

    fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise ConflictError(
            f"embedded Chroma at {path!r} is in use by another process (pid {holder}). Embedded Chroma "
            "serves one process at a time; to share vectors between processes run a Chroma server "
            f"(chroma run --path {path}) and use vectors='chroma+http://host:port'"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    return fd


def _unlock_folder(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


def _open_embedded(path: str) -> Any:
    with _EMBEDDED_LOCK:
        entry = _EMBEDDED.get(path)
        if entry is None or entry.pid != os.getpid():  # a forked child opens (and locks) its own
            Path(path).mkdir(parents=True, exist_ok=True)
            fd = _lock_folder(path)
            try:
                client = chromadb.PersistentClient(path=path, settings=_settings())
            except BaseException:
                _unlock_folder(fd)
                raise
            entry = _EMBEDDED[path] = _Embedded(client, 0, os.getpid(), fd)
        entry.users += 1
        return entry.client


def _close_embedded(path: str) -> None:
    with _EMBEDDED_LOCK:
        entry = _EMBEDDED.get(path)
        if entry is None:
            return
        if entry.users > 1:
            entry.users -= 1
            return
        del _EMBEDDED[path]
    try:
        entry.client.close()
    finally:
        _unlock_folder(entry.lock_fd)


@contextmanager
def _errors(operation: str) -> Iterator[None]:
    """Chroma, HTTP and client errors become BackendError (NotFoundError for a missing collection)."""
    try:
        yield
    except MemstoreError:
        raise
    except Exception as exc:
        if isinstance(exc, ChromaNotFoundError):
            raise NotFoundError(f"chroma: {exc}") from exc
        raise BackendError(
            f"chroma failed during {operation}: {type(exc).__name__}: {exc}",
            backend="chroma",
            operation=operation,
        ) from exc


class ChromaVectorBackend:
    """Implements :class:`memstore.stores.vectors.VectorBackend` on Chroma.

    ``ChromaVectorBackend(path=...)`` opens an embedded store (one client per path per process, shared and
    reference-counted); ``ChromaVectorBackend(host=..., port=...)`` talks to a server, each request bounded by
    ``timeout`` seconds. Clients are created on first use, so a server that is down fails the first operation
    with BackendError, not the constructor. ``hnsw`` passes HNSW settings (``ef_search``,
    ``ef_construction``, ``max_neighbors``...) to collections this backend creates.
    """

    kind = "chroma"

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        host: str | None = None,
        port: int = 8000,
        ssl: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        hnsw: Mapping[str, Any] | None = None,
    ) -> None:
        if (path is None) == (host is None):
            raise ValidationError("ChromaVectorBackend takes a path (embedded) or a host (server), not both")
        check_number(timeout, "timeout (seconds)", positive=True)
        self._path = None if path is None else str(Path(path).expanduser().resolve())
        self._host, self._port, self._ssl, self.timeout = host, int(port), ssl, float(timeout)
        self._hnsw = dict(hnsw or {})
        self._client: Any = None
        self._lock = threading.Lock()
        self._handles: dict[str, Any] = {}
        self._max_batch = 0

    @property
    def location(self) -> str:
        """Where the data lives: the embedded path, or the server URL."""
        if self._path is not None:
            return self._path
        return f"{'https' if self._ssl else 'http'}://{self._host}:{self._port}"

    def _connect(self) -> Any:
        with self._lock:
            if self._client is not None:
                return self._client
            with _errors("connect"):
                if self._path is not None:
                    self._client = _open_embedded(self._path)
                else:
                    self._client = self._open_server()
                self._max_batch = int(self._client.get_max_batch_size())
            return self._client

    def _open_server(self) -> Any:
        # The client's own HTTP session has no timeout, and its constructor already makes a request: probe the
        # server with a bounded request first, then bound the client's session.
        httpx.get(f"{self.location}/api/v2/heartbeat", timeout=self.timeout).raise_for_status()
        client = chromadb.HttpClient(
            host=str(self._host), port=self._port, ssl=self._ssl, settings=_settings()
        )
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = httpx.Timeout(self.timeout)
        else:  # pragma: no cover - depends on chromadb internals
            logger.warning("chroma client has no httpx session to bound; requests may wait without limit")
        return client

    def _handle(self, name: str) -> Any:
        with self._lock:
            handle = self._handles.get(name)
        if handle is None:
            client = self._connect()
            with _errors("get_collection"):
                handle = client.get_collection(name, embedding_function=None)
            with self._lock:
                self._handles[name] = handle
        return handle

    def _forget(self, name: str) -> None:
        with self._lock:
            self._handles.pop(name, None)

    def _run(self, spec: CollectionSpec, operation: str, work: Callable[[Any], _R]) -> _R:
        """Run ``work(collection)``, renewing a cached handle gone stale (the collection was re-created)."""
        for attempt in range(2):
            handle = self._handle(spec.name)
            check_current(spec, _stored_definition((handle.metadata or {}).get(SPEC_KEY)))
            try:
                with _errors(operation):
                    return work(handle)
            except NotFoundError:
                self._forget(spec.name)
                if attempt:
                    raise NotFoundError(f"vector collection {spec.label!r} does not exist") from None
        raise AssertionError("unreachable")

    def _chunks(self, count: int, largest: int = 5000) -> Iterator[slice]:
        size = max(1, min(self._max_batch or 1000, largest))
        for start in range(0, count, size):
            yield slice(start, start + size)

    # -- collections --------------------------------------------------------------------------------------

    def create_collection(self, spec: CollectionSpec) -> bool:
        client = self._connect()
        configuration = {"hnsw": {**self._hnsw, "space": SPACES[spec.definition.vector.distance]}}
        try:
            with _errors("create_collection"):
                handle = client.create_collection(
                    spec.name,
                    configuration=configuration,
                    metadata={SPEC_KEY: dumps(spec.to_json())},
                    embedding_function=None,
                )
        except BackendError as exc:
            if "already exists" in str(exc.__cause__):
                return False
            raise
        with self._lock:
            self._handles[spec.name] = handle
        return True

    def _spec_of(self, name: str, metadata: Mapping[str, Any] | None) -> CollectionSpec | None:
        raw = (metadata or {}).get(SPEC_KEY)
        return None if raw is None else CollectionSpec.from_json(name, json.loads(raw))

    def describe_collection(self, name: str) -> CollectionSpec | None:
        self._forget(name)
        try:
            handle = self._handle(name)
        except NotFoundError:
            return None
        spec = self._spec_of(name, handle.metadata)
        if spec is None:
            raise ValidationError(f"chroma collection {name!r} was not created by memstore (no definition)")
        return spec

    def delete_collection(self, name: str) -> bool:
        client = self._connect()
        self._forget(name)
        try:
            with _errors("delete_collection"):
                client.delete_collection(name)
        except NotFoundError:
            return False
        return True

    def list_collections(self) -> list[CollectionSpec]:
        client = self._connect()
        with _errors("list_collections"):
            found = client.list_collections()
        specs = [self._spec_of(collection.name, collection.metadata) for collection in found]
        return [spec for spec in specs if spec is not None]

    # -- records ------------------------------------------------------------------------------------------

    def upsert(self, spec: CollectionSpec, records: Sequence[StoredRecord]) -> None:
        definition = spec.definition
        metadatas = [chroma_metadata(record.data, definition) for record in records]  # may raise: before I/O
        vectors = np.stack([record.vector for record in records if record.vector is not None])
        ids = [record.key for record in records]

        def work(handle: Any) -> None:
            for part in self._chunks(len(ids)):
                keys, new = ids[part], metadatas[part]
                existing = handle.get(ids=keys, include=["metadatas"])
                old = dict(zip(existing["ids"], existing["metadatas"], strict=True))
                replaced = [replacing(data, old.get(key)) for key, data in zip(keys, new, strict=True)]
                handle.upsert(ids=keys, embeddings=vectors[part], metadatas=replaced)

        self._run(spec, "upsert", work)

    def _record(
        self, definition: RecordDefinition, key: str, metadata: Mapping[str, Any] | None, vector: Any
    ) -> StoredRecord:
        stored = None if vector is None else np.asarray(vector, dtype=np.float32)
        return StoredRecord(key, record_data(metadata, definition), stored)

    def get(self, spec: CollectionSpec, keys: Sequence[str], include_vectors: bool) -> list[StoredRecord]:
        include = ["metadatas", "embeddings"] if include_vectors else ["metadatas"]
        record = functools.partial(self._record, spec.definition)

        def work(handle: Any) -> list[StoredRecord]:
            found: list[StoredRecord] = []
            for part in self._chunks(len(keys)):
                result = handle.get(ids=list(keys[part]), include=include)
                vectors = result["embeddings"] if include_vectors else [None] * len(result["ids"])
                found.extend(map(record, result["ids"], result["metadatas"], vectors))
            return found

        return self._run(spec, "get", work)

    def delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        def work(handle: Any) -> None:
            for part in self._chunks(len(keys)):
                handle.delete(ids=list(keys[part]))

        self._run(spec, "delete", work)

    def delete_where(self, spec: CollectionSpec, where: Filter | None) -> int:
        """Counts the matches, then one ``delete(where=...)`` (every id, in batches, without a filter).
        Chroma has no transaction: a record written between the two calls may be deleted uncounted."""
        translated = True if where is None else to_chroma_where(where)

        def work(handle: Any) -> int:
            if translated is False:
                handle.count()  # still report a missing collection
                return 0
            if translated is True:
                ids = list(handle.get(include=[])["ids"])
                for part in self._chunks(len(ids)):
                    handle.delete(ids=ids[part])
                return len(ids)
            count = len(handle.get(where=translated, include=[])["ids"])
            if count:
                handle.delete(where=translated)
            return count

        return self._run(spec, "delete_where", work)

    def count(self, spec: CollectionSpec, where: Filter | None) -> int:
        translated = True if where is None else to_chroma_where(where)

        def work(handle: Any) -> int:
            if isinstance(translated, dict):
                return len(handle.get(where=translated, include=[])["ids"])
            total = int(handle.count())  # also reports a missing collection when the filter matches nothing
            return total if translated else 0

        return self._run(spec, "count", work)

    def scan(
        self,
        spec: CollectionSpec,
        where: Filter | None,
        cursor: str | None,
        limit: int,
        include_vectors: bool,
    ) -> tuple[list[StoredRecord], str | None]:
        """Chroma's own order (insertion); the cursor is an offset, so records written during a scan may be
        seen twice or missed."""
        translated = True if where is None else to_chroma_where(where)
        include = ["metadatas", "embeddings"] if include_vectors else ["metadatas"]
        record = functools.partial(self._record, spec.definition)
        offset = 0 if cursor is None else int(cursor)
        size = min(limit, self._max_batch or limit)

        def work(handle: Any) -> tuple[list[StoredRecord], str | None]:
            if translated is False:
                handle.count()  # still report a missing collection
                return [], None
            result = handle.get(
                where=None if translated is True else translated,
                limit=size + 1,
                offset=offset,
                include=include,
            )
            vectors = result["embeddings"] if include_vectors else [None] * len(result["ids"])
            page = list(map(record, result["ids"][:size], result["metadatas"][:size], vectors[:size]))
            return page, (str(offset + size) if len(result["ids"]) > size else None)

        return self._run(spec, "scan", work)

    def search(
        self, spec: CollectionSpec, query: Vector, top_k: int, where: Filter | None, include_vectors: bool
    ) -> list[tuple[StoredRecord, float]]:
        translated = True if where is None else to_chroma_where(where)
        include = ["metadatas", "distances", *(["embeddings"] if include_vectors else [])]
        metric = spec.definition.vector.distance

        def work(handle: Any) -> list[tuple[StoredRecord, float]]:
            if translated is False:
                handle.count()  # still report a missing collection
                return []
            result = handle.query(
                query_embeddings=query.reshape(1, -1),
                n_results=top_k,
                where=None if translated is True else translated,
                include=include,
            )
            ids, metadatas, distances = result["ids"][0], result["metadatas"][0], result["distances"][0]
            vectors = result["embeddings"][0] if include_vectors else [None] * len(ids)
            hits = [
                (self._record(spec.definition, key, metadata, vector), _score(float(distance), metric))
                for key, metadata, distance, vector in zip(ids, metadatas, distances, vectors, strict=True)
            ]
            hits.sort(key=lambda hit: (-hit[1], hit[0].key))
            return hits

        return self._run(spec, "search", work)

    def score(self, spec: CollectionSpec, query: Vector, keys: Sequence[str]) -> dict[str, float]:
        """The keys' embeddings read by id (in batches, nothing else included), scored in numpy float64
        exactly as the exact backends score: not Chroma's own (float32, approximate) distances."""
        from memstore.backends.exact import exact_scores

        metric = spec.definition.vector.distance

        def work(handle: Any) -> dict[str, float]:
            found: list[str] = []
            blocks: list[Any] = []
            # Batches of 1,000: Chroma's client turns embeddings into Python lists and back, which costs
            # more per row in one large batch (5,000 ids of 384 floats: 183 ms in one get, 127 ms in five).
            for part in self._chunks(len(keys), 1000):
                result = handle.get(ids=list(keys[part]), include=["embeddings"])
                if len(result["ids"]):
                    found.extend(result["ids"])
                    blocks.append(np.asarray(result["embeddings"], dtype=np.float32))
            if not found:
                return {}
            scores = exact_scores(np.concatenate(blocks), query, metric)
            return dict(zip(found, scores.tolist(), strict=True))

        return self._run(spec, "score", work)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self._handles.clear()
        if client is None:
            return
        if self._path is not None:
            _close_embedded(self._path)
        else:
            with _errors("close"):
                client.close()

    def __repr__(self) -> str:
        return f"ChromaVectorBackend({self.location!r})"
