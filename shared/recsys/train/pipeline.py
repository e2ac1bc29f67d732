"""The training pipeline: named steps run in order, each reading and writing the run directory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from recsys import artifacts as A
from recsys.config import TrainSettings
from recsys.errors import ConfigError, InputDataError
from recsys.train.evaluate import run_evaluate
from recsys.train.features import run_features
from recsys.train.package import run_package
from recsys.train.prepare import run_prepare
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
    run: Callable[[TrainJob, Callable[[], object]], Any]


def _stage2_parts(job: TrainJob) -> int:
    """One part per label window, one per ranker."""
    rankers = TimeGrid.read(job.run).rankers
    return len({w for windows in rankers.values() for w in windows}) + len(rankers)


def _folds(job: TrainJob) -> int:
    return TimeGrid.read(job.run).folds


STEPS: tuple[Step, ...] = (
    Step("prepare", lambda j: 1, lambda j, adv: (run_prepare(j.run, j.interactions, j.items), adv())),
    Step("split", lambda j: 1, lambda j, adv: (run_split(j.run, j.settings.split), adv())),
    Step("stage1", lambda j: len(j.run.cuts()), lambda j, adv: run_stage1(j.run, j.settings, adv)),
    Step("features", lambda j: len(j.run.cuts()), lambda j, adv: run_features(j.run, j.settings, adv)),
    Step("stage2", _stage2_parts, lambda j, adv: run_stage2(j.run, j.settings, adv)),
    Step("evaluate", _folds, lambda j, adv: run_evaluate(j.run, j.settings, adv)),
    Step("package", lambda j: 1, lambda j, adv: (run_package(j.run, j.settings, j.out), adv())),
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
        with tqdm(total=step.total(job), desc=f"{step.name:<9}", unit="part", disable=not show_progress) as bar:
            step.run(job, bar.update)
    return A.Manifest.read(job.out) if not only or "package" in only else None
