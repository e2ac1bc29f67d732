"""What each route does, independent of HTTP: validated inputs in, JSON-ready dicts out.

The hot path (`recommend`) touches no pandas and makes no S3 call: an id lookup, the
vectorised two stages on one row, and a few list conversions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
from aws_lambda_powertools.metrics import MetricUnit

from recsys import artifacts as A
from recsys.errors import InvalidRequestError, NotFoundError, TooLargeError
from recsys.idmap import ID_CHARACTERS, is_valid_id
from recsys.loaded import LoadedModel
from recsys.metrics import SYSTEMS
from recsys.ragged import Ragged
from recsys.ranking.scorers import ReciprocalRankFusion
from recsys.recommender import Ranked, Request
from recsys.serving.settings import ServingSettings
from recsys.serving.telemetry import metrics, tracer
from recsys.store.provider import ModelProvider

FALLBACK = "popularity"
_FUSION = ReciprocalRankFusion()


class RecommendationService:
    def __init__(self, provider: ModelProvider, settings: ServingSettings) -> None:
        self.provider = provider
        self.settings = settings

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
        self, user_id: str, k: int | None, exclude: Sequence[str], recent_items: Sequence[str], **options: Any
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
            **options,
        )
        return model, user, request

    @staticmethod
    def _allowed(model: LoadedModel, genre: str) -> npt.NDArray[np.bool_]:
        column = f"genres={genre}"
        if column not in model.arrays.tag_names:
            known = sorted(n.split("=", 1)[1] for n in model.arrays.tag_names if n.startswith("genres="))
            raise InvalidRequestError(f"unknown genre {genre[:40]!r}; known: {', '.join(known[:40]) or 'none'}")
        mask: npt.NDArray[np.bool_] = model.arrays.item_tags[:, model.arrays.tag_names.index(column)] > 0
        return mask

    @staticmethod
    def _items(model: LoadedModel, ranked: Ranked) -> list[dict[str, Any]]:
        ids = model.arrays.items.to_ids(ranked.item)
        return [
            {"item_id": item_id, "score": round(score, 6), "rank": rank, "reason": reason}
            for item_id, score, rank, reason in zip(
                ids.tolist(), ranked.score.tolist(), ranked.rank.tolist(), ranked.reasons().tolist(), strict=True
            )
        ]

    @staticmethod
    def _record(model: LoadedModel, timings: dict[str, float], fallback: bool) -> None:
        metrics.add_dimension(name="model_version", value=model.version)
        for stage, seconds in timings.items():
            metrics.add_metric(name=f"{stage}_latency", unit=MetricUnit.Milliseconds, value=seconds * 1000)
        if fallback:
            metrics.add_metric(name="popularity_fallback", unit=MetricUnit.Count, value=1)

    # -- routes -------------------------------------------------------------------------------
    def recommend(
        self,
        user_id: str,
        k: int | None = None,
        exclude_seen: bool = True,
        exclude: Sequence[str] = (),
        genre: str | None = None,
        recent_items: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Both stages for one user: candidates, filters, LightGBM, top-k."""
        model, user, request = self._user_request(user_id, k, exclude, recent_items, exclude_seen=exclude_seen)
        if genre is not None:  # an unknown (or malformed) genre is refused there, with the known ones listed
            request = replace(request, allowed=self._allowed(model, genre))
        started = time.perf_counter()
        with tracer.provider.in_subsegment("## candidates"):
            batch, candidates = model.recommender.candidates(request)
        generated = time.perf_counter()
        with tracer.provider.in_subsegment("## rerank"):
            ranked = model.recommender.rank(batch, candidates, request.k)
        done = time.perf_counter()
        fallback = user < 0
        self._record(model, {"candidates": generated - started, "rerank": done - generated}, fallback)
        return {
            "model_version": model.version,
            "user_id": user_id,
            "fallback": FALLBACK if fallback else None,
            "candidates_considered": len(candidates),
            "items": self._items(model, ranked),
        }

    def candidates(
        self, user_id: str, k: int | None = None, recent_items: Sequence[str] = (), exclude: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Stage 1 only: the merged candidate list in rank-fusion order, with every source's score and rank."""
        model, user, request = self._user_request(user_id, k, exclude, recent_items)
        started = time.perf_counter()
        batch, candidates = model.recommender.candidates(request)
        ranked = model.recommender.rank(batch, candidates, request.k, scorer=_FUSION)
        self._record(model, {"candidates": time.perf_counter() - started}, user < 0)
        # each returned pair's per-source scores and ranks, found by its position in the candidate list
        position = np.searchsorted(candidates.item, ranked.item)
        items = self._items(model, ranked)
        names = candidates.source_names
        for entry, pos in zip(items, position.tolist(), strict=True):
            entry["sources"] = {
                name: {
                    "score": None if np.isnan(s := float(candidates.scores[pos, j])) else round(s, 6),
                    "rank": None if np.isnan(r := float(candidates.ranks[pos, j])) else int(r) + 1,
                }
                for j, name in enumerate(names)
            }
        return {
            "model_version": model.version,
            "user_id": user_id,
            "fallback": FALLBACK if user < 0 else None,
            "items": items,
        }

    def rerank(self, user_id: str, item_ids: Sequence[str], k: int | None = None) -> dict[str, Any]:
        """Stage 2 on the caller's list; duplicates collapsed, unknown ids returned last."""
        user_id = self.check_id(user_id, "user_id")
        item_ids = list(dict.fromkeys(self.check_ids(item_ids, "item_ids", self.settings.max_item_ids)))
        if not item_ids:
            raise InvalidRequestError("item_ids must hold at least one id")
        k = len(item_ids) if k is None else self.check_k(k)
        model = self.provider.get()
        user = model.arrays.users.get(user_id)
        indices = model.arrays.items.lookup(item_ids)
        known = indices[indices >= 0]
        unknown = [item for item, index in zip(item_ids, indices.tolist(), strict=True) if index < 0]
        started = time.perf_counter()
        items: list[dict[str, Any]] = []
        if len(known):
            items = self._items(model, model.recommender.rerank(user, known.tolist(), k))
        self._record(model, {"rerank": time.perf_counter() - started}, user < 0)
        for item_id in unknown[: max(0, k - len(items))]:
            items.append({"item_id": item_id, "score": None, "rank": len(items) + 1, "reason": "unknown_item"})
        return {
            "model_version": model.version,
            "user_id": user_id,
            "fallback": FALLBACK if user < 0 else None,
            "items": items,
            "unknown_items": unknown,
        }

    def similar(self, item_id: str, k: int | None = None) -> dict[str, Any]:
        """Co-visitation neighbours first, then nearest items by ALS factors (cosine)."""
        item_id = self.check_id(item_id, "item_id")
        k = self.check_k(k)
        model = self.provider.get()
        item = model.arrays.items.get(item_id)
        if item < 0:
            raise NotFoundError(f"item {item_id!r} is not in model {model.version}")
        arrays = model.arrays
        neighbours = arrays.covisit_items[item]
        link = arrays.covisit_scores[item]
        chosen = [(int(n), float(s), "covisit") for n, s in zip(neighbours, link, strict=True) if n >= 0][:k]
        if len(chosen) < k:
            unit = arrays.als_item_unit
            cosine = unit @ unit[item]
            cosine[item] = -np.inf
            cosine[[c[0] for c in chosen]] = -np.inf
            for n in np.argsort(-cosine)[: k - len(chosen)]:
                chosen.append((int(n), float(cosine[n]), "als"))
        ids = arrays.items.to_ids(np.asarray([c[0] for c in chosen], dtype=np.int64))
        return {
            "model_version": model.version,
            "item_id": item_id,
            "items": [
                {"item_id": i, "score": round(score, 6), "rank": r + 1, "reason": reason}
                for r, (i, (_, score, reason)) in enumerate(zip(ids.tolist(), chosen, strict=True))
            ],
        }

    def model_info(self) -> dict[str, Any]:
        model = self.provider.get()
        manifest = model.manifest
        return {
            "model_version": manifest.version,
            "created_at": manifest.created_at,
            "data_fingerprint": manifest.data_fingerprint,
            "source": self.provider.source.describe(),
            "pinned": self.provider.pinned_version is not None,
            "load_seconds": self.provider.load_seconds,
            "users": model.arrays.n_users,
            "items": model.arrays.n_items,
            "features": len(manifest.features),
            "metrics": {system: manifest.metrics.get(system, {}).get("all", {}) for system in SYSTEMS},
            "files": {name: manifest.file(name).size for name in (A.RANKER, A.ALS_ITEM_FACTORS)},
        }

    def health(self) -> dict[str, Any]:
        """Liveness: answers even without a model, and says whether one is loaded."""
        loaded = self.provider.loaded
        return {"status": "ok", "model_version": loaded.version if loaded else None}
