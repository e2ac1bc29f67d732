"""Candidate scorers: the trained ranker, and the rank-fusion rules the baselines use.

A scorer turns a candidate list into one score per pair, higher is better. The recommender
does not care which one it holds, so a new ranker plugs in by implementing `CandidateScorer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from recsys.candidates.generate import Candidates
from recsys.candidates.sources import UserBatch
from recsys.errors import ModelIntegrityError
from recsys.features.assemble import assemble, feature_names
from recsys.model import ModelArrays

F32 = npt.NDArray[np.float32]


class CandidateScorer(Protocol):
    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates) -> F32: ...


class LightGBMScorer:
    """The LambdaRank booster over the assembled feature matrix; one predict call per batch."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self.feature_names: tuple[str, ...] = tuple(booster.feature_name())

    @classmethod
    def load(cls, path: Path) -> LightGBMScorer:
        try:
            booster = lgb.Booster(model_str=path.read_text(encoding="utf-8"))
        except (lgb.basic.LightGBMError, OSError) as exc:
            raise ModelIntegrityError(f"{path.name}: cannot load the ranker ({exc})") from None
        return cls(booster)

    def check_compatible(self, model: ModelArrays, source_names: Sequence[str]) -> None:
        expected = feature_names(model, source_names)
        if expected != self.feature_names:
            missing = sorted(set(self.feature_names) - set(expected))
            extra = sorted(set(expected) - set(self.feature_names))
            raise ModelIntegrityError(
                f"ranker features do not match the model's tables (missing {missing[:5]}, unexpected {extra[:5]})"
            )

    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates) -> F32:
        if len(candidates) == 0:
            return np.zeros(0, dtype=np.float32)
        matrix = assemble(model, batch, candidates)
        # threads come from OpenMP's default, which serving pins to 1 (see recsys.serving)
        return np.asarray(self.booster.predict(matrix), dtype=np.float32)


class ReciprocalRankFusion:
    """sum over sources of 1 / (offset + rank): the merged stage-1 order, no training needed."""

    def __init__(self, offset: float = 60.0) -> None:
        self.offset = offset

    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates) -> F32:
        fused = 1.0 / (self.offset + candidates.ranks)
        return np.asarray(np.nansum(fused, axis=1), dtype=np.float32)


class SourcePriority:
    """Order by the first listed source that ranked the pair (e.g. ALS, then popularity as fallback)."""

    def __init__(self, source_names: Sequence[str], order: Sequence[str]) -> None:
        self.columns = [list(source_names).index(name) for name in order]

    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates) -> F32:
        best = np.full(len(candidates), -np.inf, dtype=np.float32)
        for priority, col in enumerate(self.columns):
            rank = candidates.ranks[:, col]
            take = np.isfinite(rank) & np.isneginf(best)
            best[take] = -(priority * 1e6 + rank[take])
        return best
