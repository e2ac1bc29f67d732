"""Time-decayed popularity: the same list for everyone, and the fallback for users without history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
from pydantic import Field

from recsys import columns as C
from recsys.candidates.base import (
    F32,
    I64,
    Array,
    FitInput,
    ReadArray,
    SourceSettings,
    expect_finite,
    expect_shape,
)
from recsys.candidates.scores import SharedVector

POPULARITY: Final = "popularity.npy"


class PopularitySettings(SourceSettings):
    half_life_days: float = Field(7.0, gt=0)


def decayed_counts(history_items: I64, timestamps: Array, n_items: int, now: float, half_life_days: float) -> F32:
    """Exponentially time-decayed interaction counts at `now`; all-time counts break ties."""
    age_days = (now - timestamps.astype(np.float64)) / C.DAY
    decay = np.exp(-np.log(2.0) * np.clip(age_days, 0, None) / half_life_days)
    decayed = np.bincount(history_items, weights=decay, minlength=n_items)
    all_time = np.bincount(history_items, minlength=n_items)
    return (decayed + 1e-6 * np.log1p(all_time)).astype(np.float32)


class PopularitySource:
    name = "popularity"
    settings_model = PopularitySettings
    backfill = True
    files = (POPULARITY,)

    def fit(self, data: FitInput, settings: PopularitySettings) -> Mapping[str, Array]:
        history = data.history
        items = history[C.ITEM_IDX].to_numpy()
        timestamps = history[C.TIMESTAMP].to_numpy(dtype=np.float64)
        return {POPULARITY: decayed_counts(items, timestamps, data.n_items, data.now, settings.half_life_days)}

    def load(self, read: ReadArray, n_users: int, n_items: int) -> SharedVector:
        vector = np.asarray(read(POPULARITY), dtype=np.float32)
        expect_shape(POPULARITY, vector, (n_items,))
        expect_finite(POPULARITY, vector)
        return SharedVector(vector)
