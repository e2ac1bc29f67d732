"""`make invoke FUNCTION=rerank [EVENT=tests/events/rerank_direct.json]`: a handler on an event, in-process.

What `sam local invoke -e EVENT Function` does in a container, minus the container: the same
handler module, the same event file, a Lambda-shaped context. The model comes from MODEL_DIR
(default models/demo) unless MODEL_BUCKET is set. The answer goes to stdout (pipe it to jq); the
handler's own log lines go to stderr, CloudWatch's metric lines only with --verbose.

The batch function reads its input from S3. Without AWS_ENDPOINT_URL or MODEL_BUCKET, an S3
event runs against an embedded S3 (moto on 127.0.0.1) holding a small user file at the event's key,
and what landed under output/ is listed on stderr. The ingest function, likewise, writes into an
embedded events table and stream (created as the template declares them), and what they hold
afterwards is listed on stderr. The overlay function, without AWS, refreshes the overlay of the
model published to an embedded S3 (an empty event log: the trends move with the clock alone).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
MODULES = {
    "rerank": "rerank_handler",
    "candidates": "candidates_handler",
    "batch_scoring": "batch_scoring_handler",
    "ingest": "ingest_handler",
    "overlay": "overlay_handler",
}
DEFAULT_EVENTS = {
    "rerank": "rerank_direct.json",
    "candidates": "candidates_direct.json",
    "batch_scoring": "batch_s3_put.json",
    "ingest": "ingest_direct.json",
    "overlay": "overlay_schedule.json",
}
LOCAL_EVENTS_BUCKET = "recsys-local-events"
SAMPLE_BATCH_ROWS = ('{"user_id": "185", "k": 3}', '{"user_id": "brand-new", "k": 2}', "{oops")


def fail(message: str) -> NoReturn:
    sys.exit(f"invoke: error: {message}")


def read_event(path: Path) -> Any:
    if not path.is_file():
        fail(f"{path}: no such event file (the events are in {EVENTS.relative_to(ROOT)}/)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        fail(f"{path}: not JSON ({exc})")


def call(handler: Any, event: Any, name: str, verbose: bool) -> Any:
    """Run the handler with every log line on stderr, and the EMF metric lines only when verbose."""
    from recsys.runtime.local_context import LocalLambdaContext
    from recsys.runtime.telemetry import logger

    logger.registered_handler.setStream(sys.stderr)  # Powertools holds the stdout of import time
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):  # EMF lines are print()ed: for CloudWatch, not a reader
        response = handler(event, LocalLambdaContext(function_name=f"{name}-local"))
    if verbose:
        sys.stderr.write(captured.getvalue())
    return response


@contextlib.contextmanager
def publish_local_model(model_dir: Path) -> Iterator[None]:
    """An embedded S3 with `model_dir` published as the live version, and MODEL_BUCKET pointing at it."""
    import boto3
    from local_s3 import embedded_s3
    from recsys.store.lifecycle import publish
    from recsys.store.s3 import S3ModelStore

    with embedded_s3():
        boto3.client("s3").create_bucket(Bucket=LOCAL_EVENTS_BUCKET)
        print(f"embedded S3: {publish(model_dir, S3ModelStore(LOCAL_EVENTS_BUCKET, 'recsys'))}", file=sys.stderr)
        os.environ.update({"MODEL_BUCKET": LOCAL_EVENTS_BUCKET, "MODEL_PREFIX": "recsys"})
        yield


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
        local = not (os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MODEL_BUCKET"))
        if args.function == "batch_scoring" and local and isinstance(event, dict) and "Records" in event:
            from local_s3 import embedded_s3, stage_user_file

            stack.enter_context(embedded_s3())
            bucket = stage_user_file(event, SAMPLE_BATCH_ROWS)
            print(
                f"embedded S3: s3://{bucket}/ holds {len(SAMPLE_BATCH_ROWS)} user rows at the event's key",
                file=sys.stderr,
            )
        if args.function == "ingest" and local:
            from local_events import create_event_store
            from local_s3 import embedded_s3

            stack.enter_context(embedded_s3())
            os.environ.update(create_event_store(LOCAL_EVENTS_BUCKET, "recsys"))
        if args.function == "overlay" and local:
            stack.enter_context(publish_local_model(Path(os.environ.pop("MODEL_DIR"))))
        response = call(handler, event, args.function, args.verbose)
        if bucket is not None:
            from local_s3 import batch_output

            print("\n".join(batch_output(bucket)), file=sys.stderr)
        if args.function == "ingest" and local:
            from local_events import stored_events

            print("\n".join(stored_events(LOCAL_EVENTS_BUCKET, "recsys")), file=sys.stderr)
    if isinstance(response, dict) and isinstance(response.get("body"), str):
        response = {**response, "body": json.loads(response["body"])}
    print(json.dumps(response, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
