"""A model's arrays, loaded from files with numpy and pyarrow only (no pandas on the serving path).

`ModelArrays.load` reads a model directory (or, during training, a search path of step
folders): the id maps, each user's history, every configured source's own files through that
source's `load` (which checks them), and, when the second stage is wanted, the feature tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recsys import artifacts as A
from recsys import columns as C
from recsys import sources as registry
from recsys.candidates.base import LoadedSource
from recsys.errors import ModelIntegrityError
from recsys.features.arrays import FeatureArrays
from recsys.idmap import IdMap
from recsys.ragged import Ragged


def find_file(search_path: Sequence[Path], name: str) -> Path:
    for folder in search_path:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise ModelIntegrityError(f"{name} not found in {', '.join(str(p) for p in search_path)}")


@dataclass(frozen=True)
class ModelArrays:
    users: IdMap
    items: IdMap
    seen: Ragged  # each user's distinct items, oldest first
    sources: Mapping[str, LoadedSource]
    features: FeatureArrays | None  # None when only stage 1 was loaded

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def feature_tables(self) -> FeatureArrays:
        if self.features is None:
            raise ModelIntegrityError("this model was loaded without its feature tables (stage 1 only)")
        return self.features

    @classmethod
    def load(cls, *search_path: Path, source_names: Sequence[str], with_features: bool = True) -> ModelArrays:
        def path(name: str) -> Path:
            return find_file(search_path, name)

        def npy(name: str) -> npt.NDArray[Any]:
            array: npt.NDArray[Any] = np.load(path(name), mmap_mode="r", allow_pickle=False)
            return array

        users = IdMap.load(path(A.USER_IDS), C.USER_ID)
        items = IdMap.load(path(A.ITEM_IDS), C.ITEM_ID)
        seen = Ragged(np.asarray(npy(A.SEEN_INDPTR), dtype=np.int64), np.asarray(npy(A.SEEN_ITEMS), np.int32))
        if seen.rows != len(users):
            raise ModelIntegrityError(
                f"inconsistent model files: seen_indptr has {seen.rows} rows, expected {len(users)}"
            )
        if len(seen.values) and int(seen.values.max()) >= len(items):
            raise ModelIntegrityError("inconsistent model files: seen index refers to items beyond the catalog")
        loaded = {name: registry.get(name).load(npy, len(users), len(items)) for name in source_names}
        features = FeatureArrays.load(path, len(users), len(items)) if with_features else None
        return cls(users, items, seen, loaded, features)
