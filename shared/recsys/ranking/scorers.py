"""Candidate scorers: the trained ranker, and the rank-fusion rules the baselines use.

A scorer turns a candidate list into one score per pair, higher is better. The recommender
does not care which one it holds, so a new ranker plugs in by implementing `CandidateScorer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from recsys.artifacts import RankerBase, ShortlistConfig
from recsys.candidates.base import UserBatch
from recsys.candidates.generate import Candidates
from recsys.errors import ModelIntegrityError
from recsys.features.assemble import assemble, feature_names
from recsys.model import ModelArrays
from recsys.ranking.topk import top_k_per_row

if TYPE_CHECKING:
    import lightgbm as lgb

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class CandidateScorer(Protocol):
    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates, k: I64) -> F32:
        """One score per pair, higher is better; exact at least for each row's best `k[row]` pairs.

        A scorer may stop early on pairs that cannot reach a row's top k: those score -inf.
        """
        ...


class LightGBMScorer:
    """The LambdaRank booster over the assembled feature matrix; one or two predict calls per batch.

    With a base (`RankerBase`), the score is the base plus the trees' sum, as in training.

    With a shortlist, every pair goes through the first `shortlist.trees` trees, then only each
    row's best `shortlist.size` pairs (never fewer than its k) through the rest. LambdaRank
    scores are sums over trees, so a finished pair's score is exactly the one-pass score; the
    other pairs get -inf. The early trees carry most of the ranking, which is why so few of them
    pick the shortlist well; `recsys evaluate` reports how often the top 10 match one-pass scoring.
    """

    def __init__(
        self, booster: lgb.Booster, shortlist: ShortlistConfig | None = None, base: RankerBase | None = None
    ) -> None:
        self.booster = booster
        self.feature_names: tuple[str, ...] = tuple(booster.feature_name())
        if base is not None and base.feature not in self.feature_names:
            raise ModelIntegrityError(f"the ranker boosts from {base.feature!r}, which is not one of its features")
        self.base = base
        self._base_column = self.feature_names.index(base.feature) if base is not None else -1
        # a shortlist only pays off when trees remain after it
        self.shortlist = shortlist if shortlist and shortlist.trees < booster.current_iteration() else None

    @classmethod
    def load(
        cls, path: Path, shortlist: ShortlistConfig | None = None, base: RankerBase | None = None
    ) -> LightGBMScorer:
        import lightgbm as lgb  # only functions that rank pay for its import (and scipy's)

        try:
            booster = lgb.Booster(model_str=path.read_text(encoding="utf-8"))
        except (lgb.basic.LightGBMError, OSError) as exc:
            raise ModelIntegrityError(f"{path.name}: cannot load the ranker ({exc})") from None
        return cls(booster, shortlist, base)

    def check_compatible(self, model: ModelArrays, source_names: Sequence[str]) -> None:
        expected = feature_names(model, source_names)
        if expected != self.feature_names:
            missing = sorted(set(self.feature_names) - set(expected))
            extra = sorted(set(expected) - set(self.feature_names))
            raise ModelIntegrityError(
                f"ranker features do not match the model's tables (missing {missing[:5]}, unexpected {extra[:5]})"
            )

    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates, k: I64) -> F32:
        if len(candidates) == 0:
            return np.zeros(0, dtype=np.float32)
        matrix = assemble(model, batch, candidates)
        base = self.base.of(matrix[:, self._base_column]) if self.base is not None else 0.0
        # threads come from OpenMP's default, which the functions pin to 1 (see recsys.runtime)
        if self.shortlist is None:
            return (base + self._predict(matrix)).astype(np.float32)
        trees, size = self.shortlist.trees, self.shortlist.size
        partial = base + self._predict(matrix, count=trees)
        # picked by the partial score rounded to float32 (pairs closer than that tie, the lower item wins):
        # a batch chunk's sort is then one packed-key sort, 4x faster than sorting float64
        finish, _ = top_k_per_row(candidates.row, candidates.item, partial.astype(np.float32), np.maximum(k, size))
        scores = np.full(len(candidates), -np.inf, dtype=np.float32)
        scores[finish] = partial[finish] + self._predict(matrix[finish], first=trees)
        return scores

    def _predict(self, matrix: F32, first: int = 0, count: int | None = None) -> npt.NDArray[np.float64]:
        """Scores summed over `count` trees from `first` (None: to the end); float64, so two passes add up exactly."""
        return np.asarray(self.booster.predict(matrix, start_iteration=first, num_iteration=count), dtype=np.float64)


class ReciprocalRankFusion:
    """sum over sources of 1 / (offset + rank): the merged stage-1 order, no training needed."""

    def __init__(self, offset: float = 60.0) -> None:
        self.offset = offset

    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates, k: I64) -> F32:
        fused = 1.0 / (self.offset + candidates.ranks)
        return np.asarray(np.nansum(fused, axis=1), dtype=np.float32)


class SourcePriority:
    """Order by the first listed source that ranked the pair (e.g. ALS, then popularity as fallback)."""

    def __init__(self, source_names: Sequence[str], order: Sequence[str]) -> None:
        self.columns = [list(source_names).index(name) for name in order]

    def score(self, model: ModelArrays, batch: UserBatch, candidates: Candidates, k: I64) -> F32:
        best = np.full(len(candidates), -np.inf, dtype=np.float32)
        for priority, col in enumerate(self.columns):
            rank = candidates.ranks[:, col]
            take = np.isfinite(rank) & np.isneginf(best)
            best[take] = -(priority * 1e6 + rank[take])
        return best
