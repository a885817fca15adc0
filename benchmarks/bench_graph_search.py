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


def _median_ms(call: Any, repeat: int) -> float:
    call()  # warm-up: caches, handles
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(vectors: str | None, size: int, repeat: int, folder: Path) -> tuple[float, float]:
    """(query search, plain search) medians in ms: the plain search is the candidates' prefix scan alone."""
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
        hits = store.search(("docs",), query=query, limit=10)
        assert hits[0].key == "item-42", hits[0]
        scored = _median_ms(lambda: store.search(("docs",), query=query, limit=10), repeat)
        plain = _median_ms(lambda: store.search(("docs",), limit=10), repeat)
        return scored, plain


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
                scored, plain = measure(vectors, size, args.repeat, Path(tmp))
                results[f"{label} / {size}"] = {"query": round(scored, 1), "plain": round(plain, 1)}
                line = f"{size:>6} items  {label:<18} query {scored:7.1f} ms   plain {plain:7.1f} ms"
                print(line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
