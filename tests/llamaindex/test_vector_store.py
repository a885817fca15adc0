"""``MemstoreVectorStore`` against ``SimpleVectorStore``, its reference, on the same nodes and backends."""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any

import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from llamaindex_memstore import MemstoreVectorStore
from llamaindex_memstore.vector_store import UNSUPPORTED_OPERATORS, to_memstore_filter
from memstore import ConflictError, Memstore, ValidationError
from memstore.records import DataField, RecordDefinition, VectorField

# Values chosen so that Python's == and memstore's type-strict comparison agree (no bool next to 0/1 under
# the same key): where they differ is pinned separately in test_documented_differences.
METADATA: list[dict[str, Any]] = [
    {"n": 1, "lang": "en", "tag": "a", "score": 0.5, "flag": True},
    {"n": 2, "lang": "fr", "tag": "b", "score": 1.5, "flag": False},
    {"n": 3, "lang": "en", "tag": "c", "score": 2.5},
    {"n": 4, "lang": "de", "score": -1.0, "flag": True, "note": None},
    {"n": 5, "lang": "en", "tag": "a", "score": 3.25, "tags": ["x", "y"]},
    {"lang": "fr", "tag": "b", "score": 0.0, "flag": False},
    {"n": 7.5, "tag": "c", "flag": True},
    {"n": -2, "lang": "it", "tag": "a", "score": 10.0, "flag": False},
]
DOCS = ["doc-a", "doc-b", "doc-c"]


def make_nodes() -> list[TextNode]:
    nodes = []
    for i, metadata in enumerate(METADATA):
        angle = 0.15 * i  # distinct embeddings, so similarities order the results strictly
        node = TextNode(
            id_=f"node-{i}",
            text=f"text of node {i} ünïcode 🧠",
            metadata=dict(metadata),
            embedding=[math.cos(angle), math.sin(angle), 0.1 * (i % 3)],
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=DOCS[i % 3])
        nodes.append(node)
    return nodes


QUERY = [1.0, 0.2, 0.05]


def leaf(key: str, op: FilterOperator | str, value: Any) -> MetadataFilter:
    return MetadataFilter(key=key, operator=FilterOperator(op), value=value)


def flat(*filters: MetadataFilter, condition: str = "and") -> MetadataFilters:
    return MetadataFilters(filters=list(filters), condition=FilterCondition(condition))


SUPPORTED: list[MetadataFilters] = [
    flat(leaf("lang", "==", "en")),
    flat(leaf("n", "==", 3)),
    flat(leaf("n", "==", 3.0)),
    flat(leaf("score", "==", 0.5)),
    flat(leaf("missing", "==", "x")),
    flat(leaf("lang", "!=", "en")),
    flat(leaf("n", "!=", 2)),
    flat(leaf("note", "!=", "x")),
    flat(leaf("n", ">", 2)),
    flat(leaf("n", ">=", 3)),
    flat(leaf("n", "<", 3)),
    flat(leaf("n", "<=", 2.5)),
    flat(leaf("score", ">", 0.5)),
    flat(leaf("score", "<=", 0)),
    flat(leaf("lang", "in", ["en", "de"])),
    flat(leaf("n", "in", [1, 4, 7.5])),
    flat(leaf("lang", "in", [])),
    flat(leaf("lang", "nin", ["en", "de"])),
    flat(leaf("n", "nin", [1, 2])),
    flat(leaf("tag", "nin", [])),
    flat(leaf("ref_doc_id", "==", "doc-b")),
    flat(leaf("doc_id", "in", ["doc-a", "doc-c"])),
    flat(leaf("lang", "==", "en"), leaf("n", ">", 1)),
    flat(leaf("lang", "==", "en"), leaf("tag", "==", "c"), condition="or"),
    flat(leaf("lang", "==", "en"), leaf("tag", "!=", "b"), condition="not"),
    flat(leaf("lang", "nin", ["fr"]), leaf("tag", "==", "c"), condition="not"),
    flat(leaf("n", "<", 0), leaf("score", ">", 3), condition="or"),
    flat(leaf("n", ">", 2), leaf("lang", "==", "fr"), condition="not"),
    MetadataFilters(filters=[]),
]

