"""The event shapes BatchScoringFunction accepts.

- S3 `ObjectCreated` notifications (keys URL-encoded with `+` for spaces: `unquote_plus`);
  the `s3:TestEvent` S3 sends when a notification is configured is skipped.
- Step Functions tasks of the Distributed Map in template.yaml:
  {"action": "plan", "bucket", "key"} -> row ranges; {"action": "score_range", ...one range};
  {"action": "finalize", "bucket", "key", "etag", "results": [...]} -> `_SUCCESS.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from recsys.errors import InputDataError

INPUT_PREFIX = "input/"
SUFFIXES = (".jsonl", ".csv", ".parquet", ".jsonl.gz", ".csv.gz")


@dataclass(frozen=True)
class InputObject:
    bucket: str
    key: str
    etag: str
    size: int = 0

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        name = self.name
        for suffix in sorted(SUFFIXES, key=len, reverse=True):
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name.rsplit(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "etag": self.etag, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputObject:
        try:
            return cls(str(data["bucket"]), str(data["key"]), str(data.get("etag", "")), int(data.get("size", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputDataError(f"batch event lacks {exc}: needs bucket and key") from None


def is_test_event(event: dict[str, Any]) -> bool:
    return event.get("Event") == "s3:TestEvent"


def s3_objects(event: dict[str, Any]) -> list[InputObject]:
    """Objects named by an S3 notification that this function should score."""
    objects = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        key = unquote_plus(s3["object"]["key"])
        if key.startswith(INPUT_PREFIX) and key.lower().endswith(SUFFIXES):
            objects.append(
                InputObject(
                    s3["bucket"]["name"], key, str(s3["object"].get("eTag", "")), int(s3["object"].get("size", 0))
                )
            )
    return objects
