"""Step `split`: the time grid of rolling-origin backtests.

Windows are `horizon` long, counted back from the end of the data: cut `c0` is the end, `cj`
is `end - j * horizon`. Backtest fold f tests on `[c_f, c_{f-1})` with everything fitted on
what came before `c_f`; its ranker learns from the `label_windows` windows before that, window
`[c_i, c_{i-1})` labelling candidates from stage 1 and features fitted at `c_i`, the most recent
window held out for early stopping. The served model is the same recipe at `c0`: stage 1 and
features on all the data, a ranker from the latest windows. Fold 1 (the latest) is the test
fold; the others are validation folds, the only ones settings may be chosen on.

Windows are half-open, `start <= t < stop`: nothing at or after a cutoff reaches what is
fitted at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys import columns as C
from recsys.config import SplitSettings
from recsys.errors import InputDataError
from recsys.train.rundir import RunDir

FINAL = "final"


@dataclass(frozen=True)
class Window:
    """Interactions with `start <= timestamp < stop`; candidates for it come from the fits at cut `cut`."""

    cut: str
    start: int
    stop: int


@dataclass(frozen=True)
class TimeGrid:
    start: int  # first timestamp
    end: int  # last timestamp + 1
    horizon: int
    folds: int
    label_windows: int

    @classmethod
    def of(cls, timestamps: pd.Series, settings: SplitSettings) -> TimeGrid:
        start, end = int(timestamps.min()), int(timestamps.max()) + 1
        horizon = (
            int(settings.horizon_days * C.DAY)
            if settings.horizon_days
            else int((end - start) * settings.horizon_fraction)
        )
        grid = cls(start, end, horizon, settings.folds, settings.label_windows)
        if grid.cut_time(grid.deepest) <= start or horizon <= 0:
            raise InputDataError(
                f"the data spans {(end - start) / C.DAY:.1f} days: too short for {settings.folds} fold(s) and "
                f"{settings.label_windows} label window(s) of {horizon / C.DAY:.1f} days; lower [split] folds, "
                "label_windows or the horizon"
            )
        return grid

    @property
    def deepest(self) -> int:
        return self.folds + self.label_windows

    def cut_time(self, j: int) -> int:
        return self.end - j * self.horizon

    @property
    def cuts(self) -> dict[str, int]:
        """Every cutoff something is fitted at: `c0` (all data) to the oldest label window's start."""
        return {f"c{j}": self.cut_time(j) for j in range(self.deepest + 1)}

    def window(self, j: int) -> Window:
        """The window that starts at cut `cj` (j >= 1)."""
        return Window(f"c{j}", self.cut_time(j), self.cut_time(j - 1))

    def ranker_windows(self, at: int) -> list[Window]:
        """The label windows of the ranker that serves from cut `c{at}`, latest first (it early-stops)."""
        return [self.window(at + i) for i in range(1, self.label_windows + 1)]

    @property
    def rankers(self) -> dict[str, list[Window]]:
        """One ranker per fold, and the served one."""
        rankers = {f"fold{f}": self.ranker_windows(f) for f in range(1, self.folds + 1)}
        rankers[FINAL] = self.ranker_windows(0)
        return rankers

    def fold(self, f: int) -> Fold:
        return Fold(f"fold{f}", "test" if f == 1 else "validation", f"c{f}", self.window(f))

    @property
    def all_folds(self) -> list[Fold]:
        """Fold 1 (the latest, the test fold) first."""
        return [self.fold(f) for f in range(1, self.folds + 1)]

    @classmethod
    def read(cls, run: RunDir) -> TimeGrid:
        """The grid the split step laid out, rebuilt from its parameters in split.json."""
        split = run.read_json("split", "split.json")
        return cls(split["start"], split["end"], split["horizon"], len(split["folds"]), split["label_windows"])

    def to_json(self) -> dict[str, Any]:
        """The grid's parameters (what `read` rebuilds it from) and, for people reading the run, what they lay out."""

        def iso(t: int) -> str:
            return pd.Timestamp(t, unit="s", tz="UTC").isoformat()

        return {
            "start": self.start,
            "end": self.end,
            "horizon": self.horizon,
            "label_windows": self.label_windows,
            "horizon_days": round(self.horizon / C.DAY, 3),
            "cuts": self.cuts,
            "folds": [
                {
                    "name": fold.name,
                    "role": fold.role,
                    "cut": fold.cut,
                    "test": [fold.test.start, fold.test.stop],
                    "test_iso": [iso(fold.test.start), iso(fold.test.stop)],
                }
                for fold in self.all_folds
            ],
            "rankers": {
                name: [{"cut": w.cut, "start": w.start, "stop": w.stop} for w in windows]
                for name, windows in self.rankers.items()
            },
        }


@dataclass(frozen=True)
class Fold:
    name: str
    role: str
    cut: str
    test: Window


def folds(run: RunDir) -> list[Fold]:
    return TimeGrid.read(run).all_folds


def ranker_windows(run: RunDir) -> dict[str, list[Window]]:
    return TimeGrid.read(run).rankers


def run_split(run: RunDir, settings: SplitSettings) -> dict[str, int]:
    interactions = run.read_parquet("prepare", "interactions.parquet")
    grid = TimeGrid.of(interactions[C.TIMESTAMP], settings)
    ts = interactions[C.TIMESTAMP].to_numpy()
    empty = [
        f"[{w.start}, {w.stop})"
        for ws in grid.rankers.values()
        for w in ws
        if not ((ts >= w.start) & (ts < w.stop)).any()
    ]
    if empty:
        raise InputDataError(f"no interactions in label window(s) {', '.join(sorted(set(empty)))}: adjust [split]")
    body = grid.to_json()
    body["interactions_per_window"] = {
        f"c{j}": int(((ts >= grid.cut_time(j)) & (ts < grid.cut_time(j - 1))).sum()) for j in range(1, grid.deepest + 1)
    }
    body["users_per_window"] = {
        f"c{j}": int(np.unique(interactions[C.USER_IDX][(ts >= grid.cut_time(j)) & (ts < grid.cut_time(j - 1))]).size)
        for j in range(1, grid.deepest + 1)
    }
    run.write_json("split", "split.json", body)
    counts: dict[str, int] = body["interactions_per_window"]
    return counts


def window_interactions(run: RunDir, window: Window) -> pd.DataFrame:
    interactions = run.read_parquet("prepare", "interactions.parquet")
    ts = interactions[C.TIMESTAMP]
    return interactions[(ts >= window.start) & (ts < window.stop)]


def history_for(run: RunDir, cut: str) -> tuple[pd.DataFrame, float]:
    """The interactions a cut may use (strictly before it), and the 'now' its time features are measured from."""
    at = int(run.read_json("split", "split.json")["cuts"][cut])
    interactions = run.read_parquet("prepare", "interactions.parquet")
    return interactions[interactions[C.TIMESTAMP] < at], float(at)
