"""Recommendations for many users at once, in chunks: the path `recsys score`, S3 batch jobs and training share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from recsys import columns as C
from recsys.loaded import LoadedModel
from recsys.recommender import Request

#: Users scored together: big enough for numpy and LightGBM to run at full speed, small enough
#: that the per-chunk score matrices (users x catalog) stay in the tens of MB.
CHUNK_USERS = 1024

SCORED_SCHEMA = pa.schema(
    [
        pa.field(C.USER_ID, pa.string()),
        pa.field(C.RANK, pa.int32()),
        pa.field(C.ITEM_ID, pa.string()),
        pa.field(C.SCORE, pa.float32()),
        pa.field(C.REASON, pa.string()),
    ]
)


def chunks(values: npt.NDArray[np.int32], size: int = CHUNK_USERS) -> Iterator[npt.NDArray[np.int32]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


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
