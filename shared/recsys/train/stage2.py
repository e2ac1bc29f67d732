"""Step `stage2`: LightGBM LambdaRank rankers, one per backtest fold and the served one.

Each ranker learns from the label windows before the cut it serves from (`recsys.train.split`):
window `[c_i, c_{i-1})` labels the stage-1 candidates of its users, generated from stage 1 and
features fitted at `c_i`. The most recent window is held out for early stopping, so the number
of trees is chosen on data later in time than what the ranker was fitted on. A window's labelled
candidates are built once and shared by every ranker that uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys import artifacts as A
from recsys import columns as C
from recsys.bulk import chunks
from recsys.config import TrainSettings
from recsys.errors import InputDataError
from recsys.features.assemble import assemble, feature_names
from recsys.model import ModelArrays
from recsys.ranking.scorers import ReciprocalRankFusion
from recsys.recommender import Recommender, Request
from recsys.runtime.settings import DEFAULT_K
from recsys.train.progress import Progress
from recsys.train.rundir import RunDir
from recsys.train.split import Window, ranker_windows, window_interactions


@dataclass(frozen=True)
class Labelled:
    """One label window's candidate pairs: features, 0/1 labels, and each query's (user's) size."""

    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.float32]
    groups: npt.NDArray[np.int64]
    names: tuple[str, ...]

    @classmethod
    def concat(cls, parts: list[Labelled]) -> Labelled:
        return cls(
            np.concatenate([p.features for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.groups for p in parts]),
            parts[0].names,
        )


def label_window(run: RunDir, settings: TrainSettings, window: Window) -> Labelled:
    """The stage-1 candidates of the window's users (at most `max_candidates_per_user`, by rank fusion),
    labelled 1 where the user took the item in the window; users with no positive are dropped."""
    serving = settings.serving_config()
    model = ModelArrays.load(*run.model_path(window.cut), source_names=serving.source_names)
    recommender = Recommender.build(model, ReciprocalRankFusion(), serving)
    taken = window_interactions(run, window)
    label_keys = np.unique(taken[C.USER_IDX].to_numpy(np.int64) * model.n_items + taken[C.ITEM_IDX].to_numpy())
    users = np.unique(taken[C.USER_IDX].to_numpy(np.int32))
    cap = settings.ranker.max_candidates_per_user
    blocks: list[npt.NDArray[np.float32]] = []
    labels: list[npt.NDArray[np.float32]] = []
    groups: list[npt.NDArray[np.int64]] = []
    for chunk in chunks(users, model.seen):
        # generated as serving generates them (a backfill source proposes max(its count, k) items, and
        # serving's k is small), so source ranks and n_sources mean in training what they mean when served
        request = Request(users=chunk, k=np.full(len(chunk), DEFAULT_K, dtype=np.int64))
        batch, candidates = recommender.candidates(request)
        keep = recommender.rank(batch, candidates, np.full(len(chunk), cap, dtype=np.int64)).pair
        candidates = candidates.select(np.sort(keep))
        label = np.isin(chunk[candidates.row].astype(np.int64) * model.n_items + candidates.item, label_keys)
        positives = np.bincount(candidates.row, weights=label, minlength=len(chunk))
        useful = positives[candidates.row] > 0  # a query with no positive teaches LambdaRank nothing
        candidates = candidates.select(useful)
        blocks.append(assemble(model, batch, candidates))
        labels.append(label[useful].astype(np.float32))
        sizes = np.bincount(candidates.row, minlength=len(chunk))
        groups.append(sizes[sizes > 0])
    names = feature_names(model, serving.source_names)
    if not blocks:
        return Labelled(np.zeros((0, len(names)), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), names)
    return Labelled(np.concatenate(blocks), np.concatenate(labels), np.concatenate(groups), names)


def _round_note(ranker: str, progress: Progress) -> Callable[[lgb.callback.CallbackEnv], None]:
    """A LightGBM callback: each boosting round and the early-stopping window's nDCG@10, as a progress note."""

    def note(env: lgb.callback.CallbackEnv) -> None:
        scores = {entry[0]: entry[2] for entry in env.evaluation_result_list or []}  # (data, metric, value, ...)
        progress.note(
            f"{ranker}: round {env.iteration + 1}/{env.end_iteration}, "
            f"later-window nDCG@10 {scores.get('later_window', float('nan')):.4f}"
        )

    return note


