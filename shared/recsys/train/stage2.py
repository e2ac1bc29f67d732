"""Step `stage2`: LightGBM LambdaRank on stage-1 candidates labelled by the [t1, t2) window."""

from __future__ import annotations

from collections.abc import Callable

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
from recsys.ranking.topk import top_k_per_row
from recsys.recommender import Recommender, Request
from recsys.train.rundir import RunDir


def _labelled_candidates(
    run: RunDir, settings: TrainSettings, advance: Callable[[], object]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64], tuple[str, ...]]:
    serving = settings.serving_config()
    model = ModelArrays.load(*run.model_path("t1"), source_names=serving.source_names)
    recommender = Recommender.build(model, ReciprocalRankFusion(), serving)
    window = run.read_parquet("split", "rank_train.parquet")
    label_keys = np.unique(window[C.USER_IDX].to_numpy(np.int64) * model.n_items + window[C.ITEM_IDX].to_numpy())
    users = np.unique(window[C.USER_IDX].to_numpy(np.int32))
    cap = settings.ranker.max_candidates_per_user
    blocks: list[npt.NDArray[np.float32]] = []
    labels: list[npt.NDArray[np.float32]] = []
    groups: list[npt.NDArray[np.int64]] = []
    for chunk in chunks(users):
        request = Request(users=chunk, k=np.full(len(chunk), cap, dtype=np.int64))
        batch, candidates = recommender.candidates(request)
        fused = ReciprocalRankFusion().score(model, batch, candidates, request.k)
        keep, _ = top_k_per_row(candidates.row, candidates.item, fused, request.k)
        candidates = candidates.select(np.sort(keep))
        label = np.isin(chunk[candidates.row].astype(np.int64) * model.n_items + candidates.item, label_keys)
        positives = np.bincount(candidates.row, weights=label, minlength=len(chunk))
        useful = positives[candidates.row] > 0  # a query with no positive teaches LambdaRank nothing
        candidates = candidates.select(useful)
        blocks.append(assemble(model, batch, candidates))
        labels.append(label[useful].astype(np.float32))
        groups.append(np.bincount(candidates.row, minlength=len(chunk)))
        advance()
    group_sizes = np.concatenate(groups)
    return (
        np.concatenate(blocks),
        np.concatenate(labels),
        group_sizes[group_sizes > 0],
        feature_names(model, recommender.generator.source_names),
    )


def run_stage2(run: RunDir, settings: TrainSettings, advance: Callable[[], object]) -> dict[str, float]:
    features, labels, groups, names = _labelled_candidates(run, settings, advance)
    if len(groups) < 10:
        raise InputDataError(f"only {len(groups)} users have a candidate they went on to use: too little to rank")
    rs = settings.ranker
    rng = np.random.default_rng(rs.random_state)
    is_valid_group = rng.random(len(groups)) < rs.validation_fraction
    row_is_valid = np.repeat(is_valid_group, groups)
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
    train_set = lgb.Dataset(
        features[~row_is_valid],
        labels[~row_is_valid],
        group=groups[~is_valid_group],
        feature_name=list(names),
    )
    valid_set = lgb.Dataset(
        features[row_is_valid], labels[row_is_valid], group=groups[is_valid_group], reference=train_set
    )
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=rs.num_boost_round,
        valid_sets=[valid_set],
        valid_names=["held_out_users"],
        callbacks=[lgb.early_stopping(rs.early_stopping_rounds, verbose=False)],
    )
    out = run.step("stage2")
    booster.save_model(str(out / A.RANKER), num_iteration=booster.best_iteration)
    importance = pd.DataFrame(
        {
            "feature": booster.feature_name(),
            "gain": booster.feature_importance("gain", iteration=booster.best_iteration),
            "splits": booster.feature_importance("split", iteration=booster.best_iteration),
        }
    ).sort_values("gain", ascending=False)
    importance.to_csv(out / A.FEATURE_IMPORTANCE, index=False)
    summary = {
        "queries": len(groups),
        "rows": len(labels),
        "positive_rate": float(labels.mean()),
        "best_iteration": int(booster.best_iteration),
        "held_out_ndcg@10": float(booster.best_score["held_out_users"]["ndcg@10"]),
    }
    run.write_json("stage2", "training.json", summary)
    return summary
