"""`make demo`: show what the trained demo model does, end to end, without AWS.

Prints the metrics table and a few users' recommendations with titles; then starts an
embedded moto S3 server on 127.0.0.1, publishes the model to it, loads it back through the
serving loader, and calls each Lambda handler with its events from tests/events/.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from recsys import artifacts as A
from recsys.loaded import LoadedModel
from recsys.recommender import Request
from recsys.runtime.local_context import LocalLambdaContext
from recsys.train.evaluate import metrics_table

ROOT = Path(__file__).resolve().parents[2]
DEMO_BUCKET = "recsys-demo-models"


def titles(model_dir: Path) -> dict[str, str]:
    table = pq.read_table(model_dir / A.ITEM_DISPLAY).to_pydict()
    return dict(zip(table["item_id"], table.get("title", table["item_id"]), strict=True))


def show_recommendations(model: LoadedModel, names: dict[str, str], user_ids: list[str], k: int = 5) -> None:
    users = model.arrays.users.lookup(user_ids)
    ranked = model.recommender.recommend(Request(users=users, k=np.full(len(users), k, dtype=np.int64)))
    reasons = ranked.reasons()
    for row, user_id in enumerate(user_ids):
        seen = model.arrays.seen.take_rows(users[row : row + 1]).values if users[row] >= 0 else []
        history = ", ".join(names.get(i, i) for i in model.arrays.items.to_ids(np.asarray(seen[-3:], dtype=int)))
        label = "unknown user: popularity fallback" if users[row] < 0 else f"{len(seen)} seen, latest: {history}"
        print(f"\nuser {user_id} ({label})")
        for j in np.flatnonzero(ranked.row == row):
            item_id = model.arrays.items.ids[ranked.item[j]]
            print(f"  {ranked.rank[j]:>2}. {names.get(item_id, item_id):<60} {ranked.score[j]:>8.3f}  via {reasons[j]}")


def show_lambda_round_trip(model_dir: Path) -> None:
    """Publish to an embedded S3 (moto on 127.0.0.1) and drive every handler, as Lambda would."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MODEL_BUCKET": DEMO_BUCKET,
            "MODEL_PREFIX": "recsys",
            "MODEL_CACHE_DIR": tempfile.mkdtemp(prefix="recsys-demo-cache-"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("MODEL_DIR", None)
    try:
        import boto3
        from recsys.runtime import container as runtime
        from recsys.store.lifecycle import publish
        from recsys.store.s3 import S3ModelStore

        boto3.client("s3").create_bucket(Bucket=DEMO_BUCKET)
        print(f"\n=== publish to an embedded S3 at {os.environ['AWS_ENDPOINT_URL']} ===")
        print(publish(model_dir, S3ModelStore(DEMO_BUCKET, "recsys")))
        runtime.reset()
        provider = runtime.get_provider()
        loaded = provider.get()
        print(
            f"loader: read CURRENT, downloaded, verified sha256, loaded {loaded.version} "
            f"in {provider.load_seconds:.2f}s"
        )

        sys.path[:0] = [str(ROOT / "functions" / name) for name in ("rerank", "candidates")]
        import candidates_handler
        import rerank_handler

        context = LocalLambdaContext(function_name="demo")
        for handler, event_name in (
            (rerank_handler.handler, "rerank_http_api_recommendations.json"),
            (rerank_handler.handler, "rerank_rest_api_recommendations.json"),
            (rerank_handler.handler, "rerank_direct.json"),
            (rerank_handler.handler, "rerank_http_api_rerank.json"),
            (candidates_handler.handler, "candidates_http_api.json"),
            (candidates_handler.handler, "candidates_http_api_similar.json"),
            (candidates_handler.handler, "candidates_direct.json"),
        ):
            event = json.loads((ROOT / "tests" / "events" / event_name).read_text())
            with contextlib.redirect_stdout(io.StringIO()):  # EMF metric lines: CloudWatch's, not the reader's
                response = handler(event, context)
            status = response.get("statusCode", response.get("status", 200))
            body = json.loads(response["body"]) if "body" in response else response
            top = ", ".join(f"{i['item_id']}({i['reason']})" for i in body.get("items", [])[:4])
            extra = f" unknown_items={body['unknown_items']}" if "unknown_items" in body else ""
            print(f"  {event_name:<40} -> {status}  top: {top}{extra}")
        show_batch(context)
    finally:
        server.stop()


def show_batch(context: LocalLambdaContext) -> None:
    """Drop a user file into the batch bucket's input/ and show what lands in output/."""
    import boto3

    sys.path.insert(0, str(ROOT / "functions" / "batch_scoring"))
    import batch_scoring_handler

    s3 = boto3.client("s3")
    bucket, key = "recsys-demo-batch", "input/demo users.jsonl"
    s3.create_bucket(Bucket=bucket)
    rows = [
        '{"user_id": "185", "k": 3}',
        '{"userId": "10728"}',
        '{"user_id": "brand-new", "k": 2}',
        "{oops",
        '{"user_id": "3546", "k": 0}',
    ]
    s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(rows) + "\n").encode())
    head = s3.head_object(Bucket=bucket, Key=key)
    event = json.loads((ROOT / "tests" / "events" / "batch_s3_put.json").read_text())
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["object"].update(
        {"key": "input/demo+users.jsonl", "eTag": head["ETag"].strip('"'), "size": head["ContentLength"]}
    )
    with contextlib.redirect_stdout(io.StringIO()):
        summary = batch_scoring_handler.handler(event, context)["results"][0]
    print(f"\n=== batch: s3://{bucket}/{key} -> {summary['output_prefix']} ===")
    print(f"rows read {summary['rows_read']}, scored {summary['rows_scored']}, failed {summary['rows_failed']}")
    prefix = summary["output_prefix"].split("/", 3)[3]
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        print(f"  {obj['Key']}  ({obj['Size']} bytes)")
    errors = s3.get_object(Bucket=bucket, Key=prefix + "errors.jsonl")["Body"].read().decode()
    print("  errors.jsonl: " + errors.strip().replace("\n", "\n                "))
    with contextlib.redirect_stdout(io.StringIO()):
        again = batch_scoring_handler.handler(event, context)["results"][0]
    print(f"  the same event delivered again: {again.get('skipped')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--items", type=Path, required=True)
    args = parser.parse_args()

    model = LoadedModel.from_dir(args.model)
    print(f"\n=== model {model.version}: test-window metrics (t >= t2) ===\n")
    print(metrics_table(model.manifest.metrics))
    names = titles(args.model)
    counts = np.diff(model.arrays.seen.indptr)
    active = [model.arrays.users.ids[i] for i in np.argsort(-counts, kind="stable")[[5, 50, 500]]]
    print("\n=== recommendations (two stages, seen items excluded) ===")
    show_recommendations(model, names, [*active, "no-such-user"])
    show_lambda_round_trip(args.model)


if __name__ == "__main__":
    main()
