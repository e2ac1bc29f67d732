"""Synthetic interactions with real structure (taste clusters, popularity, time), for tests and trials.

`recsys` must run unchanged on data that is not MovieTweetings; this makes such data, with
string user ids, integer item ids, ISO timestamps and list-valued genres, so that every input
path of the pipeline is exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GENRES = ("action", "comedy", "drama", "horror", "sci-fi", "romance", "documentary", "animation")


def make_dataset(
    n_users: int = 600, n_items: int = 300, n_interactions: int = 12_000, days: int = 90, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items): users prefer two genres; items have a release day and a popularity."""
    rng = np.random.default_rng(seed)
    item_genres = [sorted(rng.choice(GENRES, size=rng.integers(1, 3), replace=False)) for _ in range(n_items)]
    release_day = rng.uniform(-30, days, size=n_items)
    appeal = rng.pareto(1.5, size=n_items) + 0.1
    user_taste = [set(rng.choice(GENRES, size=2, replace=False)) for _ in range(n_users)]
    activity = rng.pareto(1.2, size=n_users) + 0.2

    users = rng.choice(n_users, size=n_interactions, p=activity / activity.sum())
    day = rng.uniform(0, days, size=n_interactions)
    items = np.empty(n_interactions, dtype=np.int64)
    for row, (user, when) in enumerate(zip(users, day, strict=True)):
        released = release_day <= when
        freshness = np.exp(-(when - release_day) / 20.0)
        taste = np.array([2.5 if user_taste[user] & set(g) else 0.3 for g in item_genres])
        weight = appeal * freshness * taste * released + 1e-9
        items[row] = rng.choice(n_items, p=weight / weight.sum())
    start = pd.Timestamp("2024-01-01", tz="UTC")
    interactions = pd.DataFrame(
        {
            "user_id": [f"u{u:05d}" for u in users],
            "item_id": items + 1000,
            "timestamp": (start + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rating": rng.integers(1, 6, size=n_interactions).astype(float),
        }
    ).drop_duplicates(["user_id", "item_id"])
    catalog = pd.DataFrame(
        {
            "item_id": np.arange(n_items) + 1000,
            "title": [f"Item {i}" for i in range(n_items)],
            "genres": item_genres,
            "release_day": release_day.round(1),
            "studio": rng.choice(["north", "south", "east"], size=n_items),
        }
    )
    return interactions.reset_index(drop=True), catalog


def write_dataset(folder: Path, **kwargs: int) -> tuple[Path, Path]:
    """Write the synthetic dataset as csv interactions and parquet items; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    interactions, items = make_dataset(**kwargs)
    interactions_path, items_path = folder / "interactions.csv", folder / "items.parquet"
    interactions.to_csv(interactions_path, index=False)
    items.to_parquet(items_path, index=False)
    return interactions_path, items_path
