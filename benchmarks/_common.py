"""What the benchmarks share: the synthetic chat corpus, the interleaved timer, tables and result files.

The machine these run on is shared and noisy, so every figure is a median over many calls, the contenders are
interleaved (each round runs a block of every contender, in a shuffled order) so that a burst of load hits
them all alike, and the tables report ratios to a baseline measured in the same run.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.metadata
import inspect
import json
import logging
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger("memstore.bench")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TIMES = "\u00d7"  # the multiplication sign, spelled so that linters do not take it for an x

# -- the corpus ---------------------------------------------------------------------------------------------

_TOPICS = [
    "the trip to Lisbon",
    "my sourdough starter",
    "the quarterly report",
    "our React migration",
    "the dentist appointment",
    "Sam's birthday party",
    "the flaky CI job",
    "my running plan",
    "the apartment lease",
    "the conference talk",
    "the new hire's onboarding",
    "the budget spreadsheet",
]
_ASKS = [
    "Can you remind me what we decided about {topic}?",
    "What should I do next for {topic}?",
    "Any ideas to speed up {topic}?",
    "Summarise where we are with {topic}, please.",
    "Is it too late to change {topic}?",
    "ok thanks. and {topic}?",
    "I'm worried about {topic}, thoughts?",
    "Quick one: deadline for {topic}?",
]
_ANSWERS = [
    "Sure. For {topic} we agreed to {action}. Want me to {follow}?",
    "Last time you said you'd {action}; that still looks like the best next step for {topic}.",
    "Short answer: {action}. I can also {follow} if that helps.",
    "For {topic}, I'd {action} first, then {follow}.",
    "No problem. {topic} is on track if you {action} by Friday.",
    "Noted. I'll keep {topic} in mind and remind you to {action}.",
]
_ACTIONS = [
    "book the earlier slot",
    "split the work into two steps",
    "ask Priya for a review",
    "keep the current plan",
    "move it to next week",
    "write down the open questions",
    "try the cheaper option",
    "double-check the numbers",
]
_FOLLOWS = [
    "draft an email",
    "set a reminder",
    "make a checklist",
    "compare the options",
    "look up the details",
]


def chat_turns(conversation_id: str, n: int) -> list[tuple[str, str]]:
    """``n`` realistic short chat messages ``(role, text)``, alternating user/assistant, deterministic."""
    rng = random.Random(f"memstore-bench:{conversation_id}")
    turns: list[tuple[str, str]] = []
    for index in range(n):
        topic = rng.choice(_TOPICS)
        if index % 2 == 0:
            text = rng.choice(_ASKS).format(topic=topic)
            role = "user"
        else:
            text = rng.choice(_ANSWERS).format(
                topic=topic, action=rng.choice(_ACTIONS), follow=rng.choice(_FOLLOWS)
            )
            role = "assistant"
        turns.append((role, f"{text} (#{index})"))
    return turns


BIG = "big"
"""The long conversation every read benchmark reads the last 20 messages of."""


def other_ids(count: int = 9) -> list[str]:
    return [f"other-{i}" for i in range(1, count + 1)]


def build_schedule(
    big_n: int, *, others: int = 9, other_n: int = 1000, big_chunk: int = 1000, other_chunk: int = 100
) -> list[tuple[str, int, int]]:
    """The order set-up appends its chunks in, as ``(conversation, start, stop)``; the same for every system.

    The conversations' chunks are shuffled together (each conversation's own chunks stay in order), so rows of
    different conversations interleave in the file as they would in a real application.
    """
    labels = [BIG] * math.ceil(big_n / big_chunk)
    for conversation in other_ids(others):
        labels += [conversation] * math.ceil(other_n / other_chunk)
    random.Random(7).shuffle(labels)
    sizes = {BIG: (big_n, big_chunk), **{c: (other_n, other_chunk) for c in other_ids(others)}}
    cursor = dict.fromkeys(sizes, 0)
    schedule = []
    for conversation in labels:
        total, chunk = sizes[conversation]
        start = cursor[conversation]
        stop = min(start + chunk, total)
        cursor[conversation] = stop
        schedule.append((conversation, start, stop))
    return schedule


# -- timing -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Contender:
    """One way of doing the measured operation. ``call`` is a plain function or a coroutine function."""

    name: str
    call: Callable[[], Any]
    reps: int
    warmup: int = 20


async def _time_calls(call: Callable[[], Any], count: int, samples: list[float]) -> None:
    clock = time.perf_counter_ns
    if inspect.iscoroutinefunction(call):
        for _ in range(count):
            start = clock()
            await call()
            samples.append((clock() - start) / 1000)
    else:
        for _ in range(count):
            start = clock()
            call()
            samples.append((clock() - start) / 1000)


async def run_interleaved(
    contenders: Sequence[Contender], *, rounds: int, seed: int = 0, progress: str = ""
) -> dict[str, list[float]]:
    """Microseconds per call of each contender: warm-up, then ``rounds`` rounds of a block of each.

    Each contender runs ``ceil(reps / rounds)`` calls per round, the order of contenders shuffled every round.
    A garbage collection runs before each block (outside the timing) so no block pays for another's garbage.
    """
    rng = random.Random(seed)
    for contender in contenders:
        await _time_calls(contender.call, contender.warmup, [])
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    order = list(contenders)
    for index in range(rounds):
        rng.shuffle(order)
        for contender in order:
            gc.collect()
            block = math.ceil(contender.reps / rounds)
            await _time_calls(contender.call, block, samples[contender.name])
        log.info("%s round %d/%d done", progress, index + 1, rounds)
    return samples


def summarise(samples: Sequence[float]) -> dict[str, float]:
    """Median and quartiles (µs) of one contender's samples."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median_us": statistics.median(ordered),
        "p25_us": quartiles[0],
        "p75_us": quartiles[2],
        "min_us": ordered[0],
        "n": len(ordered),
    }


# -- output -------------------------------------------------------------------------------------------------


def fmt_us(value: float) -> str:
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def fmt_ratio(value: float) -> str:
    if value < 10:
        return f"{value:.2f}{TIMES}"
    if value < 100:
        return f"{value:.1f}{TIMES}"
    return f"{value:,.0f}{TIMES}"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    aligns = ["---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def environment(packages: Sequence[str]) -> dict[str, Any]:
    """What the figures depend on: versions, the machine, how busy it was."""
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "packages": versions,
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
