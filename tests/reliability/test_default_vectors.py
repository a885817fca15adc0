"""Issue #16 item 8b: each PostgreSQL database (and schema) has its own default vector folder.

Before, every PostgreSQL URL defaulted to one shared ``./memstore_data/chroma``: two databases saw each
other's vector collections (a graph store's index, a memory's vectors) under the same names.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from contract_helpers import SizelessEmbeddings

from langchain_memstore import MemstoreGraphStore
from memstore import Memstore


def _index() -> dict[str, object]:
    return {"dims": 16, "embed": SizelessEmbeddings(16)}


def test_postgresql_databases_do_not_share_default_vectors(
    postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default vector folders live under ./memstore_data
    url = sa.make_url(postgresql_url)
    other_schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(url.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{other_schema}"'))
    other_url = url.update_query_dict({"options": f"-csearch_path={other_schema}"})
    try:
        with Memstore(postgresql_url) as first, Memstore(other_url.render_as_string(False)) as second:
            graph = MemstoreGraphStore(store=first, index=_index(), kv_namespace="shared-name")
            graph.put(("m",), "k", {"text": "green tea"})
            assert second.vectors.list_collection_names() == [], "another database saw this one's vectors"
            assert first.vectors.list_collection_names() != []
            first_location = first.vectors.backend.location  # type: ignore[attr-defined]
            assert first_location != second.vectors.backend.location  # type: ignore[attr-defined]
        # Another spelling of the same database (another option) finds the same vectors.
        respelt = url.update_query_dict({"connect_timeout": "10"}).render_as_string(False)
        with Memstore(respelt) as again:
            assert again.vectors.backend.location == first_location  # type: ignore[attr-defined]
            found = MemstoreGraphStore(store=again, index=_index(), kv_namespace="shared-name").search(
                ("m",), query="green tea"
            )
            assert [(i.key, i.score is not None) for i in found] == [("k", True)]
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{other_schema}" CASCADE'))
        admin.dispose()


def test_sqlite_and_memory_vector_defaults_are_unchanged(tmp_path: Path) -> None:
    with Memstore(f"sqlite:///{tmp_path / 'memstore.db'}") as default_name:
        assert default_name.vectors.backend.location == str((tmp_path / "chroma").resolve())  # type: ignore[attr-defined]
    with Memstore(f"sqlite:///{tmp_path / 'app.db'}") as other_name:
        assert other_name.vectors.backend.location == str((tmp_path / "app.chroma").resolve())  # type: ignore[attr-defined]
    with Memstore("memory://") as memory:
        assert memory.vectors.backend.kind == "memory"
