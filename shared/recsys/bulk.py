"""Recommendations for many users at once, in chunks: the path `recsys score`, S3 batch jobs and training share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from recsys import columns as C
from recsys.loaded import LoadedModel
from recsys.ragged import Ragged
from recsys.recommender import Request

#: Users scored together: big enough for numpy and LightGBM to run at full speed.
CHUNK_USERS = 1024
#: History entries (items the users have taken) scored together. A chunk's memory grows with its
#: users' histories (seen-item exclusion, seeds), so heavy users come in smaller chunks: 1,024
#: typical users fit, as do ~25 users who have each taken 40k items; tens of MB of temporaries.
CHUNK_HISTORY = 1_000_000

SCORED_SCHEMA = pa.schema(
    [
        pa.field(C.USER_ID, pa.string()),
        pa.field(C.RANK, pa.int32()),
        pa.field(C.ITEM_ID, pa.string()),
        pa.field(C.SCORE, pa.float32()),
        pa.field(C.REASON, pa.string()),
    ]
)


def chunk_bounds(
    users: npt.NDArray[np.int32], seen: Ragged, max_users: int | None = None, max_history: int | None = None
) -> Iterator[slice]:
    """Consecutive slices of `users` (internal indices, -1 unknown): at most `max_users` users and at most
    `max_history` history entries each (default `CHUNK_USERS`, `CHUNK_HISTORY`), but never empty: a user
    heavier than the bound is scored alone."""
    max_users = CHUNK_USERS if max_users is None else max_users
    max_history = CHUNK_HISTORY if max_history is None else max_history
    lengths = np.where(users >= 0, np.diff(seen.indptr)[np.maximum(users, 0)], 0)
    total = np.concatenate(([0], np.cumsum(lengths)))
    start = 0
    while start < len(users):
        fits = int(np.searchsorted(total, total[start] + max_history, side="right")) - 1
        stop = max(start + 1, min(start + max_users, fits))
        yield slice(start, stop)
        start = stop


def chunks(users: npt.NDArray[np.int32], seen: Ragged) -> Iterator[npt.NDArray[np.int32]]:
    """`users` in chunks bounded by count and by history (`chunk_bounds`)."""
    for bounds in chunk_bounds(users, seen):
        yield users[bounds]


def score_users(model: LoadedModel, user_ids: Sequence[str], k: npt.NDArray[np.int64]) -> pa.Table:
    """Top-k per user (k may differ per row); unknown users get the popularity fallback.

    Any number of rows: they are scored in chunks bounded by history (`chunk_bounds`), so memory
    follows the chunk, not the heaviest users' histories."""
    users = model.arrays.users.lookup(user_ids)
    ids = np.asarray(user_ids, dtype=object)
    parts = []
    for bounds in chunk_bounds(users, model.arrays.seen):
        ranked = model.recommender.recommend(Request(users=users[bounds], k=k[bounds]))
        parts.append(
            pa.table(
                [
                    pa.array(ids[bounds][ranked.row], type=pa.string()),
                    pa.array(ranked.rank, type=pa.int32()),
                    pa.array(model.arrays.items.to_ids(ranked.item), type=pa.string()),
                    pa.array(ranked.score, type=pa.float32()),
                    pa.array(ranked.reasons(), type=pa.string()),
                ],
                schema=SCORED_SCHEMA,
            )
        )
    return pa.concat_tables(parts) if parts else SCORED_SCHEMA.empty_table()
