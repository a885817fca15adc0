"""``ExactIndex``: brute-force similarity search over an in-memory float32 matrix (numpy).

The memory backend keeps its vectors here, and the SQL backend caches each collection's vectors here. Search
is one matrix-vector product, so it is exact and costs O(n * dimensions); writes update the matrix in place
(append, or move the last row into a deleted row's slot) instead of rebuilding it.

Scores follow the library's convention, higher = more similar: cosine similarity, dot product, or negative
Euclidean distance, computed in float64 for the returned hits. Ties are broken by key text, and scores do not
depend on row order, so every exact backend returns the same hits in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from memstore.records import Distance

__all__ = ["ExactIndex", "exact_scores"]

_Floats = npt.NDArray[np.float32]


def exact_scores(matrix: npt.ArrayLike, query: npt.ArrayLike, distance: Distance) -> npt.NDArray[np.float64]:
    """The score of each row of ``matrix`` against ``query``, in float64 (the library's score convention).

    Row-wise reductions, not a matrix product: each row's score depends only on that row, never on which
    other rows are scored with it or where they sit, so every caller gets the same score for the same pair.
    """
    wanted = np.asarray(query, dtype=np.float64)
    rows = np.asarray(matrix)
    if rows.dtype not in (np.float32, np.float64):
        rows = rows.astype(np.float64)
    rows = rows.reshape(-1, len(wanted))
    if distance == "euclidean":
        difference = rows - wanted  # float64: no cancellation in float32
        result: npt.NDArray[np.float64] = -np.sqrt(np.einsum("ij,ij->i", difference, difference))
        return result
    # einsum with dtype=float64 reads float32 rows without a float64 copy of the matrix (4x faster for 5,000
    # rows of 384 than converting first) and sums each row on its own, in float64.
    products: npt.NDArray[np.float64] = np.einsum("ij,j->i", rows, wanted, dtype=np.float64)
    if distance == "dot":
        return products
    squares = np.einsum("ij,ij->i", rows, rows, dtype=np.float64)
    norms = np.sqrt(squares) * math.sqrt(float(np.dot(wanted, wanted)))
    cosine: npt.NDArray[np.float64] = products / norms
    return cosine


class ExactIndex:
    """Keys and their vectors, searched exactly. Not thread-safe: callers hold a lock."""

    def __init__(self, dimensions: int, distance: Distance) -> None:
        self.dimensions = dimensions
        self.distance = distance
        self._keys: list[str] = []
        self._rows: dict[str, int] = {}
        self._matrix: _Floats = np.empty((16, dimensions), dtype=np.float32)
        # Per-row norm (cosine) or squared norm (euclidean); unused for dot.
        # float64: a squared norm overflows float32 for entries beyond ~1e19 (and underflows below ~1e-19),
        # which would throw the true best row out of the short list.
        self._norms: npt.NDArray[np.float64] = np.empty(16, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def key_list(self) -> list[str]:
        return list(self._keys)

    def vector(self, key: str) -> _Floats | None:
        """A copy of the vector stored under ``key``, or None."""
        row = self._rows.get(key)
        return None if row is None else self._matrix[row].copy()

    def _row_norms(self, vectors: _Floats) -> npt.NDArray[np.float64]:
        squared: npt.NDArray[np.float64] = np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)
        return np.sqrt(squared) if self.distance == "cosine" else squared

    def upsert(self, keys: Sequence[str], vectors: _Floats) -> None:
        """Insert or replace ``keys`` (unique) with the rows of ``vectors`` (shape ``(len(keys), dims)``)."""
        if not keys:
            return
        new = [key for key in keys if key not in self._rows]
        needed = len(self._keys) + len(new)
        if needed > len(self._matrix):
            capacity = max(needed, 2 * len(self._matrix))
            matrix = np.empty((capacity, self.dimensions), dtype=np.float32)
            matrix[: len(self._keys)] = self._matrix[: len(self._keys)]
            norms = np.empty(capacity, dtype=np.float64)
            norms[: len(self._keys)] = self._norms[: len(self._keys)]
            self._matrix, self._norms = matrix, norms
        for key in new:
            self._rows[key] = len(self._keys)
            self._keys.append(key)
        rows = np.fromiter((self._rows[key] for key in keys), dtype=np.intp, count=len(keys))
        self._matrix[rows] = vectors
        self._norms[rows] = self._row_norms(vectors)

    def delete(self, keys: Iterable[str]) -> None:
        """Remove ``keys``; absent keys are ignored."""
        for key in keys:
            row = self._rows.pop(key, None)
            if row is None:
                continue
            last = len(self._keys) - 1
            moved = self._keys.pop()
            if row != last:
                self._keys[row] = moved
                self._rows[moved] = row
                self._matrix[row] = self._matrix[last]
                self._norms[row] = self._norms[last]

    def clear(self) -> None:
        self._keys.clear()
        self._rows.clear()

    def _scores(self, query: _Floats, rows: npt.NDArray[np.intp] | None) -> npt.NDArray[np.floating[Any]]:
        count = len(self._keys)
        full = rows is None or len(rows) > count // 8
        matrix = self._matrix[:count] if full else self._matrix[rows]
        norms = self._norms[:count] if full else self._norms[rows]
        # einsum, not BLAS (matrix @ query): single-threaded and steady. OpenBLAS's threaded matrix-vector
        # product is faster on an idle machine but 5-10x slower when cores are contended (its threads sleep
        # between the SQL reads of each search, or fight the caller's threads); a library search should not
        # spawn a thread per core under every caller. Measured in benchmarks/bench_vectors.py.
        # Only the short list's order matters here (it is rescored exactly), so any monotone form will do:
        # cosine needs the norms, dot is the product, and -|m - q|^2 ranks like 2 m.q - |m|^2.
        products: _Floats = np.einsum("ij,j->i", matrix, query)
        scores: npt.NDArray[np.floating[Any]]
        if self.distance == "cosine":
            scores = products / norms
        elif self.distance == "dot":
            scores = products
        else:
            scores = 2 * products - norms
        return scores[rows] if full and rows is not None else scores

    def search(
        self, query: _Floats, top_k: int, candidates: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``top_k`` best ``(key, score)`` pairs among ``candidates`` (all keys if None), best first.

        A float32 matrix product over every row picks a short list (``top_k`` + 32, plus ties); the short list
        is then scored again in float64, rows taken in key order, so the scores are accurate (no cancellation
        in the Euclidean distance) and do not depend on where a row sits in the matrix: every exact backend
        returns the same keys in the same order, ties broken by key.
        """
        if candidates is None:
            rows = None
        else:
            found = [self._rows[key] for key in candidates if key in self._rows]
            rows = np.array(found, dtype=np.intp)
        if (len(self._keys) if rows is None else len(rows)) == 0:
            return []
        picked = self._best(self._scores(query, rows), top_k + 32)
        positions = picked if rows is None else rows[picked]
        keyed = sorted(zip((self._keys[row] for row in positions.tolist()), positions.tolist(), strict=True))
        scores = self._exact([row for _, row in keyed], query)
        hits = [(key, score) for (key, _), score in zip(keyed, scores.tolist(), strict=True)]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:top_k]

    def score(self, keys: Iterable[str], query: _Floats) -> dict[str, float]:
        """The exact float64 score of each of ``keys`` present against ``query``: a gather of their rows and
        one row-wise product, no copy of the rest of the matrix. Scores equal those :meth:`search` returns."""
        present = [key for key in keys if key in self._rows]
        if not present:
            return {}
        rows = np.fromiter((self._rows[key] for key in present), dtype=np.intp, count=len(present))
        return dict(
            zip(present, exact_scores(self._matrix[rows], query, self.distance).tolist(), strict=True)
        )

    def _exact(self, rows: list[int], query: _Floats) -> npt.NDArray[np.float64]:
        return exact_scores(self._matrix[rows], query, self.distance)

    @staticmethod
    def _best(scores: _Floats, top_k: int) -> npt.NDArray[np.intp]:
        """Positions of the ``top_k`` highest scores, plus any tied with the last one (for a stable order)."""
        count = len(scores)
        if top_k >= count:
            return np.arange(count, dtype=np.intp)
        part = np.argpartition(scores, count - top_k)[count - top_k :]
        above = scores >= scores[part].min()
        return part if np.count_nonzero(above) == top_k else np.flatnonzero(above)
