"""For the contract regressions: an embedder with only the documented protocol; a store per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from langchain_core.embeddings import Embeddings

from memstore import HashingEmbedder, Memstore


class SizelessEmbeddings(Embeddings):
    """The smallest LangChain ``Embeddings``: the documented protocol's two methods, no ``dimensions``."""

    def __init__(self, size: int = 16) -> None:
        self.inner = HashingEmbedder(size)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def open_store(kind: str, tmp_path: Path) -> Iterator[Memstore]:
    """A Memstore on a SQLite file with embedded Chroma (the default), or in memory."""
    url = f"sqlite:///{tmp_path / 'm.db'}" if kind == "sqlite-chroma" else "memory://"
    with Memstore(url) as opened:
        yield opened
