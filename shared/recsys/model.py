"""A model's arrays, loaded from files with numpy and pyarrow only (no pandas on the serving path).

`ModelArrays.load` reads a model directory (or, during training, a search path of step
folders): factors and indices memory-mapped, feature tables as C-contiguous float32 matrices
whose row `i` belongs to internal id `i`. The user tables carry one extra last row, the
features of a user with no history, so index -1 (unknown user) gathers it without a branch.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from recsys.idmap import IdMap
from recsys.ragged import Ragged

F32 = npt.NDArray[np.float32]


def find_file(search_path: Sequence[Path], name: str) -> Path:
    for folder in search_path:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise ModelIntegrityError(f"{name} not found in {', '.join(str(p) for p in search_path)}")


def read_matrix(path: Path, index_column: str | None = None) -> tuple[F32, tuple[str, ...]]:
    """A parquet table of float columns -> (float32 matrix, column names); checks the declared schema."""
    table = pq.read_table(path)
    names = [n for n in table.column_names if n != index_column]
    for name in names:
        kind = table.schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise ModelIntegrityError(f"{path.name}: column {name!r} has type {kind}, expected a number")
    matrix = np.empty((table.num_rows, len(names)), dtype=np.float32)
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


@dataclass(frozen=True)
class ModelArrays:
    users: IdMap
    items: IdMap
    als_user: F32
    als_item: F32
    covisit_items: npt.NDArray[np.int32]
    covisit_scores: F32
    popularity: F32
    seen: Ragged
    user_features: F32
    user_feature_names: tuple[str, ...]
    item_features: F32
    item_feature_names: tuple[str, ...]
    user_tags: F32
    item_tags: F32
    tag_names: tuple[str, ...]

    @cached_property
    def als_item_unit(self) -> F32:
        """Item factors scaled to unit length, for cosine similarity (computed once per model)."""
        norms = np.linalg.norm(self.als_item, axis=1, keepdims=True) + 1e-9
        unit: F32 = (self.als_item / norms).astype(np.float32)
        return unit

    @cached_property
    def tag_group_columns(self) -> dict[str, slice]:
        """`tag_groups` of this model's tag columns (checked once, at load)."""
        return tag_groups(self.tag_names)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @classmethod
    def load(cls, *search_path: Path) -> ModelArrays:
        def path(name: str) -> Path:
            return find_file(search_path, name)

        def npy(name: str) -> npt.NDArray[np.generic]:
            array: npt.NDArray[np.generic] = np.load(path(name), mmap_mode="r", allow_pickle=False)
            return array

        users = IdMap.load(path(A.USER_IDS), C.USER_ID)
        items = IdMap.load(path(A.ITEM_IDS), C.ITEM_ID)
        user_features, user_names = read_matrix(path(A.USER_FEATURES), C.USER_IDX)
        item_features, item_names = read_matrix(path(A.ITEM_FEATURES), C.ITEM_IDX)
        user_tags, tag_names = read_matrix(path(A.USER_TAGS), C.USER_IDX)
        item_tags, item_tag_names = read_matrix(path(A.ITEM_TAGS), C.ITEM_IDX)
        arrays = cls(
            users=users,
            items=items,
            als_user=npy(A.ALS_USER_FACTORS).astype(np.float32, copy=False),
            als_item=npy(A.ALS_ITEM_FACTORS).astype(np.float32, copy=False),
            covisit_items=npy(A.COVISIT_ITEMS).astype(np.int32, copy=False),
            covisit_scores=npy(A.COVISIT_SCORES).astype(np.float32, copy=False),
            popularity=np.asarray(npy(A.POPULARITY), dtype=np.float32),
            seen=Ragged(np.asarray(npy(A.SEEN_INDPTR), dtype=np.int64), np.asarray(npy(A.SEEN_ITEMS), np.int32)),
            user_features=user_features,
            user_feature_names=user_names,
            item_features=item_features,
            item_feature_names=item_names,
            user_tags=user_tags,
            item_tags=item_tags,
            tag_names=tag_names,
        )
        if item_tag_names != tag_names:
            raise ModelIntegrityError("user tag affinity and item tag columns differ")
        arrays.check_shapes()
        _ = arrays.tag_group_columns  # a model whose tag groups are not column ranges fails here, not per request
        return arrays

    def check_shapes(self) -> None:
        """Every table agrees on the number of users and items (a torn or mixed model fails here)."""
        nu, ni = self.n_users, self.n_items
        expected = {
            "als_user_factors": (self.als_user.shape[0], nu),
            "als_item_factors": (self.als_item.shape[0], ni),
            "covisit_items": (self.covisit_items.shape[0], ni),
            "covisit_scores": (self.covisit_scores.shape[0], ni),
            "popularity": (self.popularity.shape[0], ni),
            "seen_indptr": (self.seen.rows, nu),
            "user_features": (self.user_features.shape[0], nu + 1),
            "user_tag_affinity": (self.user_tags.shape[0], nu + 1),
            "item_features": (self.item_features.shape[0], ni),
            "item_tags": (self.item_tags.shape[0], ni),
        }
        wrong = [f"{name} has {got} rows, expected {want}" for name, (got, want) in expected.items() if got != want]
        if self.als_user.shape[1] != self.als_item.shape[1]:
            wrong.append("ALS user and item factors differ in width")
        if len(self.seen.values) and int(self.seen.values.max()) >= ni:
            wrong.append("seen index refers to items beyond the catalog")
        if wrong:
            raise ModelIntegrityError("inconsistent model files: " + "; ".join(wrong))
