"""S3-triggered batch scoring against moto: formats, bad rows, retries, big files."""

from __future__ import annotations

import copy
import gzip
import io
import json
import re
from typing import TYPE_CHECKING, Any, cast

import batch_scoring_handler
import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from recsys import bulk
from recsys.batch import lambda_entry as batch_entry
from recsys.batch.events import InputObject
from recsys.batch.job import BatchInputError, BatchJob
from recsys.batch.settings import BatchSettings
from recsys.candidates import scores
from recsys.errors import InputDataError, ModelUnavailableError
from recsys.loaded import LoadedModel
from recsys.recommender import Request
from recsys.runtime.local_context import LocalLambdaContext
from recsys.sources import als

from ..conftest import load_event

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from recsys.train.pipeline import TrainJob

BATCH = "recsys-batch-123456789012"


@pytest.fixture(autouse=True)
def _batch_bucket(s3: S3Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    s3.create_bucket(Bucket=BATCH)
    monkeypatch.setenv("BATCH_WORK_DIR", str(tmp_path / "batch-work"))


def put_input(s3: S3Client, key: str, body: bytes) -> dict[str, Any]:
    """Upload like a user would, and return the S3 notification that upload produces."""
    s3.put_object(Bucket=BATCH, Key=key, Body=body)
    head = s3.head_object(Bucket=BATCH, Key=key)
    event = copy.deepcopy(load_event("batch_s3_put.json"))
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = BATCH
    record["object"].update(
        {"key": key.replace(" ", "+"), "eTag": head["ETag"].strip('"'), "size": head["ContentLength"]}
    )
    return event


def output(s3: S3Client, prefix: str) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BATCH, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix) :]: s3.get_object(Bucket=BATCH, Key=o["Key"])["Body"].read() for o in listing}


def upload_prefix(s3: S3Client, key: str, version: str) -> str:
    """Where the README says an upload's results land: output/<key below input/>/@<model version>/<ETag>/."""
    etag = s3.head_object(Bucket=BATCH, Key=key)["ETag"].strip('"')
    return f"output/{key.removeprefix('input/').replace('@', '%40')}/@{version}/{etag}/"


def upload_output(s3: S3Client, key: str, version: str) -> dict[str, bytes]:
    return output(s3, upload_prefix(s3, key, version))


class _Proxy:
    """A client with some methods replaced (to interleave two writers deterministically)."""

    def __init__(self, client: Any, **methods: Any) -> None:
        self._client, self._methods = client, methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._client, name)


def scored(files: dict[str, bytes]) -> pd.DataFrame:
    parts = [
        pq.read_table(io.BytesIO(body)).to_pandas() for name, body in sorted(files.items()) if name.endswith(".parquet")
    ]
    return pd.concat(parts, ignore_index=True)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def parquet_with_a_corrupt_second_row_group() -> bytes:
    """6,000 users in row groups of 2,048; the second group's page header overwritten: readable until then."""
    buffer = io.BytesIO()
    pq.write_table(pa.table({"user_id": [f"u{i:06d}" for i in range(6000)]}), buffer, row_group_size=2048)
    data = bytearray(buffer.getvalue())
    start = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(1).column(0).data_page_offset
    data[start + 40 : start + 140] = bytes(b ^ 0xFF for b in data[start + 40 : start + 140])
    return bytes(data)


JSONL = b'{"user_id": "185", "k": 3}\n{"userId": "10728"}\n{"user_id": "someone-new", "k": 2}\n'
CSV = b"user_id,k\n185,3\n10728,\nsomeone-new,2\n"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("users.jsonl", JSONL),
        ("users.jsonl.gz", gzip.compress(JSONL)),
        ("users.csv", CSV),
        ("users.csv.gz", gzip.compress(CSV)),
        ("users.parquet", parquet_bytes(pd.DataFrame({"user_id": ["185", "10728", "someone-new"], "k": [3, None, 2]}))),
    ],
)
def test_each_input_format(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext, name: str, body: bytes
) -> None:
    result = batch_scoring_handler.handler(put_input(s3, f"input/{name}", body), lambda_context)
    summary = result["results"][0]
    assert summary["rows_read"] == 3
    assert summary["rows_scored"] == 3
    assert summary["rows_failed"] == 0
    files = upload_output(s3, f"input/{name}", published_demo)
    assert json.loads(files["_SUCCESS.json"])["input"]["key"] == f"input/{name}"
    assert files["errors.jsonl"] == b""
    frame = scored(files)
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score", "reason"]
    assert frame.groupby("user_id").size().to_dict() == {"185": 3, "10728": 10, "someone-new": 2}  # default k=10
    assert set(frame[frame["user_id"] == "someone-new"]["reason"]) <= {
        "popularity",
        "chart_1d",
        "chart_3d",
        "chart_7d",
        "chart_30d",
    }
    for _, rows in frame.groupby("user_id"):
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["score"].is_monotonic_decreasing