NESTED: list[MetadataFilters] = [
    MetadataFilters(
        filters=[leaf("lang", "==", "en"), flat(leaf("tag", "==", "a"), leaf("n", ">", 4), condition="or")],
        condition=FilterCondition.AND,
    ),
    MetadataFilters(
        filters=[flat(leaf("lang", "==", "fr"), leaf("score", "<", 1)), flat(leaf("n", "in", [1, 3]))],
        condition=FilterCondition.OR,
    ),
    MetadataFilters(
        filters=[flat(leaf("lang", "in", ["en", "it"]), leaf("tag", "!=", "c"), condition="and")],
        condition=FilterCondition.NOT,
    ),
    MetadataFilters(
        filters=[leaf("tag", "==", "a"), MetadataFilters(filters=[])], condition=FilterCondition.AND
    ),
]


def reference_match(filters: MetadataFilters | None, metadata: dict[str, Any]) -> bool:
    """LlamaIndex's own leaf evaluation (``build_metadata_filter_fn``), combined for nested filters."""
    if filters is None or not filters.filters:
        return True
    results = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            results.append(reference_match(item, metadata))
        else:
            results.append(build_metadata_filter_fn(lambda _: metadata, MetadataFilters(filters=[item]))("x"))
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return all(results)
    if condition == FilterCondition.OR:
        return any(results)
    return not any(results)


@pytest.fixture
def nodes() -> list[TextNode]:
    return make_nodes()


@pytest.fixture
def reference(nodes: list[TextNode]) -> SimpleVectorStore:
    store = SimpleVectorStore()
    store.add(make_nodes())
    return store


@pytest.fixture
def vector_store(vector_memstore: Memstore, nodes: list[TextNode]) -> MemstoreVectorStore:
    store = MemstoreVectorStore(vector_memstore, collection_name="li-test")
    assert store.add(nodes) == [node.node_id for node in nodes]
    return store


def is_chroma(store: MemstoreVectorStore) -> bool:
    return store.store.vectors.backend.kind == "chroma"


def run_both(
    ours: MemstoreVectorStore, reference: SimpleVectorStore, query: VectorStoreQuery, **kwargs: Any
) -> tuple[Any, Any]:
    return ours.query(query, **kwargs), reference.query(query, **kwargs)


def assert_same_result(ours: Any, theirs: Any) -> None:
    assert ours.ids == theirs.ids
    assert ours.similarities == pytest.approx(theirs.similarities, abs=1e-5)
    assert [node.node_id for node in ours.nodes] == ours.ids


# -- filters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filters", SUPPORTED, ids=[repr(to_memstore_filter(f)) for f in SUPPORTED])
def test_supported_operators_match_simple_vector_store(
    vector_store: MemstoreVectorStore, reference: SimpleVectorStore, filters: MetadataFilters
) -> None:
    query = VectorStoreQuery(query_embedding=QUERY, similarity_top_k=len(METADATA), filters=filters)
    if (
        is_chroma(vector_store)
        and filters.condition == FilterCondition.NOT
        and any(
            isinstance(item, MetadataFilter) and item.operator in (">", "<", ">=", "<=")
            for item in filters.filters
        )
    ):  # Chroma refuses a negated range rather than answer differently (documented)
        with pytest.raises(ValueError, match=r"(?i)chroma"):
            vector_store.query(query)
        return
    ours, theirs = run_both(vector_store, reference, query)
    assert_same_result(ours, theirs)
    # Not vacuous: the dataset makes most filters select a strict, non-empty subset.
    assert len(theirs.ids) <= len(METADATA)


def test_the_filter_cases_are_discriminating() -> None:
    sizes = {
        len([m for m in METADATA if reference_match(f, {**m, "doc_id": "?"})]) for f in SUPPORTED + NESTED
    }
    assert 0 in sizes
    assert len(METADATA) in sizes
    assert len(sizes) >= 5


@pytest.mark.parametrize("filters", NESTED, ids=[repr(to_memstore_filter(f)) for f in NESTED])
def test_nested_filters_match_reference_semantics(
    vector_store: MemstoreVectorStore, nodes: list[TextNode], filters: MetadataFilters
) -> None:
    # SimpleVectorStore refuses nested MetadataFilters; the reference is its leaf evaluation, combined.
    result = vector_store.query(
        VectorStoreQuery(query_embedding=QUERY, similarity_top_k=len(nodes), filters=filters)
    )
    expected = {node.node_id for node in nodes if reference_match(filters, node.metadata)}
    assert set(result.ids) == expected
    assert result.similarities == sorted(result.similarities, reverse=True)


