"""``VectorStore`` and ``VectorCollection``: records with a vector, searched by similarity.

The design follows the Semantic Kernel vector store ADR: a :class:`VectorStore` is a factory of collections,
each :class:`VectorCollection` is bound to one name and one :class:`~memstore.records.RecordDefinition`, keys
are ``str`` or ``int``, a mapper converts user records (dicts, dataclasses, pydantic models or anything with
an injected :class:`~memstore.records.RecordMapper`), and every backend raises the same exceptions.

What every backend guarantees (the conformance suite checks each one):

- **Scores**: higher means more similar, whatever the distance: the cosine similarity (``cosine``), the dot
  product (``dot``) or the negative Euclidean distance (``euclidean``). Results come best first; exact
  backends (``sql``, ``memory``) break ties by the key's text, Chroma is approximate (HNSW).
- **Validation first**: a bad record, key, vector or filter raises
  :class:`~memstore.errors.ValidationError` before anything is written, so a batch is written whole or not at
  all as far as its input goes.
- **Missing things**: ``get``/``get_batch`` omit missing keys, deleting a missing key is not an error, and any
  operation on a collection that does not exist raises :class:`~memstore.errors.NotFoundError`.
- **Filters** mean what :func:`memstore.filters.matches` says on every backend; what a backend cannot express
  exactly raises ValidationError naming it (Chroma: a negated range, integers a float cannot hold exactly;
  see :mod:`memstore.backends.chroma`), never a silently different answer.
- **Names**: collection names follow one portable rule on every backend (Chroma's, the strictest: 3-512
  characters from ``[a-zA-Z0-9._-]``, starting and ending with a letter or digit, no ``..``, not an IPv4
  address). With ``names="strict"`` (the default) other names raise ValidationError; with
  ``names="sanitize"`` any name is mapped to a valid one plus a hash of the original, and the original is
  stored with the collection, so two names can never silently share a collection (that raises
  :class:`~memstore.errors.ConflictError`).

Backends implement the small :class:`VectorBackend` protocol; validation, mapping, key encoding and the score
convention live here, once.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt

from memstore._sync import to_async, to_async_iter
from memstore._validate import INT64_MAX, INT64_MIN, check_count, check_identifier, check_json_object, dumps
from memstore.backends.base import CollectionSpec, StoredRecord, Vector, VectorBackend, check_current
from memstore.errors import ConflictError, NotFoundError, StaleCollectionError, ValidationError
from memstore.filters import And, Filter, Not, Or, parse_filter
from memstore.records import RecordDefinition, RecordMapper, VectorField, default_mapper

__all__ = [
    "CollectionSpec",
    "Key",
    "LazyCollection",
    "NamePolicy",
    "SearchResult",
    "StaleCollectionError",
    "StoredRecord",
    "Vector",
    "VectorBackend",
    "VectorCollection",
    "VectorStore",
    "check_collection_name",
    "check_current",
    "sanitize_collection_name",
]

Key = str | int
"""A record key: ``str`` or ``int`` as the collection's definition says."""


NamePolicy = Literal["strict", "sanitize"]

T = TypeVar("T")
_R = TypeVar("_R")

MAX_TOP_K = 10_000
SCAN_PAGE = 500
"""Records read per backend call by a scan."""
"""Largest ``top_k`` a search accepts (Chroma's own query limit is of this order)."""


# -- collection names -------------------------------------------------------------------------------------

_PORTABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")
_IPV4_LIKE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_NAME_RULE = (
    "3-512 characters from [a-zA-Z0-9._-], starting and ending with a letter or digit, "
    "no '..', not an IPv4 address"
)


def _is_portable(name: str) -> bool:
    return bool(_PORTABLE_NAME.fullmatch(name)) and ".." not in name and not _IPV4_LIKE.fullmatch(name)


