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
from recsys.trends.manifest import OverlayManifest


@dataclass(frozen=True)
class LoadedModel:
    manifest: A.Manifest
    arrays: ModelArrays
    recommender: Recommender
    overlay: OverlayManifest | None = None  # the live trends it serves, if any

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def overlay_id(self) -> str | None:
        return self.overlay.overlay_id if self.overlay is not None else None

    @classmethod
    def from_dir(
        cls, model_dir: Path, verify: bool = True, with_ranker: bool = True, overlay_dir: Path | None = None
    ) -> LoadedModel:
        """Check the manifest (format, sources, files, every sha256), then load and cross-check. An overlay's
        files are read instead of the model's own; it must belong to this model and pass the same checks."""
        manifest = A.Manifest.read(model_dir)
        manifest.check_complete(with_ranker)
        if verify:
            A.verify_files(model_dir, manifest, manifest.files_for(with_ranker))
        overlay = None
        search_path: tuple[Path, ...] = (model_dir,)
        if overlay_dir is not None:
            overlay = OverlayManifest.read(overlay_dir)
            overlay.check_for(manifest.version)
            if verify:
                A.verify_files(overlay_dir, manifest, overlay.files_for(with_ranker))
            search_path = (overlay_dir, model_dir)
        serving = manifest.serving
        arrays = ModelArrays.load(*search_path, source_names=serving.source_names, with_features=with_ranker)
        scorer: CandidateScorer = ReciprocalRankFusion()
        if with_ranker:
            ranker = LightGBMScorer.load(model_dir / A.RANKER, serving.shortlist, serving.ranker_base)
            ranker.check_compatible(arrays, serving.source_names)
            if tuple(manifest.features) != ranker.feature_names:
                raise ModelIntegrityError(f"model {manifest.version}: manifest feature list differs from the ranker's")
            scorer = ranker
        return cls(manifest, arrays, Recommender.build(arrays, scorer, serving), overlay)
