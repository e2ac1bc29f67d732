from pathlib import Path

import pandas as pd
import pytest
from recsys.data.schemas import load_interactions, load_items
from recsys.errors import InputDataError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_movietweetings_dat_with_string_ids_and_derived_year(tmp_path: Path) -> None:
    ratings = write(tmp_path, "ratings.dat", "1::0110912::9::1375657563\n2::0004972::7::1365029107\n")
    movies = write(tmp_path, "movies.dat", "0110912::Pulp Fiction (1994)::Crime|Thriller\n0004972::Old (1915)::Drama\n")
    interactions = load_interactions(ratings)
    assert interactions["item_id"].tolist() == ["0110912", "0004972"]  # leading zeros kept
    assert interactions["timestamp"].tolist() == [1375657563, 1365029107]
    items = load_items(movies)
    assert items.loc[0, "genres"] == ["Crime", "Thriller"]
    assert items.loc[0, "year"] == 1994


def test_csv_with_iso_timestamps_and_int_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "i.csv",
        "user_id,item_id,timestamp,weight\n7,42,2024-01-01T00:00:00Z,2\n8,43,2024-01-02,1\n",
    )
    frame = load_interactions(path)
    assert frame["user_id"].tolist() == ["7", "8"]
    assert frame["timestamp"].tolist() == [1704067200, 1704153600]


def test_parquet_int_ids_become_text(tmp_path: Path) -> None:
    path = tmp_path / "i.parquet"
    pd.DataFrame({"user_id": [1, 2], "item_id": [10, 11], "timestamp": [100, 200]}).to_parquet(path)
    assert load_interactions(path)["item_id"].tolist() == ["10", "11"]


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "clicks.csv", "user_id,timestamp\n1,100\n")
    with pytest.raises(InputDataError) as caught:
        load_interactions(path)
    assert "clicks.csv" in caught.value.message
    assert "missing required column(s) 'item_id'" in caught.value.message


def test_null_ids_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "clicks.csv", "user_id,item_id,timestamp\n1,a,100\n,b,100\n ,c,100\n4,d,100\n")
    with pytest.raises(InputDataError, match=r"clicks.csv: column 'user_id' has 2 null, empty or unparsable"):
        load_interactions(path)


def test_unparsable_timestamps_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "clicks.csv", "user_id,item_id,timestamp\n1,a,2024-01-01\n2,b,yesterday\n3,c,not a date\n")
    with pytest.raises(InputDataError, match=r"column 'timestamp' has 2 null, empty or unparsable value\(s\)"):
        load_interactions(path)


def test_negative_weights_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "clicks.csv", "user_id,item_id,timestamp,weight\n1,a,1,-3\n")
    with pytest.raises(InputDataError, match="column 'weight' has 1 negative"):
        load_interactions(path)


def test_duplicate_item_ids_in_items(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "item_id,title\na,x\na,y\n")
    with pytest.raises(InputDataError, match="column 'item_id' has 2 duplicate"):
        load_items(path)


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="file not found"):
        load_interactions(tmp_path / "nope.csv")
    with pytest.raises(InputDataError, match="unsupported file type"):
        load_interactions(write(tmp_path, "x.xlsx", ""))


def test_corrupt_parquet_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.parquet", "this is not parquet")
    with pytest.raises(InputDataError, match=r"ratings\.parquet: cannot read as parquet"):
        load_interactions(path)
