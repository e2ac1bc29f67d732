"""Step `stage1`: fit ALS, co-visitation, popularity and the seen-items index at each cutoff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from recsys import artifacts as A
from recsys.candidates.fit import fit_als, fit_covisitation, fit_popularity, seen_index
from recsys.config import TrainSettings
from recsys.train.rundir import CUTS, RunDir
from recsys.train.split import history_for


def run_stage1(run: RunDir, settings: TrainSettings, advance: Callable[[], object]) -> None:
    prepared = run.read_json("prepare", "prepare.json")
    n_users, n_items = int(prepared["users"]), int(prepared["items"])
    for cut in CUTS:
        history, now = history_for(run, cut)
        out = run.step("stage1", cut)
        user_factors, item_factors = fit_als(history, n_users, n_items, settings.als)
        neighbours, link_scores = fit_covisitation(history, n_items, settings.covisit)
        seen = seen_index(history, n_users)
        arrays: dict[str, np.ndarray[Any, Any]] = {
            A.ALS_USER_FACTORS: user_factors,
            A.ALS_ITEM_FACTORS: item_factors,
            A.COVISIT_ITEMS: neighbours,
            A.COVISIT_SCORES: link_scores,
            A.POPULARITY: fit_popularity(history, n_items, now, settings.popularity),
            A.SEEN_INDPTR: seen.indptr,
            A.SEEN_ITEMS: seen.values,
        }
        for name, array in arrays.items():
            np.save(out / name, array, allow_pickle=False)
        advance()
