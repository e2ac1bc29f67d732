"""Hard-window charts: the most interactions in the last d days, the same list for everyone.

On trend-driven data these are the strongest simple recommenders there are, so they are
candidate sources (recall) as well as baselines; the ranker gets each chart's score and rank.
Each window is its own registered source (`chart_1d`, `chart_3d`, ...), with its own file.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from recsys import columns as C
from recsys.candidates.base import F32, I64, Array, FitInput, ReadArray, SourceSettings, expect_finite, expect_shape
from recsys.candidates.scores import SharedVector
from recsys.trends.activity import ItemActivity, activity_of, chart_vector


def chart_counts(items: I64, timestamps: Array, n_items: int, now: float, days: float | None) -> F32:
    """Interactions per item in [now - days, now) (all time for None); ties broken by all-time count."""
    all_time = np.bincount(items, minlength=n_items).astype(np.float64)
    if days is None:
        return all_time.astype(np.float32)
    recent = np.bincount(items[timestamps >= now - days * C.DAY], minlength=n_items).astype(np.float64)
    return chart_vector(recent, all_time)


class ChartSettings(SourceSettings):
    pass


class ChartSource:
    """The chart of the last `days` days, as a candidate source named `chart_<days>d`."""

    settings_model = ChartSettings
    backfill = False

    def __init__(self, days: int) -> None:
        self.days = days
        self.name = f"chart_{days}d"
        self.files = (f"{self.name}.npy",)

    def fit(self, data: FitInput, settings: ChartSettings) -> Mapping[str, Array]:
        return self.from_activity(activity_of(data, *self.activity_needs(settings)), settings)

    def activity_needs(self, settings: ChartSettings) -> tuple[tuple[float, ...], float]:
        return (), float(self.days)

    def from_activity(self, activity: ItemActivity, settings: ChartSettings) -> Mapping[str, Array]:
        return {self.files[0]: activity.chart(self.days)}

    def load(self, read: ReadArray, n_users: int, n_items: int) -> SharedVector:
        vector = np.asarray(read(self.files[0]), dtype=np.float32)
        expect_shape(self.files[0], vector, (n_items,))
        expect_finite(self.files[0], vector)
        return SharedVector(vector)
