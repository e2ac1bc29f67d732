"""The events BatchScoringFunction accepts, parsed by pydantic models (a missing field is a
validation error, never a KeyError).

- S3 `ObjectCreated` notifications (keys URL-encoded with `+` for spaces: `unquote_plus`);
  the `s3:TestEvent` S3 sends when a notification is configured is skipped.
- Step Functions tasks of the Distributed Map in template.yaml:
  {"action": "plan", "bucket", "key", ...} -> row ranges; {"action": "score_range", ...one range};
  {"action": "finalize", "input": {...}, "results": [...]} -> `_SUCCESS.json`.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from recsys.errors import InputDataError

INPUT_PREFIX = "input/"
SUFFIXES = (".jsonl", ".csv", ".parquet", ".jsonl.gz", ".csv.gz")
#: room for `output/`, the model version, the ETag and a part name inside S3's 1,024-byte keys
_MAX_OUTPUT_NAME_BYTES = 800


class InputObject(BaseModel):
    """One uploaded file to score."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    etag: str = ""
    size: int = Field(0, ge=0)
    sequencer: str = ""  # S3's order of events on one key (hex, compared after left-padding)

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def output_name(self) -> str:
        """The key below `input/`, folders and extension kept, with `%` and `@` escaped: `@` marks the
        model version in the output layout, so no input key can name a folder inside another's."""
        rest = self.key.removeprefix(INPUT_PREFIX)
        escaped = rest.replace("%", "%25").replace("@", "%40")
        if len(escaped.encode()) > _MAX_OUTPUT_NAME_BYTES:  # S3 keys end at 1,024 bytes
            digest = hashlib.sha256(rest.encode()).hexdigest()[:16]
            escaped = escaped.encode()[: _MAX_OUTPUT_NAME_BYTES - 17].decode(errors="ignore") + "~" + digest
        return escaped

    def is_later_than(self, other_sequencer: str) -> bool:
        """Whether this upload came after the one with `other_sequencer` (S3's rule: hex strings of
        different length compare after left-padding with zeros). Without sequencers, assume so."""
        if not self.sequencer or not other_sequencer:
            return True
        width = max(len(self.sequencer), len(other_sequencer))
        return self.sequencer.zfill(width).upper() >= other_sequencer.zfill(width).upper()

    @property
    def stem(self) -> str:
        name = self.name
        for suffix in sorted(SUFFIXES, key=len, reverse=True):
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name.rsplit(".", 1)[0]

    @property
    def source(self) -> InputObject:
        """Just the object (a task class adds its own fields)."""
        return InputObject(bucket=self.bucket, key=self.key, etag=self.etag, size=self.size, sequencer=self.sequencer)


# -- S3 notifications (only the fields we read) -----------------------------------------------
class _Bucket(BaseModel):
    name: str


class _Object(BaseModel):
    key: str
    size: int = 0
    eTag: str = ""  # noqa: N815 - S3's own field name
    sequencer: str = ""


class _S3(BaseModel):
    bucket: _Bucket
    object: _Object


class _Record(BaseModel):
    eventName: str  # noqa: N815
    s3: _S3


class S3Notification(BaseModel):
    Records: list[_Record]


# -- Distributed Map tasks ---------------------------------------------------------------------
class PlanTask(InputObject):
    action: Literal["plan"]


class ScoreRangeTask(InputObject):
    action: Literal["score_range"]
    part: int = Field(ge=0)
    start: int = Field(ge=0)
    stop: int = Field(ge=0)


class RangeResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    part: int
    rows_read: int
    rows_scored: int
    rows_failed: int


class FinalizeTask(BaseModel):
    action: Literal["finalize"]
    input: InputObject
    results: list[RangeResult]
    started: float | None = None


Task = Annotated[PlanTask | ScoreRangeTask | FinalizeTask, Field(discriminator="action")]
_TASK = TypeAdapter(Task)


def is_test_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("Event") == "s3:TestEvent"


def parse_task(event: dict[str, Any]) -> PlanTask | ScoreRangeTask | FinalizeTask:
    try:
        return _TASK.validate_python(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputDataError(f"batch task {event.get('action')!r}: {where}: {first['msg']}") from None


def s3_objects(event: Any) -> list[InputObject]:
    """Objects named by an S3 notification that this function should score."""
    try:
        notification = S3Notification.model_validate(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputDataError(f"not an S3 notification or batch task: {where}: {first['msg']}") from None
    objects = []
    for record in notification.Records:
        if not record.eventName.startswith("ObjectCreated"):
            continue
        key = unquote_plus(record.s3.object.key)
        if key.startswith(INPUT_PREFIX) and key.lower().endswith(SUFFIXES):
            objects.append(
                InputObject(
                    bucket=record.s3.bucket.name,
                    key=key,
                    etag=record.s3.object.eTag,
                    size=record.s3.object.size,
                    sequencer=record.s3.object.sequencer,
                )
            )
    return objects
