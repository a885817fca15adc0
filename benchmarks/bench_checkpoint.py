"""LangGraph checkpoints: ``MemstoreCheckpointSaver`` against LangGraph's ``SqliteSaver``, ``PostgresSaver``.

The workload is one thread of a real compiled ``StateGraph``: an input, then 200 super-steps of an agent
node, each appending one ``AIMessage`` to a ``messages`` channel that keeps the last 50 (the state grows to
50 messages, then slides), beside a ``manual`` channel of 100 kB written once by the input (a system prompt
or a document: large and static). The graph runs once on LangGraph's ``InMemorySaver`` with every ``put``
and ``put_writes`` call recorded; each saver then replays exactly those calls (same checkpoints, ids and
writes) into its own SQLite file (or its own tables on one PostgreSQL). Measured, interleaved:

- bytes on disk after the 200 steps (SQLite: the file once its connections are closed; PostgreSQL:
  ``pg_total_relation_size`` of each saver's tables, with TOAST and indexes);
- ``get_tuple`` of the newest checkpoint (what every graph step and ``get_state`` read), median µs;
- ``list(limit=10)`` (the first page of ``get_state_history``), median µs;
- put throughput: replaying the 200-step thread (every ``put`` and ``put_writes``) into a fresh thread,
  checkpoints per second.

PostgreSQL is started the way the test session starts it (``tests/services.py``: initdb in a temp dir, a free
loopback port); when it cannot start, the PostgreSQL columns are skipped with the reason::

    python benchmarks/bench_checkpoint.py           # ~2 min
    python benchmarks/bench_checkpoint.py --quick   # fewer repetitions: a smoke run

Prints a markdown table and writes ``benchmarks/results/checkpoint.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import logging
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

from _common import (
    TIMES,
    Contender,
    chat_turns,
    environment,
    fmt_ratio,
    fmt_us,
    markdown_table,
    run_interleaved,
    setup_logging,
    summarise,
    write_results,
)
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from langchain_memstore import MemstoreCheckpointSaver
from memstore import Memstore

log = logging.getLogger("memstore.bench.checkpoint")

STEPS = 200
WINDOW = 50
MANUAL = (
    "Section {}: the operating manual the agent must follow, kept in the state for every step. " * 1200
)[:100_000]
THREAD = "bench"

OURS_SQLITE = "memstore on SQLite"
SQLITE_SAVER = "LangGraph `SqliteSaver`"
OURS_PG = "memstore on PostgreSQL"
PG_SAVER = "LangGraph `PostgresSaver`"


# -- the workload -------------------------------------------------------------------------------------------


def _keep_last(left: list[AnyMessage], right: list[AnyMessage]) -> list[AnyMessage]:
    return (left + right)[-WINDOW:]


class State(TypedDict):
    messages: Annotated[list[AnyMessage], _keep_last]
    manual: str
    step: int


def _graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    replies = [text for _, text in chat_turns("checkpoint-bench", STEPS + 1)]

    def agent(state: State) -> dict[str, Any]:
        step = state["step"] + 1
        return {"messages": [AIMessage(replies[step], id=f"m{step}")], "step": step}

    def route(state: State) -> str:
        return END if state["step"] >= STEPS else "agent"

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route)
    return builder.compile(checkpointer=checkpointer)


class _Recorder(InMemorySaver):
    """InMemorySaver that keeps a copy of every put and put_writes call, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self.calls.append(("put", copy.deepcopy((config, checkpoint, metadata, new_versions))))
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        self.calls.append(("writes", copy.deepcopy((config, writes, task_id, task_path))))
        super().put_writes(config, writes, task_id, task_path)


def record() -> list[tuple[str, tuple[Any, ...]]]:
    recorder = _Recorder()
    graph = _graph(recorder)
    config = {"configurable": {"thread_id": THREAD}, "recursion_limit": STEPS + 10}
    first = HumanMessage("Please follow the manual and keep going.", id="m0")
    final = graph.invoke({"messages": [first], "manual": MANUAL, "step": 0}, config, durability="sync")
    assert final["step"] == STEPS
    assert len(final["messages"]) == WINDOW
    return recorder.calls


def _with_thread(config: Any, thread_id: str) -> Any:
    return {**config, "configurable": {**config["configurable"], "thread_id": thread_id}}


