"""Merge the sources' top-N lists into one candidate list per user, keeping every score and rank."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys import sources as registry
from recsys.candidates.base import Exclusions, LoadedSource, SourceScores, UserBatch
from recsys.model import ModelArrays
from recsys.ragged import Ragged
from recsys.sorting import positions_in_runs

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SourceSlot:
    """One configured source of a model: its loaded arrays and how many candidates it proposes."""

    name: str
    loaded: LoadedSource
    count: int
    backfill: bool


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

    def reason(self, pairs: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
        """For the given pairs, the source that ranked each best (the one that 'brought it in'); -1 for none."""
        ranks = self.ranks[pairs]
        ranks = np.where(np.isnan(ranks), np.inf, ranks)
        best = np.argmin(ranks, axis=1)
        best[np.isinf(ranks.min(axis=1, initial=np.inf))] = -1
        return best

    def select(self, keep: npt.NDArray[np.bool_]) -> Candidates:
        return Candidates(self.row[keep], self.item[keep], self.scores[keep], self.ranks[keep], self.source_names)


class CandidateGenerator:
    """Runs every source, removes excluded items, keeps each source's top-N, and takes the union."""

    def __init__(self, slots: Sequence[SourceSlot], n_items: int) -> None:
        self.slots = tuple(slots)
        self.n_items = n_items

    @classmethod
    def for_model(cls, model: ModelArrays, counts: Mapping[str, int]) -> CandidateGenerator:
        """The sources named in `counts` (in its order), each proposing its count."""
        slots = [
            SourceSlot(name, model.sources[name], int(count), registry.get(name).backfill)
            for name, count in counts.items()
        ]
        return cls(slots, model.n_items)

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self.slots)

    def score_sources(self, batch: UserBatch) -> list[SourceScores]:
        return [slot.loaded.score(batch) for slot in self.slots]

    def generate(
        self,
        batch: UserBatch,
        excluded: Ragged,
        allowed: npt.NDArray[np.bool_] | None = None,
        min_backfill: npt.NDArray[np.int64] | None = None,
        scored: list[SourceScores] | None = None,
    ) -> Candidates:
        """Each source's top-N without excluded items, merged; every pair keeps every source's score and rank.

        A backfill source proposes at least `min_backfill[row]` items for each row (its k), so a short
        list can still fill k. Per row, not the batch's largest: a user's candidates must not depend on
        who else is in the batch, or batch scoring would differ from the endpoint."""
        n_items = self.n_items
        scored = self.score_sources(batch) if scored is None else scored
        exclusions = Exclusions.of(excluded, n_items, allowed)
        picked: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        for slot, scores in zip(self.slots, scored, strict=True):
            if not slot.backfill or min_backfill is None or not len(min_backfill):
                picked.append(scores.top(exclusions, slot.count))
                continue
            per_row = np.maximum(slot.count, min_backfill)
            rows, items = scores.top(exclusions, int(per_row.max()))
            keep = positions_in_runs(rows) < per_row[rows]
            picked.append((rows[keep], items[keep]))

        keys = np.concatenate([rows * n_items + items for rows, items in picked])
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        row = unique_keys // n_items
        item = (unique_keys % n_items).astype(np.int32)
        ranks = np.full((len(unique_keys), len(self.slots)), np.nan, dtype=np.float32)
        start = 0
        for s, (rows, _) in enumerate(picked):
            # picked lists are grouped by row, best first: a pair's place in its row is its rank
            ranks[inverse[start : start + len(rows)], s] = positions_in_runs(rows)
            start += len(rows)
        scores_out = np.empty((len(unique_keys), len(self.slots)), dtype=np.float32)
        for s, scores in enumerate(scored):
            scores_out[:, s] = scores.at(row, item)
        return Candidates(row, item, scores_out, ranks, self.source_names)
