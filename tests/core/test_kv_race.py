"""exclusive_set across OS processes: the database, not the process, decides the one winner."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import time
from collections import Counter
from typing import Any

import pytest

from memstore import Memstore

PROCESSES = 8
ROUNDS = 500


def _race_rounds(url: str, worker: int, rounds: int, start: Any, results: Any) -> None:
    with Memstore(url) as store:
        store.kv.get("warm-up")  # open the pool before the start line
        start.wait()
        wins = [r for r in range(rounds) if store.kv.exclusive_set(f"round-{r}", f"worker-{worker}")]
    results.put((worker, wins))


def _race_lease(url: str, worker: int, seconds: float, expiry: float, start: Any, results: Any) -> None:
    wins: list[tuple[float, float]] = []
    with Memstore(url) as store:
        store.kv.get("warm-up")
        start.wait()
        deadline = time.time() + seconds
        while time.time() < deadline:
            before = time.time()
            if store.kv.exclusive_set("lease", f"worker-{worker}", expiry=expiry):
                wins.append((before, time.time()))
    results.put((worker, wins))


def _run(target: Any, url: str, *args: Any) -> list[Any]:
    context = mp.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(url, worker, *args, start, results))
        for worker in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return collected


@pytest.mark.slow
def test_exactly_one_winner_per_round_across_processes(sql_url: str) -> None:
    Memstore(sql_url).close()  # create the tables once, before the race
    collected = _run(_race_rounds, sql_url, ROUNDS)
    winners = Counter(r for _, wins in collected for r in wins)
    assert sorted(winners) == list(range(ROUNDS)), "every round has a winner"
    assert set(winners.values()) == {1}, "no round has two winners"
    with Memstore(sql_url) as store:
        stored = store.kv.get_by_prefix("round-")
    for worker, wins in collected:
        for r in wins:
            assert stored[f"round-{r}"] == f"worker-{worker}"


@pytest.mark.slow
def test_expired_lease_is_won_by_exactly_one_new_caller(sql_url: str) -> None:
    Memstore(sql_url).close()
    expiry = 0.2
    collected = _run(_race_lease, sql_url, 2.0, expiry)
    wins = sorted(win for _, worker_wins in collected for win in worker_wins)
    assert len(wins) >= 5, "the lease changed hands repeatedly"
    for (prev_before, _), (_, next_after) in itertools.pairwise(wins):
        # A new winner's claim happened after the previous holder's lease had expired.
        assert next_after - prev_before >= expiry
