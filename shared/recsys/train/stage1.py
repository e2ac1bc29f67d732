"""Step `stage1`: at each cut, each user's seen items and every configured source's fit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from recsys import artifacts as A
from recsys import columns as C
from recsys import sources as registry
from recsys.candidates.base import FitInput
from recsys.config import TrainSettings
from recsys.errors import ModelIntegrityError
from recsys.ragged import Ragged
from recsys.train.rundir import RunDir
from recsys.train.split import history_for


def seen_index(history: pd.DataFrame, n_users: int) -> Ragged:
    """Each user's distinct items in time order (oldest first; a repeat counts at its last time)."""
    ordered = history.sort_values([C.USER_IDX, C.TIMESTAMP, C.ITEM_IDX]).drop_duplicates(
        [C.USER_IDX, C.ITEM_IDX], keep="last"
    )
    users = ordered[C.USER_IDX].to_numpy()
    indptr = np.concatenate(([0], np.cumsum(np.bincount(users, minlength=n_users)))).astype(np.int64)
    return Ragged(indptr, ordered[C.ITEM_IDX].to_numpy(dtype=np.int32))


def run_stage1(run: RunDir, settings: TrainSettings, advance: Callable[[], object]) -> None:
    prepared = run.read_json("prepare", "prepare.json")
    n_users, n_items = int(prepared["users"]), int(prepared["items"])
    for cut in run.cuts():
        history, now = history_for(run, cut)
        out = run.step("stage1", cut)
        seen = seen_index(history, n_users)
        np.save(out / A.SEEN_INDPTR, seen.indptr, allow_pickle=False)
        np.save(out / A.SEEN_ITEMS, seen.values, allow_pickle=False)
        data = FitInput(history, n_users, n_items, now)
        for source in registry.resolve(settings.candidates.sources):
            arrays = source.fit(data, settings.source(source.name))
            if set(arrays) != set(source.files):
                raise ModelIntegrityError(f"source {source.name!r} fitted {sorted(arrays)}, declares {source.files}")
            for name, array in arrays.items():
                np.save(out / name, array, allow_pickle=False)
        advance()
