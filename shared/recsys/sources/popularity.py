"""Time-decayed popularity: the same list for everyone, and the fallback for users without history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
from pydantic import Field

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
from recsys.trends.activity import ItemActivity, activity_of, decay_weights, with_ties

POPULARITY: Final = "popularity.npy"


class PopularitySettings(SourceSettings):
    half_life_days: float = Field(7.0, gt=0)


def decayed_counts(history_items: I64, timestamps: Array, n_items: int, now: float, half_life_days: float) -> F32:
    """Exponentially time-decayed interaction counts at `now`; all-time counts break ties."""
    weights = decay_weights(now - timestamps.astype(np.float64), half_life_days)
    decayed = np.bincount(history_items, weights=weights, minlength=n_items)
    return with_ties(decayed, np.bincount(history_items, minlength=n_items).astype(np.float64))


class PopularitySource:
    name = "popularity"
    settings_model = PopularitySettings
    backfill = True
    files = (POPULARITY,)

    def fit(self, data: FitInput, settings: PopularitySettings) -> Mapping[str, Array]:
        return self.from_activity(activity_of(data, *self.activity_needs(settings)), settings)

    def activity_needs(self, settings: PopularitySettings) -> tuple[tuple[float, ...], float]:
        return (settings.half_life_days,), 0.0

    def from_activity(self, activity: ItemActivity, settings: PopularitySettings) -> Mapping[str, Array]:
        return {POPULARITY: activity.popularity(settings.half_life_days)}

    def load(self, read: ReadArray, n_users: int, n_items: int) -> SharedVector:
        vector = np.asarray(read(POPULARITY), dtype=np.float32)
        expect_shape(POPULARITY, vector, (n_items,))
        expect_finite(POPULARITY, vector)
        return SharedVector(vector)
