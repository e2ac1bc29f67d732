"""Score a user file from S3 into its own output folder, exactly once per upload.

    output/<input key below input/>/@<model version>/<input ETag>/
        part-<range>-<chunk>.parquet   user_id, rank, item_id, score, reason  (or .jsonl, Personalize form)
        errors.jsonl                   {"line", "row", "reason"} for every row that could not be scored
        _SUCCESS.json                  input key, ETag, model version, counts, part files: written last
    output/<input key below input/>/@<model version>/_LATEST.json   the newest finished upload of that key

The whole key names the folder (folders and extension kept, `%` and `@` escaped), so
`input/a/users.jsonl` and `input/b/users.csv` never share one; each upload (ETag) has its own, so
two uploads of one key, even at once, never mix or delete each other's parts. Part names are
deterministic: a re-delivered event rewrites the same objects, and a finished `_SUCCESS.json`
short-circuits it. `_LATEST.json` moves only forward in S3's event order (its sequencer), by a
conditional write. Nothing is ever written under `input/`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from recsys.batch.events import INPUT_PREFIX, InputObject, RangeResult
from recsys.batch.rows import RowRules, count_rows, kind_of, read_chunks
from recsys.batch.settings import BatchSettings
from recsys.bulk import score_users
from recsys.errors import InputDataError, RecsysError
from recsys.loaded import LoadedModel
from recsys.runtime.telemetry import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SUCCESS = "_SUCCESS.json"
ERRORS = "errors.jsonl"
LATEST = "_LATEST.json"
OUTPUT_PREFIX = "output/"
#: S3's answers to a conditional write that lost a race
_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict"}


class BatchInputError(RecsysError):
    """The input file cannot be read at all; the invocation fails so S3's retries and the DLQ see it."""

    code = "invalid_batch_input"
    status = 422


