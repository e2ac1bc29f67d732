"""Shared fixtures: sample events, small datasets and one trained model per test session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from recsys.config import load_settings
from recsys.train.pipeline import TrainJob, run_pipeline
from recsys.train.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "events"
DEMO_DATA = ROOT / "data" / "demo"

#: Quick settings for tests: fewer ALS iterations and boosting rounds, same pipeline; a shortlist
#: short enough that the small rankers these give still score in two passes.
FAST = (
    "sources.als.factors=32",
    "sources.als.iterations=8",
    "ranker.num_boost_round=80",
    "ranker.early_stopping_rounds=20",
    "ranker.shortlist_trees=4",
    "split.folds=1",  # one backtest fold: tests/unit/test_backtest.py covers several
)


def load_event(name: str) -> dict[str, Any]:
    """One of the real-shaped events in tests/events (the same files `sam local invoke -e` takes)."""
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = "integration" if "integration" in item.path.parts else "unit"
        item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def synthetic_paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from recsys.synthetic import write_dataset

    # seed 2: its rankers keep 20-40 trees (seed 0's keep 1-3), which the shortlist tests need
    return write_dataset(tmp_path_factory.mktemp("synthetic"), seed=2)


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory, synthetic_paths: tuple[Path, Path]) -> TrainJob:
    root = tmp_path_factory.mktemp("synthetic-model")
    interactions, items = synthetic_paths
    job = TrainJob(interactions, items, root / "model", RunDir(root / "run"), load_settings(overrides=FAST))
    run_pipeline(job, show_progress=False)
    return job


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled MovieTweetings data trained with the quick settings: a 10k-item catalog."""
    root = tmp_path_factory.mktemp("demo-model")
    job = TrainJob(
        DEMO_DATA / "ratings.dat",
        DEMO_DATA / "movies.dat",
        root / "model",
        RunDir(root / "run"),
        load_settings(overrides=FAST),
    )
    run_pipeline(job, show_progress=False)
    return job.out


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so no test can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
