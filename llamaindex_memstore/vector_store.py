"""``MemstoreVectorStore``: LlamaIndex's ``BasePydanticVectorStore`` on a memstore vector collection.

One LlamaIndex node is one record of a memstore ``VectorCollection`` (Chroma, SQL or memory, whichever the
``Memstore`` was opened with). The record layout, fixed per collection:

=============== ============================================================================================
field           content
=============== ============================================================================================
``id``          the node id (the record key)
``embedding``   the node's embedding (dimensions fixed by the first ``add``, or ``dimensions=``)
``node_id``     the node id again, filterable (``VectorStoreQuery.node_ids``)
``ref_doc_id``  the source document id, filterable (``delete(ref_doc_id)``, ``VectorStoreQuery.doc_ids``)
``metadata``    what LlamaIndex filters on: ``node_to_metadata_dict(node, remove_text=True)`` without the node
                payload, i.e. the node's metadata plus ``doc_id`` / ``document_id`` / ``ref_doc_id`` — the
                same dict ``SimpleVectorStore`` filters; filterable. A ``MetadataFilter(key=k)`` is the core
                filter field ``("metadata", k)``: ``k`` is one top-level metadata key, never split on dots.
``text``        the node's text
``node``        ``{"content": <node JSON without text>, "type": <node class name>}`` to rebuild the node
=============== ============================================================================================

``MetadataFilters`` translate to ``memstore.filters`` (docs/llamaindex.md has the operator table); an
operator the core language cannot express exactly raises ``ValueError`` naming it, never a silently
different answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from llamaindex_memstore._store import StoreArg, StoreModel
from memstore import LazyCollection, Memstore, ValidationError
from memstore.filters import And, Eq, Filter, In, Not, Or, Range
from memstore.records import DataField, KeyField, RecordDefinition, VectorField
from memstore.stores.vectors import MAX_TOP_K, Key, VectorCollection

__all__ = ["DEFAULT_COLLECTION_NAME", "MemstoreVectorStore", "to_memstore_filter"]

DEFAULT_COLLECTION_NAME = "llamaindex"

_DATA_FIELDS = (
    DataField("node_id", filterable=True),
    DataField("ref_doc_id", filterable=True),
    DataField("metadata", filterable=True),
    DataField("text", full_text=True),
    DataField("node"),
)
_PAYLOAD_KEYS = ("_node_content", "_node_type")

_RANGE = {
    FilterOperator.GT: "gt",
    FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt",
    FilterOperator.LTE: "lte",
}
UNSUPPORTED_OPERATORS = frozenset(
    {
        FilterOperator.ANY,
        FilterOperator.ALL,
        FilterOperator.CONTAINS,
        FilterOperator.TEXT_MATCH,
        FilterOperator.TEXT_MATCH_INSENSITIVE,
        FilterOperator.IS_EMPTY,
    }
)
"""Operators the core filter language cannot express exactly: they raise ``ValueError``."""


T = TypeVar("T")


def _definition(dimensions: int, distance: str) -> RecordDefinition:
    return RecordDefinition(KeyField("id"), VectorField("embedding", dimensions, distance), _DATA_FIELDS)  # type: ignore[arg-type]


def _leaf(item: MetadataFilter) -> Filter:
    field = ("metadata", item.key)
    op = FilterOperator(item.operator)
    value = item.value
    if op in UNSUPPORTED_OPERATORS:
        raise ValueError(
            f"MetadataFilter operator {op.value!r} cannot be expressed exactly by memstore's filter language "
            "(supported: ==, !=, >, >=, <, <=, in, nin)"
        )
    if op in (FilterOperator.EQ, FilterOperator.NE):
        if isinstance(value, list) or value is None:
            raise ValueError(f"operator {op.value!r} takes a str, int, float or bool, not {value!r}")
        eq = Eq(field, value)
        return eq if op == FilterOperator.EQ else Not(eq)
    if op in _RANGE:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                f"operator {op.value!r} compares numbers only in memstore's filter language, not {value!r}"
            )
        return Range(field, **{_RANGE[op]: value})
    if op in (FilterOperator.IN, FilterOperator.NIN):
        if not isinstance(value, list):
            raise ValueError(f"operator {op.value!r} takes a list of values, not {value!r}")
        inside = In(field, value)
        return inside if op == FilterOperator.IN else Not(inside)
    raise ValueError(f"unknown MetadataFilter operator {item.operator!r}")


def to_memstore_filter(filters: MetadataFilters | None) -> Filter | None:
    """The ``memstore.filters`` tree meaning the same as ``filters`` (nested ``MetadataFilters`` included).

    ``AND`` is :class:`~memstore.filters.And`, ``OR`` :class:`~memstore.filters.Or`, ``NOT`` (none of the
    filters matches) ``Not(Or(...))``. An empty ``MetadataFilters`` matches everything, as in LlamaIndex.
    Unsupported operators raise ``ValueError`` naming the operator.
    """
    if filters is None or not filters.filters:
        return None
    children: list[Filter] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            child = to_memstore_filter(item)
            children.append(And() if child is None else child)
        else:
            children.append(_leaf(item))
    condition = FilterCondition(filters.condition or FilterCondition.AND)
    if condition == FilterCondition.AND:
        return children[0] if len(children) == 1 else And(*children)
    if condition == FilterCondition.OR:
        return children[0] if len(children) == 1 else Or(*children)
    if condition == FilterCondition.NOT:
        return Not(children[0] if len(children) == 1 else Or(*children))
    raise ValueError(f"unknown filter condition {filters.condition!r}")


def _all_of(*parts: Filter | None) -> Filter | None:
    present = [part for part in parts if part is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else And(*present)


def _to_record(node: BaseNode) -> dict[str, Any]:
    embedding = node.embedding
    if embedding is None:
        raise ValidationError(f"node {node.node_id!r} has no embedding; embed nodes before adding them")
    payload = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
    content = payload.pop("_node_content")
    node_type = payload.pop("_node_type")
    return {
        "id": node.node_id,
        "embedding": embedding,
        "node_id": node.node_id,
        "ref_doc_id": node.ref_doc_id,
        "metadata": payload,
        "text": node.get_content(),
        "node": {"content": content, "type": node_type},
    }


def _to_node(record: dict[str, Any]) -> BaseNode:
    stored = record["node"]
    node = metadata_dict_to_node({"_node_content": stored["content"], "_node_type": stored["type"]})
    node.set_content(record["text"])
    if record.get("embedding") is not None:
        node.embedding = list(record["embedding"])
    return node


_Collection = VectorCollection[dict[str, Any]]
_Work = Callable[[_Collection], T]
_EMPTY = VectorStoreQueryResult(nodes=[], similarities=[], ids=[])


def _upsert(records: list[dict[str, Any]]) -> _Work[list[Key]]:
    return lambda collection: collection.upsert_batch(records)


def _delete_where(where: Filter | None) -> _Work[int]:
    return lambda collection: collection.delete_where(where)


def _deleting(node_ids: list[str] | None, filters: MetadataFilters | None) -> _Work[int]:
    """Ids alone: a delete by key; otherwise one ``delete_where`` (ids and filters together)."""
    where = to_memstore_filter(filters)
    if node_ids is not None and where is None:
        ids = list(node_ids)

        def by_key(collection: _Collection) -> int:
            if ids:
                collection.delete_batch(ids)
            return len(ids)

        return by_key
    return _delete_where(_all_of(None if node_ids is None else In("node_id", list(node_ids)), where))


def _getting(node_ids: list[str] | None, filters: MetadataFilters | None) -> _Work[list[BaseNode]]:
    """Ids alone: one read by key; otherwise a filtered scan (pages of the core's size, no cap)."""
    where = to_memstore_filter(filters)
    if node_ids is not None and where is None:
        ids = list(node_ids)
        return lambda collection: [_to_node(record) for record in (collection.get_batch(ids) if ids else [])]
    where = _all_of(None if node_ids is None else In("node_id", list(node_ids)), where)
    return lambda collection: [_to_node(record) for record in collection.scan(filter=where)]


class MemstoreVectorStore(BasePydanticVectorStore, StoreModel):
    """A LlamaIndex vector store whose nodes live in a memstore vector collection.

    ``store`` is a ``memstore.Memstore`` (you keep owning it; its ``vectors=`` chooses Chroma, SQL or
    memory), a SQL URL, or None for the embedded default. ``collection_name`` names the collection (portable
    names: 3-512 characters from ``[a-zA-Z0-9._-]``). ``dimensions`` is taken from the first node added
    unless given; ``distance`` is ``"cosine"`` (the default, LlamaIndex's similarity), ``"dot"`` or
    ``"euclidean"``. Similarities are memstore scores: higher = more similar.

    Stores text (``stores_text=True``): queries return whole nodes, so ``VectorStoreIndex`` and
    ``VectorMemoryBlock`` need no docstore lookup.
    """

    stores_text: bool = True
    flat_metadata: bool = False
    is_embedding_query: bool = True

    collection_name: str = Field(default=DEFAULT_COLLECTION_NAME)
    distance: str = Field(default="cosine")
    dimensions: int | None = Field(default=None)
    mmr_prefetch_factor: int = Field(
        default=20, description="mmr mode ranks the best similarity_top_k * factor candidates (at most 10000)"
    )

    _lazy: LazyCollection | None = PrivateAttr(default=None)

    def __init__(
        self,
        store: StoreArg = None,
        *,
        collection_name: str = DEFAULT_COLLECTION_NAME,
        distance: str = "cosine",
        dimensions: int | None = None,
        mmr_prefetch_factor: int = 20,
    ) -> None:
        super().__init__(
            stores_text=True,
            collection_name=collection_name,
            distance=distance,
            dimensions=dimensions,
            mmr_prefetch_factor=mmr_prefetch_factor,
        )
        if dimensions is not None:
            _definition(dimensions, distance)  # validates both now
        elif distance not in ("cosine", "dot", "euclidean"):
            raise ValidationError("distance must be one of cosine, dot, euclidean")
        if (
            isinstance(mmr_prefetch_factor, bool)
            or not isinstance(mmr_prefetch_factor, int)
            or mmr_prefetch_factor < 1
        ):
            raise ValidationError("mmr_prefetch_factor must be an int >= 1")
        self._attach_store(store)
        try:
            self._store.vectors.storage_name(collection_name)  # a bad name fails here, not at first use
        except Exception:
            self.close()
            raise

    @classmethod
    def class_name(cls) -> str:
        return "MemstoreVectorStore"

    @property
    def client(self) -> Memstore:
        """The ``Memstore`` this vector store runs on."""
        return self._store

    # -- the collection -----------------------------------------------------------------------------------

    @property
    def _vectors(self) -> LazyCollection:
        """The collection, opened on first use and created by the first ``add`` (sized by ``dimensions=``
        if given, else by its first node); reads create nothing, and a collection deleted elsewhere is looked
        up again (:class:`memstore.LazyCollection`)."""
        if self._lazy is None:
            distance = self.distance
            layout: RecordDefinition | Callable[[int], RecordDefinition]
            if self.dimensions is None:
                layout = functools.partial(_definition, distance=distance)
            else:
                layout = _definition(self.dimensions, distance)
            # A collection of another layout is a ValueError, as LlamaIndex integrations raise.
            self._lazy = self._store.vectors.lazy_collection(
                self.collection_name, layout, refuse=ValidationError
            )
        return self._lazy

    # Each operation is one sync function of the collection, run by LazyCollection.read/write or, for the
    # async face, by their a-twins in a worker thread: written once, never on the event loop.

    # -- writing ------------------------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Insert or replace ``nodes`` (each needs an embedding) in one batch; returns their ids."""
        records = [_to_record(node) for node in nodes]
        if records:
            self._vectors.write(_upsert(records), len(records[0]["embedding"]))
        return [record["id"] for record in records]

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Async twin of :meth:`add`."""
        records = [_to_record(node) for node in nodes]
        if records:
            await self._vectors.awrite(_upsert(records), len(records[0]["embedding"]))
        return [record["id"] for record in records]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of document ``ref_doc_id`` (one core ``delete_where``)."""
        self._vectors.read(_delete_where(Eq("ref_doc_id", ref_doc_id)), 0)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Async twin of :meth:`delete`."""
        await self._vectors.aread(_delete_where(Eq("ref_doc_id", ref_doc_id)), 0)

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """Delete the nodes among ``node_ids`` (all if None) that match ``filters`` (all if None)."""
        self._vectors.read(_deleting(node_ids, filters), 0)

    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """Async twin of :meth:`delete_nodes`."""
        await self._vectors.aread(_deleting(node_ids, filters), 0)

    def clear(self) -> None:
        """Delete every node. The collection itself stays, with its dimensions: other handles on it (other
        processes, other MemstoreVectorStore objects) stay valid."""
        self._vectors.read(_delete_where(None), 0)

    async def aclear(self) -> None:
        """Async twin of :meth:`clear`."""
        await self._vectors.aread(_delete_where(None), 0)

    # -- reading ------------------------------------------------------------------------------------------

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The nodes among ``node_ids`` (all if None) matching ``filters`` (all if None), with embeddings.

        By ids alone: one read by key. Otherwise a filtered scan, read a page at a time, with no limit on
        how many nodes match."""
        return self._vectors.read(_getting(node_ids, filters), [])

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Async twin of :meth:`get_nodes`."""
        return await self._vectors.aread(_getting(node_ids, filters), [])

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes most similar to ``query.query_embedding`` that pass its filters,
        ``node_ids`` and ``doc_ids``; ``mmr`` mode re-ranks for diversity (``mmr_threshold`` from kwargs or
        the query)."""
        return self._vectors.read(self._querying(query, kwargs), _EMPTY)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Async twin of :meth:`query`."""
        return await self._vectors.aread(self._querying(query, kwargs), _EMPTY)

    def _querying(self, query: VectorStoreQuery, kwargs: dict[str, Any]) -> _Work[VectorStoreQueryResult]:
        """The query's work on the collection; the arguments are checked now, even with no collection."""
        mode = VectorStoreQueryMode(query.mode)
        if mode not in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR):
            raise ValueError(
                f"MemstoreVectorStore supports query modes 'default' and 'mmr', not {mode.value!r}"
            )
        if query.query_embedding is None:
            raise ValueError("MemstoreVectorStore queries need query_embedding")
        embedding = list(query.query_embedding)
        # An empty node_ids / doc_ids means "no restriction", as in LlamaIndex's integrations: a
        # VectorIndexRetriever over a store keeping the text passes node_ids=[] (its index_struct is empty).
        where = _all_of(
            In("node_id", list(query.node_ids)) if query.node_ids else None,
            In("ref_doc_id", list(query.doc_ids)) if query.doc_ids else None,
            to_memstore_filter(query.filters),
        )
        top_k = query.similarity_top_k
        if top_k > MAX_TOP_K:
            raise ValidationError(f"similarity_top_k is at most {MAX_TOP_K} (the core's search limit)")
        threshold = kwargs.get("mmr_threshold", query.mmr_threshold)
        prefetch = min(top_k * self.mmr_prefetch_factor, MAX_TOP_K)

        def work(collection: _Collection) -> VectorStoreQueryResult:
            if top_k < 1:
                return _EMPTY
            if mode == VectorStoreQueryMode.DEFAULT:
                hits = collection.search(embedding, top_k, filter=where)
                return VectorStoreQueryResult(
                    nodes=[_to_node(hit.record) for hit in hits],
                    similarities=[hit.score for hit in hits],
                    ids=[hit.record["id"] for hit in hits],
                )
            hits = collection.search(embedding, prefetch, filter=where, include_vectors=True)
            if not hits:
                return _EMPTY
            by_id = {hit.record["id"]: hit.record for hit in hits}
            similarities, ids = get_top_k_mmr_embeddings(
                embedding,
                [np.asarray(hit.record["embedding"], dtype=float).tolist() for hit in hits],
                similarity_top_k=top_k,
                embedding_ids=list(by_id),
                mmr_threshold=threshold,
            )
            return VectorStoreQueryResult(
                nodes=[_to_node(by_id[node_id]) for node_id in ids],
                similarities=list(similarities),
                ids=list(ids),
            )

        return work

    def __repr__(self) -> str:
        return f"MemstoreVectorStore({self._store!r}, collection_name={self.collection_name!r})"