def check_collection_name(name: object) -> str:
    """Return ``name`` if it is a portable collection name, else raise ValidationError saying the rule."""
    text = check_identifier(name, "collection name")
    if not _is_portable(text):
        raise ValidationError(
            f"collection name {text[:80]!r} is not portable ({_NAME_RULE}); "
            "use VectorStore(..., names='sanitize') to map any name to a valid one"
        )
    return text


def sanitize_collection_name(name: object) -> str:
    """Map any non-empty name to a portable one; portable names are returned unchanged.

    Other names become their allowed characters plus ``-`` and 12 hex digits of the SHA-256 of the original,
    so distinct names get distinct collections (the original is also stored and checked on open).
    """
    text = check_identifier(name, "collection name")
    if _is_portable(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    stem = re.sub(r"\.{2,}", ".", stem)
    stem = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", stem)[:480]
    stem = re.sub(r"[^A-Za-z0-9]+$", "", stem)
    return f"{stem or 'c'}-{digest}"


# -- what backends see ------------------------------------------------------------------------------------


def scan_stored(
    backend: VectorBackend, spec: CollectionSpec, where: Filter | None, include_vectors: bool, page_size: int
) -> Iterator[list[StoredRecord]]:
    """The pages of a backend scan, following its cursors to the end."""
    cursor: str | None = None
    while True:
        page, cursor = backend.scan(spec, where, cursor, page_size, include_vectors)
        if page:
            yield page
        if cursor is None:
            return


def copy_collections(
    source: VectorBackend, target: VectorBackend, *, progress: bool = False
) -> dict[str, int]:
    """Make every collection of ``source`` exist in ``target`` with the same records (a collection already
    in ``target`` is replaced); returns records copied per collection name. Backups use it to carry vectors
    that live outside the database (Chroma, memory) inside the backup file, and restores to put them back."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    copied: dict[str, int] = {}
    for spec in source.list_collections():
        target.delete_collection(spec.name)
        target.create_collection(spec)
        total = source.count(spec, None)
        with tqdm(desc=f"copy {spec.label}", unit="vec", total=total, disable=not progress) as bar:
            copied[spec.name] = 0
            for page in scan_stored(source, spec, None, True, SCAN_PAGE):
                target.upsert(spec, page)
                copied[spec.name] += len(page)
                bar.update(len(page))
    return copied


# -- validation shared by every backend -------------------------------------------------------------------


def encode_key(key: object, definition: RecordDefinition) -> str:
    """The key as backends store it (text); ValidationError if it does not fit the definition."""
    if definition.key.key_type is int:
        if isinstance(key, bool) or not isinstance(key, int):
            raise ValidationError(f"record keys of this collection are int, not {type(key).__name__}")
        if not INT64_MIN <= key <= INT64_MAX:
            raise ValidationError("int record keys must fit in 64 bits")
        return str(key)
    return check_identifier(key, "record key")


def decode_key(text: str, definition: RecordDefinition) -> Key:
    return int(text) if definition.key.key_type is int else text


def check_vector(value: object, field: VectorField, what: str) -> Vector:
    """``value`` as a fresh float32 array: the field's size, finite values, not all zeros for cosine."""
    if value is None:
        raise ValidationError(f"{what} is missing")
    if isinstance(value, str | bytes | Mapping):
        raise ValidationError(f"{what} must be a sequence of numbers, not {type(value).__name__}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array = np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be a sequence of numbers: {exc}") from exc
    if array.shape != (field.dimensions,):
        raise ValidationError(
            f"{what} has shape {array.shape}; the collection takes {field.dimensions} floats"
        )
    if not np.isfinite(array).all():
        raise ValidationError(f"{what} holds a value that is not a finite float32")
    if field.distance == "cosine" and not array.any():
        raise ValidationError(f"{what} is all zeros, which has no cosine similarity")
    return array


def check_vectors(values: Sequence[object], field: VectorField, keys: Sequence[str]) -> list[Vector]:
    """:func:`check_vector` for a batch in one numpy conversion: rows of a fresh array, or a precise error."""
    if not values:
        return []
    matrix: npt.NDArray[np.float32] | None = None
    if not any(value is None or isinstance(value, str | bytes | Mapping) for value in values):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                matrix = np.array(values, dtype=np.float32)
        except (TypeError, ValueError):
            matrix = None
    if (
        matrix is None
        or matrix.shape != (len(values), field.dimensions)
        or not np.isfinite(matrix).all()
        or (field.distance == "cosine" and not matrix.any(axis=1).all())
    ):
        # Something is wrong: check one by one to say which record and what.
        return [
            check_vector(value, field, f"vector of record {key!r}")
            for value, key in zip(values, keys, strict=True)
        ]
    return list(matrix)


def _filter_fields(node: Filter) -> Iterable[tuple[str, ...]]:
    if isinstance(node, And | Or):
        for child in node.filters:
            yield from _filter_fields(child)
    elif isinstance(node, Not):
        yield from _filter_fields(node.filter)
    else:
        yield node.field


def check_where(
    spec: Filter | Mapping[str, Any] | None, definition: RecordDefinition, label: str
) -> Filter | None:
    """Parse a filter and check that it names only filterable data fields."""
    node = parse_filter(spec)
    if node is not None:
        allowed = definition.filterable
        for field in _filter_fields(node):
            if field[0] not in allowed:
                raise ValidationError(
                    f"field {field[0]!r} is not filterable in collection {label!r}; "
                    "declare it DataField(filterable=True)"
                )
    return node


def _best_first(hit: tuple[float, StoredRecord]) -> tuple[float, str]:
    return -hit[0], hit[1].key


def _check_top_k(top_k: object) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise ValidationError(f"top_k must be an int in 1..{MAX_TOP_K}")
    return top_k


# -- the store --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult(Generic[T]):
    """One search hit: the record and its score (higher = more similar; see the module doc)."""

    record: T
    score: float


class VectorCollection(Generic[T]):
    """One named collection of records of type ``T``. Get it from :meth:`VectorStore.get_collection`.

    Getting a handle does no I/O. The first data operation checks that the collection exists
    (NotFoundError) and that its stored definition equals the one given (ConflictError).

    ``delete(key)`` deletes a **record** (as in ``KVStore.delete`` and Semantic Kernel); the collection itself
    goes with :meth:`delete_collection`, a name nobody calls by accident.
    """

    def __init__(
        self,
        backend: VectorBackend,
        name: str,
        storage_name: str,
        definition: RecordDefinition | None,
        mapper: RecordMapper[T],
    ) -> None:
        self._backend = backend
        self.name = name
        """The name the collection was asked for."""
        self.storage_name = storage_name
        """The name the backend stores it under (equal to :attr:`name` unless it was sanitised)."""
        self._definition = definition
        self._mapper = mapper
        self._checked: CollectionSpec | None = None
        self._lock = threading.Lock()

    @property
    def definition(self) -> RecordDefinition:
        """The record definition (read from the backend if none was given)."""
        return self._definition if self._definition is not None else self._spec().definition

    def _new_spec(self) -> CollectionSpec:
        if self._definition is None:
            raise ValidationError(f"creating collection {self.name!r} needs a definition (or a record type)")
        return CollectionSpec(self.storage_name, self.name, self._definition)

    def _accept(self, stored: CollectionSpec) -> CollectionSpec:
        if stored.label != self.name:
            raise ConflictError(
                f"collection name {self.name!r} maps to {self.storage_name!r}, which holds collection "
                f"{stored.label!r}"
            )
        if self._definition is not None and stored.definition != self._definition:
            raise ConflictError(
                f"collection {self.name!r} exists with another definition: "
                f"{dumps(stored.definition.to_json())} (asked for {dumps(self._definition.to_json())})"
            )
        with self._lock:
            self._checked = stored
        return stored

    def _spec(self) -> CollectionSpec:
        with self._lock:
            if self._checked is not None:
                return self._checked
        stored = self._backend.describe_collection(self.storage_name)
        if stored is None:
            raise NotFoundError(f"vector collection {self.name!r} does not exist; call create() first")
        return self._accept(stored)

    def _forget(self) -> None:
        with self._lock:
            self._checked = None

    def _current(self, work: Callable[[CollectionSpec], _R]) -> _R:
        """Run ``work`` on the checked spec; if the collection was re-created with another definition since
        it was checked, check it again (ConflictError if it no longer fits this handle) and run once more."""
        try:
            return work(self._spec())
        except StaleCollectionError:
            self._forget()
            return work(self._spec())

    # -- the collection -----------------------------------------------------------------------------------

    def create(self) -> None:
        """Create the collection; ConflictError if it exists."""
        spec = self._new_spec()
        if not self._backend.create_collection(spec):
            raise ConflictError(f"vector collection {self.name!r} already exists")
        self._accept(spec)

    def create_if_not_exists(self) -> bool:
        """Create the collection unless it exists (with this definition); True if it was created."""
        spec = self._new_spec()
        for _ in range(3):  # another process may delete it between our two calls
            if self._backend.create_collection(spec):
                self._accept(spec)
                return True
            stored = self._backend.describe_collection(self.storage_name)
            if stored is not None:
                self._accept(stored)
                return False
        raise ConflictError(f"vector collection {self.name!r} keeps being created and deleted concurrently")

    def exists(self) -> bool:
        """Whether the collection exists."""
        stored = self._backend.describe_collection(self.storage_name)
        return stored is not None and stored.label == self.name

    def delete_collection(self) -> bool:
        """Delete the collection and every record in it; False if it did not exist."""
        stored = self._backend.describe_collection(self.storage_name)
        self._forget()
        if stored is None:
            return False
        if stored.label != self.name:
            raise ConflictError(f"{self.storage_name!r} holds collection {stored.label!r}, not {self.name!r}")
        return self._backend.delete_collection(self.storage_name)

    # -- records ------------------------------------------------------------------------------------------

    def _prepare(self, definition: RecordDefinition, records: Iterable[T]) -> list[StoredRecord]:
        """Map and validate a batch (vectors checked together, one array); nothing is written here."""
        rows: list[tuple[str, dict[str, Any], object]] = []
        for record in records:
            values = self._mapper.to_storage(record)
            if not isinstance(values, Mapping):
                raise ValidationError(f"the mapper returned {type(values).__name__}, not a dict")
            unknown = sorted(str(name) for name in values if name not in definition.field_names)
            if unknown:
                raise ValidationError(
                    f"record has fields the definition does not declare: {', '.join(unknown)}"
                )
            if definition.key_name not in values:
                raise ValidationError(f"record has no key field {definition.key_name!r}")
            key = encode_key(values[definition.key_name], definition)
            data = check_json_object(
                {name: values[name] for name in definition.data_names if name in values},
                f"data of record {key!r}",
            )
            rows.append((key, data, values.get(definition.vector_name)))
        vectors = check_vectors([row[2] for row in rows], definition.vector, [row[0] for row in rows])
        return [StoredRecord(key, data, vector) for (key, data, _), vector in zip(rows, vectors, strict=True)]

    def _from_stored(self, definition: RecordDefinition, stored: StoredRecord) -> T:
        values: dict[str, Any] = {definition.key_name: decode_key(stored.key, definition), **stored.data}
        if stored.vector is not None:
            values[definition.vector_name] = stored.vector.tolist()
        return self._mapper.from_storage(values)

    def upsert(self, record: T) -> Key:
        """Insert or replace one record; returns its key."""
        return self.upsert_batch([record])[0]

    def upsert_batch(self, records: Iterable[T]) -> list[Key]:
        """Insert or replace records; returns their keys in input order.

        Every record is validated before anything is written. A key repeated in one batch keeps its last
        record. SQL and memory write a batch atomically; Chroma writes batches larger than its maximum batch
        size in several calls.
        """
        batch = list(records)

        def work(spec: CollectionSpec) -> list[Key]:
            prepared = self._prepare(spec.definition, batch)
            if prepared:
                unique = {record.key: record for record in prepared}
                self._backend.upsert(spec, list(unique.values()))
            return [decode_key(record.key, spec.definition) for record in prepared]

        return self._current(work)

    def get(self, key: Key, *, include_vectors: bool = True) -> T | None:
        """The record with ``key``, or None."""
        found = self.get_batch([key], include_vectors=include_vectors)
        return found[0] if found else None

    def get_batch(self, keys: Iterable[Key], *, include_vectors: bool = True) -> list[T]:
        """The records with ``keys``, in the order asked (each once); missing keys are left out."""
        asked = list(keys)

        def work(spec: CollectionSpec) -> list[T]:
            wanted = list(dict.fromkeys(encode_key(key, spec.definition) for key in asked))
            if not wanted:
                return []
            found = {record.key: record for record in self._backend.get(spec, wanted, include_vectors)}
            return [self._from_stored(spec.definition, found[key]) for key in wanted if key in found]

        return self._current(work)

    def delete(self, key: Key) -> None:
        """Delete the record with ``key`` (nothing happens if there is none)."""
        self.delete_batch([key])

    def delete_batch(self, keys: Iterable[Key]) -> None:
        """Delete the records with ``keys``; missing keys are ignored."""
        asked = list(keys)

        def work(spec: CollectionSpec) -> None:
            wanted = list(dict.fromkeys(encode_key(key, spec.definition) for key in asked))
            if wanted:
                self._backend.delete(spec, wanted)

        self._current(work)

    def delete_where(self, filter: Filter | Mapping[str, Any] | None) -> int:
        """Delete every record matching ``filter`` (as in :meth:`search`); returns how many were deleted.

        ``None`` deletes every record and keeps the collection (other handles on it stay valid, its
        definition stays). One backend call, no record read into Python: SQL is one ``DELETE`` in one
        transaction, memory one pass under its lock; Chroma counts, then deletes by its ``where`` (no
        transaction: a record written in between may be deleted without being counted).
        """
        return self._current(
            lambda spec: self._backend.delete_where(spec, check_where(filter, spec.definition, self.name))
        )

    def count(self, *, filter: Filter | Mapping[str, Any] | None = None) -> int:
        """How many records the collection holds, or how many match ``filter`` (as in :meth:`search`)."""
        return self._current(
            lambda spec: self._backend.count(spec, check_where(filter, spec.definition, self.name))
        )

    def scan(
        self,
        *,
        filter: Filter | Mapping[str, Any] | None = None,
        include_vectors: bool = True,
        page_size: int = SCAN_PAGE,
    ) -> Iterator[T]:
        """Every record (or every one matching ``filter``), read ``page_size`` at a time: memory stays flat
        however large the collection. A collection written during the scan may be seen partly old, partly
        new."""
        check_count(page_size, "page_size", minimum=1)
        spec = self._current(lambda spec: spec)
        where = check_where(filter, spec.definition, self.name)
        for page in scan_stored(self._backend, spec, where, include_vectors, page_size):
            yield from (self._from_stored(spec.definition, stored) for stored in page)

    def search(
        self,
        vector: Sequence[float] | npt.ArrayLike,
        top_k: int = 10,
        *,
        filter: Filter | Mapping[str, Any] | None = None,
        include_vectors: bool = False,
    ) -> list[SearchResult[T]]:
        """The ``top_k`` records most similar to ``vector``, best first, among those matching ``filter``.

        ``filter`` is a :mod:`memstore.filters` tree or its dict form, over filterable data fields only; a
        filter the backend cannot express exactly raises ValidationError (see the module doc).
        Scores: higher = more similar (cosine similarity, dot product, or negative Euclidean distance).
        Vectors are left out of the records unless ``include_vectors`` is true.
        """

        def work(spec: CollectionSpec) -> list[SearchResult[T]]:
            query = check_vector(vector, spec.definition.vector, "query vector")
            where = check_where(filter, spec.definition, self.name)
            hits = self._backend.search(spec, query, _check_top_k(top_k), where, include_vectors)
            return [SearchResult(self._from_stored(spec.definition, record), score) for record, score in hits]

        return self._current(work)

    def scores(self, vector: Sequence[float] | npt.ArrayLike, keys: Iterable[Key]) -> dict[Key, float]:
        """The exact score of each record among ``keys`` against ``vector``, ``{key: score}`` in the order
        asked; missing keys are left out.

        Unlike :meth:`search`, which on Chroma walks an approximate (HNSW) index and can miss a record (an
        exact duplicate of the query among many equal vectors, for one), every given record is scored, in
        float64, as the exact backends score their hits. The SQL and memory backends score in place from
        the matrix they hold (a numpy gather: no record is read); Chroma reads the keys' vectors. Use it when
        the candidates are known and recall must be total.
        """
        asked = list(keys)

        def work(spec: CollectionSpec) -> dict[Key, float]:
            definition = spec.definition
            query = check_vector(vector, definition.vector, "query vector")
            wanted = list(dict.fromkeys(encode_key(key, definition) for key in asked))
            found = self._backend.score(spec, query, wanted) if wanted else {}
            return {decode_key(key, definition): found[key] for key in wanted if key in found}

        return self._current(work)

    def score_batch(
        self, vector: Sequence[float] | npt.ArrayLike, keys: Iterable[Key], *, include_vectors: bool = False
    ) -> list[SearchResult[T]]:
        """The records with ``keys`` scored exactly against ``vector``, best first (ties by key).

        The scores are :meth:`scores`'; the records are then read by key (a record deleted in between is
        left out, as are missing keys). Prefer :meth:`scores` when the keys are all you need.
        """
        asked = list(keys)

        def work(spec: CollectionSpec) -> list[SearchResult[T]]:
            definition = spec.definition
            query = check_vector(vector, definition.vector, "query vector")
            wanted = list(dict.fromkeys(encode_key(key, definition) for key in asked))
            scores = self._backend.score(spec, query, wanted) if wanted else {}
            scored = [key for key in wanted if key in scores]
            found = self._backend.get(spec, scored, include_vectors) if scored else []
            ranked = sorted(((scores[record.key], record) for record in found), key=_best_first)
            return [SearchResult(self._from_stored(definition, record), score) for score, record in ranked]

        return self._current(work)

    acreate = to_async(create)
    acreate_if_not_exists = to_async(create_if_not_exists)
    aexists = to_async(exists)
    adelete_collection = to_async(delete_collection)
    aupsert = to_async(upsert)
    aupsert_batch = to_async(upsert_batch)
    aget = to_async(get)
    aget_batch = to_async(get_batch)
    adelete = to_async(delete)
    adelete_batch = to_async(delete_batch)
    adelete_where = to_async(delete_where)
    acount = to_async(count)
    ascan = to_async_iter(scan)
    asearch = to_async(search)
    ascores = to_async(scores)
    ascore_batch = to_async(score_batch)

    def __repr__(self) -> str:
        return f"VectorCollection({self.name!r}, backend={self._backend.kind!r})"


class LazyCollection:
    """A collection opened on first use and created by the first write: the lifecycle adapters share.

    Get it from :meth:`VectorStore.lazy_collection`. :meth:`read` runs work on the collection, or returns a
    default if it does not exist (reads create nothing); :meth:`write` creates it first if needed. The
    checked handle is kept, and a collection deleted elsewhere since (another handle, another process) is
    looked up again once: a read then finds nothing, a write creates it anew. Records are dicts.

    ``definition`` is a :class:`~memstore.records.RecordDefinition`, or a layout ``dimensions ->
    RecordDefinition`` when the vector size comes from the first write (an embedding's size): an existing
    collection is then adopted at its own size, and must have that layout, else ``refuse(message)`` is
    raised (:class:`~memstore.errors.ConflictError` by default; an adapter whose framework expects a
    ``ValueError`` passes ValidationError).
    """

    def __init__(
        self,
        store: VectorStore,
        name: str,
        definition: RecordDefinition | Callable[[int], RecordDefinition],
        *,
        refuse: Callable[[str], Exception] = ConflictError,
    ) -> None:
        store.storage_name(name)  # a bad name fails here, not at first use
        self._store = store
        self.name = name
        self._definition = definition
        self._refuse = refuse
        self._handle: VectorCollection[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def open(self) -> VectorCollection[dict[str, Any]] | None:
        """The collection (its stored definition checked), or None if it does not exist: creates nothing."""
        with self._lock:
            if self._handle is not None:
                return self._handle
        if isinstance(self._definition, RecordDefinition):
            handle = self._store.get_collection(self.name, self._definition)
            try:
                handle._spec()
            except NotFoundError:
                return None
        else:
            try:
                stored = self._store.get_collection(self.name)._spec()
            except NotFoundError:
                return None
            expected = self._definition(stored.definition.vector.dimensions)
            if stored.definition != expected:
                raise self._refuse(
                    f"collection {self.name!r} exists with another layout or distance: "
                    f"{dumps(stored.definition.to_json())}"
                )
            handle = self._store.get_collection(self.name, expected)
            handle._accept(stored)
        with self._lock:
            self._handle = handle
        return handle

    def create(self, dimensions: int | None = None) -> VectorCollection[dict[str, Any]]:
        """The collection, created if it does not exist; ``dimensions`` sizes it when the definition is a
        layout (ignored otherwise: an existing collection keeps its size)."""
        handle = self.open()
        if handle is not None:
            return handle
        if isinstance(self._definition, RecordDefinition):
            definition = self._definition
        else:
            if dimensions is None:
                raise ValidationError(f"creating collection {self.name!r} needs the vector dimensions")
            definition = self._definition(dimensions)
        handle = self._store.get_collection(self.name, definition)
        handle.create_if_not_exists()
        with self._lock:
            self._handle = handle
        return handle

    def forget(self) -> None:
        """Drop the kept handle: the next call looks the collection up again."""
        with self._lock:
            self._handle = None

    def _retry(
        self,
        work: Callable[[VectorCollection[dict[str, Any]]], _R],
        missing: Callable[[], _R] | None,
        dimensions: int | None,
    ) -> _R:
        for attempt in range(2):
            handle = self.open() if missing is not None else self.create(dimensions)
            if handle is None:
                assert missing is not None
                return missing()
            try:
                return work(handle)
            except NotFoundError:  # deleted elsewhere since we opened it
                self.forget()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def read(self, work: Callable[[VectorCollection[dict[str, Any]]], _R], missing: _R) -> _R:
        """``work(collection)``, or ``missing`` if the collection does not exist."""
        return self._retry(work, lambda: missing, None)

    def write(
        self, work: Callable[[VectorCollection[dict[str, Any]]], _R], dimensions: int | None = None
    ) -> _R:
        """``work(collection)``, the collection created first if needed (see :meth:`create`)."""
        return self._retry(work, None, dimensions)

    def delete_collection(self) -> bool:
        """Delete the collection and its records (the next write creates it again); False if none."""
        self.forget()
        return self._store.get_collection(self.name).delete_collection()

    aopen = to_async(open)
    acreate = to_async(create)
    aread = to_async(read)
    awrite = to_async(write)
    adelete_collection = to_async(delete_collection)

    def __repr__(self) -> str:
        return f"LazyCollection({self.name!r}, backend={self._store.backend.kind!r})"


class VectorStore:
    """A factory of :class:`VectorCollection` objects over one backend (Chroma, SQL or memory).

    Reach it as ``Memstore.vectors``, or build one over a backend. ``names`` chooses what happens to a
    collection name that is not portable: ``"strict"`` raises ValidationError, ``"sanitize"`` maps it to a
    valid name (see :func:`sanitize_collection_name`).
    """

    def __init__(self, backend: VectorBackend, *, names: NamePolicy = "strict") -> None:
        if names not in ("strict", "sanitize"):
            raise ValidationError("names must be 'strict' or 'sanitize'")
        self._backend = backend
        self.names: NamePolicy = names

    @property
    def backend(self) -> VectorBackend:
        """The backend (share it with another VectorStore, e.g. one with another name policy)."""
        return self._backend

    def storage_name(self, name: str) -> str:
        """The name a collection called ``name`` is stored under, or ValidationError under ``strict``."""
        return check_collection_name(name) if self.names == "strict" else sanitize_collection_name(name)

    @overload
    def get_collection(
        self, name: str, definition: RecordDefinition | None = None, *, mapper: None = None
    ) -> VectorCollection[dict[str, Any]]: ...

    @overload
    def get_collection(
        self, name: str, definition: type[T], *, mapper: RecordMapper[T] | None = None
    ) -> VectorCollection[T]: ...

    @overload
    def get_collection(
        self, name: str, definition: RecordDefinition | None = None, *, mapper: RecordMapper[T]
    ) -> VectorCollection[T]: ...

    def get_collection(
        self,
        name: str,
        definition: RecordDefinition | type[Any] | None = None,
        *,
        mapper: RecordMapper[Any] | None = None,
    ) -> VectorCollection[Any]:
        """A handle on collection ``name`` (no I/O; the collection may not exist yet).

        ``definition`` is a :class:`RecordDefinition` (records are dicts), a dataclass or pydantic model
        (records are its instances, definition from its annotations), or None (the stored definition, dict
        records). ``mapper`` replaces the default record conversion.
        """
        storage_name = self.storage_name(name)
        record_type: type[Any] | None = None
        if isinstance(definition, type):
            record_type = definition
            definition = RecordDefinition.from_type(record_type)
        elif definition is not None and not isinstance(definition, RecordDefinition):
            raise ValidationError(
                f"definition is a RecordDefinition, a dataclass or a pydantic model, not {definition!r}"
            )
        chosen = mapper if mapper is not None else default_mapper(record_type, definition)
        return VectorCollection(self._backend, name, storage_name, definition, chosen)

    def lazy_collection(
        self,
        name: str,
        definition: RecordDefinition | Callable[[int], RecordDefinition],
        *,
        refuse: Callable[[str], Exception] = ConflictError,
    ) -> LazyCollection:
        """A :class:`LazyCollection` on ``name``: opened on first use, created by the first write, looked up
        again after an external delete (no I/O here)."""
        return LazyCollection(self, name, definition, refuse=refuse)

    def list_collection_names(self) -> list[str]:
        """The names of every collection in the backend, sorted."""
        return sorted(spec.label for spec in self._backend.list_collections())

    def collection_sizes(self) -> dict[str, int]:
        """How many records each collection holds, by name, sorted (for stats and audits)."""
        return {
            spec.label: self._backend.count(spec, None)
            for spec in sorted(self._backend.list_collections(), key=lambda spec: spec.label)
        }

    alist_collection_names = to_async(list_collection_names)
    acollection_sizes = to_async(collection_sizes)

    def close(self) -> None:
        """Release the backend's clients and caches."""
        self._backend.close()

    def __repr__(self) -> str:
        return f"VectorStore(backend={self._backend.kind!r}, names={self.names!r})"
