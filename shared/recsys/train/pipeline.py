"""The training pipeline: named steps run in order, each reading and writing the run directory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys import artifacts as A
from recsys.config import TrainSettings
from recsys.errors import ConfigError, InputDataError
from recsys.train.evaluate import run_evaluate
from recsys.train.features import run_features
from recsys.train.package import run_package
from recsys.train.prepare import run_prepare
from recsys.train.progress import Progress, Silent, StepBar
from recsys.train.rundir import RunDir
from recsys.train.split import TimeGrid, run_split
from recsys.train.stage1 import run_stage1
from recsys.train.stage2 import run_stage2


@dataclass(frozen=True)
class TrainJob:
    interactions: Path
    items: Path | None
    out: Path
    run: RunDir
    settings: TrainSettings


@dataclass(frozen=True)
class Step:
    name: str
    total: Callable[[TrainJob], int]
    run: Callable[[TrainJob, Progress], Any]


def _stage2_parts(job: TrainJob) -> int:
    """One part per label window, one per ranker."""
    rankers = TimeGrid.read(job.run).rankers
    return len({w for windows in rankers.values() for w in windows}) + len(rankers)


def _folds(job: TrainJob) -> int:
    return TimeGrid.read(job.run).folds


def _one_part(work: Callable[[TrainJob], object]) -> Callable[[TrainJob, Progress], None]:
    def run(job: TrainJob, progress: Progress) -> None:
        work(job)
        progress.advance()

    return run


STEPS: tuple[Step, ...] = (
    Step("prepare", lambda j: 1, _one_part(lambda j: run_prepare(j.run, j.interactions, j.items))),
    Step("split", lambda j: 1, _one_part(lambda j: run_split(j.run, j.settings.split))),
    Step("stage1", lambda j: len(j.run.cuts()), lambda j, p: run_stage1(j.run, j.settings, p.advance)),
    Step("features", lambda j: len(j.run.cuts()), lambda j, p: run_features(j.run, j.settings, p.advance)),
    Step("stage2", _stage2_parts, lambda j, p: run_stage2(j.run, j.settings, p)),
    Step("evaluate", _folds, lambda j, p: run_evaluate(j.run, j.settings, p)),
    Step("package", lambda j: 1, _one_part(lambda j: run_package(j.run, j.settings, j.out))),
)
STEP_NAMES = tuple(step.name for step in STEPS)


def run_pipeline(job: TrainJob, only: Sequence[str] = (), show_progress: bool = True) -> A.Manifest | None:
    """Run every step (or only the named ones, reusing the run directory's earlier outputs).

    Returns the manifest when the `package` step ran.
    """
    unknown = [name for name in only if name not in STEP_NAMES]
    if unknown:
        raise ConfigError(f"unknown step(s) {', '.join(unknown)}; steps are {', '.join(STEP_NAMES)}")
    for path in (job.interactions, job.items):
        if path is not None and not path.is_file():
            raise InputDataError(f"{path}: file not found")
    job.run.root.mkdir(parents=True, exist_ok=True)
    (job.run.root / "settings.json").write_text(job.settings.model_dump_json(indent=2), encoding="utf-8")
    for step in STEPS:
        if only and step.name not in only:
            continue
        if not show_progress:
            step.run(job, Silent())
            continue
        bar = StepBar(step.name, step.total(job))
        try:
            step.run(job, bar)
        finally:
            bar.close()
    return A.Manifest.read(job.out) if not only or "package" in only else None