def train_ranker(
    train: Labelled,
    valid: Labelled,
    settings: TrainSettings,
    on_round: Callable[[lgb.callback.CallbackEnv], None] | None = None,
) -> lgb.Booster:
    for part, data in (("training", train), ("early-stopping", valid)):
        if len(data.groups) < 10:
            raise InputDataError(
                f"only {len(data.groups)} users in the {part} label window(s) have a candidate they went on to "
                "use: too little to rank (more data, or a longer [split] horizon)"
            )
    rs = settings.ranker
    params = {
        "objective": rs.objective,
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": rs.learning_rate,
        "num_leaves": rs.num_leaves,
        "min_data_in_leaf": rs.min_data_in_leaf,
        "feature_fraction": rs.feature_fraction,
        "bagging_fraction": rs.bagging_fraction,
        "bagging_freq": rs.bagging_freq,
        "lambda_l2": rs.lambda_l2,
        "seed": rs.random_state,
        "num_threads": rs.num_threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }
    base = settings.serving_config().ranker_base

    def init_score(data: Labelled) -> npt.NDArray[np.float64] | None:
        if base is None:
            return None
        if base.feature not in data.names:
            raise InputDataError(
                f"ranker.base_feature {base.feature!r} is not a feature; features: {', '.join(data.names)}"
            )
        return base.of(data.features[:, data.names.index(base.feature)])

    train_set = lgb.Dataset(
        train.features, train.labels, group=train.groups, feature_name=list(train.names), init_score=init_score(train)
    )
    valid_set = lgb.Dataset(
        valid.features, valid.labels, group=valid.groups, reference=train_set, init_score=init_score(valid)
    )
    return lgb.train(
        params,
        train_set,
        num_boost_round=rs.num_boost_round,
        # the training set is watched too, for the record: early stopping skips the set named "training"
        valid_sets=[train_set, valid_set],
        valid_names=["training", "later_window"],
        callbacks=[lgb.early_stopping(rs.early_stopping_rounds, verbose=False), *([on_round] if on_round else [])],
    )


def save_ranker(booster: lgb.Booster, out: Path) -> None:
    booster.save_model(str(out / A.RANKER), num_iteration=booster.best_iteration)
    importance = pd.DataFrame(
        {
            "feature": booster.feature_name(),
            "gain": booster.feature_importance("gain", iteration=booster.best_iteration),
            "splits": booster.feature_importance("split", iteration=booster.best_iteration),
        }
    ).sort_values("gain", ascending=False)
    importance.to_csv(out / A.FEATURE_IMPORTANCE, index=False)


def run_stage2(run: RunDir, settings: TrainSettings, progress: Progress) -> dict[str, Any]:
    rankers = ranker_windows(run)
    labelled: dict[Window, Labelled] = {}
    for window in sorted({w for windows in rankers.values() for w in windows}, key=lambda w: -w.start):
        progress.note(f"labelling the window from cut {window.cut}")
        labelled[window] = label_window(run, settings, window)
        progress.advance()
    summary: dict[str, Any] = {}
    for name, windows in rankers.items():
        valid, train = labelled[windows[0]], Labelled.concat([labelled[w] for w in windows[1:]])
        booster = train_ranker(train, valid, settings, on_round=_round_note(name, progress))
        save_ranker(booster, run.step("stage2", name))
        summary[name] = {
            "windows": [{"cut": w.cut, "start": w.start, "stop": w.stop} for w in windows],
            "train_queries": len(train.groups),
            "train_rows": len(train.labels),
            "positive_rate": float(train.labels.mean()),
            "best_iteration": int(booster.best_iteration),
            "later_window_ndcg@10": float(booster.best_score["later_window"]["ndcg@10"]),
            "training_ndcg@10": float(booster.best_score["training"]["ndcg@10"]),
        }
        progress.advance()
    run.write_json("stage2", "training.json", summary)
    return summary
