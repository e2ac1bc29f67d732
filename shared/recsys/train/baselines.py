"""The chart baselines a sceptical user would try first, at a cut: hard-window charts and
time-decayed popularity, each minus what the user has seen.

They rank through the same `SharedScores.top` the popularity source serves with, and are judged
by the same `offline_metrics` code as the model, so the comparison differs only in the ranking.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys import columns as C
from recsys.candidates.base import Exclusions
from recsys.candidates.scores import SharedVector
from recsys.config import EvaluateSettings
from recsys.ragged import Ragged
from recsys.sorting import positions_in_runs
from recsys.sources.chart import chart_counts
from recsys.sources.popularity import decayed_counts

F32 = npt.NDArray[np.float32]


def chart_vectors(history: pd.DataFrame, n_items: int, now: float, settings: EvaluateSettings) -> dict[str, F32]:
    """name -> one score per item: `chart_<d>d` (interactions in the last d days), `chart_all`, `decay_<h>d`.

    Ties in a chart (common in short windows) are broken by all-time count, then by item index. A
    chart that is also a configured source is the same vector (`recsys.sources.chart.chart_counts`).
    """
    items = history[C.ITEM_IDX].to_numpy(np.int64)
    timestamps = history[C.TIMESTAMP].to_numpy(np.float64)
    charts: dict[str, F32] = {}
    for days in settings.chart_days:
        charts[f"chart_{days}d"] = chart_counts(items, timestamps, n_items, now, days)
    charts["chart_all"] = chart_counts(items, timestamps, n_items, now, None)
    for half_life in settings.decay_half_lives:
        charts[f"decay_{half_life:g}d"] = decayed_counts(items, timestamps, n_items, now, half_life)
    return charts


def top_k_unseen(vector: F32, seen: Ragged, k: int) -> npt.NDArray[np.int32]:
    """Each row's top k items of one shared score vector, minus the row's seen items; (rows x k), -1 padded."""
    n_items = len(vector)
    scores = SharedVector(vector).score_rows(seen.rows)
    rows, items = scores.top(Exclusions.of(seen, n_items), k)
    matrix = np.full((seen.rows, k), -1, dtype=np.int32)
    rank = positions_in_runs(rows)
    matrix[rows, rank] = items
    return matrix
