"""ALS (implicit): the dot product of user and item factors. No opinion on users without history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
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
from recsys.candidates.scores import DenseScores, LengthOrder

USER_FACTORS: Final = "als_user_factors.npy"
ITEM_FACTORS: Final = "als_item_factors.npy"
#: From this many items on, the top-n scores each row's prefix of the factors by length, not the
#: catalog: 1.07x batch throughput at 100k items, none at 50k (docs/benchmarks.md, `make bench`).
PRUNE_MIN_ITEMS = 60_000


class AlsSettings(SourceSettings):
    factors: int = Field(64, ge=2, le=1024)
    regularization: float = Field(0.05, ge=0)
    iterations: int = Field(15, ge=1, le=200)
    alpha: float = Field(1.0, ge=0, description="confidence = 1 + alpha * weight")
    random_state: int = 42


@dataclass(frozen=True)
class LoadedAls:
    user_factors: F32
    item_factors: F32

    @cached_property
    def item_unit(self) -> F32:
        """Item factors scaled to unit length, for cosine similarity (computed once per model)."""
        norms = np.linalg.norm(self.item_factors, axis=1, keepdims=True) + 1e-9
        unit: F32 = (self.item_factors / norms).astype(np.float32)
        return unit

    @cached_property
    def by_length(self) -> LengthOrder:
        """The item factors longest first, for a top-n that skips the short tail (built on first use)."""
        return LengthOrder.of(self.item_factors)

    def score(self, batch: UserBatch) -> SourceScores:
        rows = np.flatnonzero(batch.has_history)
        users = self.user_factors[batch.users[rows]]
        by_length = self.by_length if len(self.item_factors) >= PRUNE_MIN_ITEMS else None
        return DenseScores(rows, users, self.item_factors, len(batch), by_length)

    def similar(self, item: int, k: int, exclude: I64) -> tuple[I64, F32]:
        """Nearest items by cosine of the factors."""
        cosine = self.item_unit @ self.item_unit[item]
        cosine[item] = -np.inf
        cosine[exclude] = -np.inf
        order = np.argsort(-cosine)[:k]
        return order.astype(np.int64), cosine[order].astype(np.float32)


class AlsSource:
    name = "als"
    settings_model = AlsSettings
    backfill = False
    files = (USER_FACTORS, ITEM_FACTORS)
    item_padding: ClassVar[dict[str, float]] = {ITEM_FACTORS: 0.0}  # a new item: no factors yet, scores 0 for everyone

    def fit(self, data: FitInput, settings: AlsSettings) -> Mapping[str, Array]:
        """Implicit-feedback ALS; confidence 1 + alpha * weight, repeated pairs add up."""
        import scipy.sparse as sp  # training only, like implicit
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        history = data.history
        confidence = 1.0 + settings.alpha * history[C.WEIGHT].to_numpy(dtype=np.float32)
        rows, cols = history[C.USER_IDX].to_numpy(np.int64), history[C.ITEM_IDX].to_numpy(np.int64)
        user_items = sp.coo_matrix((confidence, (rows, cols)), shape=(data.n_users, data.n_items)).tocsr()
        with threadpool_limits(1, "blas"):  # implicit asks for it: BLAS threads fight its own
            model = AlternatingLeastSquares(
                factors=settings.factors,
                regularization=settings.regularization,
                iterations=settings.iterations,
                random_state=settings.random_state,
                num_threads=1,  # deterministic for a given random_state
            )
            model.fit(user_items, show_progress=False)
        return {
            USER_FACTORS: np.ascontiguousarray(model.user_factors, dtype=np.float32),
            ITEM_FACTORS: np.ascontiguousarray(model.item_factors, dtype=np.float32),
        }

    def load(self, read: ReadArray, n_users: int, n_items: int) -> LoadedAls:
        users: npt.NDArray[np.float32] = read(USER_FACTORS).astype(np.float32, copy=False)
        items: npt.NDArray[np.float32] = read(ITEM_FACTORS).astype(np.float32, copy=False)
        expect_shape(USER_FACTORS, users, (n_users, None))
        expect_shape(ITEM_FACTORS, items, (n_items, users.shape[1]))
        expect_finite(ITEM_FACTORS, items)
        return LoadedAls(users, items)
