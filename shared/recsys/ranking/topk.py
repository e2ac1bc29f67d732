"""Each row's best pairs from a long (row, item, score) list, in one vectorised sort."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from recsys.sorting import positions_in_runs, rows_best_first


def top_k_per_row(
    row: npt.NDArray[np.int64], item: npt.NDArray[np.int32], score: npt.NDArray[np.floating], k: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Indices of each row's k best pairs (ties broken by item index), and their 1-based ranks.

    Pairs scored -inf are never picked: a scorer uses it for pairs it ruled out.
    """
    eligible = np.flatnonzero(score > -np.inf)
    order = eligible[rows_best_first(row[eligible], item[eligible], score[eligible])]
    sorted_rows = row[order]
    position = positions_in_runs(sorted_rows)
    keep = position < k[sorted_rows]
    return order[keep], position[keep] + 1