@pytest.mark.parametrize("operator", sorted(UNSUPPORTED_OPERATORS, key=lambda op: op.value))
def test_unsupported_operators_raise_naming_the_operator(
    vector_store: MemstoreVectorStore, operator: FilterOperator
) -> None:
    value: Any = ["x"] if operator in (FilterOperator.ANY, FilterOperator.ALL) else "x"
    filters = flat(leaf("tags", operator, value))
    with pytest.raises(ValueError, match=f"'{operator.value}'"):
        vector_store.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=3, filters=filters))
    with pytest.raises(ValueError, match=f"'{operator.value}'"):
        vector_store.get_nodes(filters=filters)
    with pytest.raises(ValueError, match=f"'{operator.value}'"):
        vector_store.delete_nodes(filters=filters)
    assert len(vector_store.get_nodes(node_ids=[f"node-{i}" for i in range(len(METADATA))])) == len(METADATA)


@pytest.mark.parametrize("operator", [">", ">=", "<", "<="])
def test_range_on_strings_raises(vector_store: MemstoreVectorStore, operator: str) -> None:
    # SimpleVectorStore compares str lexicographically; memstore's Range compares numbers only.
    with pytest.raises(ValueError, match="numbers only"):
        vector_store.query(
            VectorStoreQuery(
                query_embedding=QUERY, similarity_top_k=3, filters=flat(leaf("lang", operator, "en"))
            )
        )


def test_documented_differences(vector_memstore: Memstore) -> None:
    """memstore comparisons are type-strict: True is not 1 (Python's == says it is)."""
    node = TextNode(id_="b", text="t", metadata={"flag": True}, embedding=[1.0, 0.0])
    ours = MemstoreVectorStore(vector_memstore, collection_name="li-diff")
    ours.add([node])
    reference = SimpleVectorStore()
    reference.add([node])
    query = VectorStoreQuery(
        query_embedding=[1.0, 0.0], similarity_top_k=1, filters=flat(leaf("flag", "==", 1))
    )
    assert reference.query(query).ids == ["b"]
    assert ours.query(query).ids == []


def test_negated_range_on_chroma_is_refused_not_wrong(vector_store: MemstoreVectorStore) -> None:
    filters = flat(leaf("n", ">", 2), condition="not")
    query = VectorStoreQuery(query_embedding=QUERY, similarity_top_k=len(METADATA), filters=filters)
    if is_chroma(vector_store):
        with pytest.raises(ValidationError, match=r"(?i)chroma"):
            vector_store.query(query)
    else:
        expected = {f"node-{i}" for i, m in enumerate(METADATA) if reference_match(filters, m)}
        assert set(vector_store.query(query).ids) == expected


# -- queries ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("top_k", [1, 3, 8, 20])
def test_top_k_matches_simple_vector_store(
    vector_store: MemstoreVectorStore, reference: SimpleVectorStore, top_k: int
) -> None:
    ours, theirs = run_both(
        vector_store, reference, VectorStoreQuery(query_embedding=QUERY, similarity_top_k=top_k)
    )
    assert_same_result(ours, theirs)
    assert len(ours.ids) == min(top_k, len(METADATA))


def test_node_ids_and_doc_ids_restrict_the_query(
    vector_store: MemstoreVectorStore, reference: SimpleVectorStore
) -> None:
    query = VectorStoreQuery(
        query_embedding=QUERY, similarity_top_k=8, node_ids=["node-1", "node-4", "node-6"]
    )
    ours, theirs = run_both(vector_store, reference, query)
    assert_same_result(ours, theirs)
    assert sorted(ours.ids) == ["node-1", "node-4", "node-6"]
    by_doc = vector_store.query(
        VectorStoreQuery(query_embedding=QUERY, similarity_top_k=8, doc_ids=["doc-b"])
    )
    assert sorted(by_doc.ids) == ["node-1", "node-4", "node-7"]
    # Empty lists restrict nothing (VectorIndexRetriever passes node_ids=[] for stores that keep the text).
    unrestricted = vector_store.query(
        VectorStoreQuery(query_embedding=QUERY, similarity_top_k=8, node_ids=[], doc_ids=[])
    )
    assert len(unrestricted.ids) == len(METADATA)


@pytest.mark.parametrize("threshold", [None, 0.2, 0.5, 0.9])
def test_mmr_matches_simple_vector_store(
    vector_store: MemstoreVectorStore, reference: SimpleVectorStore, threshold: float | None
) -> None:
    query = VectorStoreQuery(query_embedding=QUERY, similarity_top_k=4, mode=VectorStoreQueryMode.MMR)
    ours, theirs = run_both(vector_store, reference, query, mmr_threshold=threshold)
    assert ours.ids == theirs.ids
    assert ours.similarities == pytest.approx(theirs.similarities, abs=1e-4)
    plain = vector_store.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=4))
    if threshold == 0.2:  # diversity weighs: MMR picks differ from plain similarity
        assert ours.ids != plain.ids


