"""BatchScoringFunction: S3 `input/` uploads and the Distributed Map's tasks -> scored parquet in `output/`.

It imports no HTTP stack: the model provider, settings and telemetry come from `recsys.runtime`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from recsys import aws
from recsys.batch.events import FinalizeTask, InputObject, PlanTask, is_test_event, parse_task, s3_objects
from recsys.batch.job import BatchJob
from recsys.batch.settings import get_batch_settings
from recsys.runtime.container import get_provider
from recsys.runtime.lambda_handler import Event, Handler, instrumented
from recsys.runtime.telemetry import logger, metrics


def _job() -> BatchJob:
    # the model first: with none, the invocation fails before anything is written
    model = get_provider().get()
    return BatchJob(model, get_batch_settings(), aws.s3())


def _start_state_machine(source: InputObject, arn: str) -> dict[str, Any]:
    sfn = aws.stepfunctions()
    # one execution per upload: the whole key and its ETag, hashed (names are 80 characters of a small alphabet)
    upload = hashlib.sha256(f"{source.bucket}/{source.key}@{source.etag}".encode()).hexdigest()[:24]
    name = f"{re.sub(r'[^A-Za-z0-9_-]', '-', source.stem)[:40]}-{upload}"
    try:
        execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(source.model_dump()))
    except sfn.exceptions.ExecutionAlreadyExists:
        return {"input": source.model_dump(), "skipped": "execution already started for this upload"}
    return {"input": source.model_dump(), "state_machine_execution": execution["executionArn"]}


def _dispatch(source: InputObject) -> dict[str, Any]:
    """Inline, or the Distributed Map when one invocation could not finish the file in time."""
    settings = get_batch_settings()
    arn = settings.batch_state_machine_arn
    if arn and source.size > settings.batch_inline_max_bytes:
        return _start_state_machine(source, arn)  # not even worth downloading here to count
    job = _job()
    with job.keeping_downloads():  # counted, then scored, from one download
        if arn and job.completed(source) is None and job.rows(source) > settings.rows_per_invocation:
            return _start_state_machine(source, arn)
        summary = job.run(source)
    if "skipped" not in summary:
        metrics.add_metric(name="batch_rows_scored", unit=MetricUnit.Count, value=summary["rows_scored"])
        metrics.add_metric(name="batch_rows_failed", unit=MetricUnit.Count, value=summary["rows_failed"])
    return summary


def handle(event: Event) -> dict[str, Any]:
    if is_test_event(event):
        return {"skipped": "s3:TestEvent"}
    if isinstance(event, dict) and "action" in event:
        task = parse_task(event)
        if isinstance(task, PlanTask):
            return _job().plan(task.source)
        if isinstance(task, FinalizeTask):
            return _job().finalize(task.input.source, task.results, task.started or time.time())
        return _job().score_range(task.source, task.part, task.start, task.stop)
    return {"results": [_dispatch(source) for source in s3_objects(event)]}


def make_handler() -> Handler:
    def handle_logged(event: Event, context: LambdaContext) -> dict[str, Any]:
        result = handle(event)
        action = event.get("action", "s3") if isinstance(event, dict) else "?"
        logger.info("batch event handled", extra={"action": action, "result_keys": sorted(result)})
        return result

    return instrumented(handle_logged)
