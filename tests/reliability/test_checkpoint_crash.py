"""SIGKILL a process that is writing checkpoints: the previous checkpoint stays readable, nothing is partial.

The writer stores a chain of checkpoints (a counter, a growing list, and a 200 kB channel rewritten every
fifth step), each followed by a task's three pending writes, and prints each step once it is stored. The
parent kills it at random moments, then checks the file and every checkpoint: each is whole (its values are
exactly those of its step) and the newest is at least the last step the writer reported.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_settings import SCALE

from langchain_memstore import MemstoreCheckpointSaver

KILLS = 10 if SCALE == 1 else 100

WRITER = """
import sys
from langchain_memstore import MemstoreCheckpointSaver
from langgraph.checkpoint.base import empty_checkpoint

with MemstoreCheckpointSaver(sys.argv[1]) as saver:
    config = {"configurable": {"thread_id": "crash", "checkpoint_ns": ""}}
    latest = saver.get_tuple(config)
    step = 0 if latest is None else latest.metadata["step"] + 1
    if latest is not None:
        config = latest.config
    versions = {} if latest is None else dict(latest.checkpoint["channel_versions"])
    while True:
        checkpoint = empty_checkpoint()
        values = {"counter": step, "items": list(range(step % 50))}
        changed = ["counter", "items"]
        if step % 5 == 0 or "big" not in versions:
            values["big"] = str(step % 10) * 200_000
            changed.append("big")
        new_versions = {}
        for channel in changed:
            versions[channel] = saver.get_next_version(versions.get(channel), None)
            new_versions[channel] = versions[channel]
        checkpoint["channel_versions"] = dict(versions)
        checkpoint["channel_values"] = values
        metadata = {"source": "loop", "step": step, "big_from": step - step % 5}
        config = saver.put(config, checkpoint, metadata, new_versions)
        saver.put_writes(config, [("a", step), ("b", step), ("c", step)], "task")
        print(step, flush=True)
        step += 1
"""


def _check(url: str, path: Path) -> int:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with MemstoreCheckpointSaver(url) as saver:
        tuples = list(saver.list({"configurable": {"thread_id": "crash"}}))
        steps = [t.metadata["step"] for t in tuples]
        assert steps == list(range(len(steps) - 1, -1, -1)), "every stored step is there, newest first"
        for t in tuples:
            step = t.metadata["step"]
            values = t.checkpoint["channel_values"]
            assert values["counter"] == step
            assert values["items"] == list(range(step % 50))
            big_from = t.metadata["big_from"]
            assert values["big"] == str(big_from % 10) * 200_000, "the large channel is the one of its step"
            writes = [w for w in t.pending_writes or [] if w[0] == "task"]
            assert len(writes) in {0, 3}, "a put_writes is wholly present or wholly absent"
            assert all(value == step for _, _, value in writes)
        latest = saver.get_tuple({"configurable": {"thread_id": "crash"}})
        assert latest is not None or not tuples
        return len(tuples)


@pytest.mark.slow
def test_sigkill_mid_put_leaves_the_previous_checkpoint_readable(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    url = f"sqlite:///{path}"
    MemstoreCheckpointSaver(url).close()
    rng = random.Random(20261204)
    for _ in range(KILLS):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None
        reported = int(writer.stdout.readline())  # it is writing now: at least one step is stored
        time.sleep(rng.uniform(0.0, 0.2))
        writer.send_signal(signal.SIGKILL)
        rest = writer.stdout.read()
        writer.wait(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        reported = max([reported, *(int(line) for line in rest.split())])
        stored = _check(url, path)
        assert stored >= reported + 1, "every step the writer reported survives the kill"
    assert _check(url, path) >= KILLS