def test_unsupported_query_mode_raises(vector_store: MemstoreVectorStore) -> None:
    with pytest.raises(ValueError, match="svm"):
        vector_store.query(VectorStoreQuery(query_embedding=QUERY, mode=VectorStoreQueryMode.SVM))


# -- nodes --------------------------------------------------------------------------------------------------


def test_nodes_round_trip(vector_store: MemstoreVectorStore, nodes: list[TextNode]) -> None:
    found = vector_store.get_nodes(node_ids=[node.node_id for node in reversed(nodes)] + ["missing"])
    assert [node.node_id for node in found] == [node.node_id for node in reversed(nodes)]
    for original, node in zip(reversed(nodes), found, strict=True):
        assert node.get_content() == original.get_content()
        assert node.metadata == original.metadata
        assert node.ref_doc_id == original.ref_doc_id
        assert node.relationships == original.relationships
        assert node.embedding == pytest.approx(original.embedding, abs=1e-6)
    result = vector_store.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=1))
    assert result.ids == ["node-1"]
    assert result.nodes[0].get_content() == nodes[1].get_content()
    assert result.nodes[0].metadata == nodes[1].metadata


def test_get_nodes_by_filter(vector_store: MemstoreVectorStore) -> None:
    filters = flat(leaf("lang", "==", "en"))
    found = vector_store.get_nodes(filters=filters)
    assert sorted(node.node_id for node in found) == ["node-0", "node-2", "node-4"]
    both = vector_store.get_nodes(node_ids=["node-0", "node-1", "node-2"], filters=filters)
    assert sorted(node.node_id for node in both) == ["node-0", "node-2"]
    assert len(vector_store.get_nodes()) == len(METADATA)


def remaining(store: Any) -> list[str]:
    return sorted(store.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=50)).ids)


def test_deletes_match_simple_vector_store(
    vector_store: MemstoreVectorStore, reference: SimpleVectorStore
) -> None:
    for store in (vector_store, reference):
        store.delete("doc-a")
    assert (
        remaining(vector_store) == remaining(reference) == ["node-1", "node-2", "node-4", "node-5", "node-7"]
    )
    for store in (vector_store, reference):
        store.delete_nodes(node_ids=["node-1", "missing"])
    assert remaining(vector_store) == remaining(reference)
    for store in (vector_store, reference):
        store.delete_nodes(filters=flat(leaf("lang", "==", "fr")))
    assert remaining(vector_store) == remaining(reference) == ["node-2", "node-4", "node-7"]
    for store in (vector_store, reference):
        store.delete_nodes(node_ids=["node-2", "node-4"], filters=flat(leaf("n", ">", 3)))
    assert remaining(vector_store) == remaining(reference) == ["node-2", "node-7"]
    vector_store.delete("doc-none")
    for store in (vector_store, reference):
        store.clear()
    assert remaining(vector_store) == remaining(reference) == []
    assert vector_store.get_nodes() == []
    vector_store.add(make_nodes()[:2])
    assert remaining(vector_store) == ["node-0", "node-1"]


def test_add_replaces_a_node(vector_store: MemstoreVectorStore) -> None:
    changed = TextNode(id_="node-0", text="new", metadata={"lang": "xx"}, embedding=[0.0, 1.0, 0.0])
    vector_store.add([changed])
    assert vector_store.get_nodes(node_ids=["node-0"])[0].get_content() == "new"
    assert [n.node_id for n in vector_store.get_nodes(filters=flat(leaf("lang", "==", "xx")))] == ["node-0"]


def test_empty_and_missing_collection(vector_memstore: Memstore) -> None:
    store = MemstoreVectorStore(vector_memstore, collection_name="li-empty")
    assert store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=2)).ids == []
    assert store.get_nodes() == []
    assert store.get_nodes(node_ids=["x"]) == []
    store.delete("x")
    store.delete_nodes(filters=flat(leaf("a", "==", 1)))
    store.clear()
    assert store.add([]) == []
    with pytest.raises(ValidationError, match="embedding"):
        store.add([TextNode(id_="no-embedding", text="t")])


