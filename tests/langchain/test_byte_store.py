"""MemstoreByteStore: LangChain's standard BaseStore suites (unmodified), on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import BaseStoreAsyncTests, BaseStoreSyncTests

from langchain_memstore import MemstoreByteStore
from memstore import Memstore, ValidationError


class TestMemstoreByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def kv_store(self, mstore: Memstore) -> Iterator[MemstoreByteStore]:
        with MemstoreByteStore(store=mstore) as store:
            yield store

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"\x00bar\xff", "bäz ✓".encode()


class TestMemstoreByteStoreAsync(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    async def kv_store(self, mstore: Memstore) -> AsyncIterator[MemstoreByteStore]:
        async with MemstoreByteStore(store=mstore) as store:
            yield store

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"\x00bar\xff", "bäz ✓".encode()


def test_namespaces_keep_stores_apart(mstore: Memstore) -> None:
    first = MemstoreByteStore(store=mstore, kv_namespace="cache-a")
    second = MemstoreByteStore(store=mstore, kv_namespace="cache-b")
    first.mset([("k", b"a")])
    second.mset([("k", b"b"), ("only-b", b"x")])
    assert first.mget(["k", "only-b"]) == [b"a", None]
    assert list(second.yield_keys()) == ["k", "only-b"]
    first.mdelete(["k"])
    assert second.mget(["k"]) == [b"b"]
    assert list(MemstoreByteStore(store=mstore).yield_keys()) == []


def test_prefix_is_literal_and_keys_are_ordered(mstore: Memstore) -> None:
    store = MemstoreByteStore(store=mstore)
    store.mset([(key, b"v") for key in ["a%c", "a_b", "abc", "a", "b", "A"]])
    assert list(store.yield_keys()) == ["A", "a", "a%c", "a_b", "abc", "b"]
    assert list(store.yield_keys(prefix="a_")) == ["a_b"]
    assert list(store.yield_keys(prefix="a%")) == ["a%c"]
    assert list(store.yield_keys(prefix="zz")) == []


@pytest.mark.parametrize(
    "pairs",
    [
        pytest.param([("ok", b"1"), ("bad", "a str")], id="str-value"),
        pytest.param([("ok", b"1"), ("bad", None)], id="none-value"),
        pytest.param([("ok", b"1"), ("", b"empty key")], id="empty-key"),
        pytest.param([("ok", b"1"), ("nul\x00key", b"x")], id="nul-key"),
        pytest.param([("ok", b"1"), ("k" * 1025, b"x")], id="key-too-long"),
    ],
)
async def test_bad_batch_writes_nothing(mstore: Memstore, pairs: list[tuple[str, bytes]]) -> None:
    store = MemstoreByteStore(store=mstore)
    with pytest.raises(ValidationError):
        store.mset(pairs)
    with pytest.raises(ValidationError):
        await store.amset(pairs)
    assert list(store.yield_keys()) == []


def test_text_written_through_the_core_reads_as_utf8_bytes(mstore: Memstore) -> None:
    store = MemstoreByteStore(store=mstore, kv_namespace="shared")
    mstore.kv.namespace_store("shared").set("greeting", "héllo")
    assert store.mget(["greeting"]) == ["héllo".encode()]


def test_values_survive_reopening_the_database(sql_url: str) -> None:
    with MemstoreByteStore(store=sql_url) as store:
        store.mset([("blob", bytes(range(256)))])
    with MemstoreByteStore(store=sql_url) as reopened:
        assert reopened.mget(["blob"]) == [bytes(range(256))]


class _CountingEmbeddings(Embeddings):
    """Deterministic embeddings that count how many texts they were asked to embed."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [[float(len(text)), float(sum(map(ord, text)) % 97), 0.5] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


async def test_cache_backed_embeddings_hit_the_cache(mstore: Memstore) -> None:
    cache_module = pytest.importorskip(
        "langchain_classic.embeddings", reason="CacheBackedEmbeddings lives in langchain-classic"
    )
    underlying = _CountingEmbeddings()
    byte_store = MemstoreByteStore(store=mstore, kv_namespace="embeddings-cache")
    cached = cache_module.CacheBackedEmbeddings.from_bytes_store(
        underlying, byte_store, namespace="counting", key_encoder="sha256"
    )
    first = cached.embed_documents(["alpha", "beta"])
    again = cached.embed_documents(["beta", "alpha", "gamma"])
    assert again[:2] == [first[1], first[0]]
    assert underlying.embedded == ["alpha", "beta", "gamma"]
    assert len(list(byte_store.yield_keys(prefix="counting"))) == 3
    assert await cached.aembed_documents(["gamma"]) == [again[2]]
    assert underlying.embedded == ["alpha", "beta", "gamma"]
