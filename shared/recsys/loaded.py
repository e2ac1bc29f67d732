"""A model directory made ready to serve: verified, loaded, and composed into a recommender."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys import artifacts as A
from recsys.engine import build_recommender
from recsys.errors import ModelIntegrityError
from recsys.model import ModelArrays
from recsys.ranking.scorers import LightGBMScorer, Shortlist
from recsys.recommender import Recommender


@dataclass(frozen=True)
class LoadedModel:
    manifest: A.Manifest
    arrays: ModelArrays
    recommender: Recommender

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def from_dir(cls, model_dir: Path, verify: bool = True) -> LoadedModel:
        """Check the manifest (complete, right format, every sha256), then load and cross-check."""
        manifest = A.Manifest.read(model_dir)
        manifest.check_complete()
        if verify:
            A.verify_files(model_dir, manifest)
        arrays = ModelArrays.load(model_dir)
        scorer = LightGBMScorer.load(model_dir / A.RANKER, Shortlist.from_config(manifest.serving))
        recommender = build_recommender(arrays, scorer, manifest.serving)
        scorer.check_compatible(arrays, recommender.generator.source_names)
        if tuple(manifest.features) != scorer.feature_names:
            raise ModelIntegrityError(f"model {manifest.version}: manifest feature list differs from the ranker's")
        return cls(manifest, arrays, recommender)
