"""Study: how far could ANY non-personal ranking get above the best baseline on each backtest fold?

Method. Every fold's test users, relevant sets, seen exclusion and nDCG@10 are those of `recsys
evaluate` (`relevant_items`, `top_k_unseen`, `ranking_metrics`, the fits at the fold's cut), and
one shared score vector per system is ranked for every user minus what they have seen:

- the chart baselines (`chart_vectors`) at the fold's cut, checked against the model's stored
  metrics (what `recsys evaluate` prints) to 4 decimals;
- `oracle_chart`: items by their interaction count inside the fold's own test window, a hindsight
  ceiling for one-list-for-everyone rankings (it cheats: it reads the test window);
- `trend_forecast`: a small LightGBM Poisson model of each item's count in the next horizon, from
  item counts in the last 1/3/7/14/30 days and all time, decayed counts (1/3/7-day half-lives), days
  since first interaction and release-year gap; trained on the 4 horizon-spaced cuts before the
  fold's cut, whose target windows end at or before it. Only interactions before the fold's cut are
  read, and only items with history before a cut are scored at it, so nothing at or after the cut
  leaks in.

Run from the repository root, after `make train`:

    python infra/studies/ceiling.py models/demo.run [--model models/demo] [--baseline decay_1d]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

# idle OpenMP threads sleep instead of spinning: on a busy machine spinning makes 2-thread LightGBM ~100x slower
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from recsys import columns as C
from recsys.config import EvaluateSettings
from recsys.model import ModelArrays
from recsys.offline_metrics import ranking_metrics
from recsys.ragged import Ragged
from recsys.sources.popularity import decayed_counts
from recsys.train.baselines import chart_vectors, top_k_unseen
from recsys.train.evaluate import relevant_items
from recsys.train.rundir import RunDir
from recsys.train.split import Fold, TimeGrid, history_for, window_interactions

DAY = 86_400.0
YEAR = 365.25 * DAY
K = 10
BASELINES = ("chart_7d", "decay_1d", "decay_3d")
WINDOWS_DAYS = (1, 3, 7, 14, 30)
HALF_LIVES = (1.0, 3.0, 7.0)
TRAIN_CUTS = 4
PARAMS = {
    "objective": "poisson",
    "num_leaves": 15,
    "learning_rate": 0.05,
    "min_data_in_leaf": 50,
    "seed": 42,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
ROUNDS = 200
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Scores = dict[str, tuple[float, float]]  # system -> nDCG@10 of all users, of warm users


def item_features(history: pd.DataFrame, year: F64, n_items: int, now: float) -> tuple[F64, npt.NDArray[np.bool_]]:
    """(n_items x features) at `now` from interactions strictly before it, and which items have any."""
    history = history[history[C.TIMESTAMP] < now]
    items = history[C.ITEM_IDX].to_numpy(np.int64)
    ts = history[C.TIMESTAMP].to_numpy(np.float64)
    all_time = np.bincount(items, minlength=n_items).astype(np.float64)
    columns = [np.bincount(items[ts >= now - d * DAY], minlength=n_items).astype(np.float64) for d in WINDOWS_DAYS]
    columns.append(all_time)
    columns += [decayed_counts(items, ts, n_items, now, h).astype(np.float64) for h in HALF_LIVES]
    first = np.full(n_items, np.inf)
    np.minimum.at(first, items, ts)
    columns.append(np.where(all_time > 0, (now - first) / DAY, np.nan))
    columns.append(now / YEAR + 1970.0 - year)
    return np.column_stack(columns), all_time > 0


def trend_forecast(history: pd.DataFrame, year: F64, n_items: int, grid: TimeGrid, fold_index: int) -> F32:
    """Predicted count per item in the horizon after the fold's cut; items without history score -1."""
    cut = grid.cut_time(fold_index)
    if int(history[C.TIMESTAMP].max()) >= cut:
        raise AssertionError("leak: history reaches the fold's cut")
    xs, ys = [], []
    for k in range(1, TRAIN_CUTS + 1):
        t = grid.cut_time(fold_index + k)
        if t + grid.horizon > cut or t <= grid.start:
            raise AssertionError(f"training cut {t} is not a leakage-free earlier cut")
        x, known = item_features(history, year, n_items, t)
        ts = history[C.TIMESTAMP].to_numpy()
        target = np.bincount(
            history[C.ITEM_IDX].to_numpy(np.int64)[(ts >= t) & (ts < t + grid.horizon)], minlength=n_items
        )
        xs.append(x[known])
        ys.append(target[known])
    booster = lgb.train(PARAMS, lgb.Dataset(np.vstack(xs), np.concatenate(ys).astype(np.float64)), ROUNDS)
    x, known = item_features(history, year, n_items, float(cut))
    scores = np.full(n_items, -1.0, dtype=np.float32)
    scores[known] = np.asarray(booster.predict(x[known]), dtype=np.float32)
    return scores


