"""Each item's activity up to a moment, in a form that moves forward in time.

The time-window item features, the charts and popularity are all functions of this summary:
all-time counts, first and last times, rating sums, decayed counts at `now`, and the
interactions of the last `recent_days` (the longest window). Training summarises the history at
its cutoff (`ItemActivity.of`); the live-trends overlay moves that summary on with the events
since (`advanced`), exactly, because a decayed count at a later moment is the earlier one times
one factor plus the new events'. Both then compute the same columns from it, so the ranker reads
fresh values computed as training computed its own. numpy and pyarrow only: the overlay runs on
the serving layer, which has no pandas.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from recsys import columns as C
from recsys.errors import ModelIntegrityError

if TYPE_CHECKING:
    from recsys.candidates.base import FitInput

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

ITEM_ACTIVITY: Final = "item_activity.parquet"
RECENT_INTERACTIONS: Final = "recent_interactions.parquet"
_METADATA_KEY = b"recsys.item_activity"


@dataclass(frozen=True)
class Interactions:
    """Interactions by internal item index: when, and their value (rating; NaN for none)."""

    item: I64
    timestamp: F64
    value: F64

    @classmethod
    def of(cls, item: npt.ArrayLike, timestamp: npt.ArrayLike, value: npt.ArrayLike | None = None) -> Interactions:
        items = np.asarray(item, dtype=np.int64)
        values = np.full(len(items), np.nan) if value is None else np.asarray(value, dtype=np.float64)
        return cls(items, np.asarray(timestamp, dtype=np.float64), values)

    def __len__(self) -> int:
        return len(self.item)

    def where(self, keep: npt.NDArray[np.bool_]) -> Interactions:
        return Interactions(self.item[keep], self.timestamp[keep], self.value[keep])

    def concat(self, other: Interactions) -> Interactions:
        return Interactions(
            np.concatenate([self.item, other.item]),
            np.concatenate([self.timestamp, other.timestamp]),
            np.concatenate([self.value, other.value]),
        )


def decay_weights(age_seconds: F64, half_life_days: float) -> F64:
    """exp(-ln2 * age / half-life), a future timestamp counting as now."""
    weights: F64 = np.exp(-np.log(2.0) * np.clip(age_seconds / C.DAY, 0, None) / half_life_days)
    return weights


def with_ties(decayed: F64, all_time: F64) -> F32:
    """Decayed counts with all-time counts breaking ties (far below any single decayed interaction)."""
    return (decayed + 1e-6 * np.log1p(all_time)).astype(np.float32)


def chart_vector(recent: F64, all_time: F64) -> F32:
    """Interactions in a window, ties broken by all-time count: the tie-break is below 1, so it never
    overturns a whole count; equal items keep index order."""
    return (recent + all_time / (all_time.max(initial=0.0) + 1.0)).astype(np.float32)


@dataclass(frozen=True)
class ItemActivity:
    now: float  # nothing at or after it is counted
    n: F64  # all-time interactions per item
    first: F64  # first interaction time (inf: none)
    last: F64  # last interaction time (-inf: none)
    value_n: F64  # interactions with a value
    value_sum: F64
    value_sumsq: F64
    half_lives: tuple[float, ...]
    decayed: F64  # (half-lives, items): decayed counts at `now`
    recent_days: float
    recent: Interactions  # those in [now - recent_days, now)

    @property
    def n_items(self) -> int:
        return len(self.n)

    @classmethod
    def of(
        cls, history: Interactions, n_items: int, now: float, half_lives: Sequence[float], recent_days: float
    ) -> ItemActivity:
        """The summary of `history` (all of it before `now`) for a catalog of `n_items`."""
        empty = cls(
            now=now,
            n=np.zeros(n_items),
            first=np.full(n_items, np.inf),
            last=np.full(n_items, -np.inf),
            value_n=np.zeros(n_items),
            value_sum=np.zeros(n_items),
            value_sumsq=np.zeros(n_items),
            half_lives=tuple(float(h) for h in half_lives),
            decayed=np.zeros((len(half_lives), n_items)),
            recent_days=float(recent_days),
            recent=Interactions.of([], []),
        )
        return empty._added(history, n_items)

    def advanced(self, new: Interactions, now: float, n_items: int | None = None) -> ItemActivity:
        """The summary at a later `now`, with the interactions in [self.now, now) added; other ones
        are left out (before: already counted; after: not yet). `n_items` grows the catalog for new items."""
        if now < self.now:
            raise ValueError(f"cannot move item activity back in time ({now} < {self.now})")
        n_items = self.n_items if n_items is None else n_items
        if n_items < self.n_items:
            raise ValueError("the catalog cannot shrink")
        grow = n_items - self.n_items
        factors = np.exp(-np.log(2.0) * ((now - self.now) / C.DAY) / np.asarray(self.half_lives))
        moved = replace(
            self,
            now=now,
            n=np.pad(self.n, (0, grow)),
            first=np.pad(self.first, (0, grow), constant_values=np.inf),
            last=np.pad(self.last, (0, grow), constant_values=-np.inf),
            value_n=np.pad(self.value_n, (0, grow)),
            value_sum=np.pad(self.value_sum, (0, grow)),
            value_sumsq=np.pad(self.value_sumsq, (0, grow)),
            decayed=np.pad(self.decayed * factors[:, None], ((0, 0), (0, grow))),
        )
        return moved._added(new.where((new.timestamp >= self.now) & (new.timestamp < now)), n_items)

    def _added(self, new: Interactions, n_items: int) -> ItemActivity:
        if len(new) and (int(new.item.min()) < 0 or int(new.item.max()) >= n_items):
            raise ValueError("interactions refer to items outside the catalog")
        known = ~np.isnan(new.value)
        first, last = self.first.copy(), self.last.copy()
        np.minimum.at(first, new.item, new.timestamp)
        np.maximum.at(last, new.item, new.timestamp)
        age = self.now - new.timestamp
        decayed = self.decayed.copy()
        for row, half_life in enumerate(self.half_lives):
            decayed[row] += np.bincount(new.item, weights=decay_weights(age, half_life), minlength=n_items)
        recent = self.recent.concat(new)
        return replace(
            self,
            n=self.n + np.bincount(new.item, minlength=n_items),
            first=first,
            last=last,
            value_n=self.value_n + np.bincount(new.item[known], minlength=n_items),
            value_sum=self.value_sum + np.bincount(new.item[known], weights=new.value[known], minlength=n_items),
            value_sumsq=self.value_sumsq
            + np.bincount(new.item[known], weights=new.value[known] ** 2, minlength=n_items),
            decayed=decayed,
            recent=recent.where(recent.timestamp >= self.now - self.recent_days * C.DAY),
        )

    # -- what the features, charts and popularity read ----------------------------------------------
    def window(self, days: float) -> Interactions:
        if days > self.recent_days:
            raise ModelIntegrityError(f"item activity keeps {self.recent_days:g} days, {days:g} were asked")
        return self.recent.where(self.recent.timestamp >= self.now - days * C.DAY)

    def window_counts(self, days: float) -> F64:
        """Interactions per item in [now - days, now)."""
        counts: F64 = np.bincount(self.window(days).item, minlength=self.n_items).astype(np.float64)
        return counts

    def decay(self, half_life_days: float) -> F64:
        """Exponentially decayed counts at `now` (no tie-break)."""
        try:
            row = self.half_lives.index(float(half_life_days))
        except ValueError:
            raise ModelIntegrityError(
                f"item activity has no decayed counts at a {half_life_days:g}-day half-life"
            ) from None
        decayed: F64 = self.decayed[row]
        return decayed

    def chart(self, days: float) -> F32:
        """The chart of the last `days` days (a chart source's vector)."""
        return chart_vector(self.window_counts(days), self.n)

    def popularity(self, half_life_days: float) -> F32:
        """Decayed popularity (the popularity source's vector)."""
        return with_ties(self.decay(half_life_days), self.n)

    # -- files --------------------------------------------------------------------------------------
    def write(self, folder: Path) -> None:
        columns = {
            "n": self.n,
            "first": self.first,
            "last": self.last,
            "value_n": self.value_n,
            "value_sum": self.value_sum,
            "value_sumsq": self.value_sumsq,
            **{f"decay_{h!r}": self.decayed[j] for j, h in enumerate(self.half_lives)},
        }
        about = {"now": self.now, "half_lives": self.half_lives, "recent_days": self.recent_days}
        table = pa.table({name: pa.array(values, pa.float64()) for name, values in columns.items()})
        table = table.replace_schema_metadata({_METADATA_KEY: json.dumps(about).encode()})
        pq.write_table(table, folder / ITEM_ACTIVITY)
        recent = pa.table(
            {
                C.ITEM_IDX: pa.array(self.recent.item, pa.int32()),
                C.TIMESTAMP: pa.array(self.recent.timestamp, pa.float64()),
                "value": pa.array(self.recent.value, pa.float64()),
            }
        )
        pq.write_table(recent, folder / RECENT_INTERACTIONS)

    @classmethod
    def read(cls, folder: Path) -> ItemActivity:
        table = pq.read_table(folder / ITEM_ACTIVITY)
        try:
            about = json.loads((table.schema.metadata or {})[_METADATA_KEY])
            half_lives = tuple(float(h) for h in about["half_lives"])

            def column(name: str) -> F64:
                values: F64 = table.column(name).to_numpy().astype(np.float64)
                return values

            recent = pq.read_table(folder / RECENT_INTERACTIONS)
            return cls(
                now=float(about["now"]),
                n=column("n"),
                first=column("first"),
                last=column("last"),
                value_n=column("value_n"),
                value_sum=column("value_sum"),
                value_sumsq=column("value_sumsq"),
                half_lives=half_lives,
                decayed=np.stack([column(f"decay_{h!r}") for h in half_lives]).reshape(len(half_lives), -1),
                recent_days=float(about["recent_days"]),
                recent=Interactions.of(
                    recent.column(C.ITEM_IDX).to_numpy(),
                    recent.column(C.TIMESTAMP).to_numpy(),
                    recent.column("value").to_numpy(),
                ),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelIntegrityError(f"{folder / ITEM_ACTIVITY}: not a valid item activity file ({exc!r})") from None


def activity_of(
    data: FitInput, half_lives: Sequence[float], recent_days: float, values: npt.ArrayLike | None = None
) -> ItemActivity:
    """The item activity of a fit input's history, with each interaction's value if given (the sources
    read none; the item features read ratings)."""
    history = data.history
    interactions = Interactions.of(history[C.ITEM_IDX].to_numpy(), history[C.TIMESTAMP].to_numpy(), values)
    return ItemActivity.of(interactions, data.n_items, data.now, half_lives, recent_days)
