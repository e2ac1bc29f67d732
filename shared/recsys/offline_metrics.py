"""Ranking metrics over top-K lists, vectorised across users.

`recommended` is a (users x K) matrix of item indices, best first, padded with -1; `relevant`
holds each user's relevant items. Every metric is the mean over users who have at least one
relevant item; Recall divides by the number of relevant items, MAP by min(relevant, K).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from recsys.ragged import Ragged

I64 = npt.NDArray[np.int64]


def hit_matrix(recommended: npt.NDArray[np.integer], relevant: Ragged) -> npt.NDArray[np.bool_]:
    n_users = recommended.shape[0]
    span = int(max(recommended.max(initial=0), relevant.values.max(initial=0))) + 1
    rec_keys = np.arange(n_users)[:, None].astype(np.int64) * span + recommended.astype(np.int64)
    rel_keys = relevant.row_ids() * span + relevant.values.astype(np.int64)
    return np.isin(rec_keys, rel_keys) & (recommended >= 0)


def ranking_metrics(recommended: npt.NDArray[np.integer], relevant: Ragged, k: int, n_items: int) -> dict[str, float]:
    """recall, ndcg, map, mrr, hit_rate at k, and catalog coverage at k."""
    top = recommended[:, :k]
    n_relevant = np.diff(relevant.indptr).astype(np.float64)
    users = n_relevant > 0
    hits = hit_matrix(top, relevant)[users].astype(np.float64)
    n_rel = n_relevant[users]
    if hits.shape[0] == 0:
        return {f"{m}@{k}": float("nan") for m in ("recall", "ndcg", "map", "mrr", "hit_rate", "coverage")}
    positions = np.arange(top.shape[1])
    discounts = 1.0 / np.log2(positions + 2.0)
    ideal = np.cumsum(discounts)[np.minimum(n_rel, top.shape[1]).astype(int) - 1]
    precision_at = np.cumsum(hits, axis=1) / (positions + 1.0)
    first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1), -1)
    reciprocal = np.divide(1.0, first_hit + 1.0, out=np.zeros(len(first_hit)), where=first_hit >= 0)
    recommended_items = np.unique(top[top >= 0])
    return {
        f"recall@{k}": float(np.mean(hits.sum(axis=1) / n_rel)),
        f"ndcg@{k}": float(np.mean((hits * discounts).sum(axis=1) / ideal)),
        f"map@{k}": float(np.mean((precision_at * hits).sum(axis=1) / np.minimum(n_rel, k))),
        f"mrr@{k}": float(np.mean(reciprocal)),
        f"hit_rate@{k}": float(np.mean(hits.any(axis=1))),
        f"coverage@{k}": float(len(recommended_items) / n_items) if n_items else float("nan"),
    }


def candidate_recall(candidate_rows: I64, candidate_items: npt.NDArray[np.integer], relevant: Ragged) -> float:
    """Share of each user's relevant items that made the candidate list, averaged over users."""
    span = int(max(candidate_items.max(initial=0), relevant.values.max(initial=0))) + 1
    cand_keys = candidate_rows.astype(np.int64) * span + candidate_items.astype(np.int64)
    rel_rows = relevant.row_ids()
    found = np.isin(rel_rows * span + relevant.values.astype(np.int64), cand_keys)
    n_relevant = np.diff(relevant.indptr)
    per_user = np.bincount(rel_rows, weights=found, minlength=relevant.rows)
    users = n_relevant > 0
    return float(np.mean(per_user[users] / n_relevant[users])) if users.any() else float("nan")


def top_k_agreement(got: npt.NDArray[np.int32], expected: npt.NDArray[np.int32], k: int, n_items: int) -> float:
    """Share of `expected`'s top-k items (per row; -1 is padding) that `got`'s top k also holds."""

    def keys(matrix: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        head = matrix[:, :k].astype(np.int64)
        return (np.arange(len(matrix))[:, None] * n_items + head)[head >= 0]

    wanted = keys(expected)
    return float(np.isin(wanted, keys(got)).mean()) if len(wanted) else 1.0