def ndcg(vector: F32, seen: Ragged, relevant: Ragged, warm: npt.NDArray[np.bool_], n_items: int) -> tuple[float, float]:
    """nDCG@10 of one shared ranking minus each user's seen items: all users, warm users."""
    recommended = top_k_unseen(vector, seen, K)
    every = ranking_metrics(recommended, relevant, K, n_items)[f"ndcg@{K}"]
    hot = ranking_metrics(recommended[warm], relevant.take_rows(np.flatnonzero(warm)), K, n_items)[f"ndcg@{K}"]
    return every, hot


def study_fold(run: RunDir, grid: TimeGrid, fold: Fold, year: F64, settings: EvaluateSettings, best: str) -> Scores:
    model = ModelArrays.load(*run.model_path(fold.cut), source_names=(), with_features=False)
    test = window_interactions(run, fold.test)
    users = np.unique(test[C.USER_IDX].to_numpy(np.int32))
    relevant = relevant_items(test, users, model)
    warm = np.diff(model.seen.indptr)[users] > 0
    seen = model.seen.take_rows(users)
    history, now = history_for(run, fold.cut)
    n = model.n_items
    charts = chart_vectors(history, n, now, settings)
    if best not in charts:
        raise SystemExit(f"--baseline {best}: not one of the chart baselines {', '.join(charts)}")
    vectors = {name: v for name, v in charts.items() if name in (*BASELINES, best)}
    all_time = np.bincount(history[C.ITEM_IDX].to_numpy(np.int64), minlength=n)
    in_window = np.bincount(test[C.ITEM_IDX].to_numpy(np.int64), minlength=n)
    vectors["oracle_chart"] = (in_window + all_time / (all_time.max() + 1.0)).astype(np.float32)  # ties: all time
    vectors["trend_forecast"] = trend_forecast(history, year, n, grid, int(fold.cut[1:]))
    return {name: ndcg(v, seen, relevant, warm, n) for name, v in vectors.items()}


def time_grid(run: RunDir) -> TimeGrid:
    """`TimeGrid.read`, also for run directories from before split.json recorded `label_windows`."""
    split = run.read_json("split", "split.json")
    if "label_windows" in split:
        return TimeGrid.read(run)
    return TimeGrid(split["start"], split["end"], split["horizon"], len(split["folds"]), len(split["rankers"]["fold1"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run directory, e.g. models/demo.run")
    parser.add_argument("--model", type=Path, help="the model directory (default: the run's name without .run)")
    parser.add_argument("--baseline", help="the best baseline (default: the model's metrics best_baseline)")
    args = parser.parse_args()
    started = time.perf_counter()
    run = RunDir(args.run)
    model_dir = args.model or args.run.with_suffix("")
    stored = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))["metrics"]
    best = args.baseline or stored["best_baseline"]["name"]
    run_settings = json.loads((run.root / "settings.json").read_text(encoding="utf-8"))
    settings = EvaluateSettings.model_validate(run_settings["evaluate"])
    grid = time_grid(run)
    items = run.read_parquet("prepare", "items.parquet")
    year = np.full(int(items[C.ITEM_IDX].max()) + 1, np.nan)
    year[items[C.ITEM_IDX].to_numpy()] = items["year"].to_numpy(np.float64)
    order = list(reversed(grid.all_folds))  # fold3, fold2, fold1 (the test fold last)
    results = {fold.name: study_fold(run, grid, fold, year, settings, best) for fold in order}

    names = [f.name + ("*" if f.role == "test" else "") for f in order]
    print(f"nDCG@{K} (all / warm users), one list for everyone minus seen; * = test fold")
    print(f"{'system':<18}" + "".join(f"{n + ' all':>12}{'warm':>8}" for n in names))
    mismatches = []
    for system in results[order[0].name]:
        cells = ""
        for fold in order:
            every, hot = results[fold.name][system]
            cells += f"{every:>12.4f}{hot:>8.4f}"
            if system in (*BASELINES, best):
                want = stored["folds"][fold.name]["results"][system]
                expected = (want["all"][f"ndcg@{K}"], want["warm"][f"ndcg@{K}"])
                if f"{every:.4f} {hot:.4f}" != f"{expected[0]:.4f} {expected[1]:.4f}":
                    mismatches.append(f"{fold.name}/{system}")
        print(f"{system:<18}{cells}")
    for system in ("oracle_chart", "trend_forecast"):
        cells = "".join(
            f"{results[f.name][system][0] / results[f.name][best][0]:>11.2f}x"
            f"{results[f.name][system][1] / results[f.name][best][1]:>7.2f}x"
            for f in order
        )
        print(f"{system.split('_')[0] + ' / ' + best:<18}{cells}")
    check = "all match" if not mismatches else "MISMATCH " + ", ".join(mismatches)
    print(f"baselines vs {model_dir}/manifest.json (what `recsys evaluate` prints), 4 decimals: {check}")
    print(f"runtime {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
