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


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """The reader's errors speak of 'the file' (in batch the key is logged beside them); here, name it."""
    try:
        yield
    except InputDataError as exc:
        raise InputDataError(f"{path}: {exc.message}") from None


def score_file(model: LoadedModel, users: Path, out: Path, default_k: int | None = None) -> LocalScoring:
    """Score every good row of `users` into the parquet `out`; bad rows go to `errors_path(out)`.

    `default_k` is for rows that name no k (default: DEFAULT_K, as in batch).
    """
    limits = RequestLimits()
    default_k = limits.default_k if default_k is None else default_k
    if not 1 <= default_k <= limits.max_k:
        raise RecsysError(f"--k must be between 1 and {limits.max_k} (MAX_K), got {default_k}")
    rules = RowRules(default_k, limits.max_k, limits.max_id_length)
    out.parent.mkdir(parents=True, exist_ok=True)
    errors = errors_path(out)
    errors.unlink(missing_ok=True)  # a rerun must not leave the previous run's rejects beside new output
    partial = out.with_name(out.name + ".partial")  # renamed into place only once every row is done
    read = scored = failed = 0
    with _naming(users), pq.ParquetWriter(partial, SCORED_SCHEMA) as writer:
        for chunk in read_chunks(users, kind_of(users.name), rules, CHUNK_USERS):
            read += chunk.rows_read
            if chunk.user_ids:
                writer.write_table(score_users(model, chunk.user_ids, np.asarray(chunk.k, dtype=np.int64)))
                scored += len(chunk.user_ids)
            if chunk.errors:
                failed += len(chunk.errors)
                with errors.open("a", encoding="utf-8") as handle:
                    handle.writelines(json.dumps(error) + "\n" for error in chunk.errors)
    partial.replace(out)
    return LocalScoring(read, scored, failed, errors if failed else None)
