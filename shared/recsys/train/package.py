"""Step `package`: the served model directory (the fits on all the data + the final ranker) and its manifest."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from recsys import artifacts as A
from recsys.config import TrainSettings
from recsys.loaded import LoadedModel
from recsys.model import find_file
from recsys.ranking.scorers import LightGBMScorer
from recsys.train.rundir import SERVED_CUT, RunDir
from recsys.train.split import FINAL


def run_package(run: RunDir, settings: TrainSettings, out: Path) -> A.Manifest:
    prepared = run.read_json("prepare", "prepare.json")
    metrics = run.read_json("evaluate", "metrics.json")
    serving = settings.serving_config()

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    search_path = (*run.model_path(SERVED_CUT), run.root / "stage2" / FINAL)
    for name in (*serving.required_files(), *A.TREND_FILES, A.FEATURE_IMPORTANCE):
        shutil.copy2(find_file(search_path, name), staging / name)

    created = datetime.now(UTC)
    identity = hashlib.sha256((prepared["data_fingerprint"] + settings.model_dump_json()).encode()).hexdigest()[:8]
    files = tuple(
        A.FileEntry(p.name, p.stat().st_size, A.sha256_of(p)) for p in sorted(staging.iterdir()) if p.is_file()
    )
    manifest = A.Manifest(
        version=f"{created:%Y%m%dT%H%M%SZ}-{identity}",
        created_at=created.isoformat(timespec="seconds"),
        format_version=A.FORMAT_VERSION,
        data_fingerprint=prepared["data_fingerprint"],
        features=LightGBMScorer.load(staging / A.RANKER).feature_names,
        files=files,
        serving=serving,
        metrics=metrics,
        training=json.loads(settings.model_dump_json()),
    )
    (staging / A.MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    # the packaged directory must load exactly as serving will load it (files, shapes, features)
    LoadedModel.from_dir(staging)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)  # the model directory appears whole or not at all
    return manifest
