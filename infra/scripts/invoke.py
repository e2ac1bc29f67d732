"""`make invoke FUNCTION=rerank [EVENT=tests/events/rerank_direct.json]`: a handler on an event, in-process.

What `sam local invoke -e EVENT Function` does in a container, minus the container: the same
handler module, the same event file, a Lambda-shaped context. The model comes from MODEL_DIR
(default models/demo) unless MODEL_BUCKET is set. The answer goes to stdout (pipe it to jq); the
handler's own log lines go to stderr, CloudWatch's metric lines only with --verbose.

The batch function reads its input from S3. Without AWS_ENDPOINT_URL or MODEL_BUCKET it runs
against an embedded S3 (moto on 127.0.0.1) holding a small user file at the event's key, and
prints what landed under output/.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
MODULES = {
    "rerank": "rerank_handler",
    "candidates": "candidates_handler",
    "batch_scoring": "batch_scoring_handler",
}
DEFAULT_EVENTS = {
    "rerank": "rerank_direct.json",
    "candidates": "candidates_direct.json",
    "batch_scoring": "batch_s3_put.json",
}
SAMPLE_BATCH_ROWS = ('{"user_id": "185", "k": 3}', '{"user_id": "brand-new", "k": 2}', "{oops")


def fail(message: str) -> None:
    sys.exit(f"invoke: error: {message}")


def read_event(path: Path) -> Any:
    if not path.is_file():
        fail(f"{path}: no such event file (the events are in {EVENTS.relative_to(ROOT)}/)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        fail(f"{path}: not JSON ({exc})")


def call(handler: Any, event: Any, name: str, verbose: bool) -> Any:
    """Run the handler with its stdout (Powertools logs and EMF metrics) moved to stderr."""
    from recsys.runtime.local_context import LocalLambdaContext

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        response = handler(event, LocalLambdaContext(function_name=f"{name}-local"))
    for line in captured.getvalue().splitlines():
        if verbose or '"_aws"' not in line:  # EMF lines are for CloudWatch, not for a reader
            print(line, file=sys.stderr)
    return response


def stage_batch_input(event: Any) -> tuple[str, str]:
    """Create the event's bucket in the embedded S3 and put a small user file at its key."""
    import boto3

    record = event["Records"][0]["s3"]
    bucket, key = record["bucket"]["name"], unquote_plus(record["object"]["key"])
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(SAMPLE_BATCH_ROWS).encode() + b"\n")
    head = s3.head_object(Bucket=bucket, Key=key)
    record["object"].update({"eTag": head["ETag"].strip('"'), "size": head["ContentLength"]})
    print(f"embedded S3: s3://{bucket}/{key} holds {len(SAMPLE_BATCH_ROWS)} rows", file=sys.stderr)
    return bucket, key


def list_batch_output(bucket: str) -> None:
    import boto3

    s3 = boto3.client("s3")
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix="output/").get("Contents", []):
        print(f"  s3://{bucket}/{obj['Key']}  ({obj['Size']} bytes)", file=sys.stderr)
        if obj["Key"].endswith("errors.jsonl"):
            errors = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            print("    " + errors.strip().replace("\n", "\n    "), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--function", required=True, choices=sorted(MODULES))
    parser.add_argument("--event", type=Path, help="event file (default: the function's in tests/events/)")
    parser.add_argument("--verbose", action="store_true", help="also print the CloudWatch EMF metric lines")
    args = parser.parse_args()
    event = read_event(args.event or EVENTS / DEFAULT_EVENTS[args.function])
    if not os.environ.get("MODEL_BUCKET"):
        os.environ.setdefault("MODEL_DIR", str(ROOT / "models" / "demo"))
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT / "functions" / args.function))  # what Lambda does with /var/task
    handler = importlib.import_module(MODULES[args.function]).handler

    with contextlib.ExitStack() as stack:
        bucket = None
        if args.function == "batch_scoring" and not os.environ.get("AWS_ENDPOINT_URL"):
            from local_s3 import embedded_s3

            stack.enter_context(embedded_s3())
            bucket, _ = stage_batch_input(event)
        response = call(handler, event, args.function, args.verbose)
        if bucket is not None:
            list_batch_output(bucket)
    if isinstance(response, dict) and isinstance(response.get("body"), str):
        response = {**response, "body": json.loads(response["body"])}
    print(json.dumps(response, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
