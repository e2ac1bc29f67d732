"""User, item and tag feature tables fitted on a history up to a cutoff (training side, pandas).

Every table has one row per internal id, in id order, as float32 columns; the user tables add
a last row (`user_idx` = -1) describing a user with no history, which serving gathers for
unknown users. Column lists here are the declared schema the loader checks against.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys import columns as C
from recsys.candidates.base import FitInput
from recsys.config import FeatureSettings, TrainSettings
from recsys.trends.activity import ItemActivity, activity_of
from recsys.trends.columns import activity_needs, item_trend_columns, years

NO_HISTORY = -1


def _windows(
    frame: pd.DataFrame, key: str, now: float, days: tuple[int, ...], prefix: str, n: int
) -> dict[str, np.ndarray]:
    ts = frame[C.TIMESTAMP].to_numpy(dtype=np.float64)
    ids = frame[key].to_numpy()
    return {f"{prefix}_n_{d}d": np.bincount(ids[ts >= now - d * C.DAY], minlength=n).astype(np.float32) for d in days}


def _per_id(frame: pd.DataFrame, key: str, n: int) -> pd.DataFrame:
    """Counts, first/last time and rating stats per id, reindexed to all ids."""
    grouped = frame.groupby(key)
    stats = pd.DataFrame(
        {
            "n": grouped.size(),
            "first": grouped[C.TIMESTAMP].min(),
            "last": grouped[C.TIMESTAMP].max(),
            "value_mean": grouped["_value"].mean(),
            "value_std": grouped["_value"].std(ddof=0),
        }
    )
    return stats.reindex(pd.RangeIndex(n))


def _with_value(history: pd.DataFrame) -> pd.DataFrame:
    value = history[C.RATING] if C.RATING in history else history[C.WEIGHT]
    return history.assign(_value=value.astype(np.float64))


def release_years(items: pd.DataFrame | None, n_items: int, settings: FeatureSettings) -> np.ndarray:
    """Each item's release year from the configured metadata column (NaN where unknown or absent)."""
    released = np.full(n_items, np.nan)
    column = settings.release_year_column
    if items is not None and column and column in items and pd.api.types.is_numeric_dtype(items[column]):
        released[items[C.ITEM_IDX].to_numpy()] = items[column].to_numpy(np.float64)
    return released


def _item_first_seen(history: pd.DataFrame, n_items: int) -> np.ndarray:
    first = np.full(n_items, np.inf)
    np.minimum.at(first, history[C.ITEM_IDX].to_numpy(), history[C.TIMESTAMP].to_numpy(np.float64))
    return first


def build_user_features(
    history: pd.DataFrame, items: pd.DataFrame | None, n_users: int, n_items: int, now: float, settings: FeatureSettings
) -> pd.DataFrame:
    """Activity, recency and the user's taste for new things: how fresh (days since the item first appeared)
    and how recent (years since release) the items were when the user took them."""
    history = _with_value(history)
    stats = _per_id(history, C.USER_IDX, n_users)
    users = history[C.USER_IDX].to_numpy()
    timestamps = history[C.TIMESTAMP].to_numpy(np.float64)
    n = stats["n"].fillna(0).to_numpy(np.float64)
    per_user = np.maximum(n, 1)

    def mean_over_history(values: np.ndarray) -> np.ndarray:
        known = ~np.isnan(values)
        count = np.bincount(users[known], minlength=n_users)
        total = np.bincount(users[known], weights=values[known], minlength=n_users)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    def share_of_history(flags: np.ndarray) -> np.ndarray:
        return np.where(n > 0, np.bincount(users, weights=flags, minlength=n_users) / per_user, np.nan)

    age_at_use = (timestamps - _item_first_seen(history, n_items)[history[C.ITEM_IDX].to_numpy()]) / C.DAY
    year_gap_at_use = years(timestamps) - release_years(items, n_items, settings)[history[C.ITEM_IDX].to_numpy()]
    features = {
        "user_n": n.astype(np.float32),
        "user_days_since_last": ((now - stats["last"]) / C.DAY).to_numpy(np.float32),
        "user_days_since_first": ((now - stats["first"]) / C.DAY).to_numpy(np.float32),
        "user_mean_gap_days": np.where(
            n > 1, (stats["last"] - stats["first"]).to_numpy() / C.DAY / np.maximum(n - 1, 1), np.nan
        ),
        "user_value_mean": stats["value_mean"].to_numpy(np.float32),
        "user_value_std": stats["value_std"].to_numpy(np.float32),
        **_windows(history, C.USER_IDX, now, settings.windows_days, "user", n_users),
        **{f"user_fresh_{d}d": share_of_history(age_at_use < d) for d in settings.fresh_days},
        "user_mean_log_age": mean_over_history(np.log1p(age_at_use)),
        "user_mean_year_gap": mean_over_history(year_gap_at_use),
        "user_new_release_share": mean_over_history(
            np.where(np.isnan(year_gap_at_use), np.nan, year_gap_at_use < settings.new_release_years)
        ),
    }
    table = pd.DataFrame({name: np.asarray(values, dtype=np.float32) for name, values in features.items()})
    cold = {name: (0.0 if name == "user_n" or name.startswith("user_n_") else np.nan) for name in features}
    table = pd.concat([table, pd.DataFrame([cold])], ignore_index=True).astype(np.float32)
    table.insert(0, C.USER_IDX, np.append(np.arange(n_users), NO_HISTORY).astype(np.int32))
    return table


