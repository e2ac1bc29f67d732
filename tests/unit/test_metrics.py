"""Metrics against values worked out by hand."""

import math

import numpy as np
import pytest
from recsys.offline_metrics import candidate_recall, ranking_metrics, top_k_agreement
from recsys.ragged import Ragged

# user 0: relevant {1, 3}; list [1, 2, 3] -> hits at ranks 1 and 3
# user 1: relevant {9};    list [4, 5, 6] -> no hit
# user 2: no relevant items -> not counted
RECOMMENDED = np.array([[1, 2, 3], [4, 5, 6], [7, 8, -1]])
RELEVANT = Ragged.from_lists([[1, 3], [9], []])


def test_hand_computed_values_at_3() -> None:
    m = ranking_metrics(RECOMMENDED, RELEVANT, k=3, n_items=10)
    dcg_0 = 1 + 1 / math.log2(4)
    idcg_0 = 1 + 1 / math.log2(3)
    assert m["ndcg@3"] == pytest.approx((dcg_0 / idcg_0 + 0) / 2)
    assert m["recall@3"] == pytest.approx((2 / 2 + 0) / 2)
    assert m["map@3"] == pytest.approx(((1 / 1 + 2 / 3) / 2 + 0) / 2)
    assert m["mrr@3"] == pytest.approx((1 + 0) / 2)
    assert m["hit_rate@3"] == pytest.approx(0.5)
    assert m["coverage@3"] == pytest.approx(8 / 10)  # items 1..8 recommended, -1 padding ignored


def test_cut_at_1() -> None:
    m = ranking_metrics(RECOMMENDED, RELEVANT, k=1, n_items=10)
    assert m["recall@1"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["ndcg@1"] == pytest.approx(0.5)
    assert m["map@1"] == pytest.approx(0.5)  # divided by min(|rel|, k) = 1


def test_mrr_uses_first_hit_only() -> None:
    m = ranking_metrics(np.array([[5, 1, 3]]), Ragged.from_lists([[1, 3]]), k=3, n_items=6)
    assert m["mrr@3"] == pytest.approx(1 / 2)


def test_candidate_recall() -> None:
    rows = np.array([0, 0, 0, 1])
    items = np.array([1, 2, 5, 4])
    # user 0 finds 1 of {1, 3}; user 1 finds 0 of {9}
    assert candidate_recall(rows, items, Ragged.from_lists([[1, 3], [9]])) == pytest.approx(0.25)


def test_top_k_agreement_counts_shared_items_per_row_in_any_order() -> None:
    expected = np.array([[1, 2, 3], [4, 5, -1]])
    got = np.array([[3, 1, 9], [5, 4, 2]])
    # at k=2: row 0 shares {1} of {1, 2}; row 1 shares {4, 5} of {4, 5}
    assert top_k_agreement(got, expected, k=2, n_items=10) == pytest.approx(3 / 4)
    # at k=3 the padding is not an item: row 0 shares {1, 3} of 3, row 1 {4, 5} of 2
    assert top_k_agreement(got, expected, k=3, n_items=10) == pytest.approx(4 / 5)
    assert top_k_agreement(got, np.full((2, 3), -1), k=3, n_items=10) == 1.0
