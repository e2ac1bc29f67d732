from pathlib import Path

import numpy as np
import pytest
from recsys.errors import ModelIntegrityError
from recsys.idmap import UNKNOWN, IdMap, is_valid_id
from recsys.ragged import Ragged


def test_idmap_is_sorted_contiguous_and_round_trips(tmp_path: Path) -> None:
    ids = IdMap.from_values(["b", "a", "c", "a"])
    assert ids.ids == ("a", "b", "c")
    assert ids.lookup(["c", "a", "zzz"]).tolist() == [2, 0, UNKNOWN]
    assert ids.to_ids(np.array([1, 2])).tolist() == ["b", "c"]
    ids.save(tmp_path / "ids.parquet", "user_id")
    assert IdMap.load(tmp_path / "ids.parquet", "user_id") == ids


def test_idmap_rejects_a_wrong_file(tmp_path: Path) -> None:
    IdMap.from_values(["a"]).save(tmp_path / "ids.parquet", "item_id")
    with pytest.raises(ModelIntegrityError, match="expected one string column 'user_id'"):
        IdMap.load(tmp_path / "ids.parquet", "user_id")


def test_ragged_take_rows_last_and_concat() -> None:
    r = Ragged.from_lists([[1, 2, 3], [], [4, 5]])
    taken = r.take_rows(np.array([2, -1, 0]))
    assert taken.indptr.tolist() == [0, 2, 2, 5]
    assert taken.values.tolist() == [4, 5, 1, 2, 3]
    assert r.last(2).values.tolist() == [2, 3, 4, 5]
    both = r.concat(Ragged.from_lists([[9], [8], []]))
    assert [both.values[both.indptr[i] : both.indptr[i + 1]].tolist() for i in range(3)] == [
        [1, 2, 3, 9],
        [8],
        [4, 5],
    ]


@pytest.mark.parametrize("value", ["185", "tt0770828", "a.b:c@d+e=f|g#h~i-j", "ünïcode"])
def test_valid_ids(value: str) -> None:
    assert is_valid_id(value, 128)


@pytest.mark.parametrize("value", ["", "185\n", "185\r\n", "a b", "x" * 129, "a/b", "\n"])
def test_invalid_ids(value: str) -> None:
    assert not is_valid_id(value, 128)
