"""The time split, and proof that nothing from the test window reaches training or features."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recsys.config import SplitSettings, load_settings
from recsys.train.pipeline import TrainJob, run_pipeline
from recsys.train.rundir import RunDir
from recsys.train.split import cutoffs, split_windows


def test_windows_are_half_open_at_the_cutoffs() -> None:
    frame = pd.DataFrame({"timestamp": [0, 9, 10, 19, 20, 30]})
    windows = split_windows(frame, t1=10, t2=20)
    assert windows["fit"]["timestamp"].tolist() == [0, 9]
    assert windows["rank_train"]["timestamp"].tolist() == [10, 19]
    assert windows["test"]["timestamp"].tolist() == [20, 30]


def test_cutoffs_by_fraction_and_by_date() -> None:
    ts = pd.Series([0, 99])
    assert cutoffs(ts, SplitSettings(t1_fraction=0.5, t2_fraction=0.75)) == (50, 75)
    by_date = SplitSettings(t1="2024-01-01T00:00:00Z", t2="2024-01-02T00:00:00Z")
    assert cutoffs(ts, by_date) == (1704067200, 1704153600)


def _fit_until_features(tmp_path: Path, interactions: Path, items: Path) -> RunDir:
    run = RunDir(tmp_path / "run")
    job = TrainJob(interactions, items, tmp_path / "model", run, load_settings(overrides=["sources.als.iterations=3"]))
    run_pipeline(job, only=["prepare", "split", "stage1", "features"], show_progress=False)
    return run


def _t1_t2_files(run: RunDir) -> dict[str, object]:
    out: dict[str, object] = {}
    for step in ("stage1", "features"):
        for cut in ("t1", "t2"):
            for path in sorted((run.root / step / cut).iterdir()):
                key = f"{step}/{cut}/{path.name}"
                out[key] = np.load(path) if path.suffix == ".npy" else pd.read_parquet(path)
    return out


def test_test_window_never_reaches_t1_or_t2_artifacts(tmp_path: Path, synthetic_paths: tuple[Path, Path]) -> None:
    """Scramble every test-window interaction: nothing fitted at t1 or t2 may change."""
    interactions_path, items_path = synthetic_paths
    original = _fit_until_features(tmp_path / "a", interactions_path, items_path)
    t2 = original.read_json("split", "split.json")["t2"]

    frame = pd.read_csv(interactions_path, dtype={"user_id": str, "item_id": str})
    seconds = (pd.to_datetime(frame["timestamp"], utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    test_rows = (seconds >= t2).to_numpy()
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
    before, after = _t1_t2_files(original), _t1_t2_files(scrambled)
    assert before.keys() == after.keys() and len(before) >= 16
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, after[key], err_msg=key)
        else:
            pd.testing.assert_frame_equal(value, after[key], obj=key)
    # and the full cut, which is allowed to see the test window, does change
    full_a = np.load(original.root / "stage1" / "full" / "seen_items.npy")
    full_b = np.load(scrambled.root / "stage1" / "full" / "seen_items.npy")
    assert not np.array_equal(full_a, full_b)


@pytest.mark.parametrize("cut", ["t1", "t2"])
def test_seen_index_at_a_cut_holds_only_earlier_interactions(synthetic_run: TrainJob, cut: str) -> None:
    run = synthetic_run.run
    split = run.read_json("split", "split.json")
    windows = ["fit"] if cut == "t1" else ["fit", "rank_train"]
    history = pd.concat([run.read_parquet("split", f"{w}.parquet") for w in windows])
    seen = np.load(run.root / "stage1" / cut / "seen_items.npy")
    assert len(seen) == len(history.drop_duplicates(["user_idx", "item_idx"]))
    assert history["timestamp"].max() < split[cut]
