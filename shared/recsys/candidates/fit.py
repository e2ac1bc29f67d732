"""Fit the stage-1 sources on an interaction history (training side: pandas, scipy, implicit)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys import columns as C
from recsys.config import AlsSettings, CovisitSettings, PopularitySettings
from recsys.ragged import Ragged

DAY = 86_400.0
F32 = npt.NDArray[np.float32]


def fit_als(history: pd.DataFrame, n_users: int, n_items: int, settings: AlsSettings) -> tuple[F32, F32]:
    """Implicit-feedback ALS; confidence 1 + alpha * weight, repeated pairs add up."""
    from implicit.cpu.als import AlternatingLeastSquares  # heavy import, training only

    confidence = 1.0 + settings.alpha * history[C.WEIGHT].to_numpy(dtype=np.float32)
    rows, cols = history[C.USER_IDX].to_numpy(np.int64), history[C.ITEM_IDX].to_numpy(np.int64)
    user_items = sp.coo_matrix((confidence, (rows, cols)), shape=(n_users, n_items)).tocsr()
    with threadpool_limits(1, "blas"):  # implicit asks for it: BLAS threads fight its own
        model = AlternatingLeastSquares(
            factors=settings.factors,
            regularization=settings.regularization,
            iterations=settings.iterations,
            random_state=settings.random_state,
            num_threads=1,  # deterministic for a given random_state
        )
        model.fit(user_items, show_progress=False)
    return (
        np.ascontiguousarray(model.user_factors, dtype=np.float32),
        np.ascontiguousarray(model.item_factors, dtype=np.float32),
    )


def fit_covisitation(
    history: pd.DataFrame, n_items: int, settings: CovisitSettings
) -> tuple[npt.NDArray[np.int32], F32]:
    """Per item, its `neighbours` most co-visited items (same user, within `window_days`).

    Pairs are weighted by closeness in time and normalised by both items' counts (cosine-like),
    so a blockbuster is not everyone's neighbour. Returns (items, scores), padded with -1 / 0.
    """
    recent = (
        history.sort_values([C.USER_IDX, C.TIMESTAMP])
        .groupby(C.USER_IDX, sort=False)
        .tail(settings.max_history)[[C.USER_IDX, C.ITEM_IDX, C.TIMESTAMP]]
    )
    pairs = recent.merge(recent, on=C.USER_IDX, suffixes=("_a", "_b"))
    gap_days = (pairs[f"{C.TIMESTAMP}_a"] - pairs[f"{C.TIMESTAMP}_b"]).abs() / DAY
    pairs = pairs[(pairs[f"{C.ITEM_IDX}_a"] != pairs[f"{C.ITEM_IDX}_b"]) & (gap_days <= settings.window_days)]
    neighbours = np.full((n_items, settings.neighbours), -1, dtype=np.int32)
    scores = np.zeros((n_items, settings.neighbours), dtype=np.float32)
    if pairs.empty:
        return neighbours, scores
    weight = 1.0 / (1.0 + gap_days.loc[pairs.index])
    linked = (
        pd.DataFrame({"a": pairs[f"{C.ITEM_IDX}_a"], "b": pairs[f"{C.ITEM_IDX}_b"], "w": weight})
        .groupby(["a", "b"], sort=False)["w"]
        .sum()
        .reset_index()
    )
    counts = np.bincount(recent[C.ITEM_IDX].to_numpy(), minlength=n_items).astype(np.float64)
    linked["w"] /= np.sqrt(counts[linked["a"].to_numpy()] * counts[linked["b"].to_numpy()])
    linked = linked.sort_values(["a", "w", "b"], ascending=[True, False, True])
    slot = linked.groupby("a", sort=False).cumcount().to_numpy()
    keep = slot < settings.neighbours
    a, b, w = linked["a"].to_numpy()[keep], linked["b"].to_numpy()[keep], linked["w"].to_numpy()[keep]
    neighbours[a, slot[keep]] = b
    scores[a, slot[keep]] = w
    return neighbours, scores


def fit_popularity(history: pd.DataFrame, n_items: int, now: float, settings: PopularitySettings) -> F32:
    """Exponentially time-decayed interaction counts at `now`; all-time counts break ties."""
    age_days = (now - history[C.TIMESTAMP].to_numpy(dtype=np.float64)) / DAY
    decay = np.exp(-np.log(2.0) * np.clip(age_days, 0, None) / settings.half_life_days)
    items = history[C.ITEM_IDX].to_numpy()
    decayed = np.bincount(items, weights=decay, minlength=n_items)
    all_time = np.bincount(items, minlength=n_items)
    return (decayed + 1e-6 * np.log1p(all_time)).astype(np.float32)


def seen_index(history: pd.DataFrame, n_users: int) -> Ragged:
    """Each user's distinct items in time order (oldest first; a repeat counts at its last time)."""
    ordered = history.sort_values([C.USER_IDX, C.TIMESTAMP, C.ITEM_IDX]).drop_duplicates(
        [C.USER_IDX, C.ITEM_IDX], keep="last"
    )
    users = ordered[C.USER_IDX].to_numpy()
    indptr = np.concatenate(([0], np.cumsum(np.bincount(users, minlength=n_users)))).astype(np.int64)
    return Ragged(indptr, ordered[C.ITEM_IDX].to_numpy(dtype=np.int32))
