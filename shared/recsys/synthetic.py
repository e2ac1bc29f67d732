"""Synthetic interactions with real structure (taste, power-law popularity, trends), at any scale.

`recsys` must run unchanged on data that is not MovieTweetings, and its figures at scale must be
reproducible by anyone: `recsys synth` writes such data, with string user ids, integer item ids,
ISO timestamps and list-valued genres, so that every input path of the pipeline is exercised.

The shape of it:
- items have one or two genres, a release day and an appeal drawn from a Pareto law (a few hits);
- users like two genres and have an activity drawn from a Pareto law (a few users take thousands);
- an interaction at time t picks a genre (the user's two weighted 2.5 against 0.3, each by its total
  appeal), then an item of that genre by appeal, kept with probability exp(-age / 20 days), zero
  before release: items trend after their release and fade, which is what makes a recent chart strong.

Vectorised: the freshness test is rejection sampling over all pending draws at once, so 20M
interactions take seconds per round, not a Python loop per interaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

GENRES = ("action", "comedy", "drama", "horror", "sci-fi", "romance", "documentary", "animation")
TASTE_WEIGHT, OTHER_WEIGHT = 2.5, 0.3
FADE_DAYS = 20.0
FIRST_ITEM_ID = 1000


@dataclass(frozen=True)
class Catalog:
    """Items by genre: per genre, its items and the cumulative appeal to draw one by."""

    genre_items: tuple[npt.NDArray[np.int64], ...]
    genre_cumulative: tuple[npt.NDArray[np.float64], ...]
    release_day: npt.NDArray[np.float64]

    @property
    def genre_mass(self) -> npt.NDArray[np.float64]:
        return np.asarray([c[-1] if len(c) else 0.0 for c in self.genre_cumulative])

    def draw(self, rng: np.random.Generator, genre: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """One item per entry of `genre`, by appeal within that genre."""
        items = np.empty(len(genre), dtype=np.int64)
        for g, (members, cumulative) in enumerate(zip(self.genre_items, self.genre_cumulative, strict=True)):
            rows = np.flatnonzero(genre == g)
            if len(rows):
                picked = np.searchsorted(cumulative, rng.uniform(0, cumulative[-1], size=len(rows)), side="right")
                items[rows] = members[np.minimum(picked, len(members) - 1)]
        return items


def _catalog(rng: np.random.Generator, n_items: int, days: int) -> tuple[Catalog, list[list[str]]]:
    n_genres = len(GENRES)
    first = rng.integers(0, n_genres, size=n_items)
    second = np.where(rng.random(n_items) < 0.5, (first + rng.integers(1, n_genres, size=n_items)) % n_genres, -1)
    release_day = rng.uniform(-30, days, size=n_items)
    # something is out on day 0, so every draw can be kept (the rejection loop would never end otherwise)
    release_day[np.argmin(release_day)] = min(float(release_day.min()), -1.0)
    appeal = rng.pareto(1.5, size=n_items) + 0.1
    members = [np.flatnonzero((first == g) | (second == g)) for g in range(n_genres)]
    catalog = Catalog(tuple(members), tuple(np.cumsum(appeal[m]) for m in members), release_day)
    names = [sorted({GENRES[a], *([GENRES[b]] if b >= 0 else [])}) for a, b in zip(first, second, strict=True)]
    return catalog, names


def _interactions(
    rng: np.random.Generator, catalog: Catalog, n_users: int, n: int, days: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """n draws of (user, item, day), freshness by rejection; duplicates of a (user, item) are kept here."""
    n_genres = len(GENRES)
    taste_first = rng.integers(0, n_genres, size=n_users)
    taste_second = (taste_first + rng.integers(1, n_genres, size=n_users)) % n_genres
    activity = rng.pareto(1.2, size=n_users) + 0.2
    users = rng.choice(n_users, size=n, p=activity / activity.sum())
    day = rng.uniform(0, days, size=n)
    items = np.full(n, -1, dtype=np.int64)
    mass = catalog.genre_mass
    pending = np.arange(n)
    while len(pending):
        u = users[pending]
        # P(genre | user) is OTHER_WEIGHT * mass, raised to TASTE_WEIGHT * mass for the user's two genres
        weight = np.broadcast_to(OTHER_WEIGHT * mass, (len(pending), n_genres)).copy()
        weight[np.arange(len(pending)), taste_first[u]] = TASTE_WEIGHT * mass[taste_first[u]]
        weight[np.arange(len(pending)), taste_second[u]] = TASTE_WEIGHT * mass[taste_second[u]]
        cumulative = np.cumsum(weight, axis=1)
        genre = (cumulative < rng.uniform(0, 1, size=len(pending))[:, None] * cumulative[:, -1:]).sum(axis=1)
        drawn = catalog.draw(rng, np.minimum(genre, n_genres - 1))
        age = day[pending] - catalog.release_day[drawn]
        kept = (age >= 0) & (rng.random(len(pending)) < np.exp(-np.maximum(age, 0) / FADE_DAYS))
        items[pending[kept]] = drawn[kept]
        pending = pending[~kept]
    return users, items, day


def make_dataset(
    n_users: int = 600, n_items: int = 300, n_interactions: int = 12_000, days: int = 90, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items), deterministic by seed; at most `n_interactions` distinct (user, item) pairs.

    A user takes an item once: draws that repeat a pair are dropped, and more are drawn (up to a few
    rounds) until the count is reached, so heavy users and small catalogs can come out a little short.
    """
    rng = np.random.default_rng(seed)
    catalog, genres = _catalog(rng, n_items, days)
    users, items, day = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    for _ in range(5):
        missing = n_interactions - len(users)
        if missing <= 0:
            break
        more = _interactions(rng, catalog, n_users, int(missing * 1.1) + 16, days)
        users, items, day = (np.concatenate(pair) for pair in zip((users, items, day), more, strict=True))
        _, first = np.unique(users * n_items + items, return_index=True)
        first.sort()  # the first draw of a pair is the one kept
        users, items, day = users[first], items[first], day[first]
    order = np.argsort(day[:n_interactions], kind="stable")
    users, items, day = users[order], items[order], day[order]
    start = pd.Timestamp("2024-01-01", tz="UTC")
    width = max(5, len(str(n_users - 1)))
    interactions = pd.DataFrame(
        {
            "user_id": pd.Series(users).astype(str).str.zfill(width).radd("u"),
            "item_id": items + FIRST_ITEM_ID,
            "timestamp": (start + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rating": rng.integers(1, 6, size=len(users)).astype(float),
        }
    )
    catalog_table = pd.DataFrame(
        {
            "item_id": np.arange(n_items) + FIRST_ITEM_ID,
            "title": [f"Item {i}" for i in range(n_items)],
            "genres": genres,
            "release_day": catalog.release_day.round(1),
            "studio": rng.choice(["north", "south", "east"], size=n_items),
        }
    )
    return interactions, catalog_table


def write_dataset(folder: Path, interactions_format: str = "csv", **kwargs: int) -> tuple[Path, Path]:
    """Write the synthetic dataset (interactions as csv or parquet, items as parquet); returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    interactions, items = make_dataset(**kwargs)
    interactions_path, items_path = folder / f"interactions.{interactions_format}", folder / "items.parquet"
    if interactions_format == "parquet":
        interactions.to_parquet(interactions_path, index=False)
    else:
        interactions.to_csv(interactions_path, index=False)
    items.to_parquet(items_path, index=False)
    return interactions_path, items_path
