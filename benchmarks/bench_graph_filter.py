"""Filtered search of ``MemstoreGraphStore`` on SQLite: the filter runs in SQL (D18).

Puts N items under one prefix (no index), then times ``search(prefix, filter=..., limit=10)`` for a few
filters of different selectivity and a plain search (median of ``--repeat`` calls after one warm-up call).
Public API only.

    .venv/bin/python benchmarks/bench_graph_filter.py --sizes 5000 --repeat 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.store.base import PutOp

from langchain_memstore import MemstoreGraphStore
from memstore import Memstore

FILTERS: dict[str, dict[str, Any] | None] = {
    "none (plain)": None,
    "eq, 1%": {"bucket": 7},
    "eq str, 10%": {"kind": "k3"},
    "range, 1%": {"n": {"$gte": 1000, "$lt": 1050}},
    "nested eq + ne, 10%": {"meta": {"tier": "t1"}, "kind": {"$ne": "k0"}},
    "string $gt (Python)": {"kind": {"$gt": "k8"}},
}


def _median_ms(call: Any, repeat: int) -> float:
    call()  # warm-up: caches, handles
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(size: int, repeat: int, folder: Path) -> dict[str, float]:
    """Median ms per filter."""
    url = f"sqlite:///{folder / f'graph-filter-{size}.db'}"
    with Memstore(url, vectors="memory") as memstore:
        store = MemstoreGraphStore(store=memstore)
        for start in range(0, size, 500):
            stop = min(size, start + 500)
            store.batch(
                [
                    PutOp(
                        ("docs", f"u{i % 10}"),
                        f"item-{i}",
                        {
                            "n": i,
                            "bucket": i % 100,
                            "kind": f"k{i % 10}",
                            "meta": {"tier": f"t{i % 10}", "tags": ["a", "b"]},
                            "text": f"note number {i} " + "lorem ipsum " * 10,
                        },
                    )
                    for i in range(start, stop)
                ]
            )
        return {
            label: _median_ms(lambda f=spec: store.search(("docs",), filter=f, limit=10), repeat)
            for label, spec in FILTERS.items()
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for label, ms in measure(size, args.repeat, Path(tmp)).items():
                results[f"{label} / {size}"] = round(ms, 1)
                print(f"{size:>6} items  {label:<24} {ms:7.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
