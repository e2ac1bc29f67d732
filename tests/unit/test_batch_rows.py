"""The batch row reader on files as other tools write them: Excel's byte-order mark, ids a tool turned
into floats, quoted fields holding newlines. Each must read as the plain file would."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from recsys.batch.rows import RowRules, read_chunks

RULES = RowRules(default_k=10, max_k=100, max_id_length=128)


def read(path: Path, kind: str) -> tuple[list[str], list[dict[str, object]]]:
    chunks = list(read_chunks(path, kind, RULES, chunk_rows=1000))
    return [u for c in chunks for u in c.user_ids], [e for c in chunks for e in c.errors]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("bom.csv", "\ufeffuser_id,k\n185,3\n10728,\n".encode()),
        ("bom.csv.gz", gzip.compress("\ufeffuser_id,k\n185,3\n10728,\n".encode())),
        ("bom.jsonl", '\ufeff{"user_id": "185"}\n{"user_id": "10728"}\n'.encode()),
    ],
)
def test_a_byte_order_mark_is_not_part_of_the_header_or_the_first_row(tmp_path: Path, name: str, body: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    users, errors = read(path, name.split(".", 1)[1])
    assert (users, errors) == (["185", "10728"], [])


def test_ids_a_tool_wrote_as_floats_read_as_training_reads_them(tmp_path: Path) -> None:
    csv_path = tmp_path / "floats.csv"
    csv_path.write_text("user_id\n185.0\n10728.00\n185.5\nabc.0\n")
    users, errors = read(csv_path, "csv")
    assert users == ["185", "10728", "185.5", "abc.0"]  # only integral numbers lose their ".0"
    assert errors == []
    parquet_path = tmp_path / "floats.parquet"
    pd.DataFrame({"user_id": [185.0, 10728.0, 185.5]}).to_parquet(parquet_path)
    users, errors = read(parquet_path, "parquet")
    assert users == ["185", "10728"]
    assert [e["reason"] for e in errors] == ["user_id must be a string or an integer, got float"]


def test_a_quoted_field_may_hold_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('user_id,note,k\n185,"first line\nsecond line",3\n10728,plain,\n"bad id!",x,\n')
    chunks = list(read_chunks(path, "csv", RULES, chunk_rows=1000))
    assert [u for c in chunks for u in c.user_ids] == ["185", "10728"]
    assert [c.k for c in chunks] == [[3, 10]]
    [error] = [e for c in chunks for e in c.errors]
    assert error["line"] == 5  # the record's first line, counted in the file
    assert "bad user_id" in str(error["reason"])
