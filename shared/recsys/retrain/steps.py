"""The workflow's steps past gathering: train a candidate version, then promote it through the gate."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from recsys.errors import PromotionRefusedError
from recsys.retrain.inputs import read_inputs, record_last_run
from recsys.store.lifecycle import promote
from recsys.store.s3 import S3ModelStore


@dataclass(frozen=True)
class Candidate:
    run: str
    version: str
    ndcg_at_10: float | None
    interactions: int
    events: int  # log events read, of every type (`interactions` counts the rows trained on)
    seconds: float


@dataclass(frozen=True)
class Promotion:
    run: str
    version: str
    published: bool
    message: str


def train_candidate(store: S3ModelStore, run: str) -> Candidate:
    """Train on the run's inputs and upload the model as a version that is not live (the gate decides)."""
    from recsys.config import load_settings  # pandas, implicit, LightGBM training: the training image only
    from recsys.retrain.dataset import download_inputs, training_table
    from recsys.store.lifecycle import upload
    from recsys.train.pipeline import TrainJob, run_pipeline
    from recsys.train.rundir import RunDir

    started = time.perf_counter()
    inputs = read_inputs(store, run)
    with tempfile.TemporaryDirectory(prefix=f"recsys-retrain-{run}-") as work:
        work_dir = Path(work)
        local = download_inputs(store, inputs, work_dir)
        types = frozenset(inputs.event_types) if inputs.event_types is not None else None
        table = training_table(local.interactions, local.events, types)
        interactions = work_dir / "interactions.parquet"
        table.to_parquet(interactions, index=False)
        settings = load_settings(local.config)
        job = TrainJob(interactions, local.items, work_dir / "model", RunDir(work_dir / "run"), settings)
        run_pipeline(job, show_progress=False)
        manifest = upload(job.out, store)
    return Candidate(
        run=run,
        version=manifest.version,
        ndcg_at_10=manifest.ndcg_at_10(),
        interactions=len(table),
        events=len(local.events),
        seconds=round(time.perf_counter() - started, 1),
    )


def promote_candidate(store: S3ModelStore, run: str, version: str) -> Promotion:
    """Make the run's version live if the gate lets it; a refused version stays in S3, complete and not live
    (`recsys rollback --to <version>` makes it live by hand)."""
    inputs = read_inputs(store, run)
    try:
        outcome = Promotion(run, version, published=True, message=promote(store, version))
    except PromotionRefusedError as exc:
        kept = f"{exc.message}; {version} stays in S3, not live (recsys rollback --to {version} makes it live)"
        outcome = Promotion(run, version, published=False, message=kept)
    record_last_run(store, inputs, {"version": version, "published": outcome.published})
    return outcome
