"""The three score shapes against a plain per-row reference: same items, same order, any exclusions.

The fast paths (dense blocks, shared-order walk, binary-search exclusion) exist for memory at
catalog scale; this pins them to the obvious definition: each row's n best items by score, ties
to the lower item, never an excluded or disallowed item.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from recsys import bulk, sorting
from recsys.candidates import base, scores
from recsys.candidates.base import Exclusions
from recsys.candidates.scores import DenseScores, LengthOrder, SharedScores, SharedVector, SparseScores
from recsys.ragged import Ragged


def reference_top(
    matrix: npt.NDArray[np.float64], excluded: set[tuple[int, int]], allowed: npt.NDArray[np.bool_] | None, n: int
) -> tuple[list[int], list[int]]:
    """Each row's n best finite scores, ties to the lower item, one row at a time."""
    rows: list[int] = []
    items: list[int] = []
    for row, values in enumerate(matrix):
        ranked = sorted(
            (item for item in range(len(values)) if np.isfinite(values[item])), key=lambda i: (-values[i], i)
        )
        kept = [i for i in ranked if (row, i) not in excluded and (allowed is None or allowed[i])][:n]
        rows += [row] * len(kept)
        items += kept
    return rows, items


def random_case(
    rng: np.random.Generator,
) -> tuple[int, int, int, Exclusions, set[tuple[int, int]], npt.NDArray[np.bool_] | None]:
    n_items, n_rows, n = int(rng.integers(1, 200)), int(rng.integers(1, 150)), int(rng.integers(0, 40))
    excluded: set[tuple[int, int]] = set()
    for row in range(n_rows):  # some rows exclude nearly everything, as a heavy user does
        many = rng.random() < 0.3
        count = int(rng.integers(0, n_items + 1)) if many else int(rng.integers(0, min(n_items, 8) + 1))
        excluded |= {(row, int(i)) for i in rng.choice(n_items, count, replace=False)}
    lists = [[i for r, i in excluded if r == row] for row in range(n_rows)]
    allowed = rng.random(n_items) < 0.7 if rng.random() < 0.3 else None
    return n_items, n_rows, n, Exclusions.of(Ragged.from_lists(lists), n_items, allowed), excluded, allowed


