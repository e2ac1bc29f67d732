"""The time split, and proof that nothing from the test window reaches training or features."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recsys.config import SplitSettings, load_settings
from recsys.errors import InputDataError
from recsys.train.pipeline import TrainJob, run_pipeline
from recsys.train.rundir import RunDir
from recsys.train.split import TimeGrid, Window, history_for, window_interactions


def _grid(folds: int = 3, label_windows: int = 2) -> TimeGrid:
    return TimeGrid.of(
        pd.Series([0, 999]), SplitSettings(horizon_fraction=0.1, folds=folds, label_windows=label_windows)
    )


def test_folds_and_label_windows_tile_time_without_overlap() -> None:
    grid = _grid()
    assert grid.cuts == {"c0": 1000, "c1": 900, "c2": 800, "c3": 700, "c4": 600, "c5": 500}
    tests = [(grid.cut_time(f), grid.cut_time(f - 1)) for f in range(1, grid.folds + 1)]
    assert tests == [(900, 1000), (800, 900), (700, 800)]  # consecutive, disjoint, fold1 the latest
    for f in range(1, grid.folds + 1):
        windows = grid.rankers[f"fold{f}"]
        # every label window ends at or before its fold's test window starts, the latest first (early stopping)
        assert windows[0].stop == grid.cut_time(f) and all(w.stop <= grid.cut_time(f) for w in windows)
        assert [w.start for w in windows] == sorted((w.start for w in windows), reverse=True)
        assert all(w.cut == f"c{f + i + 1}" and w.stop - w.start == 100 for i, w in enumerate(windows))
    assert [w.cut for w in grid.rankers["final"]] == ["c1", "c2"]  # the served ranker learns from the latest
    split = grid.to_json()
    assert [f["role"] for f in split["folds"]] == ["test", "validation", "validation"]


def test_a_grid_that_does_not_fit_the_data_is_refused() -> None:
    with pytest.raises(InputDataError, match="too short for 8 fold"):
        TimeGrid.of(pd.Series([0, 999]), SplitSettings(horizon_fraction=0.1, folds=8, label_windows=2))


def test_windows_are_half_open(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    frame = pd.DataFrame({"timestamp": [0, 9, 10, 19, 20, 30], "user_idx": 0, "item_idx": 0})
    run.step("prepare")
    frame.to_parquet(tmp_path / "prepare" / "interactions.parquet")
    assert window_interactions(run, Window("c1", 10, 20))["timestamp"].tolist() == [10, 19]


def _fit_until_features(tmp_path: Path, interactions: Path, items: Path) -> RunDir:
    run = RunDir(tmp_path / "run")
    job = TrainJob(interactions, items, tmp_path / "model", run, load_settings(overrides=["sources.als.iterations=3"]))
    run_pipeline(job, only=["prepare", "split", "stage1", "features"], show_progress=False)
    return run


def _fitted_before(run: RunDir, cuts: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for step in ("stage1", "features"):
        for cut in cuts:
            for path in sorted((run.root / step / cut).iterdir()):
                key = f"{step}/{cut}/{path.name}"
                out[key] = np.load(path) if path.suffix == ".npy" else pd.read_parquet(path)
    return out


def test_the_test_window_never_reaches_what_is_fitted_before_it(
    tmp_path: Path, synthetic_paths: tuple[Path, Path]
) -> None:
    """Scramble every interaction of the latest fold's test window: nothing fitted at c1 or earlier may change."""
    interactions_path, items_path = synthetic_paths
    original = _fit_until_features(tmp_path / "a", interactions_path, items_path)
    cuts = original.read_json("split", "split.json")["cuts"]
    test_start = cuts["c1"]

    frame = pd.read_csv(interactions_path, dtype={"user_id": str, "item_id": str})
    seconds = (pd.to_datetime(frame["timestamp"], utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    test_rows = (seconds >= test_start).to_numpy()
    assert test_rows.sum() > 100
    rng = np.random.default_rng(1)
    original_items = frame["item_id"].copy()
    frame.loc[test_rows, "item_id"] = rng.permutation(frame.loc[test_rows, "item_id"].to_numpy())
    frame.loc[test_rows, "rating"] = rng.permutation(frame.loc[test_rows, "rating"].to_numpy())
    while (clash := frame.duplicated(["user_id", "item_id"], keep=False).to_numpy() & test_rows).any():
        frame.loc[clash, "item_id"] = original_items[clash]  # keep every row, so the id maps stay the same
    assert (frame["item_id"] != original_items).sum() > 100
    changed = tmp_path / "changed.csv"
    frame.to_csv(changed, index=False)
    scrambled = _fit_until_features(tmp_path / "b", changed, items_path)

    for ids in ("user_ids.parquet", "item_ids.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(original.root / "prepare" / ids),
            pd.read_parquet(scrambled.root / "prepare" / ids),
        )
    before_cuts = [cut for cut in cuts if cut != "c0"]
    before, after = _fitted_before(original, before_cuts), _fitted_before(scrambled, before_cuts)
    assert before.keys() == after.keys() and len(before) == 17 * len(before_cuts)  # 11 stage-1, 4 tables, 2 activity
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, after[key], err_msg=key)
        else:
            pd.testing.assert_frame_equal(value, after[key], obj=key)
    # and c0, which is allowed to see the test window, does change
    full_a = np.load(original.root / "stage1" / "c0" / "seen_items.npy")
    full_b = np.load(scrambled.root / "stage1" / "c0" / "seen_items.npy")
    assert not np.array_equal(full_a, full_b)


def test_seen_index_at_each_cut_holds_only_earlier_interactions(synthetic_run: TrainJob) -> None:
    run = synthetic_run.run
    interactions = run.read_parquet("prepare", "interactions.parquet")
    for cut, at in run.read_json("split", "split.json")["cuts"].items():
        history = interactions[interactions["timestamp"] < at]
        seen = np.load(run.root / "stage1" / cut / "seen_items.npy")
        assert len(seen) == len(history.drop_duplicates(["user_idx", "item_idx"])), cut


def test_an_interaction_exactly_at_a_cut_belongs_to_the_window_after_it(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.step("prepare")
    pd.DataFrame({"timestamp": [5, 9, 10, 11], "user_idx": 0, "item_idx": [0, 1, 2, 3]}).to_parquet(
        tmp_path / "prepare" / "interactions.parquet"
    )
    run.write_json("split", "split.json", {"cuts": {"c0": 12, "c1": 10}})
    history, now = history_for(run, "c1")
    assert history["timestamp"].tolist() == [5, 9] and now == 10.0
