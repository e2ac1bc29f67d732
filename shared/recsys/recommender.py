"""The two stages composed: candidates, filters, scoring, top-k. Batch-shaped and vectorised.

One user online and a million users in batch go through the same `recommend` call; the only
difference is the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys.artifacts import ServingConfig
from recsys.candidates.base import UserBatch
from recsys.candidates.generate import CandidateGenerator, Candidates
from recsys.model import ModelArrays
from recsys.ragged import Ragged
from recsys.ranking.scorers import CandidateScorer
from recsys.ranking.topk import top_k_per_row
from recsys.sorting import find

F32 = npt.NDArray[np.float32]
REQUESTED = "requested"


@dataclass(frozen=True)
class Ranked:
    """Top-k per batch row, long format, rows ascending and rank 1..k within a row."""

    row: npt.NDArray[np.int64]
    item: npt.NDArray[np.int32]
    score: F32
    rank: npt.NDArray[np.int64]
    reason: npt.NDArray[np.int64]  # index into source_names
    source_names: tuple[str, ...]
    pair: npt.NDArray[np.int64]  # each kept pair's index in the candidate list it was ranked from

    def __len__(self) -> int:
        return len(self.row)

    def reasons(self) -> npt.NDArray[np.object_]:
        """Source names; `requested` for an item no source proposed (a caller's list in /rerank)."""
        return np.asarray((*self.source_names, REQUESTED), dtype=object)[self.reason]


@dataclass(frozen=True)
class Request:
    """What to recommend, for a batch of users (internal indices, -1 for unknown)."""

    users: npt.NDArray[np.int32]
    k: npt.NDArray[np.int64]
    exclude_seen: bool = True
    recent_items: Ragged | None = None  # extra co-visitation seeds per row
    exclude: Ragged | None = None  # extra excluded items per row
    allowed: npt.NDArray[np.bool_] | None = None  # catalog-wide filter (e.g. a genre)


class Recommender:
    def __init__(
        self,
        model: ModelArrays,
        generator: CandidateGenerator,
        scorer: CandidateScorer,
        recent_items: int,
    ) -> None:
        self.model = model
        self.generator = generator
        self.scorer = scorer
        self.recent_items = recent_items

    @classmethod
    def build(
        cls,
        model: ModelArrays,
        scorer: CandidateScorer,
        serving: ServingConfig,
    ) -> Recommender:
        """The one place a recommender is composed: training, evaluation, batch and the handlers all come here."""
        return cls(model, CandidateGenerator.for_model(model, serving.sources), scorer, serving.recent_items)

    def user_batch(
        self, users: npt.NDArray[np.int32], recent_items: Ragged | None = None, history: Ragged | None = None
    ) -> UserBatch:
        """The users and their co-visitation seeds: the last `recent_items` of their history, plus any given."""
        history = self.model.seen.take_rows(users) if history is None else history
        seeds = history.last(self.recent_items)
        if recent_items is not None:
            seeds = seeds.concat(recent_items)
        return UserBatch(users=users, has_history=np.diff(history.indptr) > 0, seeds=seeds)

    def candidates(self, request: Request) -> tuple[UserBatch, Candidates]:
        history = self.model.seen.take_rows(request.users)  # seeds and seen-item exclusion both read it
        batch = self.user_batch(request.users, request.recent_items, history)
        excluded = history if request.exclude_seen else Ragged.empty(len(batch))
        if request.exclude is not None:
            excluded = excluded.concat(request.exclude)
        return batch, self.generator.generate(batch, excluded, request.allowed, min_backfill=request.k)

    def rank(
        self,
        batch: UserBatch,
        candidates: Candidates,
        k: npt.NDArray[np.int64],
        scorer: CandidateScorer | None = None,
    ) -> Ranked:
        """Top-k by this recommender's scorer (or another one, e.g. stage-1 rank fusion)."""
        scores = (scorer or self.scorer).score(self.model, batch, candidates, k)
        keep, rank = top_k_per_row(candidates.row, candidates.item, scores, k)
        return Ranked(
            row=candidates.row[keep],
            item=candidates.item[keep],
            score=scores[keep],
            rank=rank,
            reason=candidates.reason(keep),
            source_names=candidates.source_names,
            pair=keep,
        )

    def recommend(self, request: Request) -> Ranked:
        batch, candidates = self.candidates(request)
        return self.rank(batch, candidates, request.k)

    def rerank(self, user: int, items: Sequence[int], k: int) -> Ranked:
        """Score a caller's own list for one user; items are internal indices, all known."""
        batch = self.user_batch(np.asarray([user], dtype=np.int32))
        scored = self.generator.score_sources(batch)
        full = self.generator.generate(batch, Ragged.empty(1), scored=scored)
        wanted = np.asarray(items, dtype=np.int32)
        rows = np.zeros(len(wanted), dtype=np.int64)
        # every source's score for the wanted items; ranks where the source would have proposed them
        scores = np.column_stack([source.at(rows, wanted) for source in scored]).astype(np.float32, copy=False)
        ranks = np.full_like(scores, np.nan)
        # full.item is sorted (one row), so a binary search finds each wanted item's proposal
        at, proposed = find(full.item, wanted)
        ranks[proposed] = full.ranks[at[proposed]]
        candidates = Candidates(rows, wanted, scores, ranks, self.generator.source_names)
        return self.rank(batch, candidates, np.asarray([k], dtype=np.int64))
