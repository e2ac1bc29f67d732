"""Ragged rows (CSR-style `indptr` + `values`): per-user lists without Python loops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Ragged:
    indptr: npt.NDArray[np.int64]
    values: npt.NDArray[np.int32]

    @classmethod
    def empty(cls, rows: int) -> Ragged:
        return cls(np.zeros(rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int32))

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]]) -> Ragged:
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        values = np.fromiter((v for x in lists for v in x), dtype=np.int32, count=int(indptr[-1]))
        return cls(indptr, values)

    @classmethod
    def one_row(cls, values: npt.NDArray[np.integer]) -> Ragged:
        return cls(np.asarray([0, len(values)], dtype=np.int64), np.asarray(values, dtype=np.int32))

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def row_ids(self) -> npt.NDArray[np.int64]:
        """The row of every value."""
        return np.repeat(np.arange(self.rows, dtype=np.int64), np.diff(self.indptr))

    def take_rows(self, rows: npt.NDArray[np.integer]) -> Ragged:
        """A new Ragged holding the given rows (a row index of -1 gives an empty row)."""
        rows = np.asarray(rows, dtype=np.int64)
        valid = rows >= 0
        safe = np.where(valid, rows, 0)
        starts = self.indptr[safe]
        lengths = np.where(valid, self.indptr[safe + 1] - starts, 0)
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        total = int(indptr[-1])
        offsets = np.arange(total, dtype=np.int64) - np.repeat(indptr[:-1], lengths)
        return Ragged(indptr, self.values[np.repeat(starts, lengths) + offsets])

    def last(self, n: int) -> Ragged:
        """The last `n` values of each row (rows are kept in time order, oldest first)."""
        lengths = np.diff(self.indptr)
        keep = np.minimum(lengths, n)
        starts = self.indptr[1:] - keep
        indptr = np.concatenate(([0], np.cumsum(keep)))
        total = int(indptr[-1])
        offsets = np.arange(total, dtype=np.int64) - np.repeat(indptr[:-1], keep)
        return Ragged(indptr, self.values[np.repeat(starts, keep) + offsets])

    def concat(self, other: Ragged) -> Ragged:
        """Row-wise concatenation of two Ragged with the same number of rows."""
        row_ids = np.concatenate((self.row_ids(), other.row_ids()))
        values = np.concatenate((self.values, other.values))
        order = np.argsort(row_ids, kind="stable")
        indptr = self.indptr + other.indptr
        return Ragged(indptr, values[order])