def replay(saver: BaseCheckpointSaver[Any], calls: list[tuple[str, tuple[Any, ...]]], thread_id: str) -> int:
    """Make every recorded call on ``saver`` for ``thread_id``; returns how many checkpoints were put."""
    puts = 0
    for kind, args in calls:
        if kind == "put":
            config, checkpoint, metadata, new_versions = args
            saver.put(_with_thread(config, thread_id), checkpoint, metadata, new_versions)
            puts += 1
        else:
            config, writes, task_id, task_path = args
            saver.put_writes(_with_thread(config, thread_id), writes, task_id, task_path)
    return puts


# -- the systems --------------------------------------------------------------------------------------------


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


@contextlib.contextmanager
def _postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL (tests/services.py), or the reason it could not start (a str)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from services import ServiceUnavailable, start_postgres

    try:
        server = start_postgres()
    except ServiceUnavailable as exc:
        yield str(exc)
        return
    try:
        yield server
    finally:
        server.stop()


def _pg_bytes(saver_url: str, tables: list[str]) -> int:
    import psycopg

    with psycopg.connect(saver_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.relkind = 'r' AND c.relname = ANY(%s)",
            (tables,),
        ).fetchone()
    return int(row[0]) if row else 0


def _same_state(savers: dict[str, BaseCheckpointSaver[Any]]) -> None:
    """Every saver returns the same newest checkpoint before anything is timed."""
    config = {"configurable": {"thread_id": THREAD}}
    seen = {}
    for name, saver in savers.items():
        found = saver.get_tuple(config)
        assert found is not None, name
        values = found.checkpoint["channel_values"]
        seen[name] = (
            found.checkpoint["id"],
            values["step"],
            values["manual"],
            [m.id for m in values["messages"]],
        )
        assert len(list(saver.list(config, limit=10))) == 10, name
    first = next(iter(seen.values()))
    for name, value in seen.items():
        assert value == first, f"{name} returned another newest checkpoint"
    assert first[1] == STEPS
    assert first[2] == MANUAL
    assert len(first[3]) == WINDOW


async def measure(calls: list[tuple[str, tuple[Any, ...]]], folder: Path, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"bytes": {}, "puts": sum(kind == "put" for kind, _ in calls)}
    with contextlib.ExitStack() as stack, _postgres() as server:
        savers: dict[str, BaseCheckpointSaver[Any]] = {}
        memstore_path, sqlite_path = folder / "memstore.db", folder / "sqlite_saver.db"

        # Bytes on disk: replay once, close every connection (the WAL folds into the file), measure.
        with MemstoreCheckpointSaver(f"sqlite:///{memstore_path}") as ours:
            replay(ours, calls, THREAD)
        connection = sqlite3.connect(sqlite_path, check_same_thread=False)
        replay(SqliteSaver(connection), calls, THREAD)
        connection.close()
        results["bytes"][OURS_SQLITE] = _file_bytes(memstore_path)
        results["bytes"][SQLITE_SAVER] = _file_bytes(sqlite_path)

        savers[OURS_SQLITE] = stack.enter_context(MemstoreCheckpointSaver(f"sqlite:///{memstore_path}"))
        connection = sqlite3.connect(sqlite_path, check_same_thread=False)
        stack.callback(connection.close)
        savers[SQLITE_SAVER] = SqliteSaver(connection)

        if isinstance(server, str):
            log.warning("PostgreSQL columns skipped: %s", server)
            results["postgres_skipped"] = server
        else:
            from langgraph.checkpoint.postgres import PostgresSaver

            plain_url = server.url.replace("postgresql+psycopg://", "postgresql://")
            store = stack.enter_context(Memstore(server.url))
            savers[OURS_PG] = MemstoreCheckpointSaver(store)
            pg_saver = stack.enter_context(PostgresSaver.from_conn_string(plain_url))
            pg_saver.setup()
            savers[PG_SAVER] = pg_saver
            replay(savers[OURS_PG], calls, THREAD)
            replay(pg_saver, calls, THREAD)
            results["bytes"][OURS_PG] = _pg_bytes(
                plain_url, ["memstore_checkpoints", "memstore_checkpoint_blobs", "memstore_checkpoint_writes"]
            )
            results["bytes"][PG_SAVER] = _pg_bytes(
                plain_url, ["checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"]
            )

        _same_state(savers)
        config = {"configurable": {"thread_id": THREAD}}
        rounds = 3 if quick else 5
        results["get_tuple"] = await _time(
            savers, lambda saver: lambda: saver.get_tuple(config), 100 if quick else 400, rounds, "get_tuple"
        )
        results["list10"] = await _time(
            savers,
            lambda saver: lambda: list(saver.list(config, limit=10)),
            50 if quick else 200,
            rounds,
            "list",
        )
        counters = dict.fromkeys(savers, 0)

        def replayer(name: str) -> Any:
            def call() -> int:
                counters[name] += 1
                return replay(savers[name], calls, f"replay-{counters[name]}")

            return call

        contenders = [
            Contender(name, replayer(name), reps=rounds * (1 if quick else 2), warmup=1) for name in savers
        ]
        samples = await run_interleaved(contenders, rounds=rounds, progress="replay")
        results["replay"] = {name: summarise(samples[name]) for name in savers}
    return results


