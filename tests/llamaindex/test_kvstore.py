"""MemstoreKVStore: BaseKVStore on memstore, and an index that outlives the process that built it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Document, StorageContext, SummaryIndex, load_index_from_storage
from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.index_store.keyval_index_store import KVIndexStore

from llamaindex_memstore import MemstoreKVStore
from memstore import Memstore, ValidationError

VALUE = {"text": "émoji 🧠 'quotes' \"double\" \x00 nul", "n": [1, 2.5, True, None], "nested": {"k": {}}}


def test_every_method(kv_store: MemstoreKVStore) -> None:
    kv_store.put("a", VALUE)
    kv_store.put_all([("b", {"x": 1}), ("c", {"x": 2})], batch_size=2)
    assert kv_store.get("a") == VALUE
    assert kv_store.get("missing") is None
    assert kv_store.get_all() == {"a": VALUE, "b": {"x": 1}, "c": {"x": 2}}
    kv_store.put("b", {"x": 10})
    assert kv_store.get("b") == {"x": 10}
    assert kv_store.delete("b") is True
    assert kv_store.delete("b") is False
    assert list(kv_store.get_all()) == ["a", "c"]


async def test_every_async_twin(kv_store: MemstoreKVStore) -> None:
    await kv_store.aput("a", VALUE)
    await kv_store.aput_all([("b", {"x": 1})], collection="other")
    assert await kv_store.aget("a") == VALUE
    assert await kv_store.aget("b") is None
    assert await kv_store.aget("b", collection="other") == {"x": 1}
    assert await kv_store.aget_all("other") == {"b": {"x": 1}}
    assert await kv_store.adelete("a") is True
    assert await kv_store.aget_all() == {}


def test_collections_are_namespaces_apart_from_other_kv_users(
    kv_store: MemstoreKVStore, memstore: Memstore
) -> None:
    kv_store.put("k", {"in": "data"})
    kv_store.put("k", {"in": "docstore/data"}, collection="docstore/data")
    memstore.kv.set("k", "the application's own value")
    assert kv_store.get("k") == {"in": "data"}
    assert kv_store.get_all("docstore/data") == {"k": {"in": "docstore/data"}}
    assert memstore.kv.get("k") == "the application's own value"
    assert memstore.kv.namespace_store("llamaindex/docstore/data").keys() == ["k"]
    separate = MemstoreKVStore(memstore, namespace_prefix="tenant-2/")
    assert separate.get_all() == {}


@pytest.mark.parametrize(
    "value",
    [
        {"nan": math.nan},
        {"inf": math.inf},
        {1: "int key"},
        {"t": (1, 2)},
        {"o": object()},
        {"s": "\ud800"},
        ["not", "a", "dict"],
        "text",
    ],
)
def test_values_json_cannot_hold_exactly_raise(kv_store: MemstoreKVStore, value: Any) -> None:
    with pytest.raises(ValidationError):
        kv_store.put("k", value)
    with pytest.raises(ValidationError):
        kv_store.put_all([("ok", {"fine": True}), ("k", value)])
    assert kv_store.get_all() == {}


@pytest.mark.parametrize("key", ["", "nul\x00", "a" * 1025, None])
def test_bad_keys_and_collections_raise(kv_store: MemstoreKVStore, key: Any) -> None:
    with pytest.raises(ValidationError):
        kv_store.put(key, {})
    with pytest.raises(ValidationError):
        kv_store.put_all([("ok", {}), (key, {})])
    with pytest.raises(ValidationError):
        kv_store.get("k", collection=key)
    assert kv_store.get_all() == {}


def test_put_all_is_one_transaction_whatever_the_batch_size(kv_store: MemstoreKVStore) -> None:
    pairs = [(f"k{i}", {"i": i}) for i in range(250)]
    kv_store.put_all(pairs, batch_size=7)
    assert len(kv_store.get_all()) == 250
    with pytest.raises(ValidationError):
        kv_store.put_all(pairs, batch_size=0)


def test_stored_non_object_json_raises_on_read(kv_store: MemstoreKVStore, memstore: Memstore) -> None:
    memstore.kv.namespace_store("llamaindex/data").set("k", "[1, 2]")
    with pytest.raises(ValidationError):
        kv_store.get("k")


def _nodes_and_answer(index: Any) -> tuple[dict[str, str], list[str]]:
    nodes = {node_id: node.get_content() for node_id, node in index.docstore.docs.items()}
    retrieved = [n.node.get_content() for n in index.as_retriever().retrieve("what about cats?")]
    return nodes, retrieved


DOCUMENTS = [
    Document(text="Cats sleep sixteen hours a day.", id_="cats"),
    Document(text="Dogs were domesticated from wolves.", id_="dogs"),
    Document(text="Octopuses have three hearts. 'Quotes' and émoji 🐙.", id_="octopus"),
]


def _storage(kv: MemstoreKVStore) -> StorageContext:
    return StorageContext.from_defaults(docstore=KVDocumentStore(kv), index_store=KVIndexStore(kv))


def test_an_index_on_a_storage_context_reloads_in_process(kv_store: MemstoreKVStore) -> None:
    index = SummaryIndex.from_documents(DOCUMENTS, storage_context=_storage(kv_store))
    index.set_index_id("animals")
    loaded = load_index_from_storage(_storage(kv_store), index_id="animals")
    assert _nodes_and_answer(loaded) == _nodes_and_answer(index)
    assert len(_nodes_and_answer(loaded)[0]) == 3


BUILD = """
import json, sys
from llama_index.core import Document, Settings, StorageContext, SummaryIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.index_store.keyval_index_store import KVIndexStore
from llamaindex_memstore import MemstoreKVStore

Settings.llm = MockLLM()
Settings.embed_model = MockEmbedding(embed_dim=8)
kv = MemstoreKVStore(sys.argv[1])
storage = StorageContext.from_defaults(docstore=KVDocumentStore(kv), index_store=KVIndexStore(kv))
documents = [Document(text=text, id_=doc_id) for doc_id, text in json.loads(sys.argv[2])]
index = SummaryIndex.from_documents(documents, storage_context=storage)
index.set_index_id("animals")
nodes = {node_id: node.get_content() for node_id, node in index.docstore.docs.items()}
retrieved = [n.node.get_content() for n in index.as_retriever().retrieve("what about cats?")]
kv.close()
print(json.dumps([nodes, retrieved]))
"""


@pytest.mark.slow
def test_an_index_built_in_one_process_loads_in_another(sql_url: str, tmp_path: Path) -> None:
    script = tmp_path / "build_index.py"
    script.write_text(textwrap.dedent(BUILD))
    documents = json.dumps([(d.doc_id, d.text) for d in DOCUMENTS])
    built = subprocess.run(
        [sys.executable, str(script), sql_url, documents],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert built.returncode == 0, built.stderr
    nodes, retrieved = json.loads(built.stdout.strip().splitlines()[-1])
    assert sorted(nodes.values()) == sorted(d.text for d in DOCUMENTS)

    kv = MemstoreKVStore(sql_url)
    try:
        loaded = load_index_from_storage(_storage(kv), index_id="animals")
        assert _nodes_and_answer(loaded) == (nodes, retrieved)
    finally:
        kv.close()
