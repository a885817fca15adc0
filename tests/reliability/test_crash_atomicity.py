"""SIGKILL a writer at random moments: the database always opens intact, and every batch is all or nothing."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from reliability_settings import SCALE

from memstore import Memstore

KILLS = 20 if SCALE == 1 else 200
BATCH = 100

WRITER = """
import sys, uuid
from memstore import DataField, KeyField, Memstore, Message, RecordDefinition, VectorField
run = uuid.uuid4().hex[:8]
definition = RecordDefinition(
    KeyField("id"), VectorField("v", dimensions=8), [DataField("batch", filterable=True)]
)
with Memstore(sys.argv[1], vectors="sql") as store:
    buffer = store.buffer("crash")
    vectors = store.vectors.get_collection("crash", definition)
    vectors.create_if_not_exists()
    batch = 0
    while True:
        tag = f"{run}-{batch}"
        batch_messages = [Message(role="user", content=f"{tag} {i}", metadata={"batch": tag, "i": i})
                          for i in range({BATCH})]
        buffer.add_msgs(batch_messages)
        store.kv.mset({f"{tag}:{i:03d}": f"value {i}" for i in range({BATCH})})
        records = [{"id": f"{tag}:{i}", "v": [float(i % 7) + 1.0] * 8, "batch": tag} for i in range({BATCH})]
        vectors.upsert_batch(records)
        print(tag, flush=True)
        batch += 1
""".replace("{BATCH}", str(BATCH))


def _check(url: str, path: Path) -> tuple[int, int]:
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()
    with Memstore(url, vectors="sql") as store:
        messages = list(store.buffer("crash").get_msgs_forward(page_size=2000))
        assert [m.position for m in messages] == list(range(len(messages))), "positions stay contiguous"
        per_batch = Counter(m.metadata["batch"] for m in messages)
        assert set(per_batch.values()) <= {BATCH}, "a message batch is wholly present or wholly absent"
        for tag in per_batch:
            assert [m.metadata["i"] for m in messages if m.metadata["batch"] == tag] == list(range(BATCH))
        kv_batches = Counter(key.split(":")[0] for key in store.kv.keys(""))
        assert set(kv_batches.values()) <= {BATCH}, "a KV batch is wholly present or wholly absent"
        collection = store.vectors.get_collection("crash")
        vector_batches = 0
        for tag in per_batch:  # vectors are written after their message batch
            found = len(collection.get_batch([f"{tag}:{i}" for i in range(BATCH)]))
            assert found in {0, BATCH}, "a vector batch is wholly present or wholly absent"
            vector_batches += found == BATCH
        assert collection.count() == vector_batches * BATCH
        return len(per_batch), len(kv_batches)


@pytest.mark.slow
def test_sigkill_mid_write_never_leaves_a_partial_batch(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    url = f"sqlite:///{path}"
    Memstore(url).close()
    rng = random.Random(20261123)
    survived = 0
    for _ in range(KILLS):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None
        writer.stdout.readline()  # it is writing now: at least one batch went through
        time.sleep(rng.uniform(0.0, 0.15))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        _check(url, path)
        survived += 1
    message_batches, kv_batches = _check(url, path)
    assert survived == KILLS
    assert message_batches >= KILLS
    assert kv_batches >= KILLS