def test_bad_rows_go_to_errors_and_good_rows_are_scored(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    body = (
        b'{"user_id": "185"}\n'
        b"{this is not json\n"
        b'{"user_id": "bad id!"}\n'
        b'{"user_id": "10728", "k": 0}\n'
        b'{"user_id": "10728", "k": "many"}\n'
        b'{"user": "no id field"}\n'
        b"\n"
        b'{"user_id": 42, "k": 2}\n'
    )
    summary = batch_scoring_handler.handler(put_input(s3, "input/mixed.jsonl", body), lambda_context)["results"][0]
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_failed"]) == (7, 2, 5)
    files = upload_output(s3, "input/mixed.jsonl", published_demo)
    errors = [json.loads(line) for line in files["errors.jsonl"].splitlines()]
    assert [e["line"] for e in errors] == [2, 3, 4, 5, 6]
    assert errors[0] == {"line": 2, "row": "{this is not json", "reason": "malformed line"}
    assert "bad user_id" in errors[1]["reason"]
    assert "must be between 1 and 100" in errors[2]["reason"]
    assert "whole number" in errors[3]["reason"]
    assert errors[4]["reason"] == "missing user_id"
    assert set(scored(files)["user_id"]) == {"185", "42"}
    assert json.loads(files["_SUCCESS.json"])["rows_failed"] == 5


def test_a_redelivered_event_writes_nothing_new(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    event = put_input(s3, "input/users.jsonl", JSONL)
    batch_scoring_handler.handler(event, lambda_context)
    prefix = upload_prefix(s3, "input/users.jsonl", published_demo)
    before = {
        o["Key"]: (o["ETag"], o["LastModified"]) for o in s3.list_objects_v2(Bucket=BATCH, Prefix=prefix)["Contents"]
    }
    again = batch_scoring_handler.handler(event, lambda_context)["results"][0]
    assert again["skipped"] == "already scored (same input ETag)"
    after = {
        o["Key"]: (o["ETag"], o["LastModified"]) for o in s3.list_objects_v2(Bucket=BATCH, Prefix=prefix)["Contents"]
    }
    assert after == before


def test_a_newer_upload_of_the_same_key_is_scored_into_its_own_folder(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    batch_scoring_handler.handler(put_input(s3, "input/users.jsonl", JSONL), lambda_context)
    first = upload_prefix(s3, "input/users.jsonl", published_demo)
    newer = b'{"user_id": "185", "k": 4}\n'
    summary = batch_scoring_handler.handler(put_input(s3, "input/users.jsonl", newer), lambda_context)["results"][0]
    assert summary["rows_read"] == 1 and summary["latest"] is True
    frame = scored(upload_output(s3, "input/users.jsonl", published_demo))
    assert frame.groupby("user_id").size().to_dict() == {"185": 4}  # nothing of the first upload mixed in
    assert scored(output(s3, first))["user_id"].nunique() == 3  # and the first one's results are intact
    latest = json.loads(output(s3, f"output/users.jsonl/@{published_demo}/")["_LATEST.json"])
    assert latest["success"] == upload_prefix(s3, "input/users.jsonl", published_demo) + "_SUCCESS.json"


def test_files_of_one_name_in_other_folders_or_formats_never_share_output(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    uploads = {
        "input/a/users.jsonl": (b'{"user_id": "185"}\n', {"185"}),
        "input/b/users.csv": (b"user_id\n10728\n", {"10728"}),
        "input/a/users.csv": (b"user_id\nsomeone-new\n", {"someone-new"}),
        "input/a/users.jsonl/@x/users.jsonl": (b'{"user_id": "3546"}\n', {"3546"}),  # cannot nest in a's folder
    }
    for key, (body, _) in uploads.items():
        batch_scoring_handler.handler(put_input(s3, key, body), lambda_context)
    for key, (_, users) in uploads.items():
        files = upload_output(s3, key, published_demo)
        assert json.loads(files["_SUCCESS.json"])["input"]["key"] == key
        assert set(scored(files)["user_id"]) == users, key


def test_latest_follows_s3_event_order_even_when_events_arrive_late(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    older = put_input(s3, "input/users.jsonl", JSONL)
    older["Records"][0]["s3"]["object"]["sequencer"] = "0055AED6DCD90281E5"
    newer = put_input(s3, "input/users.jsonl", b'{"user_id": "185", "k": 4}\n')
    newer["Records"][0]["s3"]["object"]["sequencer"] = "0055AED6DCD90281E6"
    assert batch_scoring_handler.handler(newer, lambda_context)["results"][0]["latest"] is True
    assert batch_scoring_handler.handler(older, lambda_context)["results"][0]["latest"] is False  # late, not lost
    latest = json.loads(output(s3, f"output/users.jsonl/@{published_demo}/")["_LATEST.json"])
    assert latest["input"]["sequencer"] == "0055AED6DCD90281E6"


def test_two_uploads_finishing_at_once_cannot_both_take_latest(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    """The older run reads _LATEST.json (absent), the newer one writes it, then the older one writes:
    only a conditional write stops the older from overwriting the newer."""
    job = batch_entry._job()
    older = InputObject(bucket=BATCH, key="input/users.jsonl", etag="e1", sequencer="01")
    newer = older.model_copy(update={"etag": "e2", "sequencer": "02"})
    real_get = job.client.get_object

    def read_then_lose_the_race(**kwargs: Any) -> Any:
        try:
            return real_get(**kwargs)
        finally:
            if kwargs["Key"].endswith("_LATEST.json") and not job.client.list_objects_v2(
                Bucket=BATCH, Prefix=kwargs["Key"]
            ).get("Contents"):
                assert BatchJob(job.model, job.settings, boto3.client("s3"))._point_latest(newer)

    job.client = cast(Any, _Proxy(job.client, get_object=read_then_lose_the_race))
    assert job._point_latest(older) is False
    latest = json.loads(s3.get_object(Bucket=BATCH, Key=job.folder(older) + "_LATEST.json")["Body"].read())
    assert latest["input"]["etag"] == "e2"


def test_a_key_longer_than_a_file_name_is_scored(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    stem = "weekly-" + "u" * 300  # S3 keys run to 1,024 bytes; file names stop at 255
    summary = batch_scoring_handler.handler(put_input(s3, f"input/{stem}.jsonl", JSONL), lambda_context)["results"][0]
    assert (summary["rows_read"], summary["rows_scored"]) == (3, 3)
    files = upload_output(s3, f"input/{stem}.jsonl", published_demo)
    assert set(scored(files)["user_id"]) == {"185", "10728", "someone-new"}


def test_url_encoded_keys_are_decoded(s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext) -> None:
    key = "input/weekly users(2026-11).jsonl"
    event = put_input(s3, key, JSONL)
    event["Records"][0]["s3"]["object"]["key"] = "input/weekly+users%282026-11%29.jsonl"  # as S3 sends it
    summary = batch_scoring_handler.handler(event, lambda_context)["results"][0]
    assert summary["input"]["key"] == key
    assert "_SUCCESS.json" in upload_output(s3, key, published_demo)


def test_s3_test_event_and_foreign_keys_are_skipped(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    assert batch_scoring_handler.handler(load_event("batch_s3_test_event.json"), lambda_context) == {
        "skipped": "s3:TestEvent"
    }
    event = put_input(s3, "output/elsewhere.jsonl", JSONL)
    assert batch_scoring_handler.handler(event, lambda_context) == {"results": []}


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("broken.parquet", b"PAR1 but not really", "not a readable parquet file"),
        ("noid.csv", b"customer,k\n1,2\n", "no user_id column"),
        ("noid.parquet", parquet_bytes(pd.DataFrame({"customer": ["1"]})), "no user_id column"),
        ("notgzip.jsonl.gz", JSONL, "unreadable (BadGzipFile"),
        ("cut-group.parquet", parquet_with_a_corrupt_second_row_group(), "unreadable (OSError"),
        (
            "cut.jsonl.gz",
            gzip.compress(b"".join(b'{"user_id": "%d"}\n' % i for i in range(5000)))[:4000],
            "unreadable (EOFError",
        ),
    ],
)
def test_an_unreadable_file_fails_loudly_with_an_errors_file(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext, name: str, body: bytes, reason: str
) -> None:
    with pytest.raises(BatchInputError, match=re.escape(reason)):
        batch_scoring_handler.handler(put_input(s3, f"input/{name}", body), lambda_context)
    files = upload_output(s3, f"input/{name}", published_demo)
    assert reason in json.loads(files["errors.jsonl"])["reason"]
    assert "_SUCCESS.json" not in files  # nothing that looks complete


def test_no_model_fails_without_partial_output(
    s3: S3Client, serving_env: None, lambda_context: LocalLambdaContext
) -> None:
    with pytest.raises(ModelUnavailableError):
        batch_scoring_handler.handler(put_input(s3, "input/users.jsonl", JSONL), lambda_context)
    assert "Contents" not in s3.list_objects_v2(Bucket=BATCH, Prefix="output/")


def test_distributed_map_event_shapes_match_a_single_run(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [{"user_id": u} for u in ("185", "10728", "new-1", "new-2", "3546", "bad id!", "new-3")]
    body = "\n".join(json.dumps(u) for u in users).encode() + b"\n"
    s3.put_object(Bucket=BATCH, Key="input/big.jsonl", Body=body)
    monkeypatch.setenv("BATCH_ROWS_PER_RANGE", "3")
    source = {"bucket": BATCH, "key": "input/big.jsonl", "etag": "e1", "size": len(body)}
    plan = batch_scoring_handler.handler({"action": "plan", **source}, lambda_context)
    assert plan["rows"] == 7
    assert [(r["start"], r["stop"]) for r in plan["ranges"]] == [(0, 3), (3, 6), (6, 7)]
    results = [batch_scoring_handler.handler({"action": "score_range", **r}, lambda_context) for r in plan["ranges"]]
    summary = batch_scoring_handler.handler(
        {"action": "finalize", "input": plan["input"], "results": results, "started": plan["started"]}, lambda_context
    )
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_failed"]) == (7, 6, 1)
    files = output(s3, f"output/big.jsonl/@{published_demo}/e1/")
    assert sorted(n for n in files if n.startswith("part-")) == [
        "part-00000-00000.parquet",
        "part-00001-00000.parquet",
        "part-00002-00000.parquet",
    ]
    assert json.loads(files["errors.jsonl"])["line"] == 6
    assert not any(n.startswith("_errors/") for n in files)
    assert scored(files)["user_id"].nunique() == 6


@pytest.fixture
def state_machine(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> tuple[Any, str]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(
        name="batch",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    monkeypatch.setenv("BATCH_STATE_MACHINE_ARN", arn)
    return sfn, arn


def test_a_file_one_invocation_could_not_finish_in_time_goes_to_the_state_machine(
    s3: S3Client,
    published_demo: str,
    lambda_context: LocalLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    state_machine: tuple[Any, str],
) -> None:
    """Few bytes, but more rows than the planned throughput scores within the time budget."""
    sfn, arn = state_machine
    monkeypatch.setenv("BATCH_USERS_PER_SECOND", "1")
    monkeypatch.setenv("BATCH_MAX_SECONDS", "2")  # two rows per invocation
    inline = batch_scoring_handler.handler(
        put_input(s3, "input/two.jsonl", JSONL[:-1].rsplit(b"\n", 1)[0]), lambda_context
    )
    assert inline["results"][0]["rows_scored"] == 2
    fanned = batch_scoring_handler.handler(put_input(s3, "input/three.jsonl", JSONL), lambda_context)
    assert fanned["results"][0]["state_machine_execution"].startswith("arn:aws:states")
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
    plan = batch_scoring_handler.handler({"action": "plan", **fanned["results"][0]["input"]}, lambda_context)
    assert [(r["start"], r["stop"]) for r in plan["ranges"]] == [(0, 2), (2, 3)]  # each range fits the budget too


def test_a_file_counted_for_the_decision_is_downloaded_once(
    s3: S3Client,
    published_demo: str,
    lambda_context: LocalLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    state_machine: tuple[Any, str],
) -> None:
    downloads: list[str] = []
    real_download = BatchJob._download

    def counted(job: BatchJob, source: InputObject) -> Any:
        downloads.append(source.key)
        return real_download(job, source)

    monkeypatch.setattr(BatchJob, "_download", counted)
    summary = batch_scoring_handler.handler(put_input(s3, "input/users.jsonl", JSONL), lambda_context)["results"][0]
    assert summary["rows_scored"] == 3 and downloads == ["input/users.jsonl"]  # counted, then scored, one GET
    assert not list((batch_entry.get_batch_settings().batch_work_dir).iterdir())  # and nothing left in /tmp


def test_a_redelivery_restores_a_missing_latest_pointer(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    event = put_input(s3, "input/users.jsonl", JSONL)
    batch_scoring_handler.handler(event, lambda_context)
    pointer = f"output/users.jsonl/@{published_demo}/_LATEST.json"
    s3.delete_object(Bucket=BATCH, Key=pointer)  # as if the first run stopped between _SUCCESS.json and it
    again = batch_scoring_handler.handler(event, lambda_context)["results"][0]
    assert again["skipped"] == "already scored (same input ETag)" and again["latest"] is True
    assert (
        json.loads(s3.get_object(Bucket=BATCH, Key=pointer)["Body"].read())["input"]["etag"] == again["input"]["etag"]
    )


def test_large_uploads_start_the_state_machine_once(
    s3: S3Client,
    published_demo: str,
    lambda_context: LocalLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    state_machine: tuple[Any, str],
) -> None:
    sfn, arn = state_machine
    monkeypatch.setenv("BATCH_INLINE_MAX_BYTES", "10")
    event = put_input(s3, "input/users.jsonl", JSONL)
    first = batch_scoring_handler.handler(event, lambda_context)["results"][0]
    assert first["state_machine_execution"].startswith("arn:aws:states")
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 1
    assert (
        json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])["key"]
        == "input/users.jsonl"
    )
    # Step Functions treats a repeated execution name as the same execution (or refuses it)
    second = batch_scoring_handler.handler(event, lambda_context)["results"][0]
    assert second.get("state_machine_execution") == first["state_machine_execution"] or "skipped" in second
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_personalize_output_format(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCH_OUTPUT_FORMAT", "personalize")
    batch_scoring_handler.handler(put_input(s3, "input/users.jsonl", JSONL), lambda_context)
    files = upload_output(s3, "input/users.jsonl", published_demo)
    lines = [json.loads(line) for line in files["part-00000-00000.jsonl"].splitlines()]
    assert sorted(line["input"]["userId"] for line in lines) == ["10728", "185", "someone-new"]
    first = next(line for line in lines if line["input"]["userId"] == "185")
    assert len(first["output"]["recommendedItems"]) == 3
    assert first["output"]["scores"] == sorted(first["output"]["scores"], reverse=True)


def test_nothing_is_ever_written_under_input(
    s3: S3Client, published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    batch_scoring_handler.handler(put_input(s3, "input/users.jsonl", JSONL), lambda_context)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BATCH)["Contents"]]
    assert [k for k in keys if k.startswith("input/")] == ["input/users.jsonl"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"Records": [{"eventName": "ObjectCreated:Put"}]}, "Records.0.s3: Field required"),
        ({"Records": "nope"}, "Records: Input should be a valid list"),
        ({"action": "score_range", "bucket": "b", "key": "input/a.csv", "part": 0}, "start: Field required"),
        ({"action": "finalize", "results": []}, "input: Field required"),
        ({"action": "explode"}, "batch task 'explode'"),
        ([], "not an S3 notification"),
    ],
)
def test_half_shaped_events_fail_with_the_missing_field_named(
    event: Any, message: str, lambda_context: LocalLambdaContext
) -> None:
    with pytest.raises(InputDataError, match=re.escape(message)):
        batch_scoring_handler.handler(event, lambda_context)


@pytest.mark.parametrize("dense_top", ["whole catalog", "length-order prefixes"])
def test_a_chunk_of_the_heaviest_users_equals_scoring_each_user_alone(
    s3: S3Client, synthetic_run: TrainJob, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, dense_top: str
) -> None:
    """Promise (docs/benchmarks.md, batch at catalog scale): memory is bounded by splitting a chunk by
    history and computing dense scores a block of rows at a time; neither may change a single row.

    The 60 heaviest users of the synthetic model and 4 unknown ids, k varying by row, in one file chunk
    that the bounds below cut into sub-chunks of a few users and dense blocks of 4 rows, against the
    online path's one-user request for each: same items, same order, same scores.
    """
    monkeypatch.setattr(bulk, "CHUNK_HISTORY", 300)  # a few heavy users per sub-chunk
    monkeypatch.setattr(scores, "DENSE_BLOCK_ROWS", 4)
    widths: list[Any] = []
    if dense_top == "length-order prefixes":  # the large-catalog path, on this small catalog
        monkeypatch.setattr(als, "PRUNE_MIN_ITEMS", 0)
        monkeypatch.setattr(scores, "PRUNE_HEAD", 64)
        prefix_widths = scores.DenseScores._prefix_widths
        monkeypatch.setattr(
            scores.DenseScores, "_prefix_widths", lambda *a: widths.append(prefix_widths(*a)) or widths[-1]
        )
    model = LoadedModel.from_dir(synthetic_run.out)
    lengths = np.diff(model.arrays.seen.indptr)
    heaviest = np.argsort(-lengths, kind="stable")[:60]
    assert lengths[heaviest[-1]] > 30 and lengths[heaviest].sum() > 10 * 300  # heavy, and split many times
    user_ids = [model.arrays.users.ids[i] for i in heaviest] + [f"nobody-{n}" for n in range(4)]
    wanted_k = {u: (5, 20, 50)[n % 3] for n, u in enumerate(user_ids)}  # k differs from row to row
    body = "".join(json.dumps({"user_id": u, "k": k}) + "\n" for u, k in wanted_k.items()).encode()
    s3.put_object(Bucket=BATCH, Key="input/heaviest.jsonl", Body=body)
    etag = s3.head_object(Bucket=BATCH, Key="input/heaviest.jsonl")["ETag"].strip('"')
    settings = BatchSettings(batch_work_dir=tmp_path / "work", batch_chunk_users=len(user_ids))
    scored_histories: list[tuple[int, int]] = []  # (users, history entries) of each scoring call
    recommend = model.recommender.recommend

    def recorded(request: Request) -> Any:
        known = request.users[request.users >= 0]
        scored_histories.append((len(request.users), int(lengths[known].sum())))
        return recommend(request)

    monkeypatch.setattr(model.recommender, "recommend", recorded)
    BatchJob(model, settings, s3).run(InputObject(bucket=BATCH, key="input/heaviest.jsonl", etag=etag))
    monkeypatch.setattr(model.recommender, "recommend", recommend)
    assert len(scored_histories) > 10  # one file chunk, cut by history into many calls
    assert all(history <= 300 or users == 1 for users, history in scored_histories)
    if dense_top == "length-order prefixes":  # some rows' tops skipped part of the catalog
        assert min(int(w.min()) for w in widths) < model.arrays.n_items

    batch = scored(upload_output(s3, "input/heaviest.jsonl", model.version))
    assert batch["user_id"].nunique() == len(user_ids)
    for user_id in user_ids:
        alone = model.recommender.recommend(
            Request(users=model.arrays.users.lookup([user_id]), k=np.asarray([wanted_k[user_id]], dtype=np.int64))
        )
        rows = batch[batch["user_id"] == user_id].sort_values("rank")
        assert rows["item_id"].tolist() == model.arrays.items.to_ids(alone.item).tolist(), user_id
        np.testing.assert_allclose(rows["score"].to_numpy(), alone.score, rtol=0, atol=1e-6)
        seen = set(model.arrays.items.to_ids(model.arrays.seen.take_rows(model.arrays.users.lookup([user_id])).values))
        assert not seen & set(rows["item_id"]), user_id
