"""What each route does, independent of HTTP: a validated request model in, a response model out.

The hot path (`recommend`) touches no pandas and makes no S3 call: an id lookup, the user's
latest events from the event table where one is configured (one bounded query), the vectorised two
stages on one row, and a few list conversions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
from aws_lambda_powertools.metrics import MetricUnit

from recsys.api.models import (
    Candidate,
    CandidateList,
    CandidatesRequest,
    Health,
    ModelInfo,
    Recommendations,
    RecommendRequest,
    Reranked,
    RerankRequest,
    ScoredItem,
    SimilarItems,
    SimilarRequest,
    SourceOpinion,
)
from recsys.api.settings import ApiSettings
from recsys.candidates.base import ItemNeighbours
from recsys.candidates.generate import Candidates
from recsys.errors import InvalidRequestError, NotFoundError, TooLargeError
from recsys.events.session import SessionReader
from recsys.idmap import ID_CHARACTERS, is_valid_id
from recsys.loaded import LoadedModel
from recsys.ragged import Ragged
from recsys.ranking.scorers import ReciprocalRankFusion
from recsys.recommender import Ranked, Request
from recsys.runtime.telemetry import metrics, tracer
from recsys.store.provider import ModelProvider

FALLBACK = "popularity"
#: the label of a user the model has no history of, served from the items of their session
SESSION = "session"
UNKNOWN_ITEM = "unknown_item"
_FUSION = ReciprocalRankFusion()


def _item_fields(model: LoadedModel, ranked: Ranked) -> list[dict[str, Any]]:
    """The one serialiser of a ranked list: ids, rounded scores, ranks and reasons (each answer's model
    class is built from these once, not converted from another model)."""
    ids = model.arrays.items.to_ids(ranked.item).tolist()
    return [
        {"item_id": item_id, "score": round(score, 6), "rank": rank, "reason": reason}
        for item_id, score, rank, reason in zip(
            ids, ranked.score.tolist(), ranked.rank.tolist(), ranked.reasons().tolist(), strict=True
        )
    ]


def scored_items(model: LoadedModel, ranked: Ranked) -> list[ScoredItem]:
    return [ScoredItem(**fields) for fields in _item_fields(model, ranked)]


def _opinion(score: float, rank: float) -> SourceOpinion:
    return SourceOpinion(
        score=None if np.isnan(score) else round(score, 6), rank=None if np.isnan(rank) else int(rank) + 1
    )


def candidate_items(model: LoadedModel, ranked: Ranked, candidates: Candidates) -> list[Candidate]:
    """A ranked stage-1 list with every source's score and rank for each item."""
    names = candidates.source_names
    scores, ranks = candidates.scores[ranked.pair].tolist(), candidates.ranks[ranked.pair].tolist()
    return [
        Candidate(
            **fields,
            sources={name: _opinion(s, r) for name, s, r in zip(names, pair_scores, pair_ranks, strict=True)},
        )
        for fields, pair_scores, pair_ranks in zip(_item_fields(model, ranked), scores, ranks, strict=True)
    ]


