"""Two documented promises, held on content (which items, in which order), through the real handlers.

1. Batch equals the endpoint (README "Batch scoring": "Batch runs the same two-stage code as the
   endpoint"): for the same users and the same k, the batch output lists the same items in the same
   order with the same ranks and scores as GET /recommendations, seen items excluded in both.
2. An unknown user gets the popular items (README "Serving"): GET /recommendations answers
   `fallback: "popularity"` with items drawn only from the non-personal sources' candidate lists
   (popularity and the charts), reranked by the ranker.

Expected values come from the model directory's own files (manifest, id maps, history, source
vectors) read here with numpy and pyarrow, not from the service code under test.
"""

from __future__ import annotations

import copy
import io
import json
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import batch_scoring_handler
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq
import pytest
import rerank_handler
from recsys.runtime.local_context import LocalLambdaContext

from ..conftest import load_event

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BATCH_BUCKET = "recsys-batch-promises"
#: (item_id, rank, score rounded as the API rounds it, reason) for one user, best first
Row = tuple[str, int, float, str]


# -- the model directory, read independently of the serving code ---------------------------------
def model_ids(model_dir: Path, name: str, column: str) -> list[str]:
    """An id map file (user_ids.parquet or item_ids.parquet) as a list: position = internal index."""
    ids: list[str] = pq.read_table(model_dir / name).column(column).to_pylist()
    return ids


def history_lengths(model_dir: Path) -> npt.NDArray[np.int64]:
    """How many interactions each user (by internal index) has in the model's history."""
    return np.diff(np.load(model_dir / "seen_indptr.npy")).astype(np.int64)


def seen_item_ids(model_dir: Path, user_id: str) -> set[str]:
    """The items the model's history says this user has already interacted with (empty if unknown)."""
    users = model_ids(model_dir, "user_ids.parquet", "user_id")
    if user_id not in users:
        return set()
    index = users.index(user_id)
    indptr = np.load(model_dir / "seen_indptr.npy")
    items = np.load(model_dir / "seen_items.npy")[indptr[index] : indptr[index + 1]]
    catalog = model_ids(model_dir, "item_ids.parquet", "item_id")
    return {catalog[int(i)] for i in items}