def test_bad_arguments() -> None:
    with Memstore("memory://") as memstore:
        with pytest.raises(ValidationError, match="collection name"):
            MemstoreVectorStore(memstore, collection_name="no spaces allowed")
        with pytest.raises(ValidationError, match="distance"):
            MemstoreVectorStore(memstore, distance="manhattan")
        store = MemstoreVectorStore(memstore, collection_name="li-dims", dimensions=2)
        with pytest.raises(ValidationError, match="2 floats"):
            store.add([TextNode(id_="x", text="t", embedding=[1.0, 2.0, 3.0])])


def test_async_twins_match_sync(vector_store: MemstoreVectorStore, reference: SimpleVectorStore) -> None:
    async def scenario() -> None:
        filters = flat(leaf("lang", "in", ["en", "fr"]), leaf("n", ">", 1))
        query = VectorStoreQuery(query_embedding=QUERY, similarity_top_k=8, filters=filters)
        assert_same_result(await vector_store.aquery(query), reference.query(query))
        mmr = VectorStoreQuery(query_embedding=QUERY, similarity_top_k=3, mode=VectorStoreQueryMode.MMR)
        assert (await vector_store.aquery(mmr, mmr_threshold=0.3)).ids == reference.query(
            mmr, mmr_threshold=0.3
        ).ids
        assert len(await vector_store.aget_nodes(filters=filters)) == len(reference.query(query).ids)
        await vector_store.adelete("doc-a")
        reference.delete("doc-a")
        await vector_store.adelete_nodes(filters=flat(leaf("tag", "==", "b")))
        reference.delete_nodes(filters=flat(leaf("tag", "==", "b")))
        assert remaining(vector_store) == remaining(reference) == ["node-2", "node-4", "node-7"]
        assert await vector_store.async_add(make_nodes()[:1]) == ["node-0"]
        assert remaining(vector_store) == ["node-0", "node-2", "node-4", "node-7"]
        await vector_store.aclear()
        assert await vector_store.aget_nodes() == []

    asyncio.run(scenario())


def test_any_metadata_round_trips_and_top_level_keys_filter(vector_memstore: Memstore) -> None:
    metadata = {
        'we"ird': 1,
        "": "empty key",
        "a.b": "dotted",
        "nested": {"x": [1, {"y": None}], "lang": "en"},
        "list": [1, "a", True],
        "unicode ✓": "ünï",
    }
    store = MemstoreVectorStore(vector_memstore, collection_name="li-keys")
    store.add([TextNode(id_="k", text="t", embedding=[1.0, 0.0], metadata=metadata)])
    assert store.get_nodes(node_ids=["k"])[0].metadata == metadata
    # A filter key is one top-level metadata key, dots included (as in SimpleVectorStore): never a path.
    assert [n.node_id for n in store.get_nodes(filters=flat(leaf("a.b", "==", "dotted")))] == ["k"]
    assert [n.node_id for n in store.get_nodes(filters=flat(leaf("unicode ✓", "==", "ünï")))] == ["k"]
    assert (
        store.get_nodes(filters=flat(leaf("lang", "==", "en"))) == []
    )  # nested values are not top-level keys
    with pytest.raises(ValueError, match="double quote"):
        store.get_nodes(filters=flat(leaf('we"ird', "==", 1)))


def test_two_handles_on_one_collection(vector_memstore: Memstore) -> None:
    first = MemstoreVectorStore(vector_memstore, collection_name="li-shared")
    second = MemstoreVectorStore(vector_memstore, collection_name="li-shared")
    first.add(make_nodes()[:3])
    assert remaining(second) == ["node-0", "node-1", "node-2"]
    second.clear()
    assert remaining(first) == []
    first.add(make_nodes()[3:5])
    assert remaining(second) == ["node-3", "node-4"]


def test_a_collection_deleted_by_another_handle_is_looked_up_again(vector_memstore: Memstore) -> None:
    first = MemstoreVectorStore(vector_memstore, collection_name="li-dropped")
    first.add(make_nodes()[:3])
    vector_memstore.vectors.get_collection("li-dropped").delete_collection()  # another store, another process
    assert first.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=2)).ids == []
    assert first.get_nodes() == []
    first.delete_nodes(["node-0"])
    first.add(make_nodes()[3:4])  # creates it anew
    assert remaining(first) == ["node-3"]


