"""LoCoMo retrieval recall of ConversationMemory, beside the kit's three baselines measured in the same run.

    python benchmarks/locomo.py [--data ../shared/data/locomo/dev.json] [--ablation] [--no-baselines]

Each dev conversation is indexed with ``ConversationMemory`` (SQLite file, SQL vectors, offline MiniLM
embedder): one message per turn, content ``"speaker: text"``, ``created_at`` from the turn's ``time``, the
turn id in the metadata. Recall@k is scored by the kit's own ``locomo_eval.evaluate`` (overall: categories
1-4).
The data is CC BY-NC 4.0 and is never copied into this repository: the script reads it from the kit folder
(``../shared/data/locomo`` from the repository root) and exits with a message when it is absent.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "dev.json"
RESULTS = ROOT / "benchmarks" / "results" / "locomo.json"
CATEGORIES = ["multi-hop", "temporal", "open-domain", "single-hop", "adversarial"]

ABLATIONS: dict[str, dict[str, Any]] = {
    "dense only": {"dense_weight": 1.0, "keyword_weight": 0.0},
    "keyword only (FTS5 bm25)": {"dense_weight": 0.0, "keyword_weight": 1.0},
    "keyword only, stopwords kept in the query": {
        "dense_weight": 0.0,
        "keyword_weight": 1.0,
        "stopwords": False,
    },
    "stopwords kept in the keyword query": {"stopwords": False},
    "no dense rescoring of keyword candidates": {"rescore": False},
    "0.5 dense / 0.5 keyword": {"dense_weight": 0.5, "keyword_weight": 0.5},
    "0.4 dense / 0.6 keyword": {"dense_weight": 0.4, "keyword_weight": 0.6},
    "0.6 dense / 0.4 keyword": {"dense_weight": 0.6, "keyword_weight": 0.4},
    "0.3 dense / 0.7 keyword": {"dense_weight": 0.3, "keyword_weight": 0.7},
    "rrf 0.5/0.5": {"fusion": "rrf"},
    "recency half-life 30 d": {"half_life_days": 30.0},
    "context ±1 (counts toward k)": {"context": 1},
    "no neighbour boost": {"neighbour_weight": 0.0},
    "neighbour boost radius 1": {"neighbour_radius": 1},
    "neighbour boost weight 0.6": {"neighbour_weight": 0.6},
    "candidates 20": {"candidates": 20},
    "candidates 100": {"candidates": 100},
}
"""Each variant changes the defaults by these options (``stopwords: False`` keeps English function words in
the keyword query: the benchmark empties ``memstore.keywords.STOPWORDS`` for that run only)."""


class CachedEmbedder:
    """The wrapped embedder, remembering document vectors (queries are never cached)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dimensions = inner.dimensions
        self._cache: dict[str, list[float]] = {}

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.inner.embed_documents(missing), strict=True))
        return [self._cache[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        result: list[float] = self.inner.embed_query(text)
        return result


def turn_messages(conversation: dict[str, Any]) -> list[Any]:
    from memstore import Message

    return [
        Message(
            role="user",
            content=f"{turn['speaker']}: {turn['text']}",
            metadata={"turn": turn["id"], "speaker": turn["speaker"], "session": turn["session"]},
            created_at=datetime.fromisoformat(turn["time"]).replace(tzinfo=timezone.utc),
        )
        for turn in conversation["turns"]
    ]


class MemoryRetriever:
    def __init__(self, memory: Any, context: int = 0) -> None:
        self.memory = memory
        self.context = context

    def search(self, query: str, k: int) -> list[str]:
        hits = self.memory.recall(query, k, context=self.context)
        return [hit.message.metadata["turn"] for hit in hits]


def row(name: str, result: dict[str, Any]) -> str:
    cells = [f"{result['recall@5']:.3f}", f"{result['recall@10']:.3f}"]
    cells += [f"{result.get(f'recall@10/{c}', float('nan')):.3f}" for c in CATEGORIES]
    cells += [f"{result['query_ms_p50']:.1f}", f"{result['query_ms_p95']:.1f}"]
    return f"| {name} | " + " | ".join(cells) + " |"


HEADER = (
    "| retriever | recall@5 | recall@10 | multi-hop@10 | temporal@10 | open-domain@10 | single-hop@10 "
    "| adversarial@10 | query p50 ms | query p95 ms |\n|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the kit's dev.json")
    parser.add_argument("--ablation", action="store_true", help="also run the ablation grid")
    parser.add_argument("--no-baselines", action="store_true", help="skip the kit's baselines")
    parser.add_argument(
        "--baselines", default="bm25,dense,hybrid", help="which kit baselines to run (default: all three)"
    )
    parser.add_argument(
        "--json", type=Path, default=RESULTS, help="write every result here (default: %(default)s)"
    )
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"LoCoMo data not found at {args.data}: skipped (see ../shared/data/locomo/README.md)")
        return 0
    kit = args.data.resolve().parent
    sys.path.insert(0, str(kit))
    locomo_eval = importlib.import_module("locomo_eval")
    data = json.loads(args.data.read_text())
    ks = [5, 10]
    date = datetime.now(timezone.utc).date().isoformat()

    from memstore import Memstore, get_default_embedder

    embedder = CachedEmbedder(get_default_embedder())
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, Memstore(f"sqlite:///{tmp}/locomo.db", vectors="sql") as store:
        index_seconds = 0.0
        for conversation in data:
            memory = store.memory(conversation["conversation_id"], embedder=embedder)
            started = time.perf_counter()
            memory.add(turn_messages(conversation))
            index_seconds += time.perf_counter() - started
        turns = sum(len(c["turns"]) for c in data)
        print(f"indexed {turns} turns of {len(data)} conversations in {index_seconds:.1f} s", flush=True)

        def factory(options: dict[str, Any]) -> Callable[[dict[str, Any]], MemoryRetriever]:
            options = dict(options)
            context = options.pop("context", 0)
            options.pop("stopwords", None)
            return lambda conv: MemoryRetriever(
                store.memory(conv["conversation_id"], embedder=embedder, **options), context
            )

        results["memstore (defaults)"] = locomo_eval.evaluate(data, factory({}), ks)
        results["memstore (defaults)"]["index_seconds"] = round(index_seconds, 2)
        print(row("memstore (defaults)", results["memstore (defaults)"]), flush=True)
        if args.ablation:
            from memstore import keywords

            stopwords = keywords.STOPWORDS
            for name, options in ABLATIONS.items():
                keywords.STOPWORDS = stopwords if options.get("stopwords", True) else frozenset()
                try:
                    results[f"memstore: {name}"] = locomo_eval.evaluate(data, factory(options), ks)
                finally:
                    keywords.STOPWORDS = stopwords
                print(row(f"memstore: {name}", results[f"memstore: {name}"]), flush=True)

    if not args.no_baselines:
        try:
            baselines = importlib.import_module("baselines")
            importlib.import_module("bm25s")
        except ImportError as exc:
            print(f"kit baselines not run ({exc}); the kit README's figures apply, labelled as such")
        else:
            for name in args.baselines.split(","):
                results[f"kit baseline: {name}"] = locomo_eval.evaluate(data, getattr(baselines, name), ks)
                print(row(f"kit baseline: {name}", results[f"kit baseline: {name}"]), flush=True)

    print()
    print(HEADER)
    for name, result in results.items():
        print(row(name, result))
    print(f"\nindex time (memstore, {turns} turns incl. MiniLM embedding): {index_seconds:.1f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"date": date, "turns": turns, "results": results}, indent=2))
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