async def _time(
    savers: dict[str, BaseCheckpointSaver[Any]], make: Any, reps: int, rounds: int, label: str
) -> dict[str, Any]:
    contenders = [Contender(name, make(saver), reps=reps, warmup=20) for name, saver in savers.items()]
    samples = await run_interleaved(contenders, rounds=rounds, progress=label)
    return {name: summarise(samples[name]) for name in savers}


# -- the report ---------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    puts = results["puts"]
    pairs = [(OURS_SQLITE, SQLITE_SAVER)]
    if OURS_PG in results["bytes"]:
        pairs.append((OURS_PG, PG_SAVER))
    rows = []
    for ours, peer in pairs:
        for name in (ours, peer):
            throughput = puts / (results["replay"][name]["median_us"] / 1e6)
            rows.append(
                [
                    name,
                    f"{results['bytes'][name] / 2**20:,.2f}",
                    fmt_us(results["get_tuple"][name]["median_us"]),
                    fmt_us(results["list10"][name]["median_us"]),
                    f"{throughput:,.0f}",
                ]
            )
        ratio = [
            f"memstore / {peer.split('`')[1]}",
            fmt_ratio(results["bytes"][ours] / results["bytes"][peer]),
            fmt_ratio(results["get_tuple"][ours]["median_us"] / results["get_tuple"][peer]["median_us"]),
            fmt_ratio(results["list10"][ours]["median_us"] / results["list10"][peer]["median_us"]),
            fmt_ratio(results["replay"][peer]["median_us"] / results["replay"][ours]["median_us"]),
        ]
        rows.append([f"**{cell}**" for cell in ratio])
    headers = [
        f"{STEPS}-step thread ({puts} checkpoints)",
        "MiB on disk",
        "`get_tuple` newest, µs",
        "`list(limit=10)`, µs",
        "puts / s (with their writes)",
    ]
    text = markdown_table(headers, rows)
    notes = [
        f"Ratio rows: size and latency are memstore {TIMES} the peer (lower is better); throughput is "
        f"memstore's puts per second {TIMES} the peer's (higher is better)."
    ]
    if "postgres_skipped" in results:
        notes.append(f"PostgreSQL columns skipped: {results['postgres_skipped']}")
    return text + "\n\n" + "\n".join(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run")
    args = parser.parse_args()
    setup_logging()
    started = time.perf_counter()
    env = environment(
        [
            "memstore-ai",
            "langgraph",
            "langgraph-checkpoint",
            "langgraph-checkpoint-sqlite",
            "langgraph-checkpoint-postgres",
        ]
    )
    calls = record()
    log.info("recorded %d calls (%d puts)", len(calls), sum(kind == "put" for kind, _ in calls))
    with tempfile.TemporaryDirectory(prefix="memstore-bench-") as tmp:
        results = asyncio.run(measure(calls, Path(tmp), args.quick))
    text = report(results)
    elapsed = time.perf_counter() - started
    out = write_results(
        "checkpoint.json",
        {
            "benchmark": "checkpoint",
            "quick": args.quick,
            "environment": env,
            "config": {"steps": STEPS, "window": WINDOW, "manual_bytes": len(MANUAL)},
            "results": results,
            "report_markdown": text,
            "elapsed_s": round(elapsed, 1),
        },
    )
    ours, peer = results["bytes"][OURS_SQLITE], results["bytes"][SQLITE_SAVER]
    if ours * 5 > peer:
        log.warning("target missed: bytes on disk %.2f of SqliteSaver's (target <= 1/5)", ours / peer)
    for pair in ((OURS_SQLITE, SQLITE_SAVER), (OURS_PG, PG_SAVER)):
        if pair[0] in results["get_tuple"]:
            ratio = results["get_tuple"][pair[0]]["median_us"] / results["get_tuple"][pair[1]]["median_us"]
            if ratio > 1:
                log.warning("target missed: get_tuple %.2fx %s (target <= 1x)", ratio, pair[1])
    log.info("wrote %s (%.0f s in all)", out, elapsed)
    print(f"\n{text}\n")


if __name__ == "__main__":
    main()
