"""`make demo`: what the trained demo model does, as a story, end to end, without AWS.

1. how it compares with the baselines on the backtest;
2. what it recommends to a few users with history, beside their last titles and the 7-day chart;
3. what a user it has never seen gets;
4. the Lambda side: publish to an embedded S3 (moto on 127.0.0.1), every handler on its event
   from tests/events/, events sent to POST /events changing the next recommendations (the events
   table and stream in the same moto), and a batch file dropped into the batch bucket;
5. the HTML report, and where to look next.

Every line fits a 100-column terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from local_events import create_event_store
from local_s3 import batch_output, embedded_s3, stage_user_file
from recsys.candidates.scores import SharedVector
from recsys.loaded import LoadedModel
from recsys.offline_metrics import top_k_agreement
from recsys.ranking.scorers import SourcePriority
from recsys.recommender import Ranked, Request
from recsys.runtime.local_context import LocalLambdaContext
from recsys.train.evaluate import metrics_table, to_matrix
from recsys.train.report import (
    DEFAULT_SAMPLE_USERS,
    SampleTopK,
    example_users,
    item_titles,
    recommend_sample,
    sample_users,
    write_report,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO_BUCKET = "recsys-demo-models"
CHART = "chart_7d"  # the plainest strong baseline: the last 7 days' most-watched, minus what the user saw
WIDTH = 100
SHOWN = 5  # recommendations shown per user
SESSION_DONOR = "1584"  # whose last three titles the demo's new visitor watches


def heading(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, WIDTH - len(text) - 5))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def chart_ranks(model: LoadedModel, users: np.ndarray, k: int) -> Ranked:
    """The 7-day chart's top k for each user, seen items excluded: the served candidates, ranked by that source."""
    request = Request(users=users, k=np.full(len(users), k, dtype=np.int64))
    batch, candidates = model.recommender.candidates(request)
    return model.recommender.rank(batch, candidates, request.k, SourcePriority(candidates.source_names, (CHART,)))


def show_users_with_history(model: LoadedModel, sample: SampleTopK, titles: dict[str, str]) -> None:
    heading("what the model recommends to users with history (seen items excluded)")
    items = model.arrays.items
    has_chart = CHART in model.manifest.serving.sources
    if has_chart:
        chart = chart_ranks(model, sample.users, 50)
        ours = np.full((len(sample.users), 10), -1, dtype=np.int32)
        ours[sample.row, sample.rank - 1] = sample.item
        chart_top = to_matrix(chart, len(sample.users), 50)
        shared = 10 * top_k_agreement(ours, chart_top, 10, model.arrays.n_items)
        print(
            f"Over {len(sample.users):,} users with history, the model's top 10 shares "
            f"{shared:.1f} items with the\n7-day chart's top 10 for the same user: on this "
            "trend-driven data the model is mostly the chart\n(docs/quality.md says why). Three of them:"
        )
    for row in example_users(sample, model.arrays.seen):
        user = int(sample.users[row])
        history = model.arrays.seen.take_rows(np.asarray([user], dtype=np.int64)).values
        last = ", ".join(clip(titles.get(i, i), 30) for i in items.to_ids(history[::-1][:3]))
        print(f"\nuser {model.arrays.users.ids[user]}: {len(history)} seen; latest: {clip(last, WIDTH - 30)}")
        print(f"  {'#':>2}  {'recommended':<52} {'via':<12} {CHART + ' rank':>14}")
        in_chart = {}
        if has_chart:
            mine = chart.row == row
            in_chart = dict(zip(chart.item[mine].tolist(), chart.rank[mine].tolist(), strict=True))
        for j in np.flatnonzero((sample.row == row) & (sample.rank <= SHOWN)):
            item = int(sample.item[j])
            title = clip(titles.get(items.ids[item], items.ids[item]), 52)
            place = str(in_chart[item]) if item in in_chart else "not in top 50"
            print(f"  {int(sample.rank[j]):>2}. {title:<52} {sample.reason[j]:<12} {place:>14}")


def show_unknown_user(model: LoadedModel, titles: dict[str, str]) -> None:
    heading("a user the model has never seen")
    ranked = model.recommender.recommend(
        Request(users=np.asarray([-1], dtype=np.int32), k=np.asarray([SHOWN], dtype=np.int64))
    )
    print("No history, so no ALS factors and no co-visitation seeds: the non-personal sources rank alone,")
    print('the same list for every new user (the HTTP answer labels it "fallback": "popularity").')
    for rank, item, reason in zip(ranked.rank, model.arrays.items.to_ids(ranked.item), ranked.reasons(), strict=True):
        print(f"  {rank:>2}. {clip(titles.get(item, item), 60):<60} via {reason}")


