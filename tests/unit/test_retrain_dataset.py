"""Events as training rows: which count, and what their values become beside the history's."""

from __future__ import annotations

import numpy as np
import pandas as pd
from recsys.retrain.dataset import events_as_interactions


def _events(**columns: list[object]) -> pd.DataFrame:
    base = {
        "user_id": ["u1", "u2", "u3", "u4"],
        "item_id": ["i1", "i2", "i3", "i4"],
        "sent_at_ms": [1_700_000_000_999, 1_700_000_060_000, 1_700_000_120_000, 1_700_000_180_000],
        "event_type": ["watch", "watch", "click", "watch"],
    }
    return pd.DataFrame({**base, **columns})


def test_only_counted_types_become_rows_at_their_second() -> None:
    rows = events_as_interactions(_events(), pd.DataFrame(), frozenset({"watch"}))
    assert rows["item_id"].tolist() == ["i1", "i2", "i4"]
    assert rows["timestamp"].tolist() == [1_700_000_000, 1_700_000_060, 1_700_000_180]
    assert list(rows.columns) == ["user_id", "item_id", "timestamp"]  # the history has no rating or weight


def test_event_values_are_ratings_within_the_historys_range() -> None:
    history = pd.DataFrame({"rating": [1.0, 5.0], "weight": [1.0, 0.5]})
    values = _events(event_value=[249.0, np.nan, 3.0, -2.0])
    rows = events_as_interactions(values, history, None)
    # a price-sized value is the top rating, a missing one a full interaction, a negative one nothing
    assert rows["rating"].tolist() == [5.0, 5.0, 3.0, 0.0]
    assert rows["weight"].tolist() == [1.0, 1.0, 1.0, 1.0]
    no_values = events_as_interactions(_events(), history, None)
    assert no_values["rating"].tolist() == [5.0] * 4


def test_no_events_give_no_rows_with_the_historys_columns() -> None:
    empty = pd.DataFrame(columns=["user_id", "item_id", "sent_at_ms", "event_type"])
    rows = events_as_interactions(empty, pd.DataFrame({"rating": [4.0]}), frozenset({"watch"}))
    assert rows.empty and list(rows.columns) == ["user_id", "item_id", "timestamp", "rating"]
