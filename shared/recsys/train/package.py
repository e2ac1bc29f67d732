"""Step `package`: the served model directory (the `full` cut + the ranker) and its manifest."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from recsys import artifacts as A
from recsys.config import TrainSettings
from recsys.engine import build_recommender, serving_config
from recsys.model import ModelArrays, find_file
from recsys.ranking.scorers import LightGBMScorer, Shortlist
from recsys.train.rundir import RunDir


def run_package(run: RunDir, settings: TrainSettings, out: Path) -> A.Manifest:
    prepared = run.read_json("prepare", "prepare.json")
    metrics = run.read_json("evaluate", "metrics.json")
    config = serving_config(settings)

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    search_path = (*run.model_path("full"), run.root / "stage2")
    for name in (*A.SERVING_FILES, A.FEATURE_IMPORTANCE):
        shutil.copy2(find_file(search_path, name), staging / name)

    # the packaged files must load and agree with the ranker, exactly as serving will check them
    model = ModelArrays.load(staging)
    scorer = LightGBMScorer.load(staging / A.RANKER, Shortlist.from_config(config))
    recommender = build_recommender(model, scorer, config)
    scorer.check_compatible(model, recommender.generator.source_names)

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
        features=scorer.feature_names,
        files=files,
        metrics=metrics,
        serving={**config, "settings": json.loads(settings.model_dump_json())},
    )
    (staging / A.MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)  # the model directory appears whole or not at all
    return manifest
