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
#: The longest item vectors every row is scored against first, to find how far its top n can reach.
PRUNE_HEAD = 2_048
#: Slack on the bound: 16x float32's worst-case rounding of a dot product at the largest factor count
#: (1,024 x 2**-24 of |u||v|); scores too small to round relative to |u||v| (subnormal) get no bound.
PRUNE_SLACK = 1e-3


@dataclass(frozen=True)
class LengthOrder:
    """Item vectors longest first. A dot product is at most |u| |v| (Cauchy-Schwarz), so once a row's
    n-th best score t among the longest vectors is known, no item with |v| < t / |u| can reach its
    top n, and a top-n scores a prefix of this order. ALS gives popular items long vectors, so
    on the 100k-item synthetic catalog the prefixes average about 40% of it (docs/architecture.md)."""

    order: I64  # item indices, longest vector first (ties: lower item)
    position: I64  # each item's place in `order`
    lengths: npt.NDArray[np.float64]  # |v| in that order, descending
    vectors: F32  # the item vectors in that order

    @classmethod
    def of(cls, item_vectors: F32) -> LengthOrder:
        lengths = np.linalg.norm(item_vectors.astype(np.float64), axis=1)
        order = np.argsort(-lengths, kind="stable").astype(np.int64)
        vectors = np.ascontiguousarray(item_vectors[order], dtype=np.float32)
        return cls(order, places_in(order, len(order)), lengths[order], vectors)


