"""``MemstoreVectorStore``: a LangChain ``VectorStore`` over memstore's vector collections.

Each document is one record of a memstore vector collection (:meth:`memstore.Memstore.vectors`) whose
definition is::

    RecordDefinition(
        KeyField("id"),                                        # the Document id (str)
        VectorField("embedding", dimensions=<from the embedding>, distance=<distance>),
        [DataField("text", full_text=True),                     # Document.page_content
         DataField("metadata", filterable=True)],               # Document.metadata, a JSON object
    )

**Metadata and filters.** ``Document.metadata`` is stored whole, as the JSON object of the filterable data
field ``metadata``. A LangChain filter names metadata keys at its top level (``{"source": "a"}``,
``{"year": {"$gte": 2020}}``, ``{"$and": [...]}``, ``{"$or": [...]}``); it is parsed with
:func:`memstore.filters.parse_filter` and every field it names is moved under ``metadata``, so
``{"source": "a"}`` is ``Eq(("metadata", "source"), "a")``. Operators are the core's: ``$eq $ne $in $nin
$gt $gte $lt $lte $and $or $not``; a nested dict without operators reaches into nested metadata. Anything
else (``$exists``, ``$like``, ``$contains``, ...) raises :class:`memstore.ValidationError` (a
``ValueError``) naming it. A filter may also be a :mod:`memstore.filters` tree over metadata keys.
Metadata must be plain JSON (str keys, finite numbers); anything else raises ValidationError before
anything is written.

**Scores.** ``similarity_search_with_score`` returns the core's score, higher = more similar: the cosine
similarity (``distance="cosine"``, the default), the dot product (``"dot"``) or the negative Euclidean
distance (``"euclidean"``). Relevance scores (``similarity_search_with_relevance_scores``, the retriever's
``similarity_score_threshold``) are in [0, 1], 1 for the query's own vector: the cosine similarity clipped
at 0 (the number langchain-chroma and PGVector give for non-negative similarity), the dot product clipped
to [0, 1] (meaningful for normalised embeddings, where it equals the cosine), and ``1 / (1 + d)`` for a
Euclidean distance ``d``.

The collection is created on the first write, sized from the first vectors embedded; an existing
collection is reopened with the same definition (another definition raises
:class:`memstore.ConflictError`). Searching, reading or deleting before anything was written finds nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from langchain_memstore._store import StoreArg, StoreOwner, open_store
from langchain_memstore.embeddings import MemstoreEmbeddings
from langchain_memstore.errors import ForeignDataError
from memstore import DataField, KeyField, RecordDefinition, ValidationError, VectorField
from memstore.filters import And, Eq, Filter, In, Not, Or, Range, parse_filter
from memstore.records import DISTANCES, Distance
from memstore.stores.vectors import SearchResult, VectorCollection

if TYPE_CHECKING:
    from memstore import Embedder

__all__ = ["MemstoreVectorStore", "translate_filter"]

KEY_FIELD = "id"
VECTOR_FIELD = "embedding"
TEXT_FIELD = "text"
METADATA_FIELD = "metadata"

_Record = dict[str, Any]
_R = TypeVar("_R")


def _definition(dimensions: int, distance: Distance) -> RecordDefinition:
    return RecordDefinition(
        KeyField(KEY_FIELD),
        VectorField(VECTOR_FIELD, dimensions=dimensions, distance=distance),
        [DataField(TEXT_FIELD, full_text=True), DataField(METADATA_FIELD, filterable=True)],
    )


def translate_filter(spec: Filter | dict[str, Any] | None) -> Filter | None:
    """A LangChain metadata filter (dict form or a memstore filter tree) as a filter over the stored record.

    Fields name metadata keys; each is moved under the ``metadata`` data field. Unknown operators raise
    :class:`memstore.ValidationError`.
    """
    node = parse_filter(spec)
    return None if node is None else _under_metadata(node)


def _under_metadata(node: Filter) -> Filter:
    if isinstance(node, Eq):
        return Eq((METADATA_FIELD, *node.field), node.value)
    if isinstance(node, In):
        return In((METADATA_FIELD, *node.field), node.values)
    if isinstance(node, Range):
        return Range((METADATA_FIELD, *node.field), gt=node.gt, gte=node.gte, lt=node.lt, lte=node.lte)
    if isinstance(node, And):
        return And(*(_under_metadata(child) for child in node.filters))
    if isinstance(node, Or):
        return Or(*(_under_metadata(child) for child in node.filters))
    return Not(_under_metadata(node.filter))


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def _cosine_relevance(score: float) -> float:
    return _clip(score)


def _dot_relevance(score: float) -> float:
    return _clip(score)


def _euclidean_relevance(score: float) -> float:
    return 1.0 / (1.0 + max(0.0, -score))


_RELEVANCE: dict[str, Callable[[float], float]] = {
    "cosine": _cosine_relevance,
    "dot": _dot_relevance,
    "euclidean": _euclidean_relevance,
}


class MemstoreVectorStore(StoreOwner, VectorStore):
    """LangChain vector store on memstore: Chroma (the embedded default), SQL (SQLite, PostgreSQL) or memory.

    ::

        store = MemstoreVectorStore("docs", OpenAIEmbeddings(), store="sqlite:///app.db")
        store.add_documents([Document("memstore keeps memory", metadata={"source": "readme"})])
        store.similarity_search("memory", k=1, filter={"source": "readme"})
        retriever = store.as_retriever(search_kwargs={"k": 4})

    ``collection_name`` follows the core's portable collection names (3-512 characters from
    ``[a-zA-Z0-9._-]``). ``embedding`` is any LangChain :class:`~langchain_core.embeddings.Embeddings`
    or a memstore :class:`~memstore.Embedder` (wrapped in :class:`~langchain_memstore.MemstoreEmbeddings`).
    ``store`` is a :class:`memstore.Memstore` (shared, never closed here), a SQL URL, or None for the
    embedded default; ``vectors`` picks the vector backend of a store this object opens (``"sql"``,
    ``"memory"``, ``"chroma:///dir"``, ``"chroma+http://host:port"``; see :class:`memstore.Memstore`) and
    cannot be combined with a Memstore passed in. ``distance`` is ``"cosine"``, ``"dot"`` or
    ``"euclidean"``. The module docstring describes the record layout, filters and scores.
    """

    def __init__(
        self,
        collection_name: str,
        embedding: Embeddings | Embedder,
        *,
        store: StoreArg = None,
        vectors: str | None = None,
        distance: Distance = "cosine",
    ) -> None:
        if not isinstance(embedding, Embeddings):
            from memstore.embeddings import Embedder

            if not isinstance(embedding, Embedder):
                raise TypeError(
                    "embedding is a LangChain Embeddings or a memstore Embedder, "
                    f"not {type(embedding).__name__}"
                )
            embedding = MemstoreEmbeddings(embedding)
        if distance not in DISTANCES:
            raise ValidationError(f"distance must be one of {', '.join(DISTANCES)}, not {distance!r}")
        if vectors is not None:
            if store is not None and not isinstance(store, str):
                raise ValidationError("vectors= picks the backend of a store opened here: pass a URL or None")
            from memstore import DEFAULT_URL, Memstore

            store = Memstore(DEFAULT_URL if store is None else store, vectors=vectors)
            self._store, self._owns_store = store, True
        else:
            self._store, self._owns_store = open_store(store)
        try:
            # No I/O; a bad collection name fails here, not on the first write. Opened on first use, created
            # by the first write (sized by its vectors), looked up again if deleted elsewhere.
            self._collection = self._store.vectors.lazy_collection(
                collection_name, lambda dimensions: _definition(dimensions, distance)
            )
        except BaseException:
            self.close()
            raise
        self.collection_name = collection_name
        self.distance: Distance = distance
        self._embedding = embedding

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    # -- the collection ---------------------------------------------------------------------------------

    def _on_collection(
        self, work: Callable[[VectorCollection[_Record]], _R], missing: _R, dimensions: int | None = None
    ) -> _R:
        """``work`` on the collection (created, sized ``dimensions``, for a write), or ``missing`` if there is
        none to read (:class:`memstore.LazyCollection`: a collection deleted elsewhere is looked up again)."""
        if dimensions is None:
            return self._collection.read(work, missing)
        return self._collection.write(work, dimensions)

    # -- records and documents --------------------------------------------------------------------------

    @staticmethod
    def _records(
        texts: Sequence[str],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[dict[str, Any] | None] | None,
        ids: Sequence[str | None] | None,
    ) -> tuple[list[_Record], list[str]]:
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValidationError(f"got {len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise ValidationError(f"got {len(ids)} ids for {len(texts)} texts")
        if len(vectors) != len(texts):
            raise ValidationError(f"the embedding returned {len(vectors)} vectors for {len(texts)} texts")
        keys = [str(uuid.uuid4()) if ids is None or ids[i] is None else ids[i] for i in range(len(texts))]
        records: list[_Record] = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValidationError(f"texts are str, not {type(text).__name__}")
            metadata = (None if metadatas is None else metadatas[i]) or {}
            records.append(
                {
                    KEY_FIELD: keys[i],
                    VECTOR_FIELD: list(vectors[i]),
                    TEXT_FIELD: text,
                    METADATA_FIELD: dict(metadata),
                }
            )
        return records, [str(key) for key in keys]

    def _document(self, record: _Record) -> Document:
        text = record.get(TEXT_FIELD)
        metadata = record.get(METADATA_FIELD, {})
        if not isinstance(text, str) or not isinstance(metadata, dict):
            raise ForeignDataError(
                f"record {record.get(KEY_FIELD)!r} of collection {self.collection_name!r} is not a document "
                "written by MemstoreVectorStore"
            )
        return Document(page_content=text, metadata=metadata, id=str(record[KEY_FIELD]))

    # Each operation's storage work is written once, in a sync method; an async twin awaits the embedding's
    # own async call (LangChain embeddings often have a real one), then runs that same method in a thread.

    def _write(
        self,
        texts: list[str],
        vectors: Sequence[Sequence[float]],
        metadatas: list[dict[str, Any]] | None,
        ids: list[str] | None,
    ) -> list[str]:
        records, keys = self._records(texts, vectors, metadatas, ids)
        self._on_collection(
            lambda collection: collection.upsert_batch(records), None, len(records[0][VECTOR_FIELD])
        )
        return keys

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts``; returns their ids (``ids`` honoured, uuid4 strings otherwise).

        A text whose id is already stored replaces it.
        """
        text_list = list(texts)
        if not text_list:
            return []
        return self._write(text_list, self._embedding.embed_documents(text_list), metadatas, ids)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async twin of :meth:`add_texts`."""
        text_list = list(texts)
        if not text_list:
            return []
        vectors = await self._embedding.aembed_documents(text_list)
        return await asyncio.to_thread(self._write, text_list, vectors, metadatas, ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete the documents with ``ids`` (missing ids are ignored); True.

        ``ids=None`` deletes the whole collection (it is created again by the next write).
        """
        if ids is None:
            self._collection.delete_collection()
            return True
        if ids:
            self._on_collection(lambda collection: collection.delete_batch(list(ids)), None)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with ``ids``, in the order asked (each once); missing ids are left out."""
        if not ids:
            return []
        wanted = list(ids)

        def read(collection: VectorCollection[_Record]) -> list[_Record]:
            return collection.get_batch(wanted, include_vectors=False)

        nothing: list[_Record] = []
        return [self._document(record) for record in self._on_collection(read, nothing)]

    # -- search -----------------------------------------------------------------------------------------

    def _hits(
        self,
        vector: Sequence[float],
        k: int,
        filter: Filter | dict[str, Any] | None,
        include_vectors: bool = False,
    ) -> list[SearchResult[_Record]]:
        where = translate_filter(filter)  # bad filters raise even on an empty store
        return self._on_collection(
            lambda collection: collection.search(vector, k, filter=where, include_vectors=include_vectors), []
        )

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents nearest to ``embedding`` with their scores (higher = more similar)."""
        return [(self._document(h.record), h.score) for h in self._hits(embedding, k, filter)]

    async def asimilarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async twin of :meth:`similarity_search_with_score_by_vector` (LangChain's base class has none)."""
        return await asyncio.to_thread(self.similarity_search_with_score_by_vector, embedding, k, filter)

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most similar to ``query`` with their scores (higher = more similar)."""
        vector = self._embedding.embed_query(query)
        return self.similarity_search_with_score_by_vector(vector, k, filter=filter)

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async twin of :meth:`similarity_search_with_score`."""
        vector = await self._embedding.aembed_query(query)
        return await self.asimilarity_search_with_score_by_vector(vector, k, filter=filter)

    def similarity_search(
        self, query: str, k: int = 4, filter: Filter | dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to ``query``, best first, among those matching ``filter``."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter=filter)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: Filter | dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async twin of :meth:`similarity_search`."""
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, filter=filter)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents nearest to ``embedding``."""
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter=filter)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return _RELEVANCE[self.distance]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents among the ``fetch_k`` nearest, chosen for relevance and diversity (MMR)."""
        hits = self._hits(embedding, max(fetch_k, k), filter, include_vectors=True)
        if not hits:
            return []
        chosen = maximal_marginal_relevance(
            np.asarray(embedding, dtype=np.float32),
            [hit.record[VECTOR_FIELD] for hit in hits],
            lambda_mult=lambda_mult,
            k=min(k, len(hits)),
        )
        return [self._document(hits[i].record) for i in chosen]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents among the ``fetch_k`` most similar to ``query``, relevant and diverse (MMR)."""
        vector = self._embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter=filter)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async twin of :meth:`max_marginal_relevance_search`."""
        vector = await self._embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, filter=filter
        )

    # -- construction -----------------------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str = "langchain",
        store: StoreArg = None,
        vectors: str | None = None,
        distance: Distance = "cosine",
        **kwargs: Any,
    ) -> MemstoreVectorStore:
        """A store on ``collection_name`` holding ``texts`` (added like :meth:`add_texts`)."""
        instance = cls(collection_name, embedding, store=store, vectors=vectors, distance=distance)
        try:
            instance.add_texts(texts, metadatas, ids=ids)
        except BaseException:
            instance.close()
            raise
        return instance

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str = "langchain",
        store: StoreArg = None,
        vectors: str | None = None,
        distance: Distance = "cosine",
        **kwargs: Any,
    ) -> MemstoreVectorStore:
        """Async twin of :meth:`from_texts`."""
        instance = await asyncio.to_thread(
            cls, collection_name, embedding, store=store, vectors=vectors, distance=distance
        )
        try:
            await instance.aadd_texts(texts, metadatas, ids=ids)
        except BaseException:
            await instance.aclose()
            raise
        return instance

    def __repr__(self) -> str:
        shown = f"{self.collection_name!r}, store={self._store!r}, distance={self.distance!r}"
        return f"MemstoreVectorStore({shown})"