@pytest.mark.parametrize("exclusion_mask", ["rows x catalog mask", "flat spans"])
@pytest.mark.parametrize("seed", range(40))
def test_each_score_shape_picks_what_the_reference_picks(
    seed: int, exclusion_mask: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scores, "DENSE_BLOCK_ROWS", 16)  # several blocks per batch
    if exclusion_mask == "flat spans":  # as in a batch chunk: no rows x catalog mask, the large-array sorts
        monkeypatch.setattr(base, "MASK_CELLS", 0)
        monkeypatch.setattr(sorting, "SMALL", 0)
    rng = np.random.default_rng(seed)
    n_items, n_rows, n, exclusions, excluded, allowed = random_case(rng)

    vector = rng.integers(0, 10, n_items).astype(np.float32)  # integer scores: many ties
    shared = SharedScores(vector, np.argsort(-vector, kind="stable").astype(np.int64), n_rows)
    expected = reference_top(np.tile(vector.astype(np.float64), (n_rows, 1)), excluded, allowed, n)
    assert [a.tolist() for a in shared.top(exclusions, n)] == list(expected)
    served = SharedVector(vector).score_rows(n_rows)  # as sources load it: the places in the order precomputed
    assert [a.tolist() for a in served.top(exclusions, n)] == list(expected)

    rows = np.sort(rng.choice(n_rows, int(rng.integers(0, n_rows + 1)), replace=False)).astype(np.int64)
    users = rng.integers(-2, 3, (len(rows), 4)).astype(np.float32)
    items = rng.integers(-2, 3, (n_items, 4)).astype(np.float32)
    matrix = np.full((n_rows, n_items), -np.inf)
    matrix[rows] = users.astype(np.float64) @ items.T.astype(np.float64)
    dense = DenseScores(rows, users, items, n_rows)
    expected_dense = list(reference_top(matrix, excluded, allowed, n))
    assert [a.tolist() for a in dense.top(exclusions, n)] == expected_dense
    with monkeypatch.context() as prune:  # the length-order prefixes, a tiny head
        prune.setattr(scores, "PRUNE_HEAD", int(rng.integers(1, 12)))
        by_length = DenseScores(rows, users, items, n_rows, LengthOrder.of(items))
        assert [a.tolist() for a in by_length.top(exclusions, n)] == expected_dense
    pairs_row, pairs_item = rng.integers(0, n_rows, 30), rng.integers(0, n_items, 30)
    expected_at = np.where(np.isfinite(matrix[pairs_row, pairs_item]), matrix[pairs_row, pairs_item], np.nan)
    np.testing.assert_array_equal(dense.at(pairs_row, pairs_item), expected_at.astype(np.float32))

    sparse_keys = np.unique(rng.integers(0, n_rows * n_items, 3 * n_rows)).astype(np.int64)
    sparse_values = rng.integers(1, 6, len(sparse_keys)).astype(np.float32)
    matrix = np.full((n_rows, n_items), -np.inf)
    matrix[sparse_keys // n_items, sparse_keys % n_items] = sparse_values
    sparse = SparseScores(sparse_keys, sparse_values, n_items)
    assert [a.tolist() for a in sparse.top(exclusions, n)] == list(reference_top(matrix, excluded, allowed, n))


def test_the_length_order_skips_the_short_tail_and_answers_as_the_whole_catalog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item vectors of power-law lengths, as ALS gives popular items: most rows need a short prefix of the
    length order, and the top-n (ties included: scores rounded to a coarse grid) is the whole catalog's."""
    monkeypatch.setattr(scores, "DENSE_BLOCK_ROWS", 16)
    monkeypatch.setattr(scores, "PRUNE_HEAD", 64)
    rng = np.random.default_rng(7)
    n_rows, n_items, n = 100, 3_000, 20
    directions = rng.standard_normal((n_items, 8)) + 1.0
    items = (directions / np.linalg.norm(directions, axis=1, keepdims=True) * rng.pareto(1.5, (n_items, 1))).astype(
        np.float32
    )
    items = np.round(items * 4) / 4  # coarse values: many equal scores at the cut
    users = (np.round((rng.standard_normal((n_rows, 8)) + 1.0) * 4) / 4).astype(np.float32)
    lists = [rng.choice(n_items, int(rng.integers(0, 300)), replace=False).tolist() for _ in range(n_rows)]
    lists[0] = list(range(n_items - 5))  # a row that excludes nearly everything
    exclusions = Exclusions.of(Ragged.from_lists(lists), n_items)
    rows = np.arange(n_rows, dtype=np.int64)
    by_length = DenseScores(rows, users, items, n_rows, LengthOrder.of(items))
    whole = DenseScores(rows, users, items, n_rows)
    widths = by_length._prefix_widths(scores._Columns.of(by_length, exclusions), n)
    assert widths.mean() < 0.5 * n_items  # the point of it
    assert widths[0] == n_items  # too few allowed items in the head: no bound, the whole catalog
    got, want = by_length.top(exclusions, n), whole.top(exclusions, n)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
    matrix = users.astype(np.float64) @ items.T.astype(np.float64)
    excluded = {(row, item) for row, items_ in enumerate(lists) for item in items_}
    assert [a.tolist() for a in got] == list(reference_top(matrix, excluded, None, n))


def test_an_item_exactly_at_the_bound_is_still_scored(monkeypatch: pytest.MonkeyPatch) -> None:
    """|u| |v| equal to the row's floor: the item can tie the n-th best, and wins the tie as the lower
    item, so the prefix must reach it (the bound is >=, and its slack only widens it)."""
    monkeypatch.setattr(scores, "PRUNE_HEAD", 4)
    items = np.asarray([[1, 0]] + [[1, 5]] * 4 + [[0.5, 0]] * 5, dtype=np.float32)  # item 0: short, parallel
    users = np.asarray([[1, 0]], dtype=np.float32)
    dense = DenseScores(np.zeros(1, dtype=np.int64), users, items, 1, LengthOrder.of(items))
    exclusions = Exclusions.of(Ragged.from_lists([[]]), len(items))
    widths = dense._prefix_widths(scores._Columns.of(dense, exclusions), 1)
    assert widths.tolist() == [5]  # the four long items and item 0, not the 0.5s
    assert [a.tolist() for a in dense.top(exclusions, 1)] == [[0], [0]]


@pytest.mark.parametrize(
    ("user", "items"),
    [
        ([1e20, 0], [[1e20, 0], [1e19, 0], [1, 0], [0.5, 0]]),  # the floor overflows float32 to inf
        ([1e-44, 0], [[0.95, 0]] + [[1, 0]] * 4 + [[0.1, 0]] * 3),  # subnormal scores: rounding is not relative
    ],
)
def test_a_floor_that_cannot_bound_reaches_the_whole_catalog(
    user: list[float], items: list[list[float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scores, "PRUNE_HEAD", 1)
    users, vectors = np.asarray([user], dtype=np.float32), np.asarray(items, dtype=np.float32)
    rows, exclusions = np.zeros(1, dtype=np.int64), Exclusions.of(Ragged.from_lists([[]]), len(items))
    with np.errstate(over="ignore"):
        whole = DenseScores(rows, users, vectors, 1).top(exclusions, 2)
        pruned = DenseScores(rows, users, vectors, 1, LengthOrder.of(vectors)).top(exclusions, 2)
    assert [a.tolist() for a in pruned] == [a.tolist() for a in whole]


def test_chunks_are_bounded_by_users_and_by_history_and_cover_every_user_once() -> None:
    lengths = [5, 0, 40, 3, 3, 3, 100, 1, 1]  # user 6 alone is heavier than the bound
    seen = Ragged.from_lists([list(range(n)) for n in lengths])
    users = np.asarray([0, 1, -1, 2, 3, 4, 5, 6, 7, 8], dtype=np.int32)
    bounds = list(bulk.chunk_bounds(users, seen, max_users=4, max_history=45))
    history = [sum(lengths[u] for u in users[b] if u >= 0) for b in bounds]
    assert [(b.start, b.stop) for b in bounds] == [(0, 4), (4, 7), (7, 8), (8, 10)]
    assert history == [45, 9, 100, 2]  # 45 fits exactly; the next user would pass it
    assert all(b.stop - b.start <= 4 for b in bounds)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(20))
def test_the_packed_sort_orders_pairs_as_lexsort_does(dtype: type, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row ascending, score descending, item ascending: negatives, -0.0 against 0.0, -inf, many ties."""
    monkeypatch.setattr(sorting, "SMALL", 0)  # the packed path at any size (small lists use lexsort itself)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    keys = np.unique(rng.integers(0, 50 * 300, n))
    rows, items = keys // 300, keys % 300
    scores = rng.choice(np.asarray([-2.5, -0.0, 0.0, 1.0, 3.25, -np.inf, 7.0], dtype=dtype), len(keys))
    scores[::3] = rng.standard_normal(len(scores[::3])).astype(dtype)
    expected = np.lexsort((items, -scores, rows))
    assert np.array_equal(sorting.rows_best_first(rows, items, scores), expected)
    shuffled = rng.permutation(len(keys))  # not built item-ascending: the lexsort fallback
    got = sorting.rows_best_first(rows[shuffled], items[shuffled], scores[shuffled])
    want = np.lexsort((items[shuffled], -scores[shuffled], rows[shuffled]))
    assert np.array_equal(shuffled[got], shuffled[want])


@pytest.mark.parametrize("small", [0, sorting.SMALL])
def test_positions_in_runs_and_sorted_unique(small: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sorting, "SMALL", small)
    assert sorting.positions_in_runs(np.asarray([0, 0, 0, 2, 5, 5])).tolist() == [0, 1, 2, 0, 0, 1]
    assert sorting.positions_in_runs(np.zeros(0, dtype=np.int64)).tolist() == []
    values = np.asarray([9, 3, 3, -1, 9, 0], dtype=np.int64)
    assert sorting.sorted_unique(values).tolist() == np.unique(values).tolist() == [-1, 0, 3, 9]


def _peak_bytes(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_follows_the_block_and_the_exclusions_not_rows_times_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """The promise of docs/architecture.md: 256 rows x 20,000 items would be 20 MB of ALS scores and,
    walked the old way past one heavy row, 256 x 15,000 places per shared source; neither may be held."""
    monkeypatch.setattr(base, "MASK_CELLS", 0)  # a batch chunk's path
    monkeypatch.setattr(scores, "DENSE_BLOCK_ROWS", 16)
    rng = np.random.default_rng(0)
    n_rows, n_items = 256, 20_000
    lists = [rng.choice(n_items, 15_000, replace=False).tolist() if row == 0 else [row] for row in range(n_rows)]
    exclusions = Exclusions.of(Ragged.from_lists(lists), n_items)
    users = rng.standard_normal((n_rows, 8)).astype(np.float32)
    items = rng.standard_normal((n_items, 8)).astype(np.float32)
    dense = DenseScores(np.arange(n_rows, dtype=np.int64), users, items, n_rows)
    full_matrix = n_rows * n_items * 4
    assert _peak_bytes(lambda: dense.top(exclusions, 10)) < full_matrix / 2
    shared = SharedVector(rng.random(n_items).astype(np.float32)).score_rows(n_rows)
    assert _peak_bytes(lambda: shared.top(exclusions, 10)) < n_rows * 15_000 // 2