@dataclass(frozen=True)
class DenseScores:
    """A score for every item (a dot product of factors), on some of the batch's rows; no opinion on the others.

    The users x catalog matrix is never held whole: `top` computes it a block of rows at a time and
    `at` computes just the asked pairs, so memory is bounded by the block, not by batch x catalog.
    With `by_length` (the ALS source gives one for a large catalog), `top` scores each block against
    the prefix of the length order its rows need, rows sorted by that need; the answer is the same to
    the last tie.
    """

    rows: I64  # the batch rows that have scores, ascending
    user_vectors: F32  # (len(rows), factors)
    item_vectors: F32  # (items, factors)
    n_rows: int  # rows in the batch
    by_length: LengthOrder | None = None

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
        columns = _Columns.of(self, exclusions)
        pruned = columns.order is not None
        if pruned:
            # rows of a block share its widest prefix: blocks of rows that need alike prefixes
            widths = self._prefix_widths(columns, n)
            by_width = np.argsort(widths, kind="stable")
            blocks = [by_width[start : start + DENSE_BLOCK_ROWS] for start in range(0, len(by_width), DENSE_BLOCK_ROWS)]
            block_widths = [int(widths[block].max()) for block in blocks]
        else:
            blocks = [
                np.arange(start, min(start + DENSE_BLOCK_ROWS, len(self.rows)))
                for start in range(0, len(self.rows), DENSE_BLOCK_ROWS)
            ]
            block_widths = [n_items] * len(blocks)
        picked_rows: list[I64] = []
        picked_items: list[I64] = []
        for block, width in zip(blocks, block_widths, strict=True):
            filled = columns.scores(block, width)
            # a floor under each row's n-th best value: the n-th best of ~4n group maxima (n groups hold an
            # item at least that high), so every item of the top n, ties included, is at or above it and
            # few others are; 2.5x faster than partitioning the whole row at 100k items
            group = max(1, width // (4 * n))
            maxima = np.maximum.reduceat(filled, np.arange(0, width, group), axis=1) if group > 1 else filled
            threshold = np.partition(maxima, maxima.shape[1] - n, axis=1)[:, maxima.shape[1] - n]
            # flat indices: numpy's 2-D nonzero is ~20x slower than the 1-D one on a sparse mask
            flat = np.flatnonzero(filled >= threshold[:, None])
            values = filled.reshape(-1)[flat]
            flat = flat[values > -np.inf]  # a row with fewer than n allowed items has threshold -inf
            rows, places = np.divmod(flat, width)
            items = places if columns.order is None else columns.order[places]
            order = rows_best_first(rows, items, filled.reshape(-1)[flat])  # ties at the threshold: lower item first
            rows, items = rows[order], items[order]
            first = positions_in_runs(rows) < n
            picked_rows.append(self.rows[block][rows[first]])
            picked_items.append(items[first].astype(np.int64))
        rows, items = np.concatenate(picked_rows), np.concatenate(picked_items)
        if pruned:  # blocks came in order of width: rows ascending again, each row's items still best first
            ascending = np.argsort(rows, kind="stable")
            rows, items = rows[ascending], items[ascending]
        return rows, items

    def _prefix_widths(self, columns: _Columns, n: int) -> I64:
        """How much of the length order each row's top n needs: the items with |v| >= t / |u| (with slack),
        t the row's n-th best score among the PRUNE_HEAD longest vectors; all of them when t <= 0."""
        assert self.by_length is not None
        lengths = self.by_length.lengths
        head = min(len(lengths), max(PRUNE_HEAD, 4 * n))
        floors = np.empty(len(self.rows), dtype=np.float64)
        for start in range(0, len(self.rows), DENSE_BLOCK_ROWS):
            block = np.arange(start, min(start + DENSE_BLOCK_ROWS, len(self.rows)))
            filled = columns.scores(block, head)
            floors[block] = np.partition(filled, head - n, axis=1)[:, head - n]  # -inf: fewer than n allowed
        user_lengths = np.linalg.norm(self.user_vectors.astype(np.float64), axis=1)
        # no bound from a floor <= 0 (-inf: fewer than n allowed), a subnormal or overflowed one, or a zero user
        bounded = (floors >= np.finfo(np.float32).tiny) & np.isfinite(floors) & (user_lengths > 0)
        widths = np.full(len(self.rows), len(lengths), dtype=np.int64)
        reach = floors[bounded] / user_lengths[bounded] * (1 - PRUNE_SLACK)
        widths[bounded] = np.searchsorted(-lengths, -reach, side="right")  # how many |v| >= reach
        return widths

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


@dataclass(frozen=True)
class _Columns:
    """A dense top-n's view of the catalog: its columns in item order or in the length order, with the
    batch's exclusions and catalog mask as places in that order."""

    user_vectors: F32
    vectors: F32  # item vectors, column by column
    order: I64 | None  # column -> item (None: column i is item i)
    batch_rows: I64  # per scored row, its row in the batch
    excluded_mask: npt.NDArray[np.bool_] | None  # batch rows x catalog, when the batch is small enough to have one
    # without the mask: per exclusion entry its column, and per scored row its first entry and their count
    excluded_places: I64
    starts: I64
    counts: I64
    disallowed: npt.NDArray[np.bool_] | None  # per column, True where the catalog mask rules the item out

    @classmethod
    def of(cls, source: DenseScores, exclusions: Exclusions) -> _Columns:
        by_length, allowed, mask = source.by_length, exclusions.allowed, exclusions.matrix
        if by_length is None:
            vectors, order = source.item_vectors, None
            disallowed = None if allowed is None else ~allowed
        else:
            vectors, order = by_length.vectors, by_length.order
            disallowed = None if allowed is None else ~allowed[by_length.order]
        if mask is not None:  # the mask says it all (for a heavy user, no pass over 70k entries)
            none = np.zeros(0, dtype=np.int64)
            return cls(source.user_vectors, vectors, order, source.rows, mask, none, none, none, disallowed)
        places = exclusions.items if by_length is None else by_length.position[exclusions.items]
        starts = np.searchsorted(exclusions.rows, source.rows)
        counts = np.searchsorted(exclusions.rows, source.rows, side="right") - starts
        return cls(source.user_vectors, vectors, order, source.rows, None, places, starts, counts, disallowed)

    def scores(self, block: I64, width: int) -> F32:
        """The block's rows (places in the source's rows) against the first `width` columns, excluded ones -inf."""
        filled: F32 = self.user_vectors[block] @ self.vectors[:width].T
        if self.excluded_mask is not None:  # a few rows: their rows x catalog mask, read in column order
            marked = self.excluded_mask[self.batch_rows[block]]
            np.putmask(filled, marked[:, :width] if self.order is None else marked[:, self.order[:width]], -np.inf)
        elif total := int(self.counts[block].sum()):
            # the block's rows' exclusion entries, one slice per row, gathered without a Python loop
            counts = self.counts[block]
            ends = np.cumsum(counts)
            entries = np.arange(total) + np.repeat(self.starts[block] - (ends - counts), counts)
            places = self.excluded_places[entries]
            on_block = places < width
            local = np.repeat(np.arange(len(block)), counts)
            filled.reshape(-1)[local[on_block] * width + places[on_block]] = -np.inf
        if self.disallowed is not None:
            filled[:, self.disallowed[:width]] = -np.inf
        return filled


def places_in(order: I64, n_items: int) -> I64:
    """Each item's index in `order`; -1 for items not in it."""
    position = np.full(n_items, -1, dtype=np.int64)
    position[order] = np.arange(len(order))
    return position
