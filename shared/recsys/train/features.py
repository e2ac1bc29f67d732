"""Step `features`: user, item and tag tables at each cutoff, as parquet."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from recsys import artifacts as A
from recsys.candidates.base import FitInput
from recsys.config import TrainSettings
from recsys.features.tables import (
    build_item_features,
    build_tag_tables,
    build_user_features,
    item_activity,
    lists_restored,
    tag_vocabulary,
)
from recsys.train.rundir import RunDir
from recsys.train.split import history_for


def run_features(run: RunDir, settings: TrainSettings, advance: Callable[[], object]) -> None:
    prepared = run.read_json("prepare", "prepare.json")
    n_users, n_items = int(prepared["users"]), int(prepared["items"])
    items: pd.DataFrame | None = None
    if prepared["has_items"]:
        items = lists_restored(run.read_parquet("prepare", "items.parquet"))
    vocabulary = tag_vocabulary(items, settings.features.max_tag_values)
    for cut in run.cuts():
        history, now = history_for(run, cut)
        out = run.step("features", cut)
        build_user_features(history, items, n_users, n_items, now, settings.features).to_parquet(
            out / A.USER_FEATURES, index=False
        )
        activity = item_activity(FitInput(history, n_users, n_items, now), settings)
        activity.write(out)  # what the live-trends overlay moves forward between trainings
        build_item_features(activity, items, settings.features).to_parquet(out / A.ITEM_FEATURES, index=False)
        user_tags, item_tags = build_tag_tables(history, items, n_users, n_items, vocabulary)
        user_tags.to_parquet(out / A.USER_TAGS, index=False)
        item_tags.to_parquet(out / A.ITEM_TAGS, index=False)
        advance()
