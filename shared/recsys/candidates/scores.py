"""Three shapes of source scores, each answering `SourceScores` (top-n with exclusions, score at pairs).

Only a dense source (ALS) needs a users x catalog matrix, and only for users with history;
co-visitation is sparse and popularity is one shared vector, which keeps a batch chunk cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from recsys.candidates.base import Exclusions, UserBatch

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def _first_n_per_row(rows: I64, n: int) -> npt.NDArray[np.bool_]:
    """For rows sorted ascending: True for the first n entries of each row."""
    starts = np.searchsorted(rows, rows, side="left")
    return (np.arange(len(rows)) - starts) < n


@dataclass(frozen=True)
class DenseScores:
    """A score for every item, on some of the batch's rows; no opinion on the others."""

    rows: I64  # the batch rows that have scores, ascending
    matrix: F32  # (len(rows), items), finite
    n_rows: int  # rows in the batch

    def _local_rows(self, rows: I64) -> I64:
        """Batch rows -> rows of `matrix` (-1 where there is no opinion)."""
        local = np.full(self.n_rows, -1, dtype=np.int64)
        local[self.rows] = np.arange(len(self.rows))
        return local[rows]

    def top(self, exclusions: Exclusions, n: int) -> tuple[I64, I64]:
        n_items = self.matrix.shape[1]
        n = min(n, n_items)
        if n == 0 or len(self.rows) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        filled = self.matrix.copy()
        local = self._local_rows(exclusions.keys // n_items)
        on_scored_row = local >= 0
        filled.reshape(-1)[local[on_scored_row] * n_items + exclusions.keys[on_scored_row] % n_items] = -np.inf
        if exclusions.allowed is not None:
            filled[:, ~exclusions.allowed] = -np.inf
        # each row's n-th best value; partition plus a mask is ~2x faster than argpartition here
        threshold = np.partition(filled, n_items - n, axis=1)[:, n_items - n]
        rows, items = np.nonzero((filled >= threshold[:, None]) & (filled > -np.inf))
        order = np.lexsort((items, -filled[rows, items], rows))  # ties at the threshold: lower item first
        rows, items = rows[order], items[order]
        first = _first_n_per_row(rows, n)
        return self.rows[rows[first]], items[first].astype(np.int64)

    def at(self, rows: I64, items: npt.NDArray[np.integer]) -> F32:
        local = self._local_rows(rows)
        values = np.full(len(rows), np.nan, dtype=np.float32)
        scored = local >= 0
        values[scored] = self.matrix[local[scored], items[scored]]
        return values


@dataclass(frozen=True)
class SparseScores:
    keys: I64  # row * n_items + item, sorted, unique
    values: F32
    n_items: int

    def top(self, exclusions: Exclusions, n: int) -> tuple[I64, I64]:
        keep = ~np.isin(self.keys, exclusions.keys, assume_unique=True)
        rows, items = self.keys // self.n_items, self.keys % self.n_items
        if exclusions.allowed is not None:
            keep &= exclusions.allowed[items]
        rows, items, values = rows[keep], items[keep], self.values[keep]
        order = np.lexsort((items, -values, rows))
        rows, items = rows[order], items[order]
        first = _first_n_per_row(rows, n)
        return rows[first], items[first]

    def at(self, rows: I64, items: npt.NDArray[np.integer]) -> F32:
        wanted = rows * self.n_items + items
        at = np.minimum(np.searchsorted(self.keys, wanted), max(len(self.keys) - 1, 0))
        found = (self.keys[at] == wanted) if len(self.keys) else np.zeros(len(wanted), bool)
        return np.where(found, self.values[at] if len(self.keys) else np.nan, np.nan).astype(np.float32)


@dataclass(frozen=True)
class SharedScores:
    """One score vector for every row (popularity), walked in a precomputed best-first order."""

    vector: F32
    order: I64  # item indices, best first
    n_rows: int

    def top(self, exclusions: Exclusions, n: int) -> tuple[I64, I64]:
        order = self.order if exclusions.allowed is None else self.order[exclusions.allowed[self.order]]
        n_items = len(self.vector)
        # the most any row can lose to its exclusions, so the head always holds n survivors
        per_row = np.bincount(exclusions.keys // n_items, minlength=self.n_rows) if len(exclusions.keys) else [0]
        head = order[: n + int(np.max(per_row))]
        rows = np.repeat(np.arange(self.n_rows, dtype=np.int64), len(head))
        items = np.tile(head, self.n_rows)
        keep = ~np.isin(rows * n_items + items, exclusions.keys)
        rows, items = rows[keep], items[keep]
        first = _first_n_per_row(rows, n)
        return rows[first], items[first]

    def at(self, rows: I64, items: npt.NDArray[np.integer]) -> F32:
        values: F32 = self.vector[items]
        return values


@dataclass(frozen=True)
class SharedVector:
    """A loaded source whose score is one vector shared by every user (popularity, a chart)."""

    vector: F32
    order: I64 = field(init=False)  # best first (ties: lower item index), computed once per model

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", np.argsort(-self.vector, kind="stable").astype(np.int64))

    def score(self, batch: UserBatch) -> SharedScores:
        return self.score_rows(len(batch))

    def score_rows(self, rows: int) -> SharedScores:
        return SharedScores(self.vector, self.order, rows)
