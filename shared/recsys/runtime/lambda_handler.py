"""The plumbing every function's handler shares: Powertools logging, metrics and tracing around one call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from recsys.runtime.telemetry import logger, metrics, tracer

Event = Any  # whatever Lambda delivers: usually a JSON object, but a direct invoke may send any JSON
Handler = Callable[[Event, LambdaContext], Any]


def instrumented(handle: Callable[[Event, LambdaContext], Any], correlation_id_path: str | None = None) -> Handler:
    """`handle` with a JSON log context per invocation, EMF metrics flushed at the end, and an X-Ray segment."""

    @logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: Event, context: LambdaContext) -> Any:
        metrics.add_metric(name="invocations", unit=MetricUnit.Count, value=1)
        return handle(event, context)

    return cast(Handler, handler)
