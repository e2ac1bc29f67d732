"""`recsys score`: the batch job's row rules and output on a local file, without S3.

The same reader (`rows.read_chunks`) and the same scoring (`bulk.score_users`) as the S3 job, so
a file scores the same here and there: the same rows rejected for the same reasons, kept in an
errors file beside the output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from recsys.batch.rows import RowRules, kind_of, read_chunks
from recsys.bulk import CHUNK_USERS, SCORED_SCHEMA, score_users
from recsys.errors import InputDataError, RecsysError
from recsys.loaded import LoadedModel
from recsys.runtime.settings import RequestLimits


@dataclass(frozen=True)
class LocalScoring:
    rows_read: int
    rows_scored: int
    rows_failed: int
    errors: Path | None  # written only when a row was rejected


def errors_path(out: Path) -> Path:
    """`scored.parquet` -> `scored.errors.jsonl`, beside it."""
    return out.with_name(out.name.removesuffix(out.suffix) + ".errors.jsonl")


def row_rules(default_k: int | None) -> RowRules:
    """The batch function's rules, with `default_k` (default DEFAULT_K) for rows that name no k."""
    rules = RowRules.from_limits(RequestLimits(), default_k)
    if not 1 <= rules.default_k <= rules.max_k:
        raise RecsysError(f"--k must be between 1 and {rules.max_k} (MAX_K), got {rules.default_k}")
    return rules


def check_paths(users: Path, out: Path) -> str:
    """Fail before any work on what cannot succeed; returns the input's kind (jsonl, csv.gz, ...)."""
    if not users.is_file():
        raise InputDataError(f"{users}: {'a directory, not a file' if users.is_dir() else 'file not found'}")
    if out.is_dir():
        raise InputDataError(f"{out}: a directory; --out names the parquet file to write")
    return kind_of(users.name)


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """The reader speaks of 'the file' (the S3 job logs the key beside it); on the command line, name it."""
    try:
        yield
    except InputDataError as exc:
        raise InputDataError(f"{path}: {exc.message}") from None


def score_file(model: LoadedModel, users: Path, out: Path, rules: RowRules) -> LocalScoring:
    """Score every good row of `users` into the parquet `out`; bad rows go to `errors_path(out)`.

    Both files are written beside their final names and renamed into place only when every row is
    done: a failure halfway leaves the previous run's files as they were and nothing partial.
    """
    kind = check_paths(users, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    errors = errors_path(out)
    partial_out, partial_errors = (p.with_name(p.name + ".partial") for p in (out, errors))
    read = scored = failed = 0
    try:
        with (
            _naming(users),
            pq.ParquetWriter(partial_out, SCORED_SCHEMA) as writer,
            partial_errors.open("w", encoding="utf-8") as rejected,
        ):
            for chunk in read_chunks(users, kind, rules, CHUNK_USERS):
                read += chunk.rows_read
                if chunk.user_ids:
                    writer.write_table(score_users(model, chunk.user_ids, np.asarray(chunk.k, dtype=np.int64)))
                    scored += len(chunk.user_ids)
                failed += len(chunk.errors)
                rejected.writelines(json.dumps(error) + "\n" for error in chunk.errors)
        if read and not scored:
            partial_errors.replace(errors)  # nothing to write, but the reasons are worth keeping
            raise InputDataError(f"no row of {users} could be scored (reasons in {errors})")
        partial_out.replace(out)
        if failed:
            partial_errors.replace(errors)
        else:
            errors.unlink(missing_ok=True)  # the previous run's rejects would describe another input
    finally:
        partial_out.unlink(missing_ok=True)
        partial_errors.unlink(missing_ok=True)
    return LocalScoring(read, scored, failed, errors if failed else None)
