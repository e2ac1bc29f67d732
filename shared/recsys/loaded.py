"""A model directory made ready to serve: verified, loaded, and composed into a recommender.

`with_ranker=False` is stage 1 alone (the candidates function): no feature tables, no
LightGBM import, and candidates ordered by rank fusion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys import artifacts as A
from recsys.errors import ModelIntegrityError
from recsys.model import ModelArrays
from recsys.ranking.scorers import CandidateScorer, LightGBMScorer, ReciprocalRankFusion
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
    def from_dir(cls, model_dir: Path, verify: bool = True, with_ranker: bool = True) -> LoadedModel:
        """Check the manifest (format, sources, files, every sha256), then load and cross-check."""
        manifest = A.Manifest.read(model_dir)
        manifest.check_complete(with_ranker)
        if verify:
            A.verify_files(model_dir, manifest, manifest.files_for(with_ranker))
        serving = manifest.serving
        arrays = ModelArrays.load(model_dir, source_names=serving.source_names, with_features=with_ranker)
        scorer: CandidateScorer = ReciprocalRankFusion()
        if with_ranker:
            ranker = LightGBMScorer.load(model_dir / A.RANKER, serving.shortlist, serving.ranker_base)
            ranker.check_compatible(arrays, serving.source_names)
            if tuple(manifest.features) != ranker.feature_names:
                raise ModelIntegrityError(f"model {manifest.version}: manifest feature list differs from the ranker's")
            scorer = ranker
        return cls(manifest, arrays, Recommender.build(arrays, scorer, serving))
