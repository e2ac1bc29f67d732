"""Read interactions, items and user lists from parquet, csv, jsonl or MovieLens-style `.dat`.

External ids are always strings from here on: a parquet file with integer ids and a csv with
the same ids written as text describe the same users, and URLs carry ids as text anyway.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from recsys import columns as C
from recsys.errors import InputDataError

#: MovieTweetings / MovieLens `::`-separated layouts, by the role of the file.
DAT_COLUMNS = {
    "interactions": [C.USER_ID, C.ITEM_ID, C.RATING, C.TIMESTAMP],
    "items": [C.ITEM_ID, "title", "genres"],
}
_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")


def file_kind(path: Path) -> str:
    name = path.name.lower()
    for kind in ("parquet", "csv", "jsonl", "dat"):
        if name.endswith(f".{kind}") or name.endswith(f".{kind}.gz"):
            return kind
    if name.endswith(".json"):
        return "jsonl"
    raise InputDataError(f"{path}: unsupported file type (use .parquet, .csv, .jsonl or .dat)")


def _read_dat(path: Path, role: str) -> pd.DataFrame:
    names = DAT_COLUMNS.get(role)
    if names is None:
        raise InputDataError(f"{path}: a .dat file can only be read as interactions or items")
    rows = [line.rstrip("\n").split("::") for line in path.read_text(encoding="utf-8").splitlines() if line]
    bad = [i + 1 for i, row in enumerate(rows) if len(row) != len(names)]
    if bad:
        raise InputDataError(
            f"{path}: {len(bad)} line(s) do not have {len(names)} '::'-separated fields (first: line {bad[0]})"
        )
    frame = pd.DataFrame(rows, columns=names, dtype="string")
    if role == "items":
        year = frame["title"].str.extract(_YEAR_IN_TITLE, expand=False)
        frame["year"] = pd.to_numeric(year, errors="coerce").astype("float32")
    return frame


def read_table(path: Path, role: str) -> pd.DataFrame:
    """Read one input file as text-typed ids; the caller validates the result."""
    if not path.exists():
        raise InputDataError(f"{path}: file not found")
    kind = file_kind(path)
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "csv":
            return pd.read_csv(path, dtype={C.USER_ID: "string", C.ITEM_ID: "string"})
        if kind == "jsonl":
            return pd.read_json(path, lines=True, dtype={C.USER_ID: "string", C.ITEM_ID: "string"})
        return _read_dat(path, role)
    except InputDataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputDataError(f"{path}: cannot read as {kind}: {reason}") from None
    except Exception as exc:  # pyarrow raises its own hierarchy for a corrupt parquet file
        if type(exc).__module__.startswith("pyarrow"):
            raise InputDataError(f"{path}: cannot read as {kind}: {exc}") from None
        raise


def ids_as_text(values: pd.Series) -> pd.Series:
    """Ids as strings, nulls kept as nulls (so validation can count them)."""
    if pd.api.types.is_float_dtype(values):
        # csv readers turn an int column with gaps into floats: 42.0 must stay "42"
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")
