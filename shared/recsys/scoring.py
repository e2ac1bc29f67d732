"""Vectorised scoring of many users at once: the path shared by `recsys score` and S3 batch jobs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from recsys import columns as C
from recsys.engine import CHUNK_USERS
from recsys.loaded import LoadedModel
from recsys.recommender import Request

SCORED_SCHEMA = pa.schema(
    [
        pa.field(C.USER_ID, pa.string()),
        pa.field(C.RANK, pa.int32()),
        pa.field(C.ITEM_ID, pa.string()),
        pa.field(C.SCORE, pa.float32()),
        pa.field(C.REASON, pa.string()),
    ]
)


def score_users(model: LoadedModel, user_ids: Sequence[str], k: npt.NDArray[np.int64]) -> pa.Table:
    """Top-k per user (k may differ per row); unknown users get the popularity fallback."""
    users = model.arrays.users.lookup(user_ids)
    ranked = model.recommender.recommend(Request(users=users, k=k))
    ids = np.asarray(user_ids, dtype=object)
    return pa.table(
        [
            pa.array(ids[ranked.row], type=pa.string()),
            pa.array(ranked.rank, type=pa.int32()),
            pa.array(model.arrays.items.to_ids(ranked.item), type=pa.string()),
            pa.array(ranked.score, type=pa.float32()),
            pa.array(ranked.reasons(), type=pa.string()),
        ],
        schema=SCORED_SCHEMA,
    )


def score_in_chunks(
    model: LoadedModel, user_ids: Sequence[str], k: npt.NDArray[np.int64], chunk: int = CHUNK_USERS
) -> Iterator[pa.Table]:
    for start in range(0, len(user_ids), chunk):
        yield score_users(model, user_ids[start : start + chunk], k[start : start + chunk])