@dataclass
class BatchJob:
    model: LoadedModel
    settings: BatchSettings
    client: S3Client
    _kept: dict[tuple[str, str, str], Path] | None = field(default=None, init=False, repr=False)

    # -- layout -------------------------------------------------------------------------------
    def folder(self, source: InputObject) -> str:
        """Where every upload of this key goes, scored by this model."""
        folder = f"{OUTPUT_PREFIX}{source.output_name}/@{self.model.version}/"
        assert not folder.startswith(INPUT_PREFIX)  # never trigger ourselves
        return folder

    def prefix(self, source: InputObject) -> str:
        """This upload's own folder."""
        return f"{self.folder(source)}{source.etag or 'unknown-etag'}/"

    @property
    def rules(self) -> RowRules:
        return RowRules.from_limits(self.settings)

    # -- S3 helpers ---------------------------------------------------------------------------
    def _put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        return keys

    def completed(self, source: InputObject) -> dict[str, Any] | None:
        """The `_SUCCESS.json` of an earlier run on this very upload (same ETag), if there is one."""
        try:
            body = self.client.get_object(Bucket=source.bucket, Key=self.prefix(source) + SUCCESS)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        summary: dict[str, Any] = json.loads(body)
        return summary if summary.get("input", {}).get("etag") == source.etag else None

    def _download(self, source: InputObject) -> Path:
        self.settings.batch_work_dir.mkdir(parents=True, exist_ok=True)
        # not named after the key: S3 allows 1,024-byte keys, file names end at 255 bytes
        handle, name = tempfile.mkstemp(dir=self.settings.batch_work_dir, prefix="input-")
        os.close(handle)
        self.client.download_file(source.bucket, source.key, name)
        return Path(name)

    @contextmanager
    def keeping_downloads(self) -> Iterator[None]:
        """Within this block each upload is downloaded once: counting it, then scoring it, read one file."""
        self._kept = {}
        try:
            yield
        finally:
            for path in self._kept.values():
                path.unlink(missing_ok=True)
            self._kept = None

    @contextmanager
    def _local(self, source: InputObject) -> Iterator[Path]:
        """The upload on local disk: kept for the enclosing `keeping_downloads`, else removed after use."""
        upload = (source.bucket, source.key, source.etag)
        if self._kept is not None:
            if upload not in self._kept:
                self._kept[upload] = self._download(source)
            yield self._kept[upload]
            return
        path = self._download(source)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    # -- the three steps ----------------------------------------------------------------------
    def rows(self, source: InputObject) -> int:
        """Rows in the upload (downloaded and counted; an unreadable file fails here, with its errors.jsonl)."""
        with self._local(source) as path, self._unreadable(source):
            return count_rows(path, kind_of(source.key))

    def plan(self, source: InputObject) -> dict[str, Any]:
        """Row ranges for the Distributed Map (one item per range), each small enough for one invocation."""
        total = self.rows(source)
        step = self.settings.rows_per_invocation
        ranges = [
            {**source.model_dump(), "part": part, "start": start, "stop": min(start + step, total)}
            for part, start in enumerate(range(0, max(total, 1), step))
        ]
        return {"input": source.model_dump(), "rows": total, "ranges": ranges, "started": time.time()}

    def score_range(self, source: InputObject, part: int, start: int = 0, stop: int | None = None) -> dict[str, Any]:
        """Score rows [start, stop): parts written one chunk at a time; this range's errors kept aside."""
        prefix = self.prefix(source)
        counts = {"part": part, "rows_read": 0, "rows_scored": 0, "rows_failed": 0}
        errors = io.BytesIO()
        with self._local(source) as path, self._unreadable(source):
            chunks = read_chunks(path, kind_of(source.key), self.rules, self.settings.batch_chunk_users, start, stop)
            for index, chunk in enumerate(chunks):
                counts["rows_read"] += chunk.rows_read
                counts["rows_failed"] += len(chunk.errors)
                for error in chunk.errors:
                    errors.write((json.dumps(error) + "\n").encode())
                if chunk.user_ids:
                    table = score_users(self.model, chunk.user_ids, np.asarray(chunk.k, dtype=np.int64))
                    self._write_part(source.bucket, f"{prefix}part-{part:05d}-{index:05d}", table)
                    counts["rows_scored"] += len(chunk.user_ids)
        if errors.tell():
            self._put(source.bucket, f"{prefix}_errors/{part:05d}.jsonl", errors.getvalue(), "application/x-ndjson")
        return counts

    def finalize(self, source: InputObject, results: list[RangeResult], started: float) -> dict[str, Any]:
        """Gather the ranges' errors into errors.jsonl, then write `_SUCCESS.json` last."""
        prefix = self.prefix(source)
        error_keys = sorted(self._keys(source.bucket, prefix + "_errors/"))
        merged = b"".join(self.client.get_object(Bucket=source.bucket, Key=key)["Body"].read() for key in error_keys)
        self._put(source.bucket, prefix + ERRORS, merged, "application/x-ndjson")
        for key in error_keys:
            self.client.delete_object(Bucket=source.bucket, Key=key)
        summary = {
            "input": source.model_dump(),
            "model_version": self.model.version,
            "output_prefix": f"s3://{source.bucket}/{prefix}",
            "format": self.settings.batch_output_format,
            "rows_read": sum(r.rows_read for r in results),
            "rows_scored": sum(r.rows_scored for r in results),
            "rows_failed": sum(r.rows_failed for r in results),
            "parts": sorted(key[len(prefix) :] for key in self._keys(source.bucket, prefix + "part-")),
            "seconds": round(time.time() - started, 3),
        }
        self._put(source.bucket, prefix + SUCCESS, json.dumps(summary, indent=2).encode(), "application/json")
        summary["latest"] = self._point_latest(source)
        return summary

    def run(self, source: InputObject) -> dict[str, Any]:
        """The whole job in this invocation (inputs it can finish in `batch_max_seconds`)."""
        started = time.time()
        done = self.completed(source)
        if done is not None:  # a re-delivery; the pointer too, in case the first run stopped just before it
            return {**done, "latest": self._point_latest(source), "skipped": "already scored (same input ETag)"}
        return self.finalize(source, [RangeResult.model_validate(self.score_range(source, part=0))], started)

    # -- internals ----------------------------------------------------------------------------
    def _point_latest(self, source: InputObject, attempts: int = 5) -> bool:
        """Make `_LATEST.json` name this upload unless a later one already holds it. A conditional
        write (If-Match on the ETag read, If-None-Match for the first) so two finishing at once cannot
        both win; the loser reads again. Returns whether this upload is the latest."""
        key = self.folder(source) + LATEST
        for _ in range(attempts):
            try:
                current = self.client.get_object(Bucket=source.bucket, Key=key)
                condition = {"IfMatch": current["ETag"]}
                if not source.is_later_than(json.loads(current["Body"].read()).get("input", {}).get("sequencer", "")):
                    return False
            except self.client.exceptions.NoSuchKey:
                condition = {"IfNoneMatch": "*"}
            pointer = {"input": source.model_dump(), "success": self.prefix(source) + SUCCESS}
            try:
                self.client.put_object(
                    Bucket=source.bucket,
                    Key=key,
                    Body=json.dumps(pointer, indent=2).encode(),
                    ContentType="application/json",
                    **condition,  # type: ignore[arg-type]
                )
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in _LOST_RACE:
                    raise
        logger.warning("latest pointer not moved", extra={"key": key, "reason": f"lost {attempts} races"})
        return False

    def _write_part(self, bucket: str, stem: str, table: pa.Table) -> None:
        if self.settings.batch_output_format == "personalize":
            self._put(bucket, stem + ".jsonl", personalize_lines(table), "application/x-ndjson")
            return
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        self._put(bucket, stem + ".parquet", buffer.getvalue(), "application/vnd.apache.parquet")

    @contextmanager
    def _unreadable(self, source: InputObject) -> Iterator[None]:
        """A file that cannot be read at all: its reason goes to errors.jsonl, then the invocation fails."""
        try:
            yield
        except InputDataError as exc:
            self._fail(source, exc.message)
            raise BatchInputError(f"{source.key}: {exc.message}") from None

    def _fail(self, source: InputObject, reason: str) -> None:
        """An unreadable file still leaves its reason beside where the results would be."""
        line = json.dumps({"line": None, "row": None, "reason": f"{source.key}: {reason}"}) + "\n"
        self._put(source.bucket, self.prefix(source) + ERRORS, line.encode(), "application/x-ndjson")


def personalize_lines(table: pa.Table) -> bytes:
    """Amazon Personalize batch output: one line per user with recommendedItems and scores."""
    columns = table.to_pydict()
    lines: list[str] = []
    current: str | None = None
    items: list[str] = []
    scores: list[float] = []
    for user, item, score in zip(columns["user_id"], columns["item_id"], columns["score"], strict=True):
        if user != current:
            if current is not None:
                lines.append(_personalize_line(current, items, scores))
            current, items, scores = user, [], []
        items.append(item)
        scores.append(round(float(score), 6))
    if current is not None:
        lines.append(_personalize_line(current, items, scores))
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _personalize_line(user: str, items: list[str], scores: list[float]) -> str:
    return json.dumps({"input": {"userId": user}, "output": {"recommendedItems": items, "scores": scores}})
