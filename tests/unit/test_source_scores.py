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
from recsys.candidates.scores import DenseScores, SharedScores, SharedVector, SparseScores
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
    assert [a.tolist() for a in dense.top(exclusions, n)] == list(reference_top(matrix, excluded, allowed, n))
    pairs_row, pairs_item = rng.integers(0, n_rows, 30), rng.integers(0, n_items, 30)
    expected_at = np.where(np.isfinite(matrix[pairs_row, pairs_item]), matrix[pairs_row, pairs_item], np.nan)
    np.testing.assert_array_equal(dense.at(pairs_row, pairs_item), expected_at.astype(np.float32))

    sparse_keys = np.unique(rng.integers(0, n_rows * n_items, 3 * n_rows)).astype(np.int64)
    sparse_values = rng.integers(1, 6, len(sparse_keys)).astype(np.float32)
    matrix = np.full((n_rows, n_items), -np.inf)
    matrix[sparse_keys // n_items, sparse_keys % n_items] = sparse_values
    sparse = SparseScores(sparse_keys, sparse_values, n_items)
    assert [a.tolist() for a in sparse.top(exclusions, n)] == list(reference_top(matrix, excluded, allowed, n))


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
