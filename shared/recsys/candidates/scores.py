"""Three shapes of source scores, each answering `SourceScores` (top-n with exclusions, score at pairs).

Memory follows the batch, not the catalog times the batch: a dense source (ALS) computes its
users x catalog scores a block of rows at a time, co-visitation is sparse, and popularity is one
shared vector walked past each row's exclusions. Exclusions are sorted keys (sliced by row, or
searched in); only a batch of a few rows also gets them as a rows x catalog mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from recsys.candidates.base import Exclusions, UserBatch
from recsys.sorting import find, positions_in_runs, rows_best_first

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


#: Rows of a dense score matrix held at once: bounds the temporaries of a top-n to a few
#: DENSE_BLOCK_ROWS x catalog arrays (25 MB each at 100k items), whatever the batch size.
DENSE_BLOCK_ROWS = 64
#: Pairs gathered at once when scoring given pairs (factor rows copied per pair).
PAIR_BLOCK = 65_536


@dataclass(frozen=True)
class DenseScores:
    """A score for every item (a dot product of factors), on some of the batch's rows; no opinion on the others.

    The users x catalog matrix is never held whole: `top` computes it a block of rows at a time and
    `at` computes just the asked pairs, so memory is bounded by the block, not by batch x catalog.
    """

    rows: I64  # the batch rows that have scores, ascending
    user_vectors: F32  # (len(rows), factors)
    item_vectors: F32  # (items, factors)
    n_rows: int  # rows in the batch

    def _local_rows(self, rows: I64) -> I64:
        """Batch rows -> rows of `user_vectors` (-1 where there is no opinion)."""
        local = np.full(self.n_rows, -1, dtype=np.int64)
        local[self.rows] = np.arange(len(self.rows))
        return local[rows]

    def top(self, exclusions: Exclusions, n: int) -> tuple[I64, I64]:
        n_items = self.item_vectors.shape[0]
        n = min(n, n_items)
        if n == 0 or len(self.rows) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        picked_rows: list[I64] = []
        picked_items: list[I64] = []
        for start in range(0, len(self.rows), DENSE_BLOCK_ROWS):
            block_rows = self.rows[start : start + DENSE_BLOCK_ROWS]
            filled = self.user_vectors[start : start + DENSE_BLOCK_ROWS] @ self.item_vectors.T
            # exclusions are sorted by row: this block's are one slice of them
            lo, hi = np.searchsorted(exclusions.rows, (block_rows[0], block_rows[-1] + 1))
            local = self._local_rows(exclusions.rows[lo:hi]) - start
            on_block = local >= 0
            filled.reshape(-1)[local[on_block] * n_items + exclusions.items[lo:hi][on_block]] = -np.inf
            if exclusions.allowed is not None:
                filled[:, ~exclusions.allowed] = -np.inf
            # a floor under each row's n-th best value: the n-th best of ~4n group maxima (n groups hold an
            # item at least that high), so every item of the top n, ties included, is at or above it and
            # few others are; 2.5x faster than partitioning the whole row at 100k items
            group = max(1, n_items // (4 * n))
            maxima = np.maximum.reduceat(filled, np.arange(0, n_items, group), axis=1) if group > 1 else filled
            threshold = np.partition(maxima, maxima.shape[1] - n, axis=1)[:, maxima.shape[1] - n]
            # flat indices: numpy's 2-D nonzero is ~20x slower than the 1-D one on a sparse mask
            flat = np.flatnonzero(filled >= threshold[:, None])
            values = filled.reshape(-1)[flat]
            flat = flat[values > -np.inf]  # a row with fewer than n allowed items has threshold -inf
            rows, items = np.divmod(flat, n_items)
            order = rows_best_first(rows, items, filled.reshape(-1)[flat])  # ties at the threshold: lower item first
            rows, items = rows[order], items[order]
            first = positions_in_runs(rows) < n
            picked_rows.append(block_rows[rows[first]])
            picked_items.append(items[first].astype(np.int64))
        return np.concatenate(picked_rows), np.concatenate(picked_items)

    def at(self, rows: I64, items: npt.NDArray[np.integer]) -> F32:
        local = self._local_rows(rows)
        values = np.full(len(rows), np.nan, dtype=np.float32)
        scored = np.flatnonzero(local >= 0)
        for start in range(0, len(scored), PAIR_BLOCK):
            pairs = scored[start : start + PAIR_BLOCK]
            users, wanted = self.user_vectors[local[pairs]], self.item_vectors[items[pairs]]
            values[pairs] = np.einsum("ij,ij->i", users, wanted)
        return values


@dataclass(frozen=True)
class SparseScores:
    keys: I64  # row * n_items + item, sorted, unique
    values: F32
    n_items: int

    def top(self, exclusions: Exclusions, n: int) -> tuple[I64, I64]:
        keep = ~find(exclusions.keys, self.keys)[1]
        rows, items = self.keys // self.n_items, self.keys % self.n_items
        if exclusions.allowed is not None:
            keep &= exclusions.allowed[items]
        rows, items, values = rows[keep], items[keep], self.values[keep]
        order = rows_best_first(rows, items, values)
        rows, items = rows[order], items[order]
        first = positions_in_runs(rows) < n
        return rows[first], items[first]

    def at(self, rows: I64, items: npt.NDArray[np.integer]) -> F32:
        at, found = find(self.keys, rows * self.n_items + items)
        return np.where(found, self.values[at] if len(self.keys) else np.nan, np.nan).astype(np.float32)


@dataclass(frozen=True)
class SharedScores:
    """One score vector for every row (popularity), walked in a precomputed best-first order.

    A row's top n are the first n places of that order that the row does not exclude, and they lie
    within its first n + (its exclusions) places. Those spans, one after another, are one flat mask:
    mark the excluded places, keep the first n unmarked of each span. No sort, and the cost is n
    per row plus the exclusions: a user who has seen 40k items costs 40k, not 40k for every row.
    A batch of a few rows has its exclusions as a rows x catalog mask already (`Exclusions.matrix`),
    and reads just the head of the order (`_top_by_mask`).
    """

    vector: F32
    order: I64  # item indices, best first
    n_rows: int
    position: I64 | None = None  # each item's place in `order` (computed here when not given)

    def top(self, exclusions: Exclusions, n: int) -> tuple[I64, I64]:
        order = self.order if exclusions.allowed is None else self.order[exclusions.allowed[self.order]]
        n_items, length = len(self.vector), len(order)
        n = min(n, length)
        if exclusions.matrix is not None:
            return self._top_by_mask(exclusions.matrix, order, n)
        position = self.position if exclusions.allowed is None else None
        if position is None:
            position = places_in(order, n_items)
        excluded_rows = exclusions.rows
        excluded_at = position[exclusions.items]  # -1: not in `order` (not allowed), takes no place
        span = np.minimum(n + np.bincount(excluded_rows, minlength=self.n_rows), length)
        starts = np.concatenate(([0], np.cumsum(span)))
        marked = np.zeros(int(starts[-1]) + 1, dtype=bool)  # the last slot takes what lies outside every span
        outside = (excluded_at < 0) | (excluded_at >= span[excluded_rows])
        marked[np.where(outside, len(marked) - 1, starts[excluded_rows] + excluded_at)] = True
        free = np.flatnonzero(~marked[:-1])
        rows = np.repeat(np.arange(self.n_rows, dtype=np.int64), span)[free]
        first = positions_in_runs(rows) < n
        return rows[first], order[free[first] - starts[rows[first]]]

    def _top_by_mask(self, excluded: npt.NDArray[np.bool_], order: I64, n: int) -> tuple[I64, I64]:
        """The same answer from a rows x catalog mask (few rows): read the head of the order, four times
        longer until every row has n free places in it; for a user who has seen 70% of the catalog, a
        head of a few hundred places instead of a pass over each exclusion."""
        head = min(len(order), 2 * n + 16)
        if head == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        while True:
            free = ~excluded[:, order[:head]]
            if head == len(order) or bool((free.sum(axis=1) >= n).all()):
                break
            head = min(len(order), 4 * head)
        rows, places = np.divmod(np.flatnonzero(free), head)
        first = positions_in_runs(rows) < n
        return rows[first], order[places[first]]

    def at(self, rows: I64, items: npt.NDArray[np.integer]) -> F32:
        values: F32 = self.vector[items]
        return values


@dataclass(frozen=True)
class SharedVector:
    """A loaded source whose score is one vector shared by every user (popularity, a chart)."""

    vector: F32
    order: I64 = field(init=False)  # best first (ties: lower item index), computed once per model
    position: I64 = field(init=False)  # each item's place in `order`

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", np.argsort(-self.vector, kind="stable").astype(np.int64))
        object.__setattr__(self, "position", places_in(self.order, len(self.vector)))

    def score(self, batch: UserBatch) -> SharedScores:
        return self.score_rows(len(batch))

    def score_rows(self, rows: int) -> SharedScores:
        return SharedScores(self.vector, self.order, rows, self.position)


def places_in(order: I64, n_items: int) -> I64:
    """Each item's index in `order`; -1 for items not in it."""
    position = np.full(n_items, -1, dtype=np.int64)
    position[order] = np.arange(len(order))
    return position
