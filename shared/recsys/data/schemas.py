"""Pandera schemas of the input tables, and the one-line error a person can act on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from recsys import columns as C
from recsys.data.readers import ids_as_text, read_table
from recsys.errors import InputDataError

_ID = pa.Column("string", nullable=False, coerce=False)

INTERACTIONS_SCHEMA = pa.DataFrameSchema(
    {
        C.USER_ID: _ID,
        C.ITEM_ID: _ID,
        C.TIMESTAMP: pa.Column("int64", nullable=False),
        C.WEIGHT: pa.Column("float64", pa.Check.ge(0), nullable=False, required=False),
        C.RATING: pa.Column("float64", pa.Check.ge(0), nullable=False, required=False),
    },
    strict=False,
    name="interactions",
)

ITEMS_SCHEMA = pa.DataFrameSchema(
    {C.ITEM_ID: pa.Column("string", nullable=False, unique=True)},
    strict=False,
    name="items",
)

_WHAT_FAILED = {
    "not_nullable": "null, empty or unparsable value(s)",
    "field_uniqueness": "duplicate value(s)",
    "greater_than_or_equal_to(0)": "negative value(s)",
}


def _validate(frame: pd.DataFrame, schema: pa.DataFrameSchema, path: Path) -> pd.DataFrame:
    try:
        return schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        missing = cases.loc[cases["check"] == "column_in_dataframe", "failure_case"].tolist()
        if missing:
            present = ", ".join(map(str, frame.columns)) or "none"
            raise InputDataError(
                f"{path}: missing required column(s) {', '.join(map(repr, missing))} (found: {present})"
            ) from None
        row = cases.iloc[0]
        column, check = row["column"], str(row["check"])
        count = int((cases["column"] == column).sum())
        what = _WHAT_FAILED.get(check, f"value(s) failing {check}")
        raise InputDataError(f"{path}: column {column!r} has {count} {what} ({len(frame)} rows)") from None


def _timestamps_to_seconds(values: pd.Series) -> pd.Series:
    """Unix seconds (ints or numeric text) or ISO 8601 text/datetimes -> int64 seconds; bad -> null."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() >= values.notna().sum():
            return numeric.round().astype("Int64")
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    # pandas 3 keeps the parsed resolution (s, ms, us or ns), so divide by a Timedelta, not 1e9
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return pd.Series(seconds, index=values.index).astype("Int64")


def load_interactions(path: Path) -> pd.DataFrame:
    """Read and validate interactions: user_id, item_id, timestamp (+ optional weight, rating)."""
    frame = read_table(path, "interactions")
    for column in (C.USER_ID, C.ITEM_ID):
        if column in frame:
            frame[column] = ids_as_text(frame[column])
    if C.TIMESTAMP in frame:
        frame[C.TIMESTAMP] = _timestamps_to_seconds(frame[C.TIMESTAMP])
    for column in (C.WEIGHT, C.RATING):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame = _validate(frame, INTERACTIONS_SCHEMA, path)
    frame[C.TIMESTAMP] = frame[C.TIMESTAMP].astype(np.int64)
    return frame.reset_index(drop=True)


def _split_multi_valued(values: pd.Series) -> pd.Series | None:
    """A list column, or text with `|` separators, as lists of strings; None if neither."""
    sample = values.dropna()
    if sample.empty:
        return None
    first = sample.iloc[0]
    if isinstance(first, list | tuple | np.ndarray):
        return values.map(lambda v: [str(x) for x in v] if v is not None and not isinstance(v, float) else [])
    if pd.api.types.is_string_dtype(values) and sample.astype(str).str.contains("|", regex=False).any():
        return values.fillna("").astype(str).map(lambda s: [p for p in s.split("|") if p])
    return None


def load_items(path: Path) -> pd.DataFrame:
    """Read and validate items: item_id + metadata; multi-valued columns become lists of strings."""
    frame = read_table(path, "items")
    if C.ITEM_ID in frame:
        frame[C.ITEM_ID] = ids_as_text(frame[C.ITEM_ID])
    frame = _validate(frame, ITEMS_SCHEMA, path)
    for column in frame.columns.drop(C.ITEM_ID):
        as_lists = _split_multi_valued(frame[column])
        if as_lists is not None:
            frame[column] = as_lists
    return frame.reset_index(drop=True)
