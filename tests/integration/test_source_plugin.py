"""Adding a candidate source is one module and one registration: proved with a toy source defined here,
trained, published to S3 (moto) and served through both handlers, without touching another file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import candidates_handler
import numpy as np
import numpy.typing as npt
import pytest
import rerank_handler
from recsys import artifacts as A
from recsys import columns as C
from recsys import sources
from recsys.candidates.base import FitInput, ReadArray, SourceScores, SourceSettings, UserBatch, expect_shape
from recsys.candidates.scores import SharedScores
from recsys.config import load_settings
from recsys.errors import ModelIntegrityError
from recsys.loaded import LoadedModel
from recsys.runtime.container import get_provider
from recsys.runtime.local_context import LocalLambdaContext
from recsys.store.lifecycle import publish
from recsys.store.s3 import S3ModelStore
from recsys.train.pipeline import TrainJob, run_pipeline
from recsys.train.rundir import RunDir

from ..conftest import FAST
from .conftest import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NEWEST = "new_arrivals_first_seen.npy"


class NewArrivalsSettings(SourceSettings):
    candidates: int = 30


@dataclass(frozen=True)
class LoadedNewArrivals:
    first_seen: npt.NDArray[np.float32]
    order: npt.NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", np.argsort(-self.first_seen, kind="stable").astype(np.int64))

    def score(self, batch: UserBatch) -> SourceScores:
        return SharedScores(self.first_seen, self.order, len(batch))


class NewArrivals:
    """The items first seen most recently, for everyone: a source a real catalog might well want."""

    name = "new_arrivals"
    settings_model = NewArrivalsSettings
    backfill = False
    files = (NEWEST,)

    def fit(self, data: FitInput, settings: NewArrivalsSettings) -> Mapping[str, Any]:
        first = data.history.groupby(C.ITEM_IDX)[C.TIMESTAMP].min()
        days_ago = np.full(data.n_items, np.inf)
        days_ago[first.index.to_numpy()] = (data.now - first.to_numpy()) / 86_400.0
        return {NEWEST: (-np.minimum(days_ago, 1e6)).astype(np.float32)}  # higher is newer

    def load(self, read: ReadArray, n_users: int, n_items: int) -> LoadedNewArrivals:
        first_seen = np.asarray(read(NEWEST), dtype=np.float32)
        expect_shape(NEWEST, first_seen, (n_items,))
        return LoadedNewArrivals(first_seen)


@pytest.fixture
def new_arrivals() -> Iterator[NewArrivals]:
    source = NewArrivals()
    sources.register(source)
    yield source
    sources.unregister(source.name)


@pytest.fixture(scope="module")
def trained_with_new_arrivals(synthetic_paths: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> TrainJob:
    """The synthetic data trained with the toy source added to the configured list."""
    source = NewArrivals()
    sources.register(source)
    try:
        interactions, items = synthetic_paths
        root = tmp_path_factory.mktemp("new-arrivals")
        settings = load_settings(
            overrides=[*FAST, 'candidates.sources=["als", "covisit", "popularity", "new_arrivals"]']
        )
        job = TrainJob(interactions, items, root / "model", RunDir(root / "run"), settings)
        run_pipeline(job, show_progress=False)
    finally:
        sources.unregister(source.name)
    return job


def test_a_registered_source_trains_publishes_and_serves(
    new_arrivals: NewArrivals,
    trained_with_new_arrivals: TrainJob,
    s3: S3Client,
    serving_env: None,
    lambda_context: LocalLambdaContext,
) -> None:
    job = trained_with_new_arrivals
    manifest = A.Manifest.read(job.out)

    # training: its file, its ranker features, its candidate count and its baseline system
    assert NEWEST in {entry.name for entry in manifest.files}
    assert {"new_arrivals_score", "new_arrivals_rank"} <= set(manifest.features)
    assert manifest.serving.sources["new_arrivals"] == 30
    assert "new_arrivals" in manifest.metrics["systems"]
    assert manifest.metrics["new_arrivals"]["all"]["ndcg@10"] >= 0

    publish(job.out, S3ModelStore(BUCKET, "recsys"))
    newest = np.load(job.out / NEWEST)

    # serving, stage 1: an unknown user's candidates carry the toy source's own ranks
    event = {"action": "candidates", "user_id": "someone-new", "k": 100}
    answer = candidates_handler.handler(event, lambda_context)
    assert "error" not in answer, answer
    by_rank = {item["sources"]["new_arrivals"]["rank"]: item["item_id"] for item in answer["items"]}
    model = get_provider(with_ranker=False).get()
    newest_id = model.arrays.items.ids[int(np.argmax(newest))]
    assert by_rank.get(1) == newest_id  # its top item is the newest item of the catalog

    # serving, both stages: the ranker scores with the toy source's features
    answer = rerank_handler.handler({"user_id": "someone-new", "k": 10}, lambda_context)
    assert "error" not in answer, answer
    assert len(answer["items"]) == 10
    ranked = get_provider(with_ranker=True).get()
    assert "new_arrivals" in ranked.recommender.generator.source_names


def test_a_model_naming_a_source_this_code_does_not_know_is_refused(trained_with_new_arrivals: TrainJob) -> None:
    # the fixture has unregistered the toy source: this code, like a container without the plug-in, lacks it
    with pytest.raises(ModelIntegrityError, match="unknown candidate source 'new_arrivals'"):
        LoadedModel.from_dir(trained_with_new_arrivals.out)


def test_publishing_a_model_with_a_source_this_code_does_not_know_is_refused(
    trained_with_new_arrivals: TrainJob, s3: S3Client
) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    with pytest.raises(ModelIntegrityError, match="unknown candidate source 'new_arrivals'"):
        publish(trained_with_new_arrivals.out, store)
    assert store.current_version() is None  # nothing was made live
