"""The backtest's judgement: the baseline family ranks with the served code and the same metrics, the best
baseline is chosen on validation folds only, and a ranker boosted from a chart adds that chart back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from recsys.artifacts import RankerBase
from recsys.config import EvaluateSettings
from recsys.loaded import LoadedModel
from recsys.offline_metrics import ranking_metrics
from recsys.ragged import Ragged
from recsys.ranking.scorers import LightGBMScorer
from recsys.recommender import Request
from recsys.train.baselines import chart_vectors, top_k_unseen
from recsys.train.evaluate import best_baseline
from recsys.train.pipeline import TrainJob

DAY = 86_400


def test_charts_count_the_window_and_skip_what_each_user_has_seen() -> None:
    now = 100 * DAY
    history = pd.DataFrame(
        {
            "item_idx": [0, 0, 0, 1, 1, 2, 2, 2, 2, 3],
            # item 0: three interactions 10 days ago; 1: two yesterday; 2: four 40 days ago; 3: one today
            "timestamp": [now - 10 * DAY] * 3 + [now - DAY + 5] * 2 + [now - 40 * DAY] * 4 + [now - 60],
        }
    )
    charts = chart_vectors(history, 5, float(now), EvaluateSettings(chart_days=(1, 30), decay_half_lives=(1.0,)))
    seen = Ragged.from_lists([[], [1]])  # the second user has seen item 1
    assert top_k_unseen(charts["chart_1d"], seen, 3).tolist() == [[1, 3, 2], [3, 2, 0]]  # ties: all-time count
    assert top_k_unseen(charts["chart_30d"], seen, 2).tolist() == [[0, 1], [0, 3]]
    assert top_k_unseen(charts["chart_all"], seen, 1).tolist() == [[2], [2]]
    assert top_k_unseen(charts["decay_1d"], seen, 2).tolist() == [[1, 3], [3, 0]]


def test_the_best_baseline_is_chosen_on_validation_folds_only() -> None:
    def fold(role: str, a: float, b: float) -> dict[str, Any]:
        return {"role": role, "results": {"a": {"all": {"ndcg@10": a}}, "b": {"all": {"ndcg@10": b}}}}

    folds = {
        "fold1": fold("test", 0.9, 0.1),
        "fold2": fold("validation", 0.1, 0.2),
        "fold3": fold("validation", 0.2, 0.3),
    }
    chosen = best_baseline(folds, ["a", "b"])
    assert chosen["name"] == "b"  # although "a" wins the test fold by far
    assert chosen["chosen_on"] == ["fold2", "fold3"]
    only_test = best_baseline({"fold1": folds["fold1"]}, ["a", "b"])
    assert (only_test["name"], only_test["chosen_on"]) == ("a", ["fold1"])  # said, not hidden


def test_every_reported_system_is_scored_by_the_same_metric_code(synthetic_run: TrainJob) -> None:
    """Recompute a chart baseline of the test fold from scratch and find the stored numbers."""
    from recsys.train.evaluate import relevant_items
    from recsys.train.split import folds, history_for, window_interactions

    run = synthetic_run.run
    metrics = run.read_json("evaluate", "metrics.json")
    fold = next(f for f in folds(run) if f.role == "test")
    model = LoadedModel.from_dir(synthetic_run.out)  # id maps are the same at every cut
    test = window_interactions(run, fold.test)
    users = np.unique(test["user_idx"].to_numpy(np.int32))
    from recsys.model import ModelArrays

    at_cut = ModelArrays.load(*run.model_path(fold.cut), source_names=model.manifest.serving.source_names)
    history, now = history_for(run, fold.cut)
    vector = chart_vectors(history, at_cut.n_items, now, EvaluateSettings())["chart_14d"]
    recommended = top_k_unseen(vector, at_cut.seen.take_rows(users), 10)
    expected = ranking_metrics(recommended, relevant_items(test, users, at_cut), 10, at_cut.n_items)
    assert metrics["folds"][fold.name]["results"]["chart_14d"]["all"]["ndcg@10"] == pytest.approx(expected["ndcg@10"])


def test_a_ranker_boosted_from_a_chart_adds_the_chart_back(demo_model_dir: Any) -> None:
    model = LoadedModel.from_dir(demo_model_dir)
    scorer = model.recommender.scorer
    assert isinstance(scorer, LightGBMScorer)
    base = model.manifest.serving.ranker_base
    assert base == RankerBase(feature="item_decay_1d", weight=1.0)
    users = np.arange(20, dtype=np.int32)
    batch, candidates = model.recommender.candidates(Request(users=users, k=np.full(20, 10, dtype=np.int64)))
    from recsys.features.assemble import assemble

    matrix = assemble(model.arrays, batch, candidates)
    column = matrix[:, scorer.feature_names.index("item_decay_1d")]
    expected = np.log1p(np.maximum(np.nan_to_num(column), 0)) + scorer.booster.predict(matrix)
    one_pass = LightGBMScorer(scorer.booster, base=base).score(model.arrays, batch, candidates, np.full(20, 10))
    np.testing.assert_allclose(one_pass, expected, rtol=1e-5, atol=1e-6)  # float32 scores
    without = LightGBMScorer(scorer.booster).score(model.arrays, batch, candidates, np.full(20, 10))
    assert not np.allclose(without, one_pass)  # the base changes the scores: dropping it would be caught


def _lightgbm_ndcg_at_10(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
    values, start = [], 0
    discount = 1.0 / np.log2(np.arange(2, 12))
    for size in groups:
        score, label = scores[start : start + size], labels[start : start + size]
        start += size
        top = label[np.argsort(-score, kind="stable")][:10]
        ideal = np.sort(label)[::-1][:10]
        values.append(
            float(((2**top - 1) * discount[: len(top)]).sum() / ((2**ideal - 1) * discount[: len(ideal)]).sum())
        )
    return float(np.mean(values))


def test_the_ranker_was_trained_from_the_base_it_is_served_with(synthetic_run: TrainJob) -> None:
    """Base + trees on the training and the early-stopping windows give the nDCG@10 LightGBM recorded
    while training; trees alone do not (so the base was in both sets)."""
    import lightgbm as lgb
    from recsys.train.split import ranker_windows
    from recsys.train.stage2 import label_window

    run, settings = synthetic_run.run, synthetic_run.settings
    base = settings.serving_config().ranker_base
    assert base is not None
    recorded = run.read_json("stage2", "training.json")["final"]
    booster = lgb.Booster(model_file=str(run.root / "stage2" / "final" / "ranker.txt"))
    valid_window, train_window = ranker_windows(run)["final"]  # two label windows: the latest early-stops
    for window, key in ((valid_window, "later_window_ndcg@10"), (train_window, "training_ndcg@10")):
        data = label_window(run, settings, window)
        trees = booster.predict(data.features)
        with_base = base.of(data.features[:, data.names.index(base.feature)]) + trees
        assert _lightgbm_ndcg_at_10(with_base, data.labels, data.groups) == pytest.approx(recorded[key], abs=1e-4)
        assert _lightgbm_ndcg_at_10(trees, data.labels, data.groups) != pytest.approx(recorded[key], abs=1e-4)
