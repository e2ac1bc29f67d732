"""The feature tables the ranker reads, loaded with pyarrow into float32 matrices (no pandas).

Row `i` of a table belongs to internal id `i`. The user tables carry one extra last row, the
features of a user with no history, so index -1 (unknown user) gathers it without a branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from recsys import artifacts as A
from recsys import columns as C
from recsys.errors import ModelIntegrityError

F32 = npt.NDArray[np.float32]


def read_matrix(path: Path, index_column: str | None = None) -> tuple[F32, tuple[str, ...]]:
    """A parquet table of float columns -> (float32 matrix, column names); checks the declared schema."""
    table = pq.read_table(path)
    names = [n for n in table.column_names if n != index_column]
    for name in names:
        kind = table.schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise ModelIntegrityError(f"{path.name}: column {name!r} has type {kind}, expected a number")
    # column-major: `assemble` gathers a column at a time, each a contiguous run of the table
    matrix = np.empty((table.num_rows, len(names)), dtype=np.float32, order="F")
    for j, name in enumerate(names):
        matrix[:, j] = table.column(name).to_numpy(zero_copy_only=False)
    return matrix, tuple(names)


def tag_groups(tag_names: Sequence[str]) -> dict[str, slice]:
    """`genres=Drama`, `genres=Comedy`, `lang=en` -> {"genres": slice(0, 2), "lang": slice(2, 3)}."""
    groups: dict[str, slice] = {}
    for j, name in enumerate(tag_names):
        group = name.split("=", 1)[0]
        if group in groups and groups[group].stop != j:
            raise ModelIntegrityError(f"tag columns of {group!r} are not next to each other")
        groups[group] = slice(groups[group].start if group in groups else j, j + 1)
    return groups


#: (name, item column, user column): how far an item sits from what the user usually takes, where the
#: model has both columns (e.g. a new release for someone who watches old films)
PAIR_DIFFERENCES = (
    ("year_gap_diff", "item_year_gap", "user_mean_year_gap"),
    ("log_age_diff", "item_log_age", "user_mean_log_age"),
)


@dataclass(frozen=True)
class FeatureArrays:
    user_features: F32
    user_feature_names: tuple[str, ...]
    item_features: F32
    item_feature_names: tuple[str, ...]
    user_tags: F32
    item_tags: F32
    tag_names: tuple[str, ...]

    @cached_property
    def tag_group_columns(self) -> dict[str, slice]:
        """`tag_groups` of this model's tag columns (checked once, at load)."""
        return tag_groups(self.tag_names)

    @cached_property
    def difference_columns(self) -> list[tuple[str, int, int]]:
        """(name, item column, user column) of each of `PAIR_DIFFERENCES` these tables allow."""
        items, users = self.item_feature_names, self.user_feature_names
        return [(name, items.index(i), users.index(u)) for name, i, u in PAIR_DIFFERENCES if i in items and u in users]

    @classmethod
    def load(cls, path: Callable[[str], Path], n_users: int, n_items: int) -> FeatureArrays:
        user_features, user_names = read_matrix(path(A.USER_FEATURES), C.USER_IDX)
        item_features, item_names = read_matrix(path(A.ITEM_FEATURES), C.ITEM_IDX)
        user_tags, tag_names = read_matrix(path(A.USER_TAGS), C.USER_IDX)
        item_tags, item_tag_names = read_matrix(path(A.ITEM_TAGS), C.ITEM_IDX)
        if item_tag_names != tag_names:
            raise ModelIntegrityError("user tag affinity and item tag columns differ")
        arrays = cls(user_features, user_names, item_features, item_names, user_tags, item_tags, tag_names)
        expected = {
            A.USER_FEATURES: (user_features.shape[0], n_users + 1),
            A.USER_TAGS: (user_tags.shape[0], n_users + 1),
            A.ITEM_FEATURES: (item_features.shape[0], n_items),
            A.ITEM_TAGS: (item_tags.shape[0], n_items),
        }
        wrong = [f"{name} has {got} rows, expected {want}" for name, (got, want) in expected.items() if got != want]
        if wrong:
            raise ModelIntegrityError("inconsistent model files: " + "; ".join(wrong))
        _ = arrays.tag_group_columns  # a model whose tag groups are not column ranges fails here, not per request
        _ = arrays.difference_columns  # and the first request finds this ready
        return arrays
