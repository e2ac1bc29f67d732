"""An embedded S3 (moto's server on 127.0.0.1) for the scripts that show the functions without AWS."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote_plus, unquote_plus


@contextmanager
def embedded_s3() -> Iterator[str]:
    """Start moto's S3 on a free local port and point boto3 at it (credentials and region are fake).

    Yields the endpoint URL. On exit the server stops, the model cache is removed and the
    environment is as it was.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="recsys-local-cache-") as cache:
            os.environ.update(
                {
                    "AWS_ENDPOINT_URL": endpoint,
                    "AWS_ACCESS_KEY_ID": "local",
                    "AWS_SECRET_ACCESS_KEY": "local",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "MODEL_CACHE_DIR": cache,
                }
            )
            yield endpoint
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


def stage_user_file(
    event: dict[str, Any], rows: Sequence[str], bucket: str | None = None, key: str | None = None
) -> str:
    """Put `rows` (one jsonl line each) where the S3 event says, or at `bucket`/`key`, creating the bucket,
    and make the event name that object (its ETag and size). Returns the bucket."""
    import boto3

    record = event["Records"][0]["s3"]
    bucket = bucket or record["bucket"]["name"]
    key = key or unquote_plus(record["object"]["key"])
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(rows).encode() + b"\n")
    head = s3.head_object(Bucket=bucket, Key=key)
    record["bucket"]["name"] = bucket
    record["object"].update(
        {"key": quote_plus(key, safe="/"), "eTag": head["ETag"].strip('"'), "size": head["ContentLength"]}
    )
    return bucket


def batch_output(bucket: str, prefix: str = "output/") -> list[str]:
    """What the batch function wrote: each object with its size; for errors.jsonl, each rejected line and why."""
    import boto3

    s3 = boto3.client("s3")
    lines = []
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        lines.append(f"  {obj['Key']}  ({obj['Size']} bytes)")
        if obj["Key"].endswith("errors.jsonl"):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            errors = [json.loads(line) for line in body.splitlines()]
            lines += [f"    line {error['line']}: {error['reason']}  ({error['row'][:30]})" for error in errors]
    return lines
