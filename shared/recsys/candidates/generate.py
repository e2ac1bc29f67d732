"""Merge the sources' top-N lists into one candidate list per user, keeping every score and rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys.candidates.sources import (
    AlsSource,
    CandidateSource,
    CoVisitationSource,
    PopularitySource,
    UserBatch,
)
from recsys.model import ModelArrays
from recsys.ragged import Ragged

F32 = npt.NDArray[np.float32]


def default_sources() -> tuple[CandidateSource, ...]:
    return (AlsSource(), CoVisitationSource(), PopularitySource())


@dataclass(frozen=True)
class Exclusions:
    """Items that must not be candidates: per-user lists, and optionally a catalog-wide allow mask."""

    per_user: Ragged
    allowed: npt.NDArray[np.bool_] | None = None


@dataclass(frozen=True)
class Candidates:
    """Long format: one row per (user row, item) pair, grouped by `row` in ascending order."""

    row: npt.NDArray[np.int64]
    item: npt.NDArray[np.int32]
    scores: F32  # (pairs, sources): every source's score, NaN where it has none
    ranks: F32  # (pairs, sources): rank within the source's top-N, NaN where not in it
    source_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.row)

    def reason(self) -> npt.NDArray[np.int64]:
        """Index of the source that ranked each pair best (the one that 'brought it in'); -1 for none."""
        ranks = np.where(np.isnan(self.ranks), np.inf, self.ranks)
        best = np.argmin(ranks, axis=1)
        best[np.isinf(ranks.min(axis=1, initial=np.inf))] = -1
        return best

    def select(self, keep: npt.NDArray[np.bool_]) -> Candidates:
        return Candidates(self.row[keep], self.item[keep], self.scores[keep], self.ranks[keep], self.source_names)


def _top_n(scores: F32, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(row, item, rank) of each row's top-n finite scores."""
    n = min(n, scores.shape[1])
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    filled = np.where(np.isnan(scores), -np.inf, scores)
    top = np.argpartition(-filled, n - 1, axis=1)[:, :n]
    top_scores = np.take_along_axis(filled, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    valid = np.isfinite(top_scores)
    rows = np.broadcast_to(np.arange(scores.shape[0])[:, None], top.shape)
    ranks = np.broadcast_to(np.arange(n)[None, :], top.shape)
    return rows[valid], top[valid], ranks[valid]


class CandidateGenerator:
    """Runs every source, removes excluded items, keeps each source's top-N, and takes the union."""

    def __init__(self, sources: Sequence[CandidateSource], counts: dict[str, int]) -> None:
        self.sources = tuple(sources)
        self.counts = {s.name: int(counts[s.name]) for s in self.sources}

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)

    def generate(
        self, model: ModelArrays, batch: UserBatch, exclusions: Exclusions, min_popularity: int = 0
    ) -> Candidates:
        n_items = model.n_items
        excluded_rows = exclusions.per_user.row_ids()
        excluded_items = exclusions.per_user.values
        dense: list[F32] = []
        picked: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        for source in self.sources:
            scores = source.scores(model, batch)
            scores[excluded_rows, excluded_items] = np.nan
            if exclusions.allowed is not None:
                scores[:, ~exclusions.allowed] = np.nan
            count = self.counts[source.name]
            if isinstance(source, PopularitySource):
                # popularity backfills: with filters, the answer still has k items when it can
                count = max(count, min_popularity)
            dense.append(scores)
            picked.append(_top_n(scores, count))

        keys = np.concatenate([rows * n_items + items for rows, items, _ in picked])
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        row = unique_keys // n_items
        item = (unique_keys % n_items).astype(np.int32)
        ranks = np.full((len(unique_keys), len(self.sources)), np.nan, dtype=np.float32)
        start = 0
        for s, (rows, _, source_ranks) in enumerate(picked):
            ranks[inverse[start : start + len(rows)], s] = source_ranks
            start += len(rows)
        scores_out = np.column_stack([d[row, item] for d in dense]).astype(np.float32, copy=False)
        return Candidates(row, item, scores_out, ranks, self.source_names)