def show_lambda_round_trip(model_dir: Path, titles: dict[str, str]) -> None:
    """Publish to an embedded S3 and drive every handler on its event file, as Lambda would."""
    with embedded_s3() as endpoint:
        os.environ.update(
            {
                "MODEL_BUCKET": DEMO_BUCKET,
                "MODEL_PREFIX": "recsys",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        os.environ.pop("MODEL_DIR", None)
        import boto3
        from recsys.runtime import container as runtime
        from recsys.store.lifecycle import publish
        from recsys.store.s3 import S3ModelStore

        heading("the Lambda functions, against an embedded S3")
        boto3.client("s3").create_bucket(Bucket=DEMO_BUCKET)
        os.environ.update(create_event_store(DEMO_BUCKET, "recsys"))
        print(f"S3, DynamoDB and Firehose (moto) at {endpoint}")
        print(publish(model_dir, S3ModelStore(DEMO_BUCKET, "recsys")))
        runtime.reset()
        provider = runtime.get_provider()
        loaded = provider.get()
        seconds = provider.load_seconds
        print(f"loader: read CURRENT, downloaded, verified sha256, loaded {loaded.version} in {seconds:.2f}s")

        functions = ("rerank", "candidates", "batch_scoring", "ingest", "overlay")
        sys.path[:0] = [str(ROOT / "functions" / name) for name in functions]
        import candidates_handler
        import rerank_handler

        context = LocalLambdaContext(function_name="demo")
        print(f"  {'event (tests/events/)':<38} status  first items (reason)")
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
            top = ", ".join(f"{i['item_id']} ({i['reason']})" for i in body.get("items", [])[:2])
            print(clip(f"  {event_name:<38} {status:>6}  {top}", WIDTH))
        show_events(context, loaded, titles)
        show_trends(context, loaded, titles)
        show_batch(context)


def call(handler: Any, event: dict[str, Any], context: LocalLambdaContext) -> dict[str, Any]:
    """The handler's HTTP answer body (its EMF metric lines are CloudWatch's, not the reader's)."""
    with contextlib.redirect_stdout(io.StringIO()):
        response = handler(event, context)
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])  # type: ignore[no-any-return]


