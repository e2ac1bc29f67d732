"""Read a file of users to score, row by row in bounded chunks, keeping every bad row's line and reason.

Text formats are read line by line (the raw line goes to errors.jsonl as it was); parquet in
pyarrow record batches. Memory holds one chunk at a time, whatever the file size.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

from recsys.errors import InputDataError
from recsys.idmap import ID_CHARACTERS, is_valid_id
from recsys.runtime.settings import RequestLimits


@dataclass
class Chunk:
    """Good rows (user ids with their k) and bad rows (line, raw text, reason) of one stretch of input."""

    user_ids: list[str] = field(default_factory=list)
    k: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0


@dataclass(frozen=True)
class RowRules:
    default_k: int
    max_k: int
    max_id_length: int

    @classmethod
    def from_limits(cls, limits: RequestLimits, default_k: int | None = None) -> RowRules:
        """The limits a request has, with another k for rows that name none (`recsys score --k`)."""
        return cls(limits.default_k if default_k is None else default_k, limits.max_k, limits.max_id_length)


def _check(value: Any, k_value: Any, rules: RowRules) -> tuple[str, int] | str:
    """(user_id, k) or the reason the row cannot be scored."""
    if value is None or (isinstance(value, float) and value != value):
        return "missing user_id"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # as training reads a numeric id column: 185.0 is user "185"
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"user_id must be a string or an integer, got {type(value).__name__}"
    user_id = _INTEGRAL_TEXT.sub(r"\1", str(value).strip())
    if not is_valid_id(user_id, rules.max_id_length):
        return f"bad user_id {user_id[:40]!r}: 1-{rules.max_id_length} {ID_CHARACTERS}"
    if k_value is None or k_value == "" or (isinstance(k_value, float) and k_value != k_value):
        return user_id, rules.default_k
    try:
        k = int(k_value)
        if isinstance(k_value, bool) or float(k_value) != k:
            raise ValueError
    except (TypeError, ValueError):
        return f"bad k {k_value!r}: must be a whole number"
    if not 1 <= k <= rules.max_k:
        return f"bad k {k}: must be between 1 and {rules.max_k}"
    return user_id, k


#: "185.0" in a text file is the id 185 written by a tool that made the column float (training agrees)
_INTEGRAL_TEXT = re.compile(r"^(-?\d+)\.0+$")


def _open_text(path: Path, compressed: bool) -> IO[str]:
    """Text of a plain or gzipped file, a UTF-8 byte-order mark (Excel's) dropped; the caller's `with`
    closes both layers."""
    raw = cast(IO[bytes], gzip.open(path, "rb") if compressed else path.open("rb"))  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _jsonl_rows(path: Path, compressed: bool) -> Iterator[tuple[int, str, Any, Any]]:
    with _open_text(path, compressed) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError:
                yield number, text, _MALFORMED, None
                continue
            if not isinstance(row, dict):
                yield number, text, _MALFORMED, None
                continue
            # Amazon Personalize batch input: {"userId": "..."}
            yield number, text, row.get("user_id", row.get("userId")), row.get("k")


def _csv_rows(path: Path, compressed: bool) -> Iterator[tuple[int, str, Any, Any]]:
    """Records, not lines: a quoted field may hold a newline. The number is the record's first line."""
    with _open_text(path, compressed) as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if "user_id" not in header and "userId" not in header:
            raise InputDataError(f"no user_id column in the csv header ({', '.join(header[:10]) or 'empty'})")
        user_col = header.index("user_id") if "user_id" in header else header.index("userId")
        k_col = header.index("k") if "k" in header else None
        first_line = reader.line_num + 1
        for fields in reader:
            number, first_line = first_line, reader.line_num + 1
            if not any(field.strip() for field in fields):
                continue
            raw = ",".join(fields)
            if len(fields) != len(header):
                yield number, raw, _MALFORMED, None
                continue
            yield number, raw, fields[user_col], fields[k_col] if k_col is not None else None


def _parquet_rows(path: Path, batch_size: int) -> Iterator[tuple[int, str, Any, Any]]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputDataError(f"not a readable parquet file ({exc})") from None
    names = parquet.schema_arrow.names
    user_col = "user_id" if "user_id" in names else "userId" if "userId" in names else None
    if user_col is None:
        raise InputDataError(f"no user_id column in the parquet schema ({', '.join(names[:10])})")
    columns = [user_col, *(["k"] if "k" in names else [])]
    number = 0
    for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
        users = batch.column(0).to_pylist()
        ks = batch.column(1).to_pylist() if len(columns) == 2 else [None] * len(users)
        for user, k in zip(users, ks, strict=True):
            number += 1
            yield number, json.dumps({user_col: user, **({"k": k} if k is not None else {})}), user, k


_MALFORMED = object()


def count_rows(path: Path, kind: str) -> int:
    """Rows in the file (data lines for text, records for parquet): what the planner splits."""
    if kind == "parquet":
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputDataError(f"not a readable parquet file ({exc})") from None
    with _open_text(path, kind.endswith(".gz")) as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(0, lines - 1) if kind.startswith("csv") else lines


def kind_of(key: str) -> str:
    lowered = key.lower()
    for kind in ("parquet", "csv.gz", "jsonl.gz", "csv", "jsonl"):
        if lowered.endswith("." + kind):
            return kind
    raise InputDataError(f"{key}: unsupported file type (use .jsonl, .csv, .parquet, or .jsonl.gz/.csv.gz)")


def _readable(rows: Iterator[tuple[int, str, Any, Any]]) -> Iterator[tuple[int, str, Any, Any]]:
    """A file that breaks halfway (a truncated gzip, a corrupt parquet row group) is bad input, not a crash."""
    try:
        yield from rows
    except (OSError, EOFError, pa.ArrowException) as exc:  # BadGzipFile is an OSError
        raise InputDataError(f"unreadable ({type(exc).__name__}: {exc})") from None


def read_chunks(
    path: Path, kind: str, rules: RowRules, chunk_rows: int, start: int = 0, stop: int | None = None
) -> Iterator[Chunk]:
    """Chunks of at most `chunk_rows` rows, for rows [start, stop) in file order."""
    if kind == "parquet":
        rows = _parquet_rows(path, chunk_rows)
    elif kind.startswith("csv"):
        rows = _csv_rows(path, kind.endswith(".gz"))
    else:
        rows = _jsonl_rows(path, kind.endswith(".gz"))
    chunk = Chunk()
    for index, (line, raw, user, k) in enumerate(_readable(rows)):
        if index < start:
            continue
        if stop is not None and index >= stop:
            break
        chunk.rows_read += 1
        checked = "malformed line" if user is _MALFORMED else _check(user, k, rules)
        if isinstance(checked, str):
            chunk.errors.append({"line": line, "row": raw, "reason": checked})
        else:
            chunk.user_ids.append(checked[0])
            chunk.k.append(checked[1])
        if chunk.rows_read >= chunk_rows:
            yield chunk
            chunk = Chunk()
    if chunk.rows_read:
        yield chunk
