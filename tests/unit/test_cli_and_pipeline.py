"""The `recsys` command on data that is not MovieTweetings, and its one-line errors."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from recsys import artifacts as A
from recsys.cli import main
from recsys.config import load_settings
from recsys.synthetic import make_dataset
from recsys.train.pipeline import TrainJob

from ..conftest import FAST

FAST_CLI = [arg for setting in FAST for arg in ("--set", setting)]


def test_synthetic_model_directory_is_complete_and_verified(synthetic_run: TrainJob) -> None:
    manifest = A.Manifest.read(synthetic_run.out)
    manifest.check_complete()
    A.verify_files(synthetic_run.out, manifest)
    assert {f.name for f in manifest.files} >= set(manifest.serving.required_files())
    assert manifest.serving.source_names == load_settings().candidates.sources
    assert "item_meta_release_day" in manifest.features  # numeric metadata became a feature
    assert "item_cat_studio" in manifest.features  # low-cardinality text became a category
    assert "genres_match" in manifest.features  # a list column became tags
    # the baseline family: hard-window charts and decayed popularity, each source alone, stage 1; then the model
    family = ["chart_14d", "chart_all", "decay_1d", "decay_3d", "decay_7d", "decay_14d"]
    assert manifest.metrics["systems"] == [*family, *manifest.serving.source_names, "stage1", "two_stage"]
    assert manifest.metrics["best_baseline"]["name"] in manifest.metrics["baselines"]
    for system in manifest.metrics["systems"]:
        for segment in ("all", "warm", "cold"):
            assert set(manifest.metrics[system][segment]) >= {
                "ndcg@10",
                "recall@50",
                "map@10",
                "mrr@10",
                "coverage@50",
            }
    assert 0 < manifest.metrics["candidates"]["recall"] <= 1
    trees = json.loads((synthetic_run.run.root / "stage2" / "training.json").read_text())["fold1"]["best_iteration"]
    if trees <= 4:  # a shortlist of 4 trees would cover the whole ranker: it scores in one pass
        assert "shortlist" not in manifest.metrics
    else:
        shortlist = manifest.metrics["shortlist"]  # the served ranking measured against one-pass scoring
        assert (shortlist["trees"], shortlist["size"], shortlist["agreement_k"]) == (4, 50, 10)
        assert 0.5 < shortlist["agreement_with_one_pass"] <= 1
        assert 0 < shortlist["one_pass"]["ndcg@10"] <= 1
    importance = pd.read_csv(synthetic_run.out / A.FEATURE_IMPORTANCE)
    assert importance["gain"].sum() > 0


def test_train_evaluate_score_through_the_cli(
    tmp_path: Path, synthetic_paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    interactions, items = synthetic_paths
    out = tmp_path / "model"
    args = ["train", "--interactions", str(interactions), "--items", str(items), "--out", str(out), "-v"]
    assert main([*args, *FAST_CLI]) == 0
    printed, progress = capsys.readouterr()
    # -v: a bar per step even off a terminal; ranker training and evaluation say what they are doing
    for step in ("prepare", "split", "stage1", "features", "stage2", "evaluate", "package"):
        assert f"{step:<9}: 100%" in progress
    assert re.search(r"(fold1|final): round 1/80, later-window nDCG@10 0\.\d{4}", progress)
    assert re.search(r"evaluate .*fold1: \w+", progress)  # the system being evaluated
    assert "two_stage" in printed and "nDCG@10" in printed and "Best baseline" in printed
    table = printed.split("\nmodel ")[0]  # the last line names paths of any length
    assert max(len(line) for line in table.splitlines()) <= 100  # fits a 100-column terminal
    assert (out / A.MANIFEST).is_file()
    assert (tmp_path / "model.run" / "stage2" / "training.json").is_file()

    assert main(["evaluate", "--model", str(out)]) == 0
    assert "popularity" in capsys.readouterr().out
    assert main(["evaluate", "--model", str(out), "--markdown"]) == 0
    assert "| two_stage |" in capsys.readouterr().out

    users = tmp_path / "users.jsonl"
    rows = ['{"user_id": "u00001"}', '{"user_id": "bad id!"}', '{"user_id": "u00002", "k": 3}', "{oops"]
    users.write_text("\n".join([*rows, '{"user_id": "never-seen"}']) + "\n")
    scored = tmp_path / "scored.parquet"
    assert main(["score", "--model", str(out), "--users", str(users), "--k", "7", "--out", str(scored)]) == 0
    assert "scored 3 of 5 rows" in capsys.readouterr().out
    # the batch job's row rules: the same rows rejected, kept with their line and reason beside the output
    errors = [json.loads(line) for line in (tmp_path / "scored.errors.jsonl").read_text().splitlines()]
    assert [(e["line"], e["row"]) for e in errors] == [(2, rows[1]), (4, rows[3])]
    assert "bad user_id" in errors[0]["reason"] and errors[1]["reason"] == "malformed line"
    table = pq.read_table(scored).to_pandas()
    assert list(table.columns) == ["user_id", "rank", "item_id", "score", "reason"]
    assert table.groupby("user_id").size().to_dict() == {"u00001": 7, "u00002": 3, "never-seen": 7}
    non_personal = {"popularity", "chart_1d", "chart_3d", "chart_7d", "chart_30d"}
    assert set(table[table["user_id"] == "never-seen"]["reason"]) <= non_personal
    for _, group in table.groupby("user_id"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert np.all(np.diff(group["score"].to_numpy()) <= 0)


def test_rerun_of_one_step_reuses_the_run_directory(
    synthetic_run: TrainJob, capsys: pytest.CaptureFixture[str]
) -> None:
    run = synthetic_run.run.root
    before = json.loads((run / "evaluate" / "metrics.json").read_text())
    args = ["train", "--interactions", str(synthetic_run.interactions), "--out", str(synthetic_run.out)]
    assert main([*args, "--run-dir", str(run), "--steps", "evaluate", *FAST_CLI]) == 0
    printed, progress = capsys.readouterr()
    assert "ran evaluate" in printed
    assert progress == ""  # stderr is not a terminal here, as in CI: quiet unless -v
    after = json.loads((run / "evaluate" / "metrics.json").read_text())
    assert after["two_stage"]["all"]["ndcg@10"] == pytest.approx(before["two_stage"]["all"]["ndcg@10"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: command (see 'recsys --help')"),
        (["train", "--out", "m"], "(see 'recsys train --help')"),
        (["score", "--model", "m", "--users", "nope.jsonl", "--out", "o.parquet"], "nope.jsonl: file not found"),
        (["train", "--interactions", "nope.csv", "--out", "m"], "nope.csv: file not found"),
        (["train", "--out", "m"], "the following arguments are required: --interactions"),
        (["evaluate", "--model", "/nonexistent"], "no manifest.json"),
        (["train", "--interactions", "x.csv", "--out", "m", "--set", "sources.als.factors=-1"], "sources.als.factors"),
        (["train", "--interactions", "x.csv", "--out", "m", "--steps", "bogus"], "unknown step(s) bogus"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths in argv must never land in the repository
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_score_rejects_a_file_without_user_id(
    tmp_path: Path, synthetic_run: TrainJob, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "users.csv"
    users.write_text("customer\n1\n")
    code = main(
        [
            "score",
            "--model",
            str(synthetic_run.out),
            "--users",
            str(users),
            "--k",
            "5",
            "--out",
            str(tmp_path / "o.parquet"),
        ]
    )
    assert code == 2
    assert "users.csv: no user_id column in the csv header (customer)" in capsys.readouterr().err


def test_score_fails_whole_on_a_file_cut_off_halfway(
    tmp_path: Path, synthetic_run: TrainJob, capsys: pytest.CaptureFixture[str]
) -> None:
    """A truncated gzip: one line, exit 2, the previous output untouched and nothing partial left."""
    import gzip

    good, cut = tmp_path / "good.jsonl", tmp_path / "cut.jsonl.gz"
    good.write_text('{"user_id": "u00001"}\n')
    packed = gzip.compress(b'{"user_id": "u00002"}\n' * 5000)
    cut.write_bytes(packed[: len(packed) // 2])
    out = tmp_path / "scored.parquet"
    score = ["score", "--model", str(synthetic_run.out), "--out", str(out)]
    assert main([*score, "--users", str(good)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main([*score, "--users", str(cut)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"recsys: error: {cut}: unreadable (EOFError") and err.count("\n") == 1
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.jsonl.gz", "good.jsonl", "scored.parquet"]


def test_synth_writes_the_same_bytes_for_a_seed_and_data_with_the_promised_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sizes = ["--users", "2000", "--items", "5000", "--interactions", "40000", "--days", "60"]
    for folder, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert main(["synth", "--out", str(tmp_path / folder), *sizes, "--seed", seed]) == 0
    same = [(tmp_path / f / "interactions.parquet").read_bytes() for f in ("a", "b", "c")]
    assert same[0] == same[1] != same[2]
    assert (tmp_path / "a" / "items.parquet").read_bytes() == (tmp_path / "b" / "items.parquet").read_bytes()

    interactions = pd.read_parquet(tmp_path / "a" / "interactions.parquet")
    items = pd.read_parquet(tmp_path / "a" / "items.parquet")
    assert 0.95 * 40_000 <= len(interactions) <= 40_000
    assert not interactions.duplicated(["user_id", "item_id"]).any()  # a user takes an item once
    assert interactions["timestamp"].is_monotonic_increasing
    days = (pd.to_datetime(interactions["timestamp"]) - pd.Timestamp("2024-01-01", tz="UTC")).dt.total_seconds() / 86400
    released = interactions["item_id"].map(items.set_index("item_id")["release_day"])
    assert (days >= released - 0.05).all()  # nothing is taken before its release (release_day is rounded)
    per_item = interactions["item_id"].value_counts()
    assert per_item.head(50).sum() > 0.2 * len(interactions)  # power law: 1% of the items, over 20% of the takes
    per_user = interactions["user_id"].value_counts()
    assert per_user.iloc[0] > 20 * per_user.median()  # and a few very heavy users
    assert items["genres"].map(len).between(1, 2).all()

    # one item released after day 0 (seed 2): a draw on an earlier day could never be kept, and looped forever
    tiny, _ = make_dataset(n_users=5, n_items=1, n_interactions=10, seed=2)
    assert len(tiny) == 5  # each user takes the one item once

    capsys.readouterr()
    assert main(["synth", "--out", str(tmp_path / "d"), "--items", "0"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0  # one line
