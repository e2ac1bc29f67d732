"""Candidate sources. Each scores a batch of users against the whole catalog.

A source returns a dense (users x items) float32 matrix; NaN means "no opinion" (an unknown
user for ALS, an item with no co-visitation link). A new source plugs in by implementing
`CandidateSource` and being listed in `recsys.candidates.generate.default_sources`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from recsys.model import ModelArrays
from recsys.ragged import Ragged

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class UserBatch:
    """Who to score: internal user indices (-1 for unknown) and their co-visitation seeds."""

    users: npt.NDArray[np.int32]
    seeds: Ragged  # recent items, oldest first: the model's history plus any passed in

    def __len__(self) -> int:
        return len(self.users)


class CandidateSource(Protocol):
    name: str

    def scores(self, model: ModelArrays, batch: UserBatch) -> F32: ...


class AlsSource:
    """Dot product of ALS user and item factors; no opinion for users without history."""

    name = "als"

    def scores(self, model: ModelArrays, batch: UserBatch) -> F32:
        users = batch.users
        known = users >= 0
        has_history = np.zeros(len(users), dtype=bool)
        has_history[known] = np.diff(model.seen.indptr)[users[known]] > 0
        result = np.full((len(users), model.n_items), np.nan, dtype=np.float32)
        if has_history.any():
            factors = model.als_user[users[has_history]]
            result[has_history] = factors @ model.als_item.T
        return result


class CoVisitationSource:
    """Sum of the co-visitation scores of each seed's neighbours, recent seeds weighted more."""

    name = "covisit"

    def scores(self, model: ModelArrays, batch: UserBatch) -> F32:
        n_items = model.n_items
        seeds = batch.seeds
        rows = seeds.row_ids()
        # position from the end of each row: 0 for the most recent seed
        from_end = np.repeat(seeds.indptr[1:], np.diff(seeds.indptr)) - 1 - np.arange(len(seeds.values))
        weight = 1.0 / (1.0 + from_end.astype(np.float32))
        neighbours = model.covisit_items[seeds.values]  # (n_seeds, M)
        link = model.covisit_scores[seeds.values] * weight[:, None]
        valid = neighbours >= 0
        flat_keys = (rows[:, None] * n_items + neighbours)[valid]
        totals = np.bincount(flat_keys, weights=link[valid], minlength=len(batch) * n_items)
        result = totals.astype(np.float32).reshape(len(batch), n_items)
        result[result <= 0] = np.nan
        return result


class PopularitySource:
    """Time-decayed popularity: the same list for everyone, and the cold-start fallback."""

    name = "popularity"

    def scores(self, model: ModelArrays, batch: UserBatch) -> F32:
        return np.broadcast_to(model.popularity, (len(batch), model.n_items)).copy()
