"""The time-dependent item columns of the ranker, computed from item activity at its `now`.

Training calls this at each cutoff and the live-trends overlay at each refresh: one function,
so a refreshed `item_n_7d` means what the ranker learned it to mean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from recsys import columns as C
from recsys import sources as registry
from recsys.candidates.base import TrendSource
from recsys.trends.activity import F64, ItemActivity, with_ties

if TYPE_CHECKING:
    from recsys.config import FeatureSettings, TrainSettings

F32 = npt.NDArray[np.float32]
#: the window of `item_value_mean_7d`
VALUE_WINDOW_DAYS = 7


def years(timestamps: npt.ArrayLike) -> F64:
    """Unix seconds -> calendar years (fractional)."""
    converted: F64 = 1970.0 + np.asarray(timestamps, dtype=np.float64) / (365.25 * C.DAY)
    return converted


def chart_rank(counts: F64, all_time: F64) -> F32:
    """Each item's position in a chart (0 = top; ties by all-time count, then item index)."""
    order = np.lexsort((np.arange(len(counts)), -all_time, -counts))
    rank = np.empty(len(counts), dtype=np.float32)
    rank[order] = np.arange(len(counts), dtype=np.float32)
    return rank


def activity_needs(settings: TrainSettings) -> tuple[tuple[float, ...], float]:
    """The half-lives and the days of recent interactions that the features and the configured trend
    sources read from item activity."""
    half_lives = set(settings.features.decay_half_lives)
    days: set[float] = {*settings.features.windows_days, VALUE_WINDOW_DAYS}
    for source in registry.resolve(settings.candidates.sources):
        if isinstance(source, TrendSource):
            wanted_half_lives, wanted_days = source.activity_needs(settings.source(source.name))
            half_lives |= set(wanted_half_lives)
            days.add(wanted_days)
    return tuple(sorted(float(h) for h in half_lives)), float(max(days))


def _nan_where_none(values: F64) -> F64:
    cleaned: F64 = np.where(np.isfinite(values), values, np.nan)
    return cleaned


def item_trend_columns(activity: ItemActivity, settings: FeatureSettings, released: F64) -> dict[str, F32]:
    """Counts, ranks and growth in each window, decayed counts, age, release-year gap and rating stats:
    what a trend looks like at `activity.now`. `released` is each item's release year (NaN: unknown).
    Ranks and growth ratios compare across windows of different traffic; raw counts do not."""
    now, n = activity.now, activity.n
    days = sorted(settings.windows_days)
    windows = {d: activity.window_counts(d) for d in days}
    counts32 = {d: counts.astype(np.float32) for d, counts in windows.items()}  # the growth the ranker learned
    growth = {
        f"item_growth_{short}_{long}": (counts32[short] + 1) / (counts32[long] + 1) * (long / short)
        for short, long in zip(days, days[2:], strict=False)
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        value_mean = np.where(activity.value_n > 0, activity.value_sum / activity.value_n, np.nan)
        value_var = np.where(activity.value_n > 0, activity.value_sumsq / activity.value_n - value_mean**2, np.nan)
    recent = activity.window(VALUE_WINDOW_DAYS)
    known = ~np.isnan(recent.value)
    recent_value = np.bincount(recent.item[known], weights=recent.value[known], minlength=activity.n_items)
    recent_count = np.bincount(recent.item[known], minlength=activity.n_items)
    days_since_first = _nan_where_none((now - activity.first) / C.DAY)
    columns = {
        "item_n": n,
        **{f"item_n_{d}d": windows[d] for d in days},
        **{f"item_rank_{d}d": chart_rank(windows[d], n) for d in days},
        "item_rank_all": chart_rank(n, n),
        **{f"item_decay_{h:g}d": with_ties(activity.decay(h), n) for h in settings.decay_half_lives},
        **growth,
        "item_days_since_first": days_since_first,
        "item_log_age": np.log1p(days_since_first),
        "item_days_since_last": _nan_where_none((now - activity.last) / C.DAY),
        "item_year_gap": years(now) - released,
        "item_value_mean": value_mean,
        "item_value_std": np.sqrt(np.clip(value_var, 0, None)),
        "item_value_mean_7d": np.where(recent_count > 0, recent_value / np.maximum(recent_count, 1), np.nan),
    }
    return {name: np.asarray(values, dtype=np.float32) for name, values in columns.items()}
