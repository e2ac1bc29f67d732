"""Item co-visitation: items the same users took within a few days of each other.

Fitted as each item's top neighbours; served as the sum of the neighbours' link scores over a
user's recent items (the seeds), the most recent seed weighted most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt
from pydantic import Field

from recsys import columns as C
from recsys.candidates.base import (
    F32,
    I64,
    Array,
    FitInput,
    ReadArray,
    SourceScores,
    SourceSettings,
    UserBatch,
    expect_finite,
    expect_shape,
)
from recsys.candidates.scores import SparseScores
from recsys.errors import ModelIntegrityError

NEIGHBOURS: Final = "covisit_items.npy"
LINK_SCORES: Final = "covisit_scores.npy"


class CovisitSettings(SourceSettings):
    neighbours: int = Field(50, ge=1, le=1000, description="kept per item")
    window_days: float = Field(14.0, gt=0, description="two interactions of a user co-visit when this close in time")
    max_history: int = Field(50, ge=2, le=1000, description="last interactions per user used for pairs")


@dataclass(frozen=True)
class LoadedCovisit:
    neighbours: npt.NDArray[np.int32]  # (items, M), -1 padded
    link: F32  # (items, M), 0 padded
    n_items: int

    def score(self, batch: UserBatch) -> SourceScores:
        seeds = batch.seeds
        rows = seeds.row_ids()
        # position from the end of each row: 0 for the most recent seed
        from_end = np.repeat(seeds.indptr[1:], np.diff(seeds.indptr)) - 1 - np.arange(len(seeds.values))
        weight = 1.0 / (1.0 + from_end.astype(np.float32))
        neighbours = self.neighbours[seeds.values]  # (n_seeds, M)
        link = self.link[seeds.values] * weight[:, None]
        valid = (neighbours >= 0) & (link > 0)
        flat = (rows[:, None] * self.n_items + neighbours)[valid]
        keys, inverse = np.unique(flat, return_inverse=True)
        values = np.bincount(inverse, weights=link[valid], minlength=len(keys)).astype(np.float32)
        return SparseScores(keys.astype(np.int64), values, self.n_items)

    def similar(self, item: int, k: int, exclude: I64) -> tuple[I64, F32]:
        """The item's strongest co-visitation links."""
        linked = (self.neighbours[item] >= 0) & ~np.isin(self.neighbours[item], exclude)
        return self.neighbours[item][linked][:k].astype(np.int64), self.link[item][linked][:k]


class CoVisitationSource:
    name = "covisit"
    settings_model = CovisitSettings
    backfill = False
    files = (NEIGHBOURS, LINK_SCORES)
    item_padding: ClassVar[dict[str, float]] = {NEIGHBOURS: -1.0, LINK_SCORES: 0.0}  # a new item: no neighbours yet

    def fit(self, data: FitInput, settings: CovisitSettings) -> Mapping[str, Array]:
        """Per item, its `neighbours` most co-visited items (same user, within `window_days`).

        Pairs are weighted by closeness in time and normalised by both items' counts (cosine-like),
        so a blockbuster is not everyone's neighbour. Padded with -1 / 0.
        """
        import pandas as pd  # training only

        n_items = data.n_items
        recent = (
            data.history.sort_values([C.USER_IDX, C.TIMESTAMP])
            .groupby(C.USER_IDX, sort=False)
            .tail(settings.max_history)[[C.USER_IDX, C.ITEM_IDX, C.TIMESTAMP]]
        )
        pairs = recent.merge(recent, on=C.USER_IDX, suffixes=("_a", "_b"))
        gap_days = (pairs[f"{C.TIMESTAMP}_a"] - pairs[f"{C.TIMESTAMP}_b"]).abs() / C.DAY
        pairs = pairs[(pairs[f"{C.ITEM_IDX}_a"] != pairs[f"{C.ITEM_IDX}_b"]) & (gap_days <= settings.window_days)]
        neighbours = np.full((n_items, settings.neighbours), -1, dtype=np.int32)
        scores = np.zeros((n_items, settings.neighbours), dtype=np.float32)
        if pairs.empty:
            return {NEIGHBOURS: neighbours, LINK_SCORES: scores}
        weight = 1.0 / (1.0 + gap_days.loc[pairs.index])
        linked = (
            pd.DataFrame({"a": pairs[f"{C.ITEM_IDX}_a"], "b": pairs[f"{C.ITEM_IDX}_b"], "w": weight})
            .groupby(["a", "b"], sort=False)["w"]
            .sum()
            .reset_index()
        )
        counts = np.bincount(recent[C.ITEM_IDX].to_numpy(), minlength=n_items).astype(np.float64)
        linked["w"] /= np.sqrt(counts[linked["a"].to_numpy()] * counts[linked["b"].to_numpy()])
        linked = linked.sort_values(["a", "w", "b"], ascending=[True, False, True])
        slot = linked.groupby("a", sort=False).cumcount().to_numpy()
        keep = slot < settings.neighbours
        a, b, w = linked["a"].to_numpy()[keep], linked["b"].to_numpy()[keep], linked["w"].to_numpy()[keep]
        neighbours[a, slot[keep]] = b
        scores[a, slot[keep]] = w
        return {NEIGHBOURS: neighbours, LINK_SCORES: scores}

    def load(self, read: ReadArray, n_users: int, n_items: int) -> LoadedCovisit:
        neighbours = read(NEIGHBOURS).astype(np.int32, copy=False)
        link = read(LINK_SCORES).astype(np.float32, copy=False)
        expect_shape(NEIGHBOURS, neighbours, (n_items, None))
        expect_shape(LINK_SCORES, link, (n_items, neighbours.shape[1]))
        expect_finite(LINK_SCORES, link)
        if neighbours.size and (int(neighbours.max()) >= n_items or int(neighbours.min()) < -1):
            raise ModelIntegrityError(f"{NEIGHBOURS} refers to items beyond the catalog")
        return LoadedCovisit(neighbours, link, n_items)
