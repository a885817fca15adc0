"""``Memstore(url, vectors=...)``: which vector backend, where, created lazily, closed with the store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import memstore
from memstore import Memstore, RecordDefinition, ValidationError, VectorField
from memstore.backends import chroma as chroma_module
from memstore.backends.chroma import ChromaVectorBackend
from memstore.backends.memory.vectors import MemoryVectorBackend
from memstore.backends.sql.vectors import SqlVectorBackend

DEFINITION = RecordDefinition("id", VectorField("v", dimensions=2))


def test_the_default_puts_chroma_beside_the_sqlite_file(tmp_path: Path) -> None:
    with Memstore(f"sqlite:///{tmp_path}/data/memstore.db") as store:
        assert "vectors='chroma:///" in repr(store)
        backend = store.vectors.backend
        assert isinstance(backend, ChromaVectorBackend)
        assert backend.location == str((tmp_path / "data" / "chroma").resolve())
        store.vectors.get_collection("docs", DEFINITION).create()
        assert (tmp_path / "data" / "chroma").is_dir()
    with Memstore(f"sqlite:///{tmp_path}/data/memstore.db") as again:
        assert again.vectors.list_collection_names() == ["docs"], "vectors persist with the database"


def test_two_databases_in_one_folder_never_share_vectors(tmp_path: Path) -> None:
    with (
        Memstore(f"sqlite:///{tmp_path}/memstore.db") as first,
        Memstore(f"sqlite:///{tmp_path}/app.db") as app,
    ):
        first.vectors.get_collection("docs", DEFINITION).create()
        assert app.vectors.list_collection_names() == []
        backend = app.vectors.backend
        assert isinstance(backend, ChromaVectorBackend)
        assert backend.location == str((tmp_path / "app.chroma").resolve())


def test_relative_paths_resolve_like_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Memstore("sqlite:///rel/memstore.db") as store:
        backend = store.vectors.backend
        assert isinstance(backend, ChromaVectorBackend)
        assert backend.location == str(tmp_path / "rel" / "chroma")
    with Memstore("memory://", vectors="chroma:///elsewhere/vectors") as store:
        backend = store.vectors.backend
        assert isinstance(backend, ChromaVectorBackend)
        assert backend.location == str(tmp_path / "elsewhere" / "vectors")
    absolute = tmp_path / "abs"
    with Memstore("memory://", vectors=f"chroma:////{str(absolute).lstrip('/')}") as store:
        backend = store.vectors.backend
        assert isinstance(backend, ChromaVectorBackend)
        assert backend.location == str(absolute)


def test_memory_and_sql_choices(sqlite_url: str) -> None:
    with Memstore("memory://") as store:
        assert isinstance(store.vectors.backend, MemoryVectorBackend)
    with Memstore("sqlite://") as store:
        assert isinstance(store.vectors.backend, MemoryVectorBackend), (
            "in-memory SQLite keeps vectors in memory"
        )
    with Memstore(sqlite_url, vectors="memory") as store:
        assert isinstance(store.vectors.backend, MemoryVectorBackend)
    with Memstore(sqlite_url, vectors="sql") as store:
        assert isinstance(store.vectors.backend, SqlVectorBackend)
        store.vectors.get_collection("docs", DEFINITION).create()
    with Memstore(sqlite_url, vectors="sql") as store:
        assert store.vectors.list_collection_names() == ["docs"]


def test_postgresql_defaults_to_chroma_under_memstore_data(
    postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Memstore(postgresql_url) as store:
        assert "vectors='chroma:///memstore_data/pg-<database id>.chroma'" in repr(store)
        database_id = store.database.database_id()  # type: ignore[union-attr]
        folder = f"memstore_data/pg-{database_id[:16]}.chroma"
        assert store.vectors.backend.location == str(tmp_path / folder)  # type: ignore[attr-defined]
        assert f"vectors='chroma:///{folder}'" in repr(store)
    with Memstore(postgresql_url, vectors="chroma+http://chroma.internal:8001?timeout=5") as store:
        assert "vectors='chroma+http://chroma.internal:8001'" in repr(store)


@pytest.mark.parametrize(
    "vectors",
    [
        "sqlite",
        "chroma://relative",
        "chroma:///",
        "chroma+http://",
        "chroma+http://host:8000/path",
        "chroma+http://host:99999",
        "chroma+http://host:8000?timeout=abc",
        "chroma+http://host:8000?timeout=0",
        "chroma+http://host:8000?tenant=x",
        "CHROMA:///x",
        "",
    ],
)
def test_bad_vector_choices_are_rejected_at_construction(vectors: str) -> None:
    with pytest.raises(ValidationError):
        Memstore("memory://", vectors=vectors)


def test_sql_vectors_need_a_sql_database() -> None:
    with pytest.raises(ValidationError):
        Memstore("memory://", vectors="sql")
    with pytest.raises(ValidationError):
        Memstore("memory://", vectors=42)  # type: ignore[arg-type]


def test_the_vector_store_is_created_once_and_closed_with_the_memstore(tmp_path: Path) -> None:
    store = Memstore("memory://", vectors=f"chroma:///{tmp_path}/v")
    assert store.vectors is store.vectors
    store.vectors.list_collection_names()
    assert str((tmp_path / "v").resolve()) in chroma_module._EMBEDDED
    store.close()
    assert str((tmp_path / "v").resolve()) not in chroma_module._EMBEDDED
    store.close()


def test_importing_memstore_and_using_kv_loads_neither_numpy_nor_chromadb() -> None:
    code = (
        "import sys, memstore\n"
        "with memstore.Memstore('memory://') as store:\n"
        "    store.kv.set('a', 'b')\n"
        "    assert store.kv.get('a') == 'b'\n"
        "print(sorted(m for m in ('numpy', 'chromadb', 'onnxruntime') if m in sys.modules))\n"
        "store = memstore.Memstore('memory://')\n"
        "store.vectors.list_collection_names()\n"
        "print(sorted(m for m in ('numpy', 'chromadb') if m in sys.modules))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.split("\n")[:2] == ["[]", "['numpy']"]


def test_public_names_are_exported() -> None:
    for name in memstore.__all__:
        assert getattr(memstore, name) is not None
    with pytest.raises(AttributeError):
        memstore.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize("url", ["memory:///", "bogus://host/db", "sqlite+nosuchdriver:///x.db", "not a url"])
def test_a_bad_store_url_is_a_validation_error(url: str) -> None:
    with pytest.raises(ValidationError):
        Memstore(url)