def recommendations(user_id: str, context: LocalLambdaContext, k: int = SHOWN) -> dict[str, Any]:
    import rerank_handler

    event = json.loads((ROOT / "tests" / "events" / "rerank_http_api_recommendations.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/recommendations/{user_id}"
    event["pathParameters"] = {"user_id": user_id}
    event["rawQueryString"], event["queryStringParameters"] = f"k={k}", {"k": str(k)}
    return call(rerank_handler.handler, event, context)


def send_events(user_id: str, items: list[str], sent_at: float, context: LocalLambdaContext) -> dict[str, Any]:
    """POST /events: the user watched these items a minute apart, the last at `sent_at`."""
    import ingest_handler

    body = {
        "userId": user_id,
        "sessionId": f"{user_id}-demo",
        "eventList": [
            {"eventType": "watch", "itemId": item, "sentAt": round(sent_at - 60 * (len(items) - 1 - i))}
            for i, item in enumerate(items)
        ],
    }
    event = json.loads((ROOT / "tests" / "events" / "ingest_http_api_events.json").read_text())
    event["body"] = json.dumps(body)
    return call(ingest_handler.handler, event, context)


def show_events(context: LocalLambdaContext, model: LoadedModel, titles: dict[str, str]) -> None:
    """A visitor's first events turn the bare chart into recommendations seeded by their session; a
    known user's just-watched item leaves their list."""
    heading("events: POST /events changes the next recommendations")
    visitor, now = "demo-visitor", time.time()
    history = model.arrays.seen
    # user 1584's last three titles as the visitor's session: one that moves the visitor's top 10 (about
    # a third of the three-title sessions we tried do; for the rest the ranker keeps this week's chart)
    donor = model.arrays.users.get(SESSION_DONOR)
    session = model.arrays.items.to_ids(history.values[history.indptr[donor] : history.indptr[donor + 1]][-3:])
    watched = [str(item) for item in session]
    before = recommendations(visitor, context, k=10)
    print(f"{visitor} before any event: fallback {json.dumps(before['fallback'])}, this week's chart")
    print("POST /events, watched: " + "; ".join(clip(titles.get(i, i), 28) for i in watched))
    print(f"  -> {json.dumps(send_events(visitor, watched, now, context))}")
    print(f"  the same events again -> {json.dumps(send_events(visitor, watched, now, context))}")
    after = recommendations(visitor, context, k=10)
    print(f'the next request: fallback {json.dumps(after["fallback"])} ("+": not in the list before the events)')
    shown = {item["item_id"] for item in before["items"]}
    for item in after["items"]:
        mark = " " if item["item_id"] in shown else "+"
        title = clip(titles.get(item["item_id"], item["item_id"]), 58)
        print(f"  {mark}{item['rank']:>2}. {title:<58} via {item['reason']}")

    first = recommendations("185", context)["items"][0]["item_id"]
    print(f"user 185 watches their #1, {clip(titles.get(first, first), 40)}; on the next request")
    send_events("185", [first], now, context)
    following = [item["item_id"] for item in recommendations("185", context)["items"]]
    now_first = clip(titles.get(following[0], following[0]), 40)
    print(f"  #1 is {now_first}, and the watched title is gone: {first not in following}")


def show_trends(context: LocalLambdaContext, model: LoadedModel, titles: dict[str, str]) -> None:
    """A burst of watches of one title and of a title the model has never seen, then the scheduled overlay
    refresh: the chart a new visitor gets moves, without a training."""
    import ingest_handler
    import overlay_handler

    heading("live trends: the overlay refresh moves the chart between trainings")
    newcomer, now = "demo-new-release", time.time()
    chart = model.arrays.sources["chart_7d"]
    assert isinstance(chart, SharedVector)
    rising = model.arrays.items.ids[int(chart.order[40])]  # the chart's #41 at training time
    before = [item["item_id"] for item in recommendations("trend-visitor", context, k=5)["items"]]
    events = [
        {"userId": f"fan-{n}", "sessionId": f"s-{n}", "eventType": "watch", "itemId": item, "sentAt": round(now) - n}
        for n in range(25)
        for item in (rising, newcomer)
    ]
    event = json.loads((ROOT / "tests" / "events" / "ingest_http_api_event_batch.json").read_text())
    event["body"] = json.dumps({"events": events})
    watched = f"{clip(titles.get(rising, rising), 30)} and {newcomer} (not in the model)"
    print(clip(f"POST /events/batch: 25 visitors watch {watched}", WIDTH))
    print(f"  -> {json.dumps(call(ingest_handler.handler, event, context))}")
    schedule = json.loads((ROOT / "tests" / "events" / "overlay_schedule.json").read_text())
    with contextlib.redirect_stdout(io.StringIO()):
        refreshed = overlay_handler.handler(schedule, context)
    print(f"OverlayFunction (the 30-minute schedule) published overlay {refreshed['overlay_id']}:")
    print(f"  {refreshed['events']} events since training folded in, {refreshed['new_items']} new item(s)")
    # the serving container notices the new overlay on its next check (MODEL_REFRESH_SECONDS), then swaps it in
    from recsys.runtime import container as runtime

    print(f"  the serving container re-checks: {runtime.get_provider().refresh()}")
    after = recommendations("trend-visitor", context, k=5)["items"]
    print("a new visitor's top 5, before -> after the refresh:")
    for rank, (old, new) in enumerate(zip(before, after, strict=False), start=1):
        old_title, new_title = clip(titles.get(old, old), 34), clip(titles.get(new["item_id"], new["item_id"]), 34)
        print(f"  {rank}. {old_title:<34} -> {new_title:<34} via {new['reason']}")
    print("(the demo data ends in 2013: by today's clock only the demo's own events are this week's,")
    print(" so the refreshed chart is made of them)")


def show_batch(context: LocalLambdaContext) -> None:
    """Drop a user file into the batch bucket's input/ and show what lands in output/."""
    import batch_scoring_handler

    rows = [
        '{"user_id": "185", "k": 3}',
        '{"userId": "10728"}',
        '{"user_id": "brand-new", "k": 2}',
        "{oops",
        '{"user_id": "7", "k": 0}',
    ]
    event = json.loads((ROOT / "tests" / "events" / "batch_s3_put.json").read_text())
    bucket = stage_user_file(event, rows, bucket="recsys-demo-batch", key="input/demo users.jsonl")
    with contextlib.redirect_stdout(io.StringIO()):
        summary = batch_scoring_handler.handler(event, context)["results"][0]
    heading("batch: a user file dropped into the batch bucket")
    print(f"s3://{bucket}/input/demo users.jsonl: {len(rows)} rows, two of them bad")
    print(f"rows read {summary['rows_read']}, scored {summary['rows_scored']}, failed {summary['rows_failed']}")
    for line in batch_output(bucket):
        print(clip(line, WIDTH))
    with contextlib.redirect_stdout(io.StringIO()):
        again = batch_scoring_handler.handler(event, context)["results"][0]
    print(f"the same event delivered again: {again.get('skipped')}")


def show_next_steps(report: Path) -> None:
    heading("where to look next")
    for where, what in (
        (
            str(report.relative_to(ROOT) if report.is_relative_to(ROOT) else report),
            "the model report: plots, folds, users",
        ),
        ("docs/quality.md", "the baselines, the backtest, and why the model only ties the chart"),
        ("make serve", "the HTTP API on 127.0.0.1:8000 (OpenAPI at /docs)"),
        ("make invoke FUNCTION=rerank", "one handler on one event, as sam local invoke does"),
        ("docs/architecture.md", "add a candidate source: one module"),
        ("make build && make deploy", "to your AWS account (README: Deploy)"),
    ):
        print(f"  {where:<30} {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    args = parser.parse_args()

    model = LoadedModel.from_dir(args.model)
    heading(f"model {model.version}: the backtest against the baselines")
    print(metrics_table(model.manifest.metrics))
    titles = item_titles(args.model)
    sample = recommend_sample(model, sample_users(model.arrays.seen, DEFAULT_SAMPLE_USERS))
    show_users_with_history(model, sample, titles)
    show_unknown_user(model, titles)
    show_lambda_round_trip(args.model, titles)
    report = write_report(args.model, model=model, sample=sample)
    show_next_steps(report)


if __name__ == "__main__":
    main()
