"""Step `split`: a time split into fit | ranker-label | test windows.

fit: t < t1; ranker labels: t1 <= t < t2; test: t >= t2. Nothing at or after a cutoff is
used by anything fitted at that cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys import columns as C
from recsys.config import SplitSettings
from recsys.errors import InputDataError
from recsys.train.rundir import RunDir

WINDOWS = ("fit", "rank_train", "test")


def cutoffs(timestamps: pd.Series, settings: SplitSettings) -> tuple[int, int]:
    if settings.t1 is not None and settings.t2 is not None:
        return int(pd.Timestamp(settings.t1).timestamp()), int(pd.Timestamp(settings.t2).timestamp())
    start, end = int(timestamps.min()), int(timestamps.max()) + 1
    span = end - start
    return start + int(span * settings.t1_fraction), start + int(span * settings.t2_fraction)


def split_windows(interactions: pd.DataFrame, t1: int, t2: int) -> dict[str, pd.DataFrame]:
    ts = interactions[C.TIMESTAMP]
    return {
        "fit": interactions[ts < t1],
        "rank_train": interactions[(ts >= t1) & (ts < t2)],
        "test": interactions[ts >= t2],
    }


def run_split(run: RunDir, settings: SplitSettings) -> dict[str, int]:
    interactions = run.read_parquet("prepare", "interactions.parquet")
    t1, t2 = cutoffs(interactions[C.TIMESTAMP], settings)
    windows = split_windows(interactions, t1, t2)
    empty = [name for name, frame in windows.items() if frame.empty]
    if empty:
        raise InputDataError(f"split leaves no interactions in {', '.join(empty)}: adjust [split] t1/t2")
    out = run.step("split")
    for name, frame in windows.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    counts = {name: len(frame) for name, frame in windows.items()}
    run.write_json(
        "split",
        "split.json",
        {
            "t1": t1,
            "t2": t2,
            "end": int(interactions[C.TIMESTAMP].max()) + 1,
            "t1_iso": pd.Timestamp(t1, unit="s", tz="UTC").isoformat(),
            "t2_iso": pd.Timestamp(t2, unit="s", tz="UTC").isoformat(),
            **{f"{k}_interactions": v for k, v in counts.items()},
            **{f"{k}_users": int(np.unique(f[C.USER_IDX]).size) for k, f in windows.items()},
        },
    )
    return counts


def history_for(run: RunDir, cut: str) -> tuple[pd.DataFrame, float]:
    """The interactions a cut may use, and the 'now' its time features are measured from."""
    split = run.read_json("split", "split.json")
    fit = run.read_parquet("split", "fit.parquet")
    if cut == "t1":
        return fit, float(split["t1"])
    rank_train = run.read_parquet("split", "rank_train.parquet")
    if cut == "t2":
        return pd.concat([fit, rank_train], ignore_index=True), float(split["t2"])
    test = run.read_parquet("split", "test.parquet")
    return pd.concat([fit, rank_train, test], ignore_index=True), float(split["end"])
