"""Composition: a model's arrays + the configured sources + a scorer -> a `Recommender`.

Training (ranker labels, evaluation), batch scoring and the Lambda handlers all build their
recommender here, so each sees the same candidate counts and the same feature assembly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from recsys.candidates.generate import CandidateGenerator, default_sources
from recsys.config import TrainSettings
from recsys.model import ModelArrays
from recsys.ranking.scorers import CandidateScorer
from recsys.recommender import Ranked, Recommender

#: Users scored together: big enough for numpy and LightGBM to run at full speed, small enough
#: that the per-chunk score matrices (users x catalog) stay in the tens of MB.
CHUNK_USERS = 1024


def serving_config(settings: TrainSettings) -> dict[str, Any]:
    """The part of the training settings that serving needs; stored in the manifest."""
    candidates, ranker = settings.candidates, settings.ranker
    return {
        "candidates": candidates.model_dump(exclude={"recent_items"}),
        "recent_items": candidates.recent_items,
        "shortlist": {"trees": ranker.shortlist_trees, "size": ranker.shortlist_size},
    }


def build_recommender(
    model: ModelArrays,
    scorer: CandidateScorer,
    config: Mapping[str, Any],
    source_names: tuple[str, ...] | None = None,
) -> Recommender:
    sources = default_sources()
    if source_names is not None:
        sources = tuple(s for s in sources if s.name in source_names)
    generator = CandidateGenerator(sources, config["candidates"])
    return Recommender(model, generator, scorer, recent_items=int(config["recent_items"]))


def chunks(values: npt.NDArray[np.int32], size: int) -> Iterator[npt.NDArray[np.int32]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def to_matrix(ranked: Ranked, rows: int, k: int) -> npt.NDArray[np.int32]:
    """Top-k items per row as a (rows x k) matrix, padded with -1."""
    matrix = np.full((rows, k), -1, dtype=np.int32)
    matrix[ranked.row, ranked.rank - 1] = ranked.item
    return matrix