class RecommendationService:
    def __init__(self, provider: ModelProvider, settings: ApiSettings, sessions: SessionReader | None = None) -> None:
        self.provider = provider
        self.settings = settings
        self.sessions = sessions

    # -- validation ---------------------------------------------------------------------------
    def check_id(self, value: str, field: str) -> str:
        if not is_valid_id(value, self.settings.max_id_length):
            raise InvalidRequestError(f"{field} must be 1-{self.settings.max_id_length} characters of {ID_CHARACTERS}")
        return value

    def check_k(self, k: int | None) -> int:
        k = self.settings.default_k if k is None else k
        if not 1 <= k <= self.settings.max_k:
            raise InvalidRequestError(f"k must be between 1 and {self.settings.max_k}, got {k}")
        return k

    def check_ids(self, values: Sequence[str], field: str, limit: int) -> list[str]:
        if len(values) > limit:
            raise TooLargeError(f"{field} has {len(values)} ids; at most {limit} are accepted")
        return [self.check_id(v, field) for v in values]

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _known_items(model: LoadedModel, item_ids: Sequence[str]) -> Ragged:
        """One row of the ids the model knows (others cannot be seeds or be excluded: they are never candidates)."""
        indices = model.arrays.items.lookup(item_ids)
        return Ragged.one_row(indices[indices >= 0])

    def _user_request(
        self,
        user_id: str,
        k: int | None,
        exclude: Sequence[str],
        recent_items: Sequence[str],
        exclude_seen: bool = True,
    ) -> tuple[LoadedModel, int, Request]:
        """Validate a one-user request and turn it into internal indices for the current model."""
        self.check_id(user_id, "user_id")
        checked_k = self.check_k(k)
        exclude = self.check_ids(exclude, "exclude", self.settings.max_item_ids)
        recent_items = self.check_ids(recent_items, "recent_items", self.settings.max_recent_items)
        model = self.provider.get()
        user = model.arrays.users.get(user_id)
        request = Request(
            users=np.asarray([user], dtype=np.int32),
            k=np.asarray([checked_k], dtype=np.int64),
            recent_items=self._known_items(model, recent_items),
            exclude=self._known_items(model, exclude),
            exclude_seen=exclude_seen,
        )
        return model, user, request

    def _with_session(self, model: LoadedModel, user_id: str, request: Request) -> Request:
        """The request with the user's latest events from the table: their items seed co-visitation
        (after the model's history, before the request's own `recent_items`) and, unless the caller
        asked for seen items, are excluded like the history is."""
        if self.sessions is None:
            return request
        consumed = self._known_items(model, self.sessions.recent_items(user_id)[::-1])  # oldest first, as seeds are
        if not len(consumed.values):
            return request
        seeds = consumed if request.recent_items is None else consumed.concat(request.recent_items)
        exclude = request.exclude if not request.exclude_seen else consumed.concat(request.exclude or Ragged.empty(1))
        return replace(request, recent_items=seeds, exclude=exclude)

    @staticmethod
    def _allowed(model: LoadedModel, genre: str) -> npt.NDArray[np.bool_]:
        tables = model.arrays.feature_tables()
        column = f"genres={genre}"
        if column not in tables.tag_names:
            known = sorted(n.split("=", 1)[1] for n in tables.tag_names if n.startswith("genres="))
            raise InvalidRequestError(f"unknown genre {genre[:40]!r}; known: {', '.join(known[:40]) or 'none'}")
        mask: npt.NDArray[np.bool_] = tables.item_tags[:, tables.tag_names.index(column)] > 0
        return mask

    @staticmethod
    def _record(model: LoadedModel, timings: dict[str, float], fallback: bool) -> None:
        metrics.add_dimension(name="model_version", value=model.version)
        for stage, seconds in timings.items():
            metrics.add_metric(name=f"{stage}_latency", unit=MetricUnit.Milliseconds, value=seconds * 1000)
        if fallback:
            metrics.add_metric(name="popularity_fallback", unit=MetricUnit.Count, value=1)

    # -- routes -------------------------------------------------------------------------------
    def recommend(self, request: RecommendRequest) -> Recommendations:
        """Both stages for one user: candidates, filters, LightGBM, top-k."""
        model, user, internal = self._user_request(
            request.user_id, request.k, request.exclude, request.recent_items, request.exclude_seen
        )
        internal = self._with_session(model, request.user_id, internal)
        if request.genre is not None:  # an unknown (or malformed) genre is refused there, with the known ones listed
            internal = replace(internal, allowed=self._allowed(model, request.genre))
        started = time.perf_counter()
        with tracer.provider.in_subsegment("## candidates"):
            batch, candidates = model.recommender.candidates(internal)
        generated = time.perf_counter()
        with tracer.provider.in_subsegment("## rerank"):
            ranked = model.recommender.rank(batch, candidates, internal.k)
        done = time.perf_counter()
        self._record(model, {"candidates": generated - started, "rerank": done - generated}, user < 0)
        seeded = internal.recent_items is not None and len(internal.recent_items.values) > 0
        return Recommendations(
            model_version=model.version,
            user_id=request.user_id,
            fallback=None if user >= 0 else SESSION if seeded else FALLBACK,
            candidates_considered=len(candidates),
            items=scored_items(model, ranked),
        )

    def candidates(self, request: CandidatesRequest) -> CandidateList:
        """Stage 1 only: the merged candidate list in rank-fusion order, with every source's score and rank."""
        model, user, internal = self._user_request(request.user_id, request.k, request.exclude, request.recent_items)
        started = time.perf_counter()
        batch, candidates = model.recommender.candidates(internal)
        ranked = model.recommender.rank(batch, candidates, internal.k, scorer=_FUSION)
        self._record(model, {"candidates": time.perf_counter() - started}, user < 0)
        return CandidateList(
            model_version=model.version,
            user_id=request.user_id,
            fallback=FALLBACK if user < 0 else None,
            items=candidate_items(model, ranked, candidates),
        )

    def rerank(self, request: RerankRequest) -> Reranked:
        """Stage 2 on the caller's list; duplicates collapsed, unknown ids returned last."""
        user_id = self.check_id(request.user_id, "user_id")
        item_ids = list(dict.fromkeys(self.check_ids(request.item_ids, "item_ids", self.settings.max_item_ids)))
        if not item_ids:
            raise InvalidRequestError("item_ids must hold at least one id")
        k = len(item_ids) if request.k is None else self.check_k(request.k)
        model = self.provider.get()
        user = model.arrays.users.get(user_id)
        indices = model.arrays.items.lookup(item_ids)
        known = indices[indices >= 0]
        unknown = [item for item, index in zip(item_ids, indices.tolist(), strict=True) if index < 0]
        started = time.perf_counter()
        items: list[ScoredItem] = []
        if len(known):
            items = scored_items(model, model.recommender.rerank(user, known.tolist(), k))
        self._record(model, {"rerank": time.perf_counter() - started}, user < 0)
        for item_id in unknown[: max(0, k - len(items))]:
            items.append(ScoredItem(item_id=item_id, score=None, rank=len(items) + 1, reason=UNKNOWN_ITEM))
        return Reranked(
            model_version=model.version,
            user_id=user_id,
            fallback=FALLBACK if user < 0 else None,
            items=items,
            unknown_items=unknown,
        )

    def similar(self, request: SimilarRequest) -> SimilarItems:
        """The similar-items sources in their configured order (co-visitation, then ALS cosine) until k are found."""
        item_id = self.check_id(request.item_id, "item_id")
        k = self.check_k(request.k)
        model = self.provider.get()
        item = model.arrays.items.get(item_id)
        if item < 0:
            raise NotFoundError(f"item {item_id!r} is not in model {model.version}")
        chosen = np.zeros(0, dtype=np.int64)
        scores: list[float] = []
        reasons: list[str] = []
        for name in model.manifest.serving.similar:
            source = model.arrays.sources[name]
            if len(chosen) >= k or not isinstance(source, ItemNeighbours):
                continue
            found, found_scores = source.similar(item, k - len(chosen), chosen)
            chosen = np.concatenate([chosen, found])
            scores += found_scores.tolist()
            reasons += [name] * len(found)
        ids = model.arrays.items.to_ids(chosen).tolist()
        return SimilarItems(
            model_version=model.version,
            item_id=item_id,
            items=[
                ScoredItem(item_id=i, score=round(s, 6), rank=r + 1, reason=reason)
                for r, (i, s, reason) in enumerate(zip(ids, scores, reasons, strict=True))
            ],
        )

    def model_info(self) -> ModelInfo:
        model = self.provider.get()
        manifest = model.manifest
        systems = manifest.metrics.get("systems", [])
        return ModelInfo(
            model_version=manifest.version,
            created_at=manifest.created_at,
            data_fingerprint=manifest.data_fingerprint,
            source=self.provider.source.describe(),
            pinned=self.provider.pinned_version is not None,
            load_seconds=self.provider.load_seconds,
            users=model.arrays.n_users,
            items=model.arrays.n_items,
            features=len(manifest.features),
            sources=list(manifest.serving.source_names),
            metrics={system: manifest.metrics.get(system, {}).get("all", {}) for system in systems},
            files={entry.name: entry.size for entry in sorted(manifest.files, key=lambda e: -e.size)[:3]},
            overlay=model.overlay_id,
            trends_as_of=model.overlay.as_of_utc if model.overlay is not None else None,
        )

    def health(self) -> Health:
        """Liveness: answers even without a model, and says whether one is loaded."""
        loaded = self.provider.loaded
        return Health(model_version=loaded.version if loaded else None)
