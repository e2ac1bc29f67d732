"""Stage 2 scoring: tag-match feature groups, the shortlist's two passes against one-pass LightGBM, top-k."""

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from recsys import artifacts as A
from recsys.artifacts import ShortlistConfig
from recsys.config import load_settings
from recsys.errors import ModelIntegrityError
from recsys.features import assemble as assemble_module
from recsys.features.arrays import tag_groups
from recsys.features.assemble import assemble
from recsys.loaded import LoadedModel
from recsys.model import ModelArrays
from recsys.ranking.scorers import LightGBMScorer
from recsys.ranking.topk import top_k_per_row
from recsys.recommender import Request
from recsys.train.pipeline import TrainJob

SIZE = 15


@pytest.fixture(scope="module")
def model(synthetic_run: TrainJob) -> LoadedModel:
    return LoadedModel.from_dir(synthetic_run.out)


def test_tag_groups_are_column_ranges() -> None:
    assert tag_groups(["genres=Drama", "genres=Comedy", "lang=en"]) == {"genres": slice(0, 2), "lang": slice(2, 3)}
    assert tag_groups([]) == {}
    with pytest.raises(ModelIntegrityError, match="genres"):
        tag_groups(["genres=Drama", "lang=en", "genres=Comedy"])


def test_a_model_whose_tag_groups_interleave_fails_at_load(synthetic_run: TrainJob, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(synthetic_run.out, copy)
    for name in (A.USER_TAGS, A.ITEM_TAGS):
        table = pq.read_table(copy / name)
        names = table.column_names
        names[2] = "other=x"  # genres=..., other=x, genres=...: the genres columns are no longer one range
        pq.write_table(table.rename_columns(names), copy / name)
    with pytest.raises(ModelIntegrityError, match="not next to each other"):
        ModelArrays.load(copy, source_names=A.Manifest.read(copy).serving.source_names)


def test_top_k_per_row_breaks_ties_by_item_and_never_picks_minus_infinity() -> None:
    row = np.array([0, 0, 0, 0, 1, 1], dtype=np.int64)
    item = np.array([5, 3, 4, 7, 1, 2], dtype=np.int32)
    score = np.array([1.0, 1.0, -np.inf, 0.5, 2.0, -np.inf], dtype=np.float32)
    keep, rank = top_k_per_row(row, item, score, np.array([2, 3], dtype=np.int64))
    assert keep.tolist() == [1, 0, 4]
    assert rank.tolist() == [1, 2, 1]


def test_shortlist_finishes_each_rows_best_pairs_with_the_one_pass_score(model: LoadedModel) -> None:
    booster = model.recommender.scorer.booster  # type: ignore[attr-defined]
    iterations = booster.current_iteration()
    assert iterations >= 8
    base = model.manifest.serving.ranker_base  # the served scorers boost from the chart: both passes add it
    assert base is not None
    one_pass = LightGBMScorer(booster, base=base)
    shortlisted = LightGBMScorer(booster, ShortlistConfig(trees=iterations // 4, size=SIZE), base=base)
    users = np.arange(60, dtype=np.int32)
    users[-10:] = -1  # unknown users too
    k = np.full(len(users), 10, dtype=np.int64)
    k[0] = 40  # a row asking for more than the shortlist holds
    batch, candidates = model.recommender.candidates(Request(users=users, k=k))

    exact = one_pass.score(model.arrays, batch, candidates, k)
    fast = shortlisted.score(model.arrays, batch, candidates, k)

    finished = np.isfinite(fast)
    np.testing.assert_allclose(fast[finished], exact[finished], rtol=1e-6)
    assert np.isneginf(fast[~finished]).all()
    per_row = np.bincount(candidates.row[finished], minlength=len(users))
    available = np.bincount(candidates.row, minlength=len(users))
    np.testing.assert_array_equal(per_row, np.minimum(np.maximum(k, SIZE), available))
    # the first pass ranks by the early trees: the shortlist is each row's best by that partial score
    matrix = assemble(model.arrays, batch, candidates)
    partial = base.of(matrix[:, booster.feature_name().index(base.feature)]) + booster.predict(
        matrix, num_iteration=iterations // 4
    )
    for r in (0, 1, 55):
        in_row = candidates.row == r
        cut = np.sort(partial[in_row])[::-1][per_row[r] - 1]
        assert (partial[in_row & finished] >= cut).all()


def test_shortlist_is_read_from_the_manifest_and_skipped_when_it_would_cover_every_tree(model: LoadedModel) -> None:
    assert model.manifest.serving.shortlist == ShortlistConfig(trees=4, size=50)  # tests/conftest.py FAST
    assert model.recommender.scorer.shortlist == ShortlistConfig(trees=4, size=50)  # type: ignore[attr-defined]
    assert load_settings(overrides=["ranker.shortlist_trees=0"]).serving_config().shortlist is None
    booster = model.recommender.scorer.booster  # type: ignore[attr-defined]
    assert LightGBMScorer(booster, ShortlistConfig(trees=booster.current_iteration(), size=5)).shortlist is None


def test_nan_factors_are_refused_at_load(synthetic_run: TrainJob, tmp_path: Path) -> None:
    """A diverged ALS fit writes NaN without failing; the loader refuses it instead of serving garbage."""
    copy = tmp_path / "model"
    shutil.copytree(synthetic_run.out, copy)
    factors = np.load(copy / "als_item_factors.npy")
    factors[3, 0] = np.nan
    np.save(copy / "als_item_factors.npy", factors)
    with pytest.raises(ModelIntegrityError, match=r"als_item_factors\.npy holds NaN"):
        LoadedModel.from_dir(copy, verify=False)


@pytest.mark.parametrize("column_gather_from", [0, 10**9])
def test_each_assembled_column_holds_its_named_feature_from_the_model_files(
    model: LoadedModel, synthetic_run: TrainJob, column_gather_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns gathered one at a time (a batch) or rows at once (one user) must land under their own
    names: checked against the parquet tables read with pandas, for known and unknown users."""
    monkeypatch.setattr(assemble_module, "COLUMN_GATHER_MIN_PAIRS", column_gather_from)
    users = np.asarray([0, 5, -1, 17], dtype=np.int32)
    batch, candidates = model.recommender.candidates(Request(users=users, k=np.full(4, 10, dtype=np.int64)))
    matrix = assemble(model.arrays, batch, candidates)
    names = list(model.recommender.scorer.booster.feature_name())  # type: ignore[attr-defined]
    user_table = pq.read_table(synthetic_run.out / A.USER_FEATURES).to_pandas().drop(columns="user_idx")
    item_table = pq.read_table(synthetic_run.out / A.ITEM_FEATURES).to_pandas().drop(columns="item_idx")
    user_rows = users[candidates.row].astype(np.int64)
    user_rows[user_rows < 0] = len(user_table) - 1  # the no-history row
    assert len(user_table.columns) > 3 and len(item_table.columns) > 3
    for column in user_table.columns:
        expected = user_table[column].to_numpy(np.float32)[user_rows]
        np.testing.assert_array_equal(matrix[:, names.index(column)], expected, err_msg=column)
    for column in item_table.columns:
        expected = item_table[column].to_numpy(np.float32)[candidates.item]
        np.testing.assert_array_equal(matrix[:, names.index(column)], expected, err_msg=column)
