"""An index built in one interpreter and loaded in another: docstore and index store in ``MemstoreKVStore``,
vectors in ``MemstoreVectorStore``, all in one database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

COMMON = """
import json, sys
sys.path.insert(0, {here!r})
from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.index_store.keyval_index_store import KVIndexStore
from li_embedding import LetterEmbedding
from llamaindex_memstore import MemstoreKVStore, MemstoreVectorStore
from memstore import Memstore

url, vectors = sys.argv[1], sys.argv[2]
store = Memstore(url, vectors=None if vectors == "default" else vectors)
kv = MemstoreKVStore(store)
storage = StorageContext.from_defaults(
    docstore=KVDocumentStore(kv),
    index_store=KVIndexStore(kv),
    vector_store=MemstoreVectorStore(store, collection_name="li-persist"),
)
QUERIES = ["puffins and cliffs", "rivers of europe", "a red star", "zzz"]

def retrieval(index):
    retriever = index.as_retriever(similarity_top_k=2)
    return {{
        q: [[hit.node.node_id, hit.node.get_content(), round(hit.score, 5)] for hit in retriever.retrieve(q)]
        for q in QUERIES
    }}
"""

BUILD = """
texts = {
    "birds": "Puffins nest on cliffs and dive for sand eels.",
    "rivers": "The Danube flows through ten countries before reaching the Black Sea.",
    "stars": "Betelgeuse is a red supergiant in the constellation Orion.",
    "jazz": "Buzzing jazz quartets puzzle fuzzy zebras.",
}
documents = [Document(text=t, doc_id=f"doc-{k}", metadata={"topic": k}) for k, t in texts.items()]
index = VectorStoreIndex.from_documents(
    documents, storage_context=storage, embed_model=LetterEmbedding(), store_nodes_override=True
)
index.set_index_id("kb")
print(json.dumps(retrieval(index)))
store.close()
"""

LOAD = """
index = load_index_from_storage(storage, index_id="kb", embed_model=LetterEmbedding())
result = retrieval(index)
result["docs"] = sorted(index.docstore.get_all_ref_doc_info())
result["nodes"] = len(index.docstore.docs)
print(json.dumps(result))
store.close()
"""


def run(script: str, url: str, vectors: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", COMMON.format(here=str(HERE)) + script, url, vectors],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "chroma", "chroma-server"])
def test_index_built_in_one_process_loads_in_another(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "chroma":
        url, vectors = f"sqlite:///{tmp_path / 'kb.db'}", f"chroma:///{tmp_path / 'chroma'}"
    elif backend == "chroma-server":
        request.getfixturevalue("chroma_server_backend")  # skips without a server; deletes collections after
        server = request.getfixturevalue("chroma_server")
        url, vectors = f"sqlite:///{tmp_path / 'kb.db'}", f"chroma+http://{server.host}:{server.port}"
    else:
        url, vectors = str(request.getfixturevalue(f"{backend}_url")), "sql"
    built = run(BUILD, url, vectors)
    loaded = run(LOAD, url, vectors)
    assert loaded.pop("docs") == ["doc-birds", "doc-jazz", "doc-rivers", "doc-stars"]
    assert loaded.pop("nodes") == 4
    assert loaded == built
    # The letter embedding makes retrieval depend on the text: the nearest node is the expected one.
    assert built["puffins and cliffs"][0][1].startswith("Puffins")  # type: ignore[index]
    assert built["zzz"][0][1].startswith("Buzzing jazz")  # type: ignore[index]