def manifest(model_dir: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    return body


def non_personal_sources(model_dir: Path) -> dict[str, int]:
    """The model's sources that score every user the same (popularity, the charts) -> candidates each proposes."""
    sources: dict[str, int] = manifest(model_dir)["serving"]["sources"]
    return {name: count for name, count in sources.items() if name == "popularity" or name.startswith("chart_")}


def source_pool(model_dir: Path, source: str, count: int, excluded: set[str]) -> list[str]:
    """A non-personal source's candidate list: its `count` best items (ties: lower index) not excluded."""
    vector = np.load(model_dir / f"{source}.npy").astype(np.float64)
    catalog = model_ids(model_dir, "item_ids.parquet", "item_id")
    order = sorted(range(len(vector)), key=lambda i: (-vector[i], i))
    return [catalog[i] for i in order if catalog[i] not in excluded][:count]


# -- the endpoint ---------------------------------------------------------------------------------
def call(handler: Any, event: dict[str, Any], context: LocalLambdaContext) -> dict[str, Any]:
    """Invoke a handler with an HTTP API event; the 200 answer's JSON body."""
    response = handler(event, context)
    assert response["statusCode"] == 200, response["body"]
    body: dict[str, Any] = json.loads(response["body"])
    return body


def get_recommendations(
    user_id: str, k: int | None, context: LocalLambdaContext, exclude: tuple[str, ...] = ()
) -> dict[str, Any]:
    """GET /recommendations/{user_id} with k (none: the default) and `exclude`, as API Gateway sends it."""
    event = copy.deepcopy(load_event("rerank_http_api_recommendations.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/recommendations/{user_id}"
    event["pathParameters"] = {"user_id": user_id}
    query = {} if k is None else {"k": str(k)}
    if exclude:
        query["exclude"] = ",".join(exclude)
    event["rawQueryString"] = urllib.parse.urlencode(query, safe=",")
    if query:
        event["queryStringParameters"] = query
    else:
        event.pop("queryStringParameters", None)
    return call(rerank_handler.handler, event, context)


def post_rerank(user_id: str, item_ids: list[str], k: int, context: LocalLambdaContext) -> dict[str, Any]:
    """POST /rerank: the ranker's order over the caller's own list."""
    event = copy.deepcopy(load_event("rerank_http_api_rerank.json"))
    event["body"] = json.dumps({"user_id": user_id, "item_ids": item_ids, "k": k})
    return call(rerank_handler.handler, event, context)


def endpoint_rows(body: dict[str, Any]) -> list[Row]:
    return [(i["item_id"], i["rank"], i["score"], i["reason"]) for i in body["items"]]


# -- batch ----------------------------------------------------------------------------------------
@pytest.fixture
def batch_bucket(s3: S3Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    s3.create_bucket(Bucket=BATCH_BUCKET)
    monkeypatch.setenv("BATCH_WORK_DIR", str(tmp_path / "batch-work"))
    return BATCH_BUCKET


def upload_event(s3: S3Client, bucket: str, key: str, body: bytes) -> dict[str, Any]:
    """Upload a user file and return the S3 notification that upload produces."""
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    head = s3.head_object(Bucket=bucket, Key=key)
    event = copy.deepcopy(load_event("batch_s3_put.json"))
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["object"].update({"key": key, "eTag": head["ETag"].strip('"'), "size": head["ContentLength"]})
    return event


def batch_output(s3: S3Client, summary: dict[str, Any]) -> pd.DataFrame:
    """Every part-*.parquet under the summary's output_prefix, wherever the layout puts them below it."""
    bucket, _, prefix = summary["output_prefix"].removeprefix("s3://").partition("/")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    success = [k for k in keys if k.rsplit("/", 1)[-1] == "_SUCCESS.json"]
    assert success, f"no _SUCCESS.json under {summary['output_prefix']}"
    done = json.loads(s3.get_object(Bucket=bucket, Key=success[0])["Body"].read())
    parts = sorted(k for k in keys if (n := k.rsplit("/", 1)[-1]).startswith("part-") and n.endswith(".parquet"))
    listed = done.get("parts")
    if isinstance(listed, int):
        assert len(parts) == listed, f"_SUCCESS.json counts {listed} parts, found {parts}"
    elif isinstance(listed, list):
        assert len(parts) == len(listed), f"_SUCCESS.json lists {listed}, found {parts}"
    assert parts, f"no part-*.parquet under {summary['output_prefix']}"
    frames = [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())).to_pandas() for k in parts]
    return pd.concat(frames, ignore_index=True)


def batch_rows(frame: pd.DataFrame) -> dict[str, list[Row]]:
    """Per user, the batch's rows in rank order, scores rounded to the API's 6 decimals."""
    rows: dict[str, list[Row]] = {}
    for user_id, group in frame.sort_values(["user_id", "rank"], kind="stable").groupby("user_id", sort=False):
        rows[str(user_id)] = [
            (str(item), int(rank), round(float(score), 6), str(reason))
            for item, rank, score, reason in zip(
                group["item_id"], group["rank"], group["score"], group["reason"], strict=True
            )
        ]
    return rows


def pick_users(model_dir: Path) -> list[str]:
    """~30 users: the 10 heaviest histories, 10 one-interaction users, 10 ids the model never saw."""
    users = model_ids(model_dir, "user_ids.parquet", "user_id")
    lengths = history_lengths(model_dir)
    order = np.argsort(-lengths, kind="stable")
    heavy = [users[int(i)] for i in order[:10]]
    light = [users[int(i)] for i in np.flatnonzero(lengths == 1)[:10]]
    unknown = [f"never-seen-{n:03d}" for n in range(10)]
    assert not set(unknown) & set(users)
    return heavy + light + unknown


#: k per row, cycled; None: the row names no k (the default on both sides)
K_VALUES: tuple[int | None, ...] = (None, 1, 3, 10, 25, 50, 100)


def test_batch_output_equals_the_endpoint(
    s3: S3Client,
    batch_bucket: str,
    published_demo: str,
    demo_model_dir: Path,
    lambda_context: LocalLambdaContext,
) -> None:
    """Promise: for the same user and k, a batch row's output is GET /recommendations' answer.

    Same item ids in the same order, the same ranks 1..k and the same scores to the 6 decimals the
    API rounds to, the same reasons; for heavy, one-interaction and unknown users, with and without k
    in the row. Neither side returns an item the user has already seen (the endpoint's default
    `exclude_seen=true` is what batch promises too).
    """
    assert manifest(demo_model_dir)["version"] == published_demo
    users = pick_users(demo_model_dir)
    wanted = {user: K_VALUES[n % len(K_VALUES)] for n, user in enumerate(users)}
    lines = [json.dumps({"user_id": u} if k is None else {"user_id": u, "k": k}) for u, k in wanted.items()]
    event = upload_event(s3, batch_bucket, "input/promise-users.jsonl", ("\n".join(lines) + "\n").encode())

    summary = batch_scoring_handler.handler(event, lambda_context)["results"][0]
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_failed"]) == (len(users), len(users), 0)
    assert summary["model_version"] == published_demo
    batch = batch_rows(batch_output(s3, summary))
    assert sorted(batch) == sorted(users)

    for user, k in wanted.items():
        body = get_recommendations(user, k, lambda_context)
        assert body["model_version"] == published_demo
        online = endpoint_rows(body)
        assert len(online) == (10 if k is None else k)
        assert batch[user] == online, f"user {user} k={k}: batch differs from GET /recommendations"
        seen = seen_item_ids(demo_model_dir, user)
        assert not seen & {row[0] for row in batch[user]}, f"user {user}: batch returned seen items"
    heavy_seen = seen_item_ids(demo_model_dir, users[0])
    assert len(heavy_seen) > 100  # the exclusion above had something to exclude


def test_a_batch_row_does_not_depend_on_the_other_rows_k(
    s3: S3Client,
    batch_bucket: str,
    serving_env: None,
    demo_model_dir: Path,
    lambda_context: LocalLambdaContext,
    tmp_path: Path,
) -> None:
    """Promise: batch equals the endpoint for any settings, not only the defaults. With popularity
    proposing 20 items (fewer than a k of 100 in the same file), each row still backfills to its own k."""
    from recsys.store.lifecycle import publish
    from recsys.store.s3 import S3ModelStore

    from .conftest import BUCKET, model_variant

    target = model_variant(demo_model_dir, tmp_path, "v-popularity-20")
    body = manifest(target)
    body["serving"]["sources"]["popularity"] = 20
    (target / "manifest.json").write_text(json.dumps(body, indent=2))
    publish(target, S3ModelStore(BUCKET, "recsys"))
    users = pick_users(demo_model_dir)
    lines = [json.dumps({"user_id": u, "k": 10}) for u in users] + [json.dumps({"user_id": "wants-100", "k": 100})]
    event = upload_event(s3, batch_bucket, "input/mixed-k.jsonl", ("\n".join(lines) + "\n").encode())
    summary = batch_scoring_handler.handler(event, lambda_context)["results"][0]
    assert summary["model_version"] == "v-popularity-20"
    batch = batch_rows(batch_output(s3, summary))
    differ = [u for u in users if batch[u] != endpoint_rows(get_recommendations(u, 10, lambda_context))]
    assert differ == []


@pytest.mark.parametrize("k", [None, 1, 25, 100])
def test_an_unknown_user_gets_the_popular_items(
    published_demo: str, demo_model_dir: Path, lambda_context: LocalLambdaContext, k: int | None
) -> None:
    """Promise: a user the model has never seen gets `fallback: "popularity"`, drawn from the popular pool.

    What the code does (recommender.candidates with a user index of -1): no history, so no ALS
    scores and no co-visitation seeds; the candidates are the union of each non-personal source's
    (popularity, chart_*) top-N items, N the count the manifest configures for that source (the
    backfill source popularity proposes at least k; here k <= N), then the ranker orders them. So:

    - every returned item is in that union, and its `reason` is a non-personal source whose top-N holds it;
    - the list is the ranker's top k of that union, in the ranker's order: the same items, ranks and
      scores as POST /rerank of the whole union for the same user;
    - k items (default 10), ranks 1..k.

    The ranker, not popularity, decides the order, so the code does not promise that the first item is
    the single most popular one; that is not asserted.
    """
    user = "never-seen-user-42"
    assert user not in model_ids(demo_model_dir, "user_ids.parquet", "user_id")
    sources = non_personal_sources(demo_model_dir)
    assert {"popularity", "chart_1d", "chart_30d"} <= set(sources)
    pools = {name: source_pool(demo_model_dir, name, count, set()) for name, count in sources.items()}
    union = sorted(set().union(*pools.values()))

    body = get_recommendations(user, k, lambda_context)
    assert body["fallback"] == "popularity"
    assert body["model_version"] == published_demo
    rows = endpoint_rows(body)
    expected_k = 10 if k is None else k
    assert [r[1] for r in rows] == list(range(1, expected_k + 1))
    outside = [r[0] for r in rows if r[0] not in union]
    assert not outside, f"items outside the non-personal sources' top-N: {outside}"
    for item, _, _, reason in rows:
        assert reason in pools and item in pools[reason], f"{item}: reason {reason} did not propose it"

    reranked = endpoint_rows(post_rerank(user, union, expected_k, lambda_context))
    assert rows == reranked


def test_an_unknown_user_never_gets_an_excluded_item(
    published_demo: str, demo_model_dir: Path, lambda_context: LocalLambdaContext
) -> None:
    """Promise: with `exclude`, the fallback draws from each source's top-N after the exclusions and
    never returns an excluded item, even the most popular ones."""
    user = "never-seen-user-43"
    sources = non_personal_sources(demo_model_dir)
    plain = get_recommendations(user, 10, lambda_context)
    assert plain["fallback"] == "popularity"
    # exclude the fallback's own top 5 and the overall most popular item and chart_1d leader
    excluded = {r[0] for r in endpoint_rows(plain)[:5]}
    excluded |= {source_pool(demo_model_dir, name, 1, set())[0] for name in ("popularity", "chart_1d")}
    pools = {name: source_pool(demo_model_dir, name, count, excluded) for name, count in sources.items()}
    union = set().union(*pools.values())

    body = get_recommendations(user, 50, lambda_context, exclude=tuple(sorted(excluded)))
    assert body["fallback"] == "popularity"
    rows = endpoint_rows(body)
    assert len(rows) == 50
    returned = [r[0] for r in rows]
    assert not excluded & set(returned)
    assert set(returned) <= union, sorted(set(returned) - union)
    for item, _, _, reason in rows:
        assert item in pools[reason]
