"""External ids (strings) <-> contiguous internal indices."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.errors import ModelIntegrityError

UNKNOWN = -1
#: What an external id may look like when it arrives in a request or a batch file.
ID_PATTERN = re.compile(r"[\w.:@+=|#~-]+")  # whole string: `$` would let a trailing newline in
ID_CHARACTERS = "letters, digits and ._:@+=|#~-"


def is_valid_id(value: str, max_length: int) -> bool:
    return 0 < len(value) <= max_length and ID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class IdMap:
    """A frozen mapping: `ids[i]` is the external id of index `i`."""

    ids: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _array: npt.NDArray[np.object_] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {value: i for i, value in enumerate(self.ids)}
        if len(index) != len(self.ids):
            raise ValueError("ids must be unique")
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_array", np.asarray(self.ids, dtype=object))

    @classmethod
    def from_values(cls, values: Iterable[str]) -> IdMap:
        """Distinct values, sorted, so the same data always gives the same map."""
        return cls(tuple(sorted(set(values))))

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, external_id: str) -> int:
        return self._index.get(external_id, UNKNOWN)

    def lookup(self, external_ids: Sequence[str]) -> npt.NDArray[np.int32]:
        """Indices for many ids; `UNKNOWN` (-1) where an id is not in the map."""
        index = self._index
        return np.fromiter((index.get(i, UNKNOWN) for i in external_ids), dtype=np.int32, count=len(external_ids))

    def to_ids(self, indices: npt.NDArray[np.integer]) -> npt.NDArray[np.object_]:
        result: npt.NDArray[np.object_] = self._array[indices]
        return result

    def save(self, path: Path, column: str) -> None:
        pq.write_table(pa.table({column: pa.array(self.ids, type=pa.string())}), path)

    @classmethod
    def load(cls, path: Path, column: str) -> IdMap:
        table = pq.read_table(path)
        if table.column_names != [column] or not pa.types.is_string(table.schema.field(column).type):
            raise ModelIntegrityError(f"{path.name}: expected one string column {column!r}")
        return cls(tuple(table.column(column).to_pylist()))
