"""The replay measurement (infra/scripts/replay.py) sees no day before it happens."""

from __future__ import annotations

import sys

import pandas as pd

from ..conftest import ROOT

sys.path.insert(0, str(ROOT / "infra" / "scripts"))
from replay import DAY, SESSION_EVENTS, history_before, session_before, split


def frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_the_held_out_days_start_at_the_cut_and_training_ends_before_it() -> None:
    end = 100 * DAY
    data = frame([("u", "a", 10), ("u", "b", end - 3 * DAY), ("v", "c", end - 2 * DAY - 1), ("v", "d", end - 1)])
    replay = split(data, days=2)
    cut = end - 2 * DAY  # the data ends at its last timestamp + 1 s
    assert replay.starts == [cut, cut + DAY]
    assert replay.train["item_id"].tolist() == ["a", "b", "c"]
    assert replay.events["item_id"].tolist() == ["d"]


def test_a_session_holds_only_events_before_the_day_newest_first_each_item_once() -> None:
    start = 50 * DAY
    events = frame(
        [("u", "a", start - 30), ("u", "b", start - 20), ("u", "a", start - 10), ("u", "late", start), ("v", "x", 5)]
    )
    sessions = session_before(events, start)
    assert sessions == {"u": ["a", "b"], "v": ["x"]}


def test_a_session_reads_at_most_the_tables_newest_events() -> None:
    events = frame([("u", f"i{n}", n) for n in range(SESSION_EVENTS + 5)])
    assert session_before(events, 10**9)["u"] == [f"i{n}" for n in range(SESSION_EVENTS + 4, 4, -1)]


def test_a_day_sees_the_training_data_and_the_events_before_it_nothing_later() -> None:
    """What the refreshed chart counts and the model retrained that day (`--retrain-daily`) learns from."""
    end = 100 * DAY
    last = ("w", "e", end - 1)  # the data ends here: the cut is at end - 2 days
    data = frame(
        [("u", "a", 10), ("u", "b", end - 2 * DAY - 1), ("v", "c", end - 2 * DAY + 5), ("v", "d", end - DAY), last]
    )
    replay = split(data, days=2)
    assert history_before(replay, replay.starts[0])["item_id"].tolist() == ["a", "b"]
    assert history_before(replay, replay.starts[1])["item_id"].tolist() == ["a", "b", "c"]  # not d, at the start
