"""Item activity moved forward with new interactions equals the activity of the whole history at the later time,
and so do the trend columns, charts and popularity computed from it: the overlay serves what a retrained
model's trend files would hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recsys import columns as C
from recsys.config import load_settings
from recsys.trends.activity import Interactions, ItemActivity
from recsys.trends.columns import activity_needs, item_trend_columns

DAY = C.DAY


def history(seed: int, n_items: int, start: float, end: float, n: int) -> Interactions:
    rng = np.random.default_rng(seed)
    items = rng.zipf(1.6, n) % n_items
    times = np.sort(rng.uniform(start, end, n))
    values = np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 6, n).astype(float))
    return Interactions.of(items, times, values)


@pytest.fixture
def split() -> tuple[Interactions, float, float]:
    whole = history(0, 300, 0.0, 60 * DAY, 20_000)
    return whole, 45 * DAY + 123.0, 52 * DAY + 4567.0  # history, cutoff, later


def test_moving_activity_forward_equals_summarising_the_longer_history(
    split: tuple[Interactions, float, float],
) -> None:
    whole, cutoff, later = split
    settings = load_settings()
    half_lives, days = activity_needs(settings)
    at_cutoff = ItemActivity.of(whole.where(whole.timestamp < cutoff), 300, cutoff, half_lives, days)
    # new items (300..309) arrive after the cutoff, and some events fall outside [cutoff, later)
    extra = Interactions.of(
        [300, 305, 309, 305], [cutoff + 10, cutoff + 20, later + 5, cutoff - 5], [4.0, np.nan, 1, 2]
    )
    arriving = whole.where(whole.timestamp >= cutoff).concat(extra)
    moved = at_cutoff.advanced(arriving, later, n_items=310)
    counted = arriving.where((arriving.timestamp >= cutoff) & (arriving.timestamp < later))
    scratch = ItemActivity.of(whole.where(whole.timestamp < cutoff).concat(counted), 310, later, half_lives, days)

    for name in ("n", "first", "last", "value_n", "value_sum", "value_sumsq"):
        np.testing.assert_allclose(getattr(moved, name), getattr(scratch, name), rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(moved.decayed, scratch.decayed, rtol=1e-9)
    assert moved.n[300] == 1 and moved.n[309] == 0  # the one after `later` is not counted yet
    released = np.full(310, np.nan)
    fresh = item_trend_columns(moved, settings.features, released)
    expected = item_trend_columns(scratch, settings.features, released)
    assert list(fresh) == list(expected)
    for name in fresh:
        np.testing.assert_allclose(fresh[name], expected[name], rtol=1e-5, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(moved.chart(7), scratch.chart(7))
    np.testing.assert_allclose(moved.popularity(7.0), scratch.popularity(7.0), rtol=1e-6)


def test_activity_round_trips_through_its_files(tmp_path: Path, split: tuple[Interactions, float, float]) -> None:
    whole, cutoff, _ = split
    activity = ItemActivity.of(whole.where(whole.timestamp < cutoff), 300, cutoff, (1.0, 7.0), 30.0)
    activity.write(tmp_path)
    again = ItemActivity.read(tmp_path)
    assert (again.now, again.half_lives, again.recent_days) == (cutoff, (1.0, 7.0), 30.0)
    np.testing.assert_array_equal(again.decayed, activity.decayed)
    np.testing.assert_array_equal(again.recent.item, activity.recent.item)
    assert again.recent.timestamp.min() >= cutoff - 30 * DAY


def test_activity_refuses_to_move_back_in_time(split: tuple[Interactions, float, float]) -> None:
    whole, cutoff, _ = split
    activity = ItemActivity.of(whole.where(whole.timestamp < cutoff), 300, cutoff, (7.0,), 30.0)
    with pytest.raises(ValueError, match="back in time"):
        activity.advanced(Interactions.of([], []), cutoff - 1)