def test_reads_create_nothing_and_layouts_are_checked(vector_memstore: Memstore) -> None:
    sized = MemstoreVectorStore(vector_memstore, collection_name="li-sized", dimensions=3)
    assert sized.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1)).ids == []
    assert sized.get_nodes() == []
    assert "li-sized" not in vector_memstore.vectors.list_collection_names()
    sized.add(make_nodes()[:1])
    assert "li-sized" in vector_memstore.vectors.list_collection_names()
    with pytest.raises(ValueError, match="another layout or distance"):
        MemstoreVectorStore(vector_memstore, collection_name="li-sized", distance="dot").get_nodes()
    with pytest.raises(ConflictError):
        MemstoreVectorStore(vector_memstore, collection_name="li-sized", dimensions=4).get_nodes()
    # A collection made by other code, with another layout, is refused rather than misread.
    other = vector_memstore.vectors.get_collection(
        "li-foreign", RecordDefinition("id", VectorField("v", 2), [DataField("text")])
    )
    other.create()
    with pytest.raises(ValueError, match="another layout"):
        MemstoreVectorStore(vector_memstore, collection_name="li-foreign").get_nodes()


def test_async_twins_never_touch_the_backend_on_the_event_loop(
    vector_memstore: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = vector_memstore.vectors.backend
    calls: list[tuple[str, int]] = []
    names = ("create_collection", "describe_collection", "upsert", "get", "delete", "count", "search")
    for name in (*names, "scan", "delete_where"):
        real = getattr(backend, name)

        def spy(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            calls.append((_name, threading.get_ident()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(backend, name, spy)

    async def scenario() -> int:
        store = MemstoreVectorStore(vector_memstore, collection_name="li-async-thread")
        await store.async_add(make_nodes())
        await store.aquery(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=2))
        await store.aquery(
            VectorStoreQuery(query_embedding=QUERY, similarity_top_k=2, mode=VectorStoreQueryMode.MMR)
        )
        await store.aget_nodes(filters=flat(leaf("lang", "==", "en")))
        await store.aget_nodes(node_ids=["node-1"])
        await store.adelete("doc-a")
        await store.adelete_nodes(node_ids=["node-1"])
        await store.aclear()
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert {name for name, _ in calls} >= {
        "create_collection",
        "upsert",
        "get",
        "delete",
        "search",
        "scan",
        "delete_where",
    }
    assert all(thread != loop_thread for _, thread in calls)


def test_mmr_with_filters_matches_simple_vector_store(
    vector_store: MemstoreVectorStore, reference: SimpleVectorStore
) -> None:
    query = VectorStoreQuery(
        query_embedding=QUERY,
        similarity_top_k=3,
        mode=VectorStoreQueryMode.MMR,
        filters=flat(leaf("lang", "nin", ["de"]), leaf("score", ">=", 0)),
    )
    ours, theirs = run_both(vector_store, reference, query, mmr_threshold=0.3)
    assert ours.ids == theirs.ids
    assert len(ours.ids) == 3


def test_no_cap_on_how_many_nodes_match() -> None:
    """Filtered reads and deletes go through the core's scan and delete_where: every match, however many
    (here more than two scan pages), with no probe search and no 10,000 cap."""
    with Memstore("memory://") as memstore:
        store = MemstoreVectorStore(memstore, collection_name="li-rounds")
        nodes = [
            TextNode(
                id_=f"r{i}",
                text="t",
                embedding=[1.0, float(i)],
                metadata={"parity": "odd" if i % 2 else "even"},
            )
            for i in range(1200)
        ]
        for node in nodes:
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="doc")
        store.add(nodes)
        assert len(store.get_nodes()) == 1200
        store.delete_nodes(filters=flat(leaf("parity", "==", "even")))
        odd = store.get_nodes(filters=flat(leaf("parity", "==", "odd")))
        assert sorted(n.node_id for n in odd) == sorted(f"r{i}" for i in range(1, 1200, 2))
        assert store.get_nodes(filters=flat(leaf("parity", "==", "even"))) == []
        store.add(nodes)
        assert len(store.get_nodes(node_ids=[f"r{i}" for i in range(1200)])) == 1200  # by id
        assert (
            len(store.get_nodes(node_ids=["r1", "r2", "nope"], filters=flat(leaf("parity", "==", "odd"))))
            == 1
        )
        store.delete("doc")
        assert memstore.vectors.get_collection("li-rounds").count() == 0
        store.add(nodes)
        store.clear()
        assert memstore.vectors.get_collection("li-rounds").count() == 0
        assert "li-rounds" in memstore.vectors.list_collection_names()  # clear keeps the collection


def test_top_k_beyond_the_core_limit_raises(vector_store: MemstoreVectorStore) -> None:
    with pytest.raises(ValidationError, match="at most 10000"):
        vector_store.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=10_001))
    assert len(vector_store.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=10_000)).ids) == 8