def _metadata_features(items: pd.DataFrame, n_items: int, tag_columns: list[str]) -> pd.DataFrame:
    """Numeric metadata as is; low-cardinality text as category codes; list columns as counts."""
    out: dict[str, np.ndarray] = {}
    indexed = items.set_index(C.ITEM_IDX).reindex(pd.RangeIndex(n_items))
    for column in items.columns.drop([C.ITEM_IDX, C.ITEM_ID]):
        values = indexed[column]
        if column in tag_columns:
            out[f"item_{column}_count"] = values.map(lambda v: len(v) if isinstance(v, list) else np.nan).to_numpy(
                np.float32
            )
        elif pd.api.types.is_numeric_dtype(values):
            out[f"item_meta_{column}"] = values.to_numpy(np.float32)
        elif values.nunique() <= 1000 and values.nunique() < 0.5 * max(values.notna().sum(), 1):
            codes = values.astype("category").cat.codes.astype(np.float32).to_numpy()
            out[f"item_cat_{column}"] = np.where(codes < 0, np.nan, codes)
        # other text (titles, descriptions) is for display only
    return pd.DataFrame(out)


def lists_restored(items: pd.DataFrame) -> pd.DataFrame:
    """Parquet gives list columns back as numpy arrays; turn them into lists of strings again."""
    items = items.copy()
    for column in items.columns:
        if items[column].map(lambda v: isinstance(v, np.ndarray)).any():
            items[column] = items[column].map(lambda v: [str(x) for x in v] if isinstance(v, np.ndarray) else [])
    return items


def tag_columns_of(items: pd.DataFrame) -> list[str]:
    """Multi-valued metadata columns (lists of strings after loading)."""
    return [
        column
        for column in items.columns.drop([C.ITEM_IDX, C.ITEM_ID], errors="ignore")
        if items[column].map(lambda v: isinstance(v, list)).any()
    ]


def item_activity(data: FitInput, settings: TrainSettings) -> ItemActivity:
    """The history's item activity at the cutoff, keeping what the item features and the trend sources need."""
    values = _with_value(data.history)["_value"].to_numpy(np.float64)
    return activity_of(data, *activity_needs(settings), values=values)


def build_item_features(activity: ItemActivity, items: pd.DataFrame | None, settings: FeatureSettings) -> pd.DataFrame:
    """`item_trend_columns` and the item metadata, one row per item."""
    n_items = activity.n_items
    columns = item_trend_columns(activity, settings, release_years(items, n_items, settings))
    table = pd.DataFrame({name: np.asarray(values, dtype=np.float32) for name, values in columns.items()})
    if items is not None:
        table = pd.concat([table, _metadata_features(items, n_items, tag_columns_of(items))], axis=1)
    table = table.astype(np.float32)
    table.insert(0, C.ITEM_IDX, np.arange(n_items, dtype=np.int32))
    return table


def tag_vocabulary(items: pd.DataFrame | None, max_values: int) -> list[str]:
    """`column=value` for the most frequent values of every multi-valued column."""
    if items is None:
        return []
    names: list[str] = []
    for column in tag_columns_of(items):
        counts = items[column].explode().dropna().value_counts()
        top = counts.sort_index().sort_values(ascending=False, kind="stable").head(max_values)
        names += [f"{column}={value}" for value in top.index]
    return names


def build_tag_tables(
    history: pd.DataFrame, items: pd.DataFrame | None, n_users: int, n_items: int, vocabulary: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Item multi-hot tags, and each user's share of history per tag (NaN for no history)."""
    item_tags = np.zeros((n_items, len(vocabulary)), dtype=np.float32)
    if items is not None and vocabulary:
        position = {name: j for j, name in enumerate(vocabulary)}
        for column in tag_columns_of(items):
            exploded = items[[C.ITEM_IDX, column]].explode(column).dropna()
            cols = (column + "=" + exploded[column].astype(str)).map(position)
            known = cols.notna().to_numpy()
            item_tags[exploded[C.ITEM_IDX].to_numpy()[known], cols.to_numpy()[known].astype(int)] = 1.0
    users = history[C.USER_IDX].to_numpy()
    counts = np.bincount(users, minlength=n_users).astype(np.float32)
    sums = np.zeros((n_users, len(vocabulary)), dtype=np.float32)
    np.add.at(sums, users, item_tags[history[C.ITEM_IDX].to_numpy()])
    with np.errstate(invalid="ignore", divide="ignore"):
        affinity = sums / counts[:, None]
    affinity = np.vstack([affinity, np.full((1, len(vocabulary)), np.nan, dtype=np.float32)])
    user_table = pd.DataFrame(affinity, columns=vocabulary)
    user_table.insert(0, C.USER_IDX, np.append(np.arange(n_users), NO_HISTORY).astype(np.int32))
    item_table = pd.DataFrame(item_tags, columns=vocabulary)
    item_table.insert(0, C.ITEM_IDX, np.arange(n_items, dtype=np.int32))
    return user_table, item_table
