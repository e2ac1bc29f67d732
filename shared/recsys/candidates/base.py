"""What a candidate source is: a recipe (settings, fit, files, load) and, once loaded, a scorer.

A source module (`recsys.sources.<name>`) implements `CandidateSource`: it declares its settings
section and artifact files, fits them from a history at a cutoff (training side), and loads
them back as a `LoadedSource` that scores a batch of users (serving side, numpy only). Listing
its instance in `recsys.sources.BUILTIN` is all the wiring there is: candidate counts, the
evaluation's baseline systems and the ranker's `<name>_score` / `<name>_rank` features follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from recsys.errors import ModelIntegrityError
from recsys.ragged import Ragged
from recsys.sorting import sorted_unique

if TYPE_CHECKING:
    import pandas as pd

    from recsys.trends.activity import ItemActivity

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
Array = npt.NDArray[Any]
#: Reads one of the source's own files (memory-mapped .npy) from the model directory.
ReadArray = Callable[[str], Array]


class SourceSettings(BaseModel):
    """A source's settings section (`[sources.<name>]`); every source has `candidates`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: int = Field(100, ge=0, le=5000, description="items this source proposes per user")


SettingsT = TypeVar("SettingsT", bound=SourceSettings, contravariant=True)


@dataclass(frozen=True)
class FitInput:
    """What a source is fitted on: the history before a cutoff, with internal ids.

    `history` has the columns user_idx, item_idx, timestamp (unix seconds), weight, and rating
    when the input had one. `now` is the cutoff: nothing at or after it is in `history`.
    """

    history: pd.DataFrame
    n_users: int
    n_items: int
    now: float


@dataclass(frozen=True)
class UserBatch:
    """Who to score: internal user indices (-1 for unknown), whether each has history, and seeds."""

    users: npt.NDArray[np.int32]
    has_history: npt.NDArray[np.bool_]
    seeds: Ragged  # recent items, oldest first: the model's history plus any passed in

    def __len__(self) -> int:
        return len(self.users)


#: The largest rows x catalog exclusion mask held at once (bytes, one per cell).
MASK_CELLS = 4_000_000


@dataclass(frozen=True)
class Exclusions:
    """Items that must not be candidates: per row (`keys` = row * n_items + item, sorted, unique; the
    same pairs as `rows` and `items`, split once for every source) and a catalog mask."""

    keys: I64
    rows: I64
    items: I64
    allowed: npt.NDArray[np.bool_] | None = None
    #: rows x catalog, True where excluded, for a batch of at most MASK_CELLS cells (the endpoint's one
    #: user, a chunk of heavy users); None for larger batches
    matrix: npt.NDArray[np.bool_] | None = None

    @classmethod
    def of(cls, excluded: Ragged, n_items: int, allowed: npt.NDArray[np.bool_] | None = None) -> Exclusions:
        """Each row's excluded items (any order, repeats allowed) and an optional catalog mask.

        A small batch marks its exclusions in a rows x catalog mask, whose True cells are the sorted,
        unique keys: no sort (0.1 ms instead of 1 ms for a user who has seen 73k items)."""
        flat = excluded.row_ids() * n_items + excluded.values
        matrix = None
        if excluded.rows * n_items <= MASK_CELLS:
            marked = np.zeros(excluded.rows * n_items, dtype=bool)
            marked[flat] = True
            keys = np.flatnonzero(marked)
            matrix = marked.reshape(excluded.rows, n_items)
        else:
            keys = sorted_unique(flat)
        rows = keys // n_items
        return cls(keys, rows, keys - rows * n_items, allowed, matrix)


class SourceScores(Protocol):
    def top(self, exclusions: Exclusions, n: int) -> tuple[I64, I64]:
        """(rows, items) of each row's n best items, best first within a row, rows ascending."""
        ...

    def at(self, rows: I64, items: npt.NDArray[np.integer]) -> F32:
        """The score of each (row, item) pair; NaN where the source has no opinion."""
        ...


class LoadedSource(Protocol):
    """A source's arrays, loaded and checked, ready to score."""

    def score(self, batch: UserBatch) -> SourceScores: ...


@runtime_checkable
class ItemNeighbours(Protocol):
    """A loaded source that can also answer `/items/{id}/similar`."""

    def similar(self, item: int, k: int, exclude: npt.NDArray[np.int64]) -> tuple[I64, F32]:
        """Up to k items most like `item` (never `item` or `exclude`), best first, with scores."""
        ...


class CandidateSource(Protocol[SettingsT]):
    """The recipe of one candidate source: registered once, used by training and serving."""

    @property
    def name(self) -> str: ...

    @property
    def settings_model(self) -> type[SourceSettings]: ...

    @property
    def backfill(self) -> bool:
        """A backfill source proposes at least k items, so filters never leave a list short when it can be filled."""
        ...

    @property
    def files(self) -> tuple[str, ...]:
        """The files `fit` returns and `load` reads (names unique across sources)."""
        ...

    def fit(self, data: FitInput, settings: SettingsT) -> Mapping[str, Array]:
        """Training side: the arrays to save, keyed by file name (exactly `files`)."""
        ...

    def load(self, read: ReadArray, n_users: int, n_items: int) -> LoadedSource:
        """Serving side: read and check the files (shapes and values); a bad file raises ModelIntegrityError."""
        ...


@runtime_checkable
class TrendSource(Protocol):
    """A source computed from item activity alone (a chart, popularity). Its `fit` goes through
    `from_activity`, and the live-trends overlay calls it again between trainings with newer activity."""

    def activity_needs(self, settings: Any) -> tuple[tuple[float, ...], float]:
        """(half-lives of decayed counts, days of recent interactions) that `from_activity` reads."""
        ...

    def from_activity(self, activity: ItemActivity, settings: Any) -> Mapping[str, Array]:
        """The source's files (as `fit` returns them) at `activity.now`."""
        ...


@runtime_checkable
class ItemIndexedFiles(Protocol):
    """A source with files that hold a row per item: `item_padding` names them and the value a new item's
    row is filled with (an item the source knows nothing of), so the overlay can grow the catalog."""

    @property
    def item_padding(self) -> Mapping[str, float]: ...


def expect_shape(name: str, array: Array, shape: tuple[int | None, ...]) -> None:
    """A loaded array has the shape a model of this size needs (None: any length on that axis)."""
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        raise ModelIntegrityError(f"{name} has shape {array.shape}, expected {shape} (a torn or mixed model)")


def expect_finite(name: str, array: Array) -> None:
    """A library can write NaN or inf without failing (e.g. a diverged ALS fit): refuse it at load."""
    if not np.isfinite(array).all():
        raise ModelIntegrityError(f"{name} holds NaN or infinite values")
