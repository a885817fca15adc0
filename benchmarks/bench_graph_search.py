"""Query search of ``MemstoreGraphStore``: the cost of scoring every candidate exactly (D13).

Puts N items (one 384-dimension vector each) under one prefix, then times ``search(prefix, query=...,
limit=10)`` on ``vectors="sql"``, ``"memory"`` and embedded Chroma (median of ``--repeat`` calls after one
warm-up call). Public API only; the embeddings are deterministic random unit vectors, so no model loads.

    .venv/bin/python benchmarks/bench_graph_search.py --sizes 1000 5000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp

from langchain_memstore import MemstoreGraphStore
from memstore import Memstore

DIMS = 384
BACKENDS = {"sql": "sql", "memory": "memory", "chroma (embedded)": None}


class RandomEmbeddings(Embeddings):
    """A unit vector seeded by the text's hash: deterministic, no model."""

    def _one(self, text: str) -> list[float]:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(DIMS)
        return (vector / np.linalg.norm(vector)).tolist()  # type: ignore[no-any-return]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)


def measure(vectors: str | None, size: int, repeat: int, folder: Path) -> float:
    url = f"sqlite:///{folder / f'graph-{size}-{vectors}.db'}"
    with Memstore(url, vectors=vectors) as memstore:
        store = MemstoreGraphStore(
            store=memstore, index={"dims": DIMS, "embed": RandomEmbeddings(), "fields": ["text"]}
        )
        for start in range(0, size, 500):
            stop = min(size, start + 500)
            store.batch(
                [PutOp(("docs",), f"item-{i}", {"text": f"note number {i}"}) for i in range(start, stop)]
            )
        query = "note number 42"
        store.search(("docs",), query=query, limit=10)  # warm-up: caches, handles
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            hits = store.search(("docs",), query=query, limit=10)
            times.append((time.perf_counter() - began) * 1000)
        assert hits[0].key == "item-42", hits[0]
        return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for label, vectors in BACKENDS.items():
                ms = measure(vectors, size, args.repeat, Path(tmp))
                results[f"{label} / {size}"] = round(ms, 1)
                print(f"{size:>6} items  {label:<18} {ms:8.1f} ms")  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
